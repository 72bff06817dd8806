"""The forge as capabilities (bot/forge/ports.py): every operation belongs to exactly one capability,
each forge says which capabilities it offers and really implements them, and a declined capability is
refused before anything is sent."""

from __future__ import annotations

import inspect
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.forge import (
    CAPABILITY_PROTOCOLS,
    Capability,
    CapabilityDeclined,
    Forge,
    ForgeError,
    require,
    supports,
)
from bot.forge.github import GitHubForge
from bot.forge.local import LocalForge
from tests.fakes import FakeForge
from tests.local_forge_world import LocalWorld

BOT = "modbot[bot]"


def _operations(protocol: type) -> set[str]:
    """The public members a protocol declares itself (not those it inherits)."""
    return {name for name in vars(protocol) if not name.startswith("_")}


@pytest.fixture
def token_forge() -> Iterator[GitHubForge]:
    forge = GitHubForge.with_token("ghp_" + "x" * 36, bot_login=BOT)
    yield forge
    forge.close()


@pytest.fixture
def app_forge() -> Iterator[GitHubForge]:
    forge = GitHubForge.with_token("ghs_" + "x" * 36, bot_login=BOT, app_mode=True)
    yield forge
    forge.close()


def test_every_capability_has_its_protocol_and_no_operation_belongs_to_two() -> None:
    assert set(CAPABILITY_PROTOCOLS) == set(Capability)
    seen: dict[str, Capability] = {}
    for capability, protocol in CAPABILITY_PROTOCOLS.items():
        operations = _operations(protocol)
        assert operations, f"{capability} declares no operation"
        for name in operations:
            assert name not in seen, f"{name} is in both {seen[name]} and {capability}"
            seen[name] = capability
    # Forge is their composition plus who the forge is and what it offers: nothing else hides in it.
    assert _operations(Forge) == {"bot_login", "capabilities"}
    assert all(issubclass(Forge, protocol) for protocol in CAPABILITY_PROTOCOLS.values())


@pytest.mark.parametrize("implementation", [GitHubForge, FakeForge, LocalForge])
def test_every_forge_operation_of_an_implementation_is_in_a_capability(implementation: type) -> None:
    """Each operation GitHubForge, FakeForge and LocalForge share with the interface is placed in one capability,
    with the same parameter names in the same order (the capability is what callers will type against)."""
    for protocol in CAPABILITY_PROTOCOLS.values():
        for name in _operations(protocol):
            declared, implemented = getattr(protocol, name), getattr(implementation, name)
            if isinstance(declared, property):
                assert isinstance(implemented, property), name
                continue
            assert list(inspect.signature(declared).parameters) == list(
                inspect.signature(implemented).parameters
            ), name


def test_github_offers_check_runs_only_in_app_mode(token_forge: GitHubForge, app_forge: GitHubForge) -> None:
    assert app_forge.capabilities == frozenset(Capability)
    assert token_forge.capabilities == frozenset(Capability) - {Capability.CHECK_RUNS}
    assert supports(app_forge, Capability.CHECK_RUNS)
    assert not supports(token_forge, Capability.CHECK_RUNS)
    assert supports(token_forge, Capability.COMMIT_STATUSES)


def test_the_fake_offers_what_github_offers_in_app_mode(app_forge: GitHubForge) -> None:
    fake = FakeForge(bot_login=BOT)
    assert fake.capabilities == app_forge.capabilities


@pytest.mark.parametrize("which", ["fake", "token", "app", "local", "local without a runner"])
def test_a_forge_implements_each_capability_it_offers(
    which: str, token_forge: GitHubForge, app_forge: GitHubForge, tmp_path: Path
) -> None:
    world = LocalWorld(tmp_path, "acme/site")
    forges: dict[str, Forge] = {
        "fake": FakeForge(bot_login=BOT),
        "token": token_forge,
        "app": app_forge,
        "local": world.local,
        "local without a runner": LocalForge(tmp_path / "repos", world.records, world.roles.get, runs=False),
    }
    forge = forges[which]
    assert isinstance(forge, Forge)
    for capability in forge.capabilities:
        assert isinstance(forge, CAPABILITY_PROTOCOLS[capability]), capability


def test_require_refuses_a_declined_capability_as_a_forge_error(token_forge: GitHubForge) -> None:
    require(token_forge, Capability.COMMIT_STATUSES, "set_commit_status")  # offered: nothing happens
    with pytest.raises(CapabilityDeclined) as caught:
        require(token_forge, Capability.CHECK_RUNS, "create_check_run")
    error = caught.value
    assert isinstance(error, ForgeError)  # handlers that fail closed on a forge error also do on this
    assert error.capability is Capability.CHECK_RUNS
    assert error.operation == "create_check_run"
    assert error.status is None and not error.not_found
    assert str(error) == "create_check_run: the GitHubForge forge does not offer check_runs"


def test_the_interface_loads_nothing_of_github() -> None:
    """The interface (bot.forge) is forge-neutral: importing it loads neither PyGithub nor the GitHub
    forge, whose limits and REST bodies live in bot.forge.github (a fresh interpreter: this one has
    both loaded already)."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, bot.forge; print(' '.join(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert "bot.forge.ports" in loaded
    assert not [
        name for name in loaded if name == "github" or name.startswith(("github.", "bot.forge.github"))
    ]
