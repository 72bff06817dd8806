"""schemathesis against the OpenAPI document the app serves: every admin endpoint, called in-process (ASGI)
with a valid admin token, must never answer 5xx, must answer only the status codes it documents, and its
answers must match their documented schemas. The app runs on a FakeForge (a repository with a manifest,
a policy, a release and a build) and a temporary SQLite store.

Bounded to stay fast (a few examples per operation, no deadline): it runs in `make test`."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from bot.runtime import Runtime
from bot.store import Store
from bot.store.testing import temporary_store
from bot.web.app import create_app
from tests.corpus import MINI_MANIFEST, read
from tests.fakes import FakeForge
from tests.test_admin_api import BOT, REPO, Provider, token_settings

POLICY = (Path(__file__).resolve().parent.parent / "examples/rustok-mini/.github/modbot.toml").read_bytes()
MINI = read(MINI_MANIFEST)
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Store, str, Any]]:
    forge = FakeForge(bot_login=BOT)
    forge.add_repo(REPO, files={"modules.toml": MINI.encode(), ".github/modbot.toml": POLICY})
    with temporary_store("sqlite", directory=tmp_path) as store:
        _, secret = store.create_admin_token("schemathesis", actor="test")
        modules = tomllib.loads(MINI)["modules"]
        store.create_build(
            repository=REPO,
            requested_by="alice",
            reason="seed",
            manifest_ref=None,
            manifest_hash="a" * 64,
            modules_delta={"summary": "", "added": [], "removed": list(modules)[:1]},
            pr_number=1,
        )
        app = create_app(Runtime(token_settings(frozenset({REPO})), store, Provider(forge)), workers=0)
        yield store, secret, app


MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
# per operation and mode; derandomized, so a run is repeatable (`make api-fuzz` runs many more)
EXAMPLES = int(os.environ.get("MODBOT_FUZZ_EXAMPLES", "25"))


def test_the_admin_api_keeps_its_openapi_promises(world: tuple[Store, str, Any]) -> None:
    """Each /admin operation, valid and invalid requests alike. (The Python API, not schemathesis's pytest
    plugin: its subtests do not run on this pytest.) Failures of every operation are reported together."""
    _, secret, app = world
    api = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {secret}"}
    failures: list[str] = []
    operations = [result.ok() for result in api.get_all_operations()]
    admin = [op for op in operations if op.path.startswith("/admin/")]
    assert len(admin) >= 7, [op.label for op in operations]
    for operation in admin:
        for mode in MODES:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def call(case: Any) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                call()
            except (
                Exception,
                BaseExceptionGroup,
            ) as error:  # schemathesis's FailureGroup is a BaseExceptionGroup
                failures.append(f"{operation.label} ({mode.value}): {error}")
    assert not failures, "\n\n".join(failures)
