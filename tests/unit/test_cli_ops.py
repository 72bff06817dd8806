"""`modbot deploy / rollback / unlock / status / audit / releases sync`: the chat-ops service from a shell
(actor cli:<user>), exit codes 0 done / 1 refused / 2 usage, configuration or GitHub error, text and
JSON output, never a traceback."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main, ops_commands
from bot.forge import Forge, ForgeError
from bot.pipeline.release import make_record
from bot.store import ReleaseInfo, Store, open_store
from tests.fakes import FakeForge
from tests.unit.test_admin_api import BOT, GITHUB_TOKEN, REPO

POLICY = (Path(__file__).resolve().parents[2] / "examples/rustok-mini/.github/modbot.toml").read_bytes()
R1, R2 = "rel_2026_01_02_001", "rel_2026_01_02_002"


class FakeProvider:
    def __init__(self, forge: FakeForge) -> None:
        self.forge = forge
        self.closed = 0

    def for_installation(self, installation_id: int | None) -> Forge:
        return self.forge

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def forge() -> FakeForge:
    fake = FakeForge(bot_login=BOT)
    fake.add_repo(REPO, files={".github/modbot.toml": POLICY})
    return fake


@pytest.fixture
def provider(forge: FakeForge, monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    fake = FakeProvider(forge)
    monkeypatch.setattr(ops_commands, "open_forge_provider", lambda _settings: fake)
    return fake


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    for name in [n for n in os.environ if n.startswith("MODBOT_")]:
        monkeypatch.delenv(name)
    url = f"sqlite:///{tmp_path / 'ops.sqlite3'}"
    monkeypatch.setenv("MODBOT_DATABASE_URL", url)
    monkeypatch.setenv("MODBOT_GITHUB_TOKEN", GITHUB_TOKEN)
    monkeypatch.setenv("USER", "carol")
    monkeypatch.setenv("LOGNAME", "carol")
    opened = open_store(url)
    try:
        yield opened
    finally:
        opened.engine.dispose()


def release(forge: FakeForge, store: Store, release_id: str) -> ReleaseInfo:
    commit = forge.commit(REPO, "main", {"release.txt": release_id.encode()})
    record = make_record(
        release_id=release_id,
        manifest_hash=release_id[-1] * 64,
        modules=["content"],
        image_repository="ghcr.io/rustok/rustok-mini",
        image_digest="sha256:" + "d" * 64,
        build_id="run-1",
        git_sha=commit,
        previous_release=None,
        build_key="b" * 64,
        template_version="1",
        created_at=datetime(2026, 1, 2, tzinfo=UTC),
    )
    forge.add_annotated_tag(REPO, f"release/{release_id}", commit, record.to_message())
    info = ReleaseInfo.from_record(REPO, record)
    store.upsert_release(info)
    return info


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_deploy_then_status_then_unlock(
    forge: FakeForge, provider: FakeProvider, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    info = release(forge, store, R1)
    code, out, _ = run(capsys, "deploy", "staging", "--release", R1, "--repo", REPO, "--reason", "ship it")
    assert code == 0, out
    assert out.startswith(f"ok deploying {R1} to staging") and "deployment" in out
    assert forge.repos[REPO].refs["tags/deploy/staging"] == info.commit_sha
    [github] = forge.deployments(REPO)
    assert github.deployment.payload["requested_by"] == "cli:carol"
    assert github.deployment.payload["reason"] == "ship it"
    assert provider.closed == 1

    code, out, _ = run(capsys, "status", "--repo", REPO)
    assert code == 0
    assert "staging: nothing deployed" in out and f"in flight: deploy of {R1} (queued, queued)" in out
    assert "locked by cli:carol (deploy)" in out

    code, out, _ = run(capsys, "deploy", "staging", "--release", R1, "--repo", REPO, "--format", "json")
    assert code == 1
    answer = json.loads(out)
    assert answer["ok"] is False and answer["rule"] == "locked" and "cli:carol" in answer["message"]

    code, out, _ = run(capsys, "unlock", "staging", "--repo", REPO, "--reason", "stuck")
    assert code == 0 and "released the lock of cli:carol (deploy)" in out
    entry = store.query_audit(action="lock.unlock").entries[0]
    assert entry.actor == "cli:carol" and entry.reason == "stuck"
    code, out, _ = run(capsys, "status", "staging", "--repo", REPO, "--format", "json")
    [staging] = json.loads(out)["data"]["environments"]
    assert staging["lock"] is None and staging["environment"] == "staging"


def test_rollback_goes_back_and_refusals_exit_1(
    forge: FakeForge, provider: FakeProvider, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = release(forge, store, R1), release(forge, store, R2)
    code, out, _ = run(capsys, "rollback", "production", "--repo", REPO)
    assert code == 1 and out.startswith("refused [no_previous_release]") and "next:" in out
    for info in (first, second):
        store.record_deployment(
            repository=REPO,
            environment="production",
            release_id=info.release_id,
            commit_sha=info.commit_sha,
            kind="deploy",
            requested_by="alice",
            reason=None,
            source="comment",
            status="success",
        )
    code, out, _ = run(capsys, "rollback", "production", "--repo", REPO, "--format", "json")
    assert code == 0, out
    answer = json.loads(out)
    assert answer["ok"] and answer["data"]["kind"] == "rollback" and answer["data"]["release_id"] == R1
    assert forge.repos[REPO].refs["tags/deploy/production"] == first.commit_sha
    code, out, _ = run(capsys, "deploy", "qa", "--release", R1, "--repo", REPO)
    assert code == 1 and "[unknown_environment]" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["deploy", "staging", "--repo", "not a repo"], "not a repository"),
        (["deploy", "staging", "--repo", "evil/repo"], "MODBOT_REPOSITORIES"),
        (["deploy", "Bad_Env", "--repo", REPO], "invalid request"),
        (["deploy", "staging", "--release", "v1", "--repo", REPO], "invalid request"),
        (["releases", "sync", "--repo", REPO, "--environment", "Bad Env"], "not an environment name"),
    ],
)
def test_bad_input_is_exit_2_with_one_line(  # noqa: PLR0917 - fixtures and parameters
    provider: FakeProvider,
    store: Store,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    needle: str,
) -> None:
    monkeypatch.setenv("MODBOT_REPOSITORIES", REPO)
    code, out, err = run(capsys, *argv)
    assert code == 2 and needle in err and out == "", (code, out, err)


def test_a_github_failure_is_exit_2(
    forge: FakeForge, provider: FakeProvider, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    forge.fail_next("default_branch", ForgeError("repository", 503, "Service Unavailable"))
    code, _, err = run(capsys, "status", "--repo", REPO)
    assert code == 2 and "HTTP 503: Service Unavailable" in err


def test_audit_filters_pages_and_json(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    for n in range(3):
        store.append_audit("alice", "deploy.start", f"{REPO}:prod", {"n": n}, "why")
    store.append_audit("bob", "rollback.start", f"{REPO}:prod", None, None)
    code, out, err = run(capsys, "audit", "--actor", "alice", "--limit", "2")
    assert code == 0 and len(out.splitlines()) == 2 and "deploy.start" in out and "— why" in out
    assert "more: --cursor" in err
    cursor = err.split("--cursor ")[1].split()[0]
    code, out, _ = run(
        capsys, "audit", "--actor", "alice", "--limit", "2", "--cursor", cursor, "--format", "json"
    )
    page = json.loads(out)
    assert [e["details"]["n"] for e in page["entries"]] == [0] and page["next_cursor"] is None
    [entry] = page["entries"]
    assert list(entry) == ["id", "at", "actor", "action", "target", "details", "reason"]
    assert (entry["actor"], entry["target"], entry["reason"]) == ("alice", f"{REPO}:prod", "why")
    assert datetime.fromisoformat(entry["at"]).tzinfo is not None
    code, out, _ = run(capsys, "audit", "--action", "rollback.start", "--since", "2000-01-01T00:00:00")
    assert code == 0 and "bob" in out and "alice" not in out
    code, out, _ = run(capsys, "audit", "--actor", "nobody")
    assert code == 0 and out.strip() == "no audit entries match"
    with pytest.raises(SystemExit) as usage:
        main(["audit", "--limit", "0"])
    assert usage.value.code == 2
    with pytest.raises(SystemExit):
        main(["audit", "--since", "yesterday"])
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["audit", "--limit", "ten"])
    assert "argument --limit: not a whole number: 'ten'" in capsys.readouterr().err


def test_releases_sync_rebuilds_the_history(
    forge: FakeForge, provider: FakeProvider, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    info = release(forge, FakeStoreSink(), R1)  # on GitHub only: the store knows nothing yet
    deployment = forge.create_deployment(
        REPO,
        ref=info.commit_sha,
        environment="staging",
        description="d",
        payload={
            "modbot": 1,
            "kind": "deploy",
            "release_id": R1,
            "requested_by": "alice",
            "reason": "",
            "previous_release": None,
            "manifest_hash": None,
        },
    )
    forge.create_deployment_status(REPO, deployment.id, "success", description=f"deployed {R1}")
    code, out, _ = run(capsys, "releases", "sync", "--repo", REPO)
    assert code == 0, out
    assert out.startswith(f"synced {REPO}: 1 release tags (1 new), 1 deployments (1 new, 0 moved on)")
    assert store.current_deployment(REPO, "staging").release_id == R1  # type: ignore[union-attr]
    assert store.get_release(REPO, R1) is not None
    code, out, _ = run(
        capsys, "releases", "sync", "--repo", REPO, "--environment", "staging", "--format", "json"
    )
    report = json.loads(out)
    assert report["changed"] is False and report["environments"] == ["staging"]
    entries = store.query_audit(action="releases.sync").entries
    assert len(entries) == 2 and entries[0].actor == "cli:carol"


def test_a_github_failure_during_sync_is_exit_2_and_on_the_record(
    forge: FakeForge, provider: FakeProvider, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    forge.fail_next("list_tags", ForgeError("list_tags", 503, "Service Unavailable"))
    code, out, err = run(capsys, "releases", "sync", "--repo", REPO, "--environment", "staging")
    assert code == 2 and out == "" and "HTTP 503: Service Unavailable" in err and "run it again" in err
    [entry] = store.query_audit(action="releases.sync").entries
    assert entry.actor == "cli:carol" and entry.details["outcome"] == "failed"
    assert "Service Unavailable" in entry.details["error"] and provider.closed == 1


class FakeStoreSink:
    """Takes the release's cache entry and forgets it (the release exists on GitHub only)."""

    def upsert_release(self, info: Any) -> None:
        del info


def dead_letter(store: Store, delivery_id: str) -> None:
    store.record_delivery(delivery_id, "pull_request", "opened", REPO, 42, {"n": delivery_id})
    job = store.claim_next("w1", 60)
    assert job is not None
    store.fail(job, "ForgeError: GitHub create_comment failed after 5 attempts: HTTP 502", None)


def test_dead_letters_list_and_retry(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "dead-letters", "list")
    assert code == 0 and out.strip() == "no dead letters"
    for name in ("d-1", "d-2", "d-3"):
        dead_letter(store, name)
    code, out, err = run(capsys, "dead-letters", "list", "--limit", "2")
    lines = out.splitlines()
    assert code == 0 and [line.split("\t")[0] for line in lines] == ["d-3", "d-2"]
    assert f"pull_request.opened\t{REPO.lower()}" in lines[0] and "HTTP 502" in lines[0]
    assert "more: --cursor" in err
    code, out, _ = run(capsys, "dead-letters", "list", "--format", "json")
    page = json.loads(out)
    assert [d["delivery_id"] for d in page["dead_letters"]] == ["d-3", "d-2", "d-1"]
    assert page["dead_letters"][0]["attempts"] == 1 and page["next_cursor"] is None

    code, out, _ = run(capsys, "dead-letters", "retry", "d-2", "d-404", "--reason", "GitHub is back")
    assert code == 1  # one of them was no dead letter: said, and the exit code tells a script
    assert "retried 1 delivery" in out and "d-2" in out and "not a dead letter: d-404" in out
    info = store.get_delivery("d-2")
    assert info is not None and (info.status.value, info.attempts) == ("pending", 0)
    [entry] = store.query_audit(action="delivery.retry").entries
    assert (entry.actor, entry.target, entry.reason) == ("cli:carol", "d-2", "GitHub is back")

    code, out, _ = run(capsys, "dead-letters", "retry", "--all", "--format", "json")
    assert code == 0 and json.loads(out) == {"retried": ["d-1", "d-3"], "not_dead_letters": []}
    assert store.dead_letter_count() == 0

    code, _, err = run(capsys, "dead-letters", "retry")
    assert code == 2 and "DELIVERY_ID" in err
    code, _, err = run(capsys, "dead-letters", "retry", "d-1", "--all")
    assert code == 2 and "not both" in err
