"""The SQL store implements every store protocol of the use cases (bot/app/ports/store.py).

Two checks: mypy on tests/store_ports_typing.py (structural typing: every method with compatible
types), and at run time every protocol method exists on ``Store`` with the same parameters: names,
order, kinds and defaults (a protocol's defaults are what a use case relies on when it leaves a
parameter out). Each check is shown to fail on a store that does not conform.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import typing
import uuid
from pathlib import Path
from typing import Any

import pytest

from bot.app.ports.store import STORE_PORTS, DeliveryQueue, WholeStore
from bot.store import Store

ROOT = Path(__file__).resolve().parents[2]


def protocol_methods(protocol: type[Any]) -> dict[str, Any]:
    """The methods a protocol declares, its bases' included."""
    methods: dict[str, Any] = {}
    for klass in reversed(protocol.__mro__):
        if klass in (object, typing.Protocol, typing.Generic) or not getattr(klass, "_is_protocol", False):
            continue
        for name, value in vars(klass).items():
            if inspect.isfunction(value) and not name.startswith("_"):
                methods[name] = value
    return methods


def bare_signature(function: Any) -> str:
    """``(self, worker_id, lease_seconds=60.0)``: names, order, kinds (``*``, ``/``) and defaults."""
    signature = inspect.signature(function)
    parameters = [p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()]
    return str(signature.replace(parameters=parameters, return_annotation=inspect.Signature.empty))


def signature_mismatches(protocol: type[Any], implementation: type[Any]) -> list[str]:
    """How ``implementation`` differs from ``protocol``, method by method (empty: it conforms)."""
    problems = []
    for name, declared in protocol_methods(protocol).items():
        actual = getattr(implementation, name, None)
        if not callable(actual):
            problems.append(f"{protocol.__name__}.{name}: missing")
            continue
        want, have = bare_signature(declared), bare_signature(actual)
        if want != have:
            problems.append(f"{protocol.__name__}.{name}: declared {want}, implemented {have}")
        want_hints, have_hints = typing.get_type_hints(declared), typing.get_type_hints(actual)
        if want_hints != have_hints:
            problems.append(f"{protocol.__name__}.{name}: types {want_hints} != {have_hints}")
    return problems


@pytest.mark.parametrize("protocol", STORE_PORTS, ids=lambda p: p.__name__)
def test_store_implements_each_protocol_at_run_time(protocol: type[Any]) -> None:
    assert protocol_methods(protocol), f"{protocol.__name__} declares no method"
    assert signature_mismatches(protocol, Store) == []


def test_every_public_store_call_belongs_to_one_aggregate() -> None:
    """Nothing the use cases could call is left out of the protocols, and no call is in two."""
    owners: dict[str, list[str]] = {}
    for protocol in STORE_PORTS:
        for name in protocol_methods(protocol):
            owners.setdefault(name, []).append(protocol.__name__)
    assert {name: where for name, where in owners.items() if len(where) > 1} == {}
    adapter_only = {"dispose", "start_background_checkpoints", "write", "read", "insert"}
    public = {
        name
        for name, value in inspect.getmembers(Store, inspect.isfunction)
        if not name.startswith("_") and name not in adapter_only
    }
    assert public == set(owners)
    assert set(protocol_methods(WholeStore)) == set(owners)


def test_the_run_time_check_sees_a_store_that_does_not_conform() -> None:
    class RenamedParameter(Store):
        def claim_next(self, worker: str, lease_seconds: float = 60.0) -> Any:  # type: ignore[override]
            raise NotImplementedError

    class OtherDefault(Store):
        def heartbeat(self, job: Any, lease_seconds: float | None = 30.0) -> Any:
            raise NotImplementedError

    class PositionalLimit(Store):
        def dead_letters(self, limit: int = 100, cursor: int | None = None) -> Any:  # type: ignore[override]
            raise NotImplementedError

    class Missing:
        def record_delivery(self) -> None:
            raise NotImplementedError

    renamed = signature_mismatches(DeliveryQueue, RenamedParameter)
    assert renamed[0] == (
        "DeliveryQueue.claim_next: declared (self, worker_id, lease_seconds=60.0), "
        "implemented (self, worker, lease_seconds=60.0)"
    )
    assert renamed[1].startswith("DeliveryQueue.claim_next: types {'worker_id': <class 'str'>")
    assert len(renamed) == 2
    assert signature_mismatches(DeliveryQueue, OtherDefault) == [
        "DeliveryQueue.heartbeat: declared (self, job, lease_seconds=None), "
        "implemented (self, job, lease_seconds=30.0)",
        "DeliveryQueue.heartbeat: types {'job': <class 'bot.domain.records.queue.Job'>, 'lease_seconds': "
        "float | None, 'return': <class 'bot.domain.records.queue.Job'>} != {'job': typing.Any, "
        "'lease_seconds': float | None, 'return': typing.Any}",
    ]
    assert signature_mismatches(DeliveryQueue, PositionalLimit)[0] == (
        "DeliveryQueue.dead_letters: declared (self, *, limit=100, cursor=None), "
        "implemented (self, limit=100, cursor=None)"
    )
    missing = signature_mismatches(DeliveryQueue, Missing)
    assert "DeliveryQueue.claim_next: missing" in missing
    assert {p.split(":")[0] for p in missing} == {
        f"DeliveryQueue.{n}" for n in protocol_methods(DeliveryQueue)
    }


def run_mypy(*arguments: str) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def test_mypy_finds_the_store_is_each_protocol() -> None:
    code, output = run_mypy("tests/store_ports_typing.py")
    assert (code, output.strip()) == (0, "Success: no issues found in 1 source file")


def test_mypy_refuses_a_store_that_is_not_the_protocol(tmp_path: Path) -> None:
    # a fresh module name each run: mypy's cache would otherwise answer for a same-named module
    # checked before at another path
    broken = tmp_path / f"broken_store_{uuid.uuid4().hex}.py"
    broken.write_text(
        "from bot.app.ports.store import DeliveryQueue\n"
        "from bot.store import Store\n\n\n"
        "class Narrower(Store):\n"
        "    def purge_finished(self, older_than: int) -> int:  # type: ignore[override]\n"
        "        return 0\n\n\n"
        "def queue(store: Narrower) -> DeliveryQueue:\n"
        "    return store\n",
        encoding="utf-8",
    )
    code, output = run_mypy(str(broken))
    errors = [line for line in output.splitlines() if ": error:" in line]
    assert code == 1, output
    assert len(errors) == 1, output
    assert 'Incompatible return value type (got "Narrower", expected "DeliveryQueue")' in errors[0]
    assert "def purge_finished(self, older_than: int) -> int" in output


def test_the_ports_and_the_records_import_no_database_code() -> None:
    """A use case can name the store's aggregates and records without loading the SQL adapter."""
    probe = (
        "import sys, bot.app.ports.store, bot.domain.records; "
        "print(sorted({m.split('.')[0] if m.startswith('sqlalchemy') else m for m in sys.modules "
        "if m.startswith(('sqlalchemy', 'bot.store', 'bot.pipeline', 'bot.forge', 'psycopg'))}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[]"
