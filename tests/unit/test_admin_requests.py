"""Admin requests audit themselves: whichever front end asks (API, CLI, console), the use case writes the
one audit entry of the outcome (opened, refused, failed, left alone), with the front end's actor and
details, and re-raises a failure for the front end to answer."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from bot.app.admin_requests import request_build, request_module_change
from bot.app.proposals import BuildIntent, Intent, NothingToChange
from bot.forge import ForgeError
from bot.manifest.edit import EditRefused
from bot.store import AuditEntry, Store
from tests.corpus import LATEST, read
from tests.fakes import FakeForge

REPO = "rustok/rustok"
TEXT = read(LATEST)
DETAILS = {"slug": "forum2", "ticket": 7, "requested_by": "alice"}


@pytest.fixture
def forge() -> FakeForge:
    fake = FakeForge(bot_login="modbot[bot]")
    fake.add_repo(REPO, files={"modules.toml": TEXT.encode()})
    return fake


def install(**kwargs: Any) -> Intent:
    data: dict[str, Any] = {
        "action": "install",
        "slug": "forum2",
        "module": {"crate": "rustok-forum2", "source": "crates-io", "version": "0.1"},
        "requested_by": "alice",
        "reason": "tenants asked",
    }
    data.update(kwargs)
    return Intent.model_validate(data)


def entries(store: Store) -> list[AuditEntry]:
    return list(store.query_audit(limit=10).entries)


def test_an_opened_pr_is_audited_once_with_the_front_ends_actor_and_details(
    forge: FakeForge, store: Store
) -> None:
    result = request_module_change(
        forge, store, REPO, install(), manifest_path="modules.toml", actor="api:ops (alice)", details=DETAILS
    )
    assert result.status == "opened"
    [entry] = entries(store)
    assert (entry.actor, entry.action, entry.target) == (
        "api:ops (alice)",
        "module.install",
        f"{REPO}#{result.pull_number}",
    )
    assert entry.reason == "tenants asked"
    assert entry.details == {
        **DETAILS,
        "outcome": "opened",
        "branch": result.branch,
        "base_sha": result.base_sha,
        "commit_sha": result.commit_sha,
        "summary": result.summary,
    }


def test_a_refused_edit_is_audited_and_re_raised(forge: FakeForge, store: Store) -> None:
    with pytest.raises(EditRefused) as refused:
        request_module_change(
            forge,
            store,
            REPO,
            install(action="uninstall", slug="outbox", module={}),
            manifest_path="modules.toml",
            actor="cli:carol",
            details={"slug": "outbox"},
        )
    [entry] = entries(store)
    assert entry.target == REPO and entry.details is not None
    assert entry.details["outcome"] == "refused"
    assert entry.details["reasons"] == list(refused.value.reasons)
    assert entry.details["detail"] == "modbot refused to uninstall `outbox`; nothing was opened"


def test_a_forge_failure_is_audited_and_re_raised(forge: FakeForge, store: Store) -> None:
    forge.fail_next("default_branch", ForgeError("default_branch", 503, "GitHub is down"))
    with pytest.raises(ForgeError) as failure:
        request_module_change(
            forge, store, REPO, install(), manifest_path="modules.toml", actor="cli:carol", details={}
        )
    [entry] = entries(store)
    assert entry.details == {"outcome": "failed", "detail": str(failure.value)}
    assert "GitHub is down" in str(failure.value)


def current_modules() -> dict[str, dict[str, Any]]:
    return {slug: dict(table) for slug, table in tomllib.loads(TEXT)["modules"].items()}


def build(modules: dict[str, dict[str, Any]]) -> BuildIntent:
    return BuildIntent(modules=modules, requested_by="alice", reason="tenants asked")


def test_a_build_request_records_the_build_and_audits_it(forge: FakeForge, store: Store) -> None:
    modules = {
        **current_modules(),
        "forum2": {"crate": "rustok-forum2", "source": "crates-io", "version": "0.1"},
    }
    requested = request_build(
        forge, store, REPO, build(modules), manifest_path="modules.toml", actor="api:ops",
        requested_by="api:ops (alice)", details={"ticket": 7},
    )  # fmt: skip
    assert requested.build is not None and requested.proposal.status == "opened"
    assert [b.build_id for b in store.builds(REPO, limit=10)] == [requested.build.build_id]
    assert requested.build.requested_by == "api:ops (alice)"
    [entry] = [e for e in entries(store) if e.action == "build.request"]
    assert (entry.action, entry.target) == ("build.request", f"{REPO}#{requested.proposal.pull_number}")
    assert entry.details is not None and entry.details["build_id"] == requested.build.build_id
    assert entry.details["ticket"] == 7 and entry.details["outcome"] == "opened"


def test_a_build_of_the_current_set_is_refused_audited_and_records_nothing(
    forge: FakeForge, store: Store
) -> None:
    with pytest.raises(NothingToChange):
        request_build(
            forge, store, REPO, build(current_modules()), manifest_path="modules.toml", actor="api:ops",
            requested_by="api:ops (alice)", details={"ticket": 7},
        )  # fmt: skip
    [entry] = entries(store)
    assert entry.details == {"ticket": 7, "outcome": "refused", "error": "nothing_to_build"}
    assert store.builds(REPO, limit=10) == []
