"""Environment locks, deployment history, the releases cache and admin builds, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.pipeline.release import make_record
from bot.store import (
    FinalStateError,
    LockHeld,
    LockLost,
    RecordNotFoundError,
    ReleaseInfo,
    Store,
    is_build_id,
    new_build_id,
)
from tests.store_helpers import FakeClock, temporary_store

REPO = "acme/site"
HASH_A = "a" * 64
HASH_B = "b" * 64
TARGET = "acme/site:prod"
TTL = timedelta(minutes=30)
SHA_A, SHA_B, SHA_C = "a" * 40, "b" * 40, "c" * 40
REL1, REL2, REL3, REL4 = (f"rel_2026_01_0{day}_001" for day in range(1, 5))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    with temporary_store(request.param, directory=tmp_path, clock=clock) as store:
        yield store


def audit_actions(store: Store, target: str | None = None) -> list[str]:
    """Audit actions, oldest first."""
    return [entry.action for entry in reversed(store.query_audit(target=target, limit=1000).entries)]


def deploy(store: Store, release_id: str = REL1, **changes: Any) -> Any:
    values: dict[str, Any] = {
        "repository": REPO,
        "environment": "prod",
        "release_id": release_id,
        "commit_sha": SHA_A,
        "kind": "deploy",
        "requested_by": "alice",
        "reason": None,
        "source": "comment",
    }
    values.update(changes)
    return store.record_deployment(**values)


# -- environment locks ------------------------------------------------------------------------------


def test_a_lock_is_held_until_released(store: Store, clock: FakeClock) -> None:
    assert store.get_lock(REPO, "prod") is None
    lock = store.acquire_lock(
        "Acme/Site", "prod", holder="alice", purpose="deploy", ttl=TTL, release_id=REL1, reason="ship it"
    )
    assert (lock.repository, lock.environment, lock.holder, lock.purpose) == (REPO, "prod", "alice", "deploy")
    assert (lock.release_id, lock.deployment_id, lock.reason) == (REL1, None, "ship it")
    assert (lock.acquired_at, lock.expires_at) == (clock(), clock() + TTL)
    assert store.get_lock("ACME/site", "prod") == lock  # repository names are case-insensitive
    assert store.list_locks(REPO) == [lock]
    assert store.get_lock(REPO, "staging") is None

    released = store.release_lock(REPO, "prod", actor="alice", reason="deploy failed before it started")
    assert released == lock
    assert store.get_lock(REPO, "prod") is None
    assert store.list_locks(REPO) == []
    assert store.release_lock(REPO, "prod", actor="alice", reason=None) is None  # nothing held
    assert audit_actions(store, TARGET) == ["lock.acquire", "lock.release"]
    entry = store.query_audit(action="lock.release").entries[0]
    assert (entry.actor, entry.reason, entry.details) == (
        "alice",
        "deploy failed before it started",
        {
            "holder": "alice",
            "purpose": "deploy",
            "release_id": REL1,
            "deployment_id": None,
            "acquired_at": lock.acquired_at.isoformat(),
            "expires_at": lock.expires_at.isoformat(),
        },
    )


def test_a_live_lock_refuses_everyone_else_and_names_its_holder(store: Store, clock: FakeClock) -> None:
    lock = store.acquire_lock(REPO, "prod", holder="alice", purpose="deploy", ttl=TTL, release_id=REL1)
    clock.advance(60)
    for holder in ("bob", "alice"):  # the holder too: one deploy at a time
        with pytest.raises(LockHeld) as raised:
            store.acquire_lock(REPO, "prod", holder=holder, purpose="rollback", ttl=TTL)
        assert raised.value.lock == lock
        assert str(raised.value) == (
            f"prod of {REPO} is locked by alice (deploy of {REL1}) "
            "since 2026-01-01 12:00:00 UTC, until 2026-01-01 12:30:00 UTC"
        )
    # other environments and repositories are independent
    staging = store.acquire_lock(REPO, "staging", holder="bob", purpose="deploy", ttl=TTL)
    store.acquire_lock("acme/other", "prod", holder="bob", purpose="deploy", ttl=TTL)
    assert store.list_locks(REPO) == [lock, staging]
    assert audit_actions(store) == ["lock.acquire"] * 3  # refusals change nothing


def test_an_expired_lock_is_gone_and_is_taken_over(store: Store, clock: FakeClock) -> None:
    old = store.acquire_lock(REPO, "prod", holder="alice", purpose="deploy", ttl=TTL)
    clock.advance(TTL.total_seconds() - 1)
    assert store.get_lock(REPO, "prod") == old
    clock.advance(1)  # expires_at is exclusive
    assert store.get_lock(REPO, "prod") is None
    assert store.list_locks(REPO) == []
    assert store.environments(REPO) == []

    new = store.acquire_lock(REPO, "prod", holder="bob", purpose="rollback", ttl=TTL, reason="bad release")
    assert new.holder == "bob" and new.acquired_at == clock()
    assert store.get_lock(REPO, "prod") == new
    assert audit_actions(store, TARGET) == ["lock.acquire", "lock.expired", "lock.acquire"]
    expired = store.query_audit(action="lock.expired").entries[0]
    assert expired.actor == "modbot"
    assert expired.details is not None
    assert (expired.details["holder"], expired.details["replaced_by"]) == ("alice", "bob")
    # the old holder's late work cannot touch the new lock
    with pytest.raises(LockLost, match="no longer held"):
        store.attach_lock_deployment(
            REPO, "prod", holder="alice", acquired_at=old.acquired_at, deployment_id=5
        )
    assert store.release_lock(REPO, "prod", actor="alice", reason="late") is None
    assert store.get_lock(REPO, "prod") == new


def test_releasing_an_expired_lock_clears_it_and_releases_nothing(store: Store, clock: FakeClock) -> None:
    store.acquire_lock(REPO, "prod", holder="alice", purpose="deploy", ttl=TTL)
    clock.advance(TTL.total_seconds() + 5)
    assert store.release_lock(REPO, "prod", actor="carol", reason="/unlock", force=True) is None
    assert audit_actions(store, TARGET) == ["lock.acquire", "lock.expired"]
    assert store.release_lock(REPO, "prod", actor="carol", reason="/unlock", force=True) is None
    assert audit_actions(store, TARGET) == ["lock.acquire", "lock.expired"]


def test_only_the_locks_own_deployment_releases_it(store: Store) -> None:
    first = store.acquire_lock(REPO, "prod", holder="alice", purpose="deploy", ttl=TTL, release_id=REL1)
    store.attach_lock_deployment(
        REPO, "prod", holder="alice", acquired_at=first.acquired_at, deployment_id=101
    )
    held = store.get_lock(REPO, "prod")
    assert held is not None and held.deployment_id == 101
    # another deployment's event, or the holder without naming the deployment... by someone else
    assert store.release_lock(REPO, "prod", actor="modbot", reason="success", deployment_id=999) is None
    assert store.release_lock(REPO, "prod", actor="bob", reason="mine?") is None
    assert store.get_lock(REPO, "prod") == held
    released = store.release_lock(
        REPO, "prod", actor="modbot", reason="deployment success", deployment_id=101
    )
    assert released == held

    # a newer deploy takes the lock; a stale event of the old deployment must not free it
    second = store.acquire_lock(REPO, "prod", holder="bob", purpose="deploy", ttl=TTL, release_id=REL2)
    store.attach_lock_deployment(
        REPO, "prod", holder="bob", acquired_at=second.acquired_at, deployment_id=102
    )
    assert store.release_lock(REPO, "prod", actor="modbot", reason="late event", deployment_id=101) is None
    current = store.get_lock(REPO, "prod")
    assert current is not None and (current.holder, current.deployment_id) == ("bob", 102)
    assert audit_actions(store, TARGET) == [
        "lock.acquire",
        "lock.attach",
        "lock.release",
        "lock.acquire",
        "lock.attach",
    ]
    release = store.query_audit(action="lock.release").entries[0]
    assert (release.actor, release.reason) == ("modbot", "deployment success")
    assert release.details is not None and release.details["deployment_id"] == 101


def test_force_unlock_releases_whatever_holds_the_environment(store: Store) -> None:
    lock = store.acquire_lock(REPO, "prod", holder="alice", purpose="deploy", ttl=TTL)
    store.attach_lock_deployment(REPO, "prod", holder="alice", acquired_at=lock.acquired_at, deployment_id=7)
    released = store.release_lock(REPO, "prod", actor="carol", reason="stuck deploy", force=True)
    assert released is not None and released.holder == "alice" and released.deployment_id == 7
    assert store.get_lock(REPO, "prod") is None
    unlock = store.query_audit(action="lock.unlock").entries[0]
    assert (unlock.actor, unlock.target, unlock.reason) == ("carol", TARGET, "stuck deploy")
    with pytest.raises(LockLost):  # the unlocked deploy can no longer attach to it
        store.attach_lock_deployment(
            REPO, "prod", holder="alice", acquired_at=lock.acquired_at, deployment_id=8
        )


def test_lock_input_is_checked(store: Store) -> None:
    good: dict[str, Any] = {"holder": "alice", "purpose": "deploy", "ttl": TTL}
    with pytest.raises(ValueError, match="environment name"):
        store.acquire_lock(REPO, "Prod", **good)
    with pytest.raises(ValueError, match="owner/name"):
        store.acquire_lock("acme", "prod", **good)
    with pytest.raises(ValueError, match="purpose"):
        store.acquire_lock(REPO, "prod", **{**good, "purpose": "build"})
    with pytest.raises(ValueError, match="ttl"):
        store.acquire_lock(REPO, "prod", **{**good, "ttl": timedelta(0)})
    with pytest.raises(ValueError, match="holder"):
        store.acquire_lock(REPO, "prod", **{**good, "holder": "  "})
    with pytest.raises(ValueError, match="release id"):
        store.acquire_lock(REPO, "prod", **good, release_id="v1.2")
    with pytest.raises(ValueError, match="aware"):
        store.attach_lock_deployment(
            REPO, "prod", holder="alice", acquired_at=datetime(2026, 1, 1), deployment_id=1
        )
    with pytest.raises(ValueError, match="deployment_id"):
        store.release_lock(REPO, "prod", actor="alice", reason=None, deployment_id=0)
    with pytest.raises(ValueError, match="issue_number"):  # a 32-bit column, as GitHub's numbers are
        deploy(store, issue_number=2**31)
    assert audit_actions(store) == []


@pytest.mark.parametrize("expired_first", [False, True], ids=["free", "expired"])
def test_two_acquirers_racing_exactly_one_wins(store: Store, clock: FakeClock, expired_first: bool) -> None:
    """Both paths: a free environment (two INSERTs) and an expired lock (two take-overs)."""
    rounds = 20
    for n in range(rounds):
        environment = f"env-{n}"
        if expired_first:
            store.acquire_lock(REPO, environment, holder="old", purpose="deploy", ttl=timedelta(seconds=1))
            clock.advance(2)
        barrier = threading.Barrier(2)
        outcomes: dict[str, object] = {}

        def acquire(
            holder: str, environment: str, barrier: threading.Barrier, outcomes: dict[str, object]
        ) -> None:
            barrier.wait()
            try:
                outcomes[holder] = store.acquire_lock(
                    REPO, environment, holder=holder, purpose="deploy", ttl=TTL
                )
            except BaseException as error:  # collected and checked below
                outcomes[holder] = error

        threads = [
            threading.Thread(target=acquire, args=(holder, environment, barrier, outcomes))
            for holder in ("alice", "bob")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        winners = [holder for holder, outcome in outcomes.items() if not isinstance(outcome, BaseException)]
        losers = [outcome for outcome in outcomes.values() if isinstance(outcome, BaseException)]
        assert len(winners) == 1, outcomes
        assert len(losers) == 1 and isinstance(losers[0], LockHeld), outcomes
        assert losers[0].lock.holder == winners[0]
        assert winners[0] in str(losers[0])
        held = store.get_lock(REPO, environment)
        assert held is not None and held.holder == winners[0]
    acquired = store.query_audit(action="lock.acquire", limit=1000).entries
    assert len(acquired) == rounds * (2 if expired_first else 1)
    assert len(store.query_audit(action="lock.expired", limit=1000).entries) == (
        rounds if expired_first else 0
    )


# -- deployment history -----------------------------------------------------------------------------


def test_deployments_are_listed_newest_first_and_paged(store: Store, clock: FakeClock) -> None:
    base = clock()
    # recorded out of time order (as `releases sync` may): order is created_at, then id
    late = deploy(store, REL2, created_at=base + timedelta(hours=2))
    early = deploy(store, REL1, created_at=base)
    same_time = deploy(store, REL3, created_at=base + timedelta(hours=2))
    staging = deploy(store, REL1, environment="staging", created_at=base + timedelta(hours=1))
    deploy(store, REL4, repository="acme/other")
    assert [r.id for r in store.deployments("ACME/Site")] == [same_time.id, late.id, staging.id, early.id]
    assert [r.id for r in store.deployments(REPO, environment="prod")] == [same_time.id, late.id, early.id]
    page1 = store.deployments(REPO, limit=2)
    assert [r.id for r in page1] == [same_time.id, late.id]
    page2 = store.deployments(REPO, limit=2, cursor=page1[-1].id)
    assert [r.id for r in page2] == [staging.id, early.id]
    assert store.deployments(REPO, limit=2, cursor=page2[-1].id) == []
    with pytest.raises(ValueError, match="limit"):
        store.deployments(REPO, limit=0)
    with pytest.raises(ValueError, match="cursor"):
        store.deployments(REPO, cursor=10_000)


def test_a_deployment_record_holds_what_it_was_given(store: Store, clock: FakeClock) -> None:
    record = deploy(
        store,
        REL2,
        commit_sha=SHA_B,
        kind="rollback",
        requested_by="api:seed",
        reason="roll back: token ghp_abcdefghijklmnopqrstuvwxyz0123456789 leaked",
        source="api",
        previous_release=REL1,
        manifest_hash="f" * 64,
        github_deployment_id=55,
        issue_number=12,
        reply_comment_id=2**40,
        logs_url="https://github.com/acme/site/actions/runs/1",
    )
    assert (record.repository, record.environment, record.release_id, record.commit_sha) == (
        REPO,
        "prod",
        REL2,
        SHA_B,
    )
    assert (record.kind, record.status, record.stage, record.source) == (
        "rollback",
        "queued",
        "queued",
        "api",
    )
    assert record.reason == "roll back: token [redacted] leaked"  # never store a secret
    assert (record.previous_release, record.manifest_hash, record.github_deployment_id) == (
        REL1,
        "f" * 64,
        55,
    )
    assert (record.issue_number, record.reply_comment_id) == (12, 2**40)
    assert record.created_at == record.updated_at == clock() and record.finished_at is None
    assert store.get_deployment(record.id) == record
    assert store.deployment_by_github_id("Acme/Site", 55) == record
    assert store.deployment_by_github_id(REPO, 56) is None
    assert store.deployment_by_github_id("acme/other", 55) is None
    entry = store.query_audit(action="deployment.create").entries[0]
    assert (entry.actor, entry.target, entry.reason) == ("api:seed", TARGET, record.reason)
    assert entry.details is not None
    assert (entry.details["deployment"], entry.details["kind"], entry.details["release_id"]) == (
        record.id,
        "rollback",
        REL2,
    )
    with pytest.raises(ValueError, match="already deployment record"):
        deploy(store, REL3, github_deployment_id=55)
    for bad, match in (
        ({"release_id": "latest"}, "release id"),
        ({"commit_sha": "ABC"}, "commit sha"),
        ({"kind": "redeploy"}, "kind"),
        ({"source": "slack"}, "source"),
        ({"status": "done"}, "status"),
        ({"logs_url": "javascript:alert(1)"}, "URL"),
        ({"created_at": datetime(2026, 1, 1)}, "aware"),
    ):
        with pytest.raises(ValueError, match=match):
            deploy(store, **{"release_id": REL3, **bad})
    assert len(store.deployments(REPO)) == 1


def test_update_moves_a_deployment_on_and_a_final_status_is_final(store: Store, clock: FakeClock) -> None:
    record = deploy(store, REL1)
    clock.advance(10)
    moving = store.update_deployment(
        record.id, status="in_progress", stage="deploy", github_deployment_id=77, reply_comment_id=5
    )
    assert (moving.status, moving.stage, moving.github_deployment_id, moving.reply_comment_id) == (
        "in_progress",
        "deploy",
        77,
        5,
    )
    assert moving.updated_at == clock() and moving.finished_at is None
    clock.advance(10)
    smoke = store.update_deployment(
        record.id, stage="smoke", logs_url="https://github.com/x/y/actions/runs/9"
    )
    assert (smoke.status, smoke.stage, smoke.logs_url) == (
        "in_progress",
        "smoke",
        "https://github.com/x/y/actions/runs/9",
    )
    clock.advance(10)
    done = store.update_deployment(record.id, status="success", actor="github")
    assert (done.status, done.stage, done.finished_at) == ("success", "done", clock())
    assert store.update_deployment(record.id, status="success").status == "success"  # same status: fine
    for status in ("in_progress", "failure", "inactive"):
        with pytest.raises(FinalStateError, match="success"):
            store.update_deployment(record.id, status=status)  # type: ignore[arg-type]
    assert store.get_deployment(record.id) is not None
    with pytest.raises(RecordNotFoundError):
        store.update_deployment(10_000, status="success")
    assert audit_actions(store, TARGET) == [
        "deployment.create",
        "deployment.in_progress",
        "deployment.success",
    ]
    assert store.query_audit(action="deployment.success").entries[0].actor == "github"
    # a failure stops where it failed
    other = deploy(store, REL2)
    store.update_deployment(other.id, status="in_progress", stage="smoke")
    failed = store.update_deployment(other.id, status="failure")
    assert (failed.stage, failed.finished_at) == ("smoke", clock())
    with pytest.raises(ValueError, match="already deployment record"):
        store.update_deployment(other.id, github_deployment_id=77)


def test_a_deployment_recorded_as_finished_is_finished(store: Store, clock: FakeClock) -> None:
    done = deploy(store, REL1, status="success", source="cli", created_at=clock() - timedelta(days=1))
    assert (done.status, done.stage, done.finished_at) == ("success", "done", clock())
    failed = deploy(store, REL2, status="failure", stage="smoke")
    assert (failed.status, failed.stage, failed.finished_at) == ("failure", "smoke", clock())
    assert store.current_deployment(REPO, "prod") == done
    with pytest.raises(FinalStateError):
        store.update_deployment(failed.id, status="in_progress")


def test_current_deployment_successful_releases_and_environments(store: Store, clock: FakeClock) -> None:
    assert store.current_deployment(REPO, "prod") is None
    assert store.successful_releases(REPO, "prod") == []

    def finish(release_id: str, status: str, **changes: Any) -> Any:
        clock.advance(60)
        record = deploy(store, release_id, **changes)
        return store.update_deployment(record.id, status=status)  # type: ignore[arg-type]

    finish(REL1, "success")
    finish(REL2, "success")
    finish(REL3, "failure")
    rollback = finish(REL1, "success", kind="rollback", previous_release=REL2)
    finish(REL4, "error")
    staging = finish(REL4, "success", environment="staging")
    clock.advance(60)
    in_flight = store.update_deployment(deploy(store, REL4).id, status="in_progress")

    assert store.current_deployment("ACME/site", "prod") == rollback
    assert store.successful_releases(REPO, "prod") == [REL1, REL2]  # newest deployment first, once each
    assert store.successful_releases(REPO, "staging") == [REL4]
    assert store.successful_releases(REPO, "dev") == []
    lock = store.acquire_lock(REPO, "dev", holder="carol", purpose="deploy", ttl=TTL)
    states = store.environments(REPO)
    assert [s.environment for s in states] == ["dev", "prod", "staging"]
    dev, prod, stage = states
    assert (dev.current, dev.latest, dev.lock) == (None, None, lock)
    assert (prod.current, prod.latest, prod.lock) == (rollback, in_flight, None)
    assert (stage.current, stage.latest, stage.lock) == (staging, staging, None)
    assert store.environments("acme/other") == []


def test_upsert_from_github_is_idempotent_and_never_downgrades(store: Store, clock: FakeClock) -> None:
    seen_at = datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
    event: dict[str, Any] = {
        "repository": "Acme/Site",
        "github_deployment_id": 900,
        "environment": "prod",
        "release_id": REL1,
        "commit_sha": SHA_A,
        "kind": "deploy",
        "requested_by": "github-actions[bot]",
        "reason": None,
        "status": "queued",
        "created_at": seen_at,
    }
    first = store.upsert_github_deployment(**event)
    assert (first.source, first.status, first.stage, first.created_at) == (
        "github",
        "queued",
        "queued",
        seen_at,
    )
    assert store.upsert_github_deployment(**event) == first  # a replayed event changes nothing
    clock.advance(5)
    moving = store.upsert_github_deployment(**{**event, "status": "in_progress"})
    assert (moving.id, moving.status, moving.stage) == (first.id, "in_progress", "deploy")
    smoke = store.upsert_github_deployment(**{**event, "status": "in_progress", "stage": "smoke"})
    assert smoke.stage == "smoke"
    # an older event arriving late moves nothing back
    assert store.upsert_github_deployment(**{**event, "status": "queued"}) == smoke
    assert store.upsert_github_deployment(**{**event, "status": "in_progress"}) == smoke
    clock.advance(5)
    finished_at = clock() - timedelta(seconds=1)
    done = store.upsert_github_deployment(
        **{**event, "status": "success", "manifest_hash": "e" * 64, "finished_at": finished_at}
    )
    assert (done.status, done.stage, done.finished_at, done.manifest_hash) == (
        "success",
        "done",
        finished_at,
        "e" * 64,
    )
    for later in ("in_progress", "inactive", "failure"):
        assert store.upsert_github_deployment(**{**event, "status": later}) == done
    assert store.current_deployment(REPO, "prod") == done
    assert len(store.deployments(REPO)) == 1
    assert audit_actions(store, TARGET) == [
        "deployment.create",
        "deployment.in_progress",
        "deployment.success",
    ]
    assert {e.actor for e in store.query_audit(target=TARGET).entries} == {"github"}
    # the same GitHub id in another repository is another deployment
    other = store.upsert_github_deployment(**{**event, "repository": "acme/other"})
    assert other.id != done.id and other.repository == "acme/other"


def test_upsert_of_the_bots_own_deployment_keeps_who_and_why(store: Store, clock: FakeClock) -> None:
    own = deploy(store, REL2, requested_by="alice", reason="new modules", previous_release=REL1)
    store.update_deployment(own.id, github_deployment_id=901, status="in_progress", stage="smoke")
    clock.advance(30)
    seen = store.upsert_github_deployment(
        repository=REPO,
        github_deployment_id=901,
        environment="prod",
        release_id=REL2,
        commit_sha=SHA_A,
        kind="deploy",
        requested_by="github-actions[bot]",
        reason="",
        status="failure",
        created_at=clock(),
        logs_url="https://github.com/acme/site/actions/runs/5",
        previous_release=REL3,
    )
    assert seen.id == own.id
    assert (seen.requested_by, seen.reason, seen.source, seen.previous_release) == (
        "alice",
        "new modules",
        "comment",
        REL1,
    )
    assert (seen.status, seen.stage, seen.finished_at) == ("failure", "smoke", clock())
    assert seen.logs_url == "https://github.com/acme/site/actions/runs/5"
    assert seen.created_at == own.created_at
    assert audit_actions(store, TARGET) == [
        "deployment.create",
        "deployment.in_progress",
        "deployment.failure",
    ]


# -- releases cache ---------------------------------------------------------------------------------


def release(release_id: str, commit_sha: str = SHA_A, **changes: Any) -> ReleaseInfo:
    info = ReleaseInfo(
        repository=REPO,
        release_id=release_id,
        commit_sha=commit_sha,
        manifest_hash="d" * 64,
        modules=("blog", "pages"),
        image="ghcr.io/acme/site@sha256:" + "0" * 64,
        build_key="1" * 64,
        build_id="run-1",
        previous_release=None,
        created_at=datetime(2026, 1, 1, 10, tzinfo=UTC),
    )
    return replace(info, **changes)


def test_releases_are_cached_idempotently_and_ordered_by_id(store: Store) -> None:
    ids = ["rel_2026_01_02_010", "rel_2025_12_31_001", "rel_2026_01_02_009", "rel_2026_01_02_001"]
    for release_id in ids:
        store.upsert_release(release(release_id, commit_sha=SHA_B if release_id.endswith("_009") else SHA_A))
    store.upsert_release(release(REL3, repository="Acme/Other"))
    newest_first = ["rel_2026_01_02_010", "rel_2026_01_02_009", "rel_2026_01_02_001", "rel_2025_12_31_001"]
    assert [r.release_id for r in store.releases("acme/SITE")] == newest_first
    assert [r.release_id for r in store.releases(REPO, limit=2)] == newest_first[:2]
    assert [r.release_id for r in store.releases(REPO, before="rel_2026_01_02_009")] == newest_first[2:]
    assert [r.release_id for r in store.releases_at_commit(REPO, SHA_A)] == [
        "rel_2026_01_02_010",
        "rel_2026_01_02_001",
        "rel_2025_12_31_001",
    ]
    assert store.releases_at_commit(REPO, SHA_C) == []

    stored = store.get_release(REPO, "rel_2026_01_02_010")
    assert stored == release("rel_2026_01_02_010")
    assert store.get_release(REPO, REL4) is None
    store.upsert_release(release("rel_2026_01_02_010"))  # again: one row, same content
    refreshed = release("rel_2026_01_02_010", build_id=None, previous_release="rel_2026_01_02_009")
    store.upsert_release(refreshed)  # the tag is the system of record: the cache follows it
    assert store.get_release(REPO, "rel_2026_01_02_010") == refreshed
    assert len(store.releases(REPO)) == 4
    for bad, match in (
        ({"release_id": "rel_2026_13_01_001"}, "release id"),
        ({"commit_sha": "main"}, "commit sha"),
        ({"modules": "blog"}, "modules"),
        ({"created_at": datetime(2026, 1, 1)}, "aware"),
    ):
        with pytest.raises(ValueError, match=match):
            store.upsert_release(replace(release(REL4), **bad))
    assert audit_actions(store) == []  # a cache of tags: the tags are the history


def test_a_release_record_becomes_a_cache_entry(store: Store) -> None:
    record = make_record(
        release_id=REL2,
        manifest_hash="d" * 64,
        modules=["pages", "blog"],
        image_repository="ghcr.io/acme/site",
        image_digest="sha256:" + "0" * 64,
        build_id="run-42",
        git_sha=SHA_B,
        previous_release=REL1,
        build_key="1" * 64,
        template_version="1",
        created_at=datetime(2026, 1, 2, 8, 30, tzinfo=UTC),
    )
    info = ReleaseInfo.from_record("acme/site", record)
    assert info == ReleaseInfo(
        repository="acme/site",
        release_id=REL2,
        commit_sha=SHA_B,
        manifest_hash="d" * 64,
        modules=("blog", "pages"),
        image="ghcr.io/acme/site@sha256:" + "0" * 64,
        build_key="1" * 64,
        build_id="run-42",
        previous_release=REL1,
        created_at=datetime(2026, 1, 2, 8, 30, tzinfo=UTC),
    )
    store.upsert_release(info)
    assert store.get_release(REPO, REL2) == info


# -- builds -----------------------------------------------------------------------------------------


def new_build(store: Store, **changes: Any) -> Any:
    values: dict[str, Any] = {
        "repository": "Acme/Site",
        "requested_by": "seed-admin",
        "reason": "add the blog module",
        "manifest_ref": "main",
        "manifest_hash": None,
        "modules_delta": {"added": ["blog"], "removed": []},
        "pr_number": None,
    }
    values.update(changes)
    return store.create_build(**values)


def test_a_build_runs_its_life_and_a_final_status_is_final(store: Store, clock: FakeClock) -> None:
    build = new_build(store)
    assert is_build_id(build.build_id)
    assert (build.repository, build.status, build.stage, build.progress) == (REPO, "queued", "pr", 0)
    assert (build.started_at, build.finished_at, build.release_id) == (clock(), None, None)
    assert (build.requested_by, build.reason, build.manifest_ref) == (
        "seed-admin",
        "add the blog module",
        "main",
    )
    assert build.modules_delta == {"added": ["blog"], "removed": []}
    assert store.get_build(build.build_id) == build

    clock.advance(5)
    with_pr = store.update_build(build.build_id, pr_number=12, manifest_hash="c" * 64, progress=10)
    assert (with_pr.pr_number, with_pr.manifest_hash, with_pr.progress, with_pr.status) == (
        12,
        "c" * 64,
        10,
        "queued",
    )
    clock.advance(5)
    running = store.update_build(
        build.build_id,
        status="running",
        stage="build",
        progress=40,
        merge_sha=SHA_C,
        run_id=2**40,
        logs_url="https://github.com/acme/site/actions/runs/1099511627776",
    )
    assert (running.status, running.stage, running.progress, running.run_id) == (
        "running",
        "build",
        40,
        2**40,
    )
    assert running.updated_at == clock() and running.finished_at is None
    clock.advance(5)
    done = store.update_build(build.build_id, status="succeeded", release_id=REL1, actor="github")
    assert (done.status, done.stage, done.progress, done.release_id) == ("succeeded", "done", 100, REL1)
    assert done.finished_at == clock()
    for status in ("running", "queued", "failed", "cancelled"):
        with pytest.raises(FinalStateError, match="succeeded"):
            store.update_build(build.build_id, status=status)  # type: ignore[arg-type]
    noted = store.update_build(build.build_id, detail="deployed to staging")  # other fields may change
    assert (noted.status, noted.detail, noted.finished_at) == (
        "succeeded",
        "deployed to staging",
        done.finished_at,
    )
    assert store.get_build(build.build_id) == noted
    assert audit_actions(store, build.build_id) == ["build.create", "build.running", "build.succeeded"]
    create, running_entry, succeeded = reversed(store.query_audit(target=build.build_id).entries)
    assert (create.actor, create.reason) == ("seed-admin", "add the blog module")
    assert (running_entry.actor, succeeded.actor) == ("modbot", "github")
    assert succeeded.details is not None and succeeded.details["release_id"] == REL1


def test_a_failed_build_stops_where_it_failed(store: Store) -> None:
    build = new_build(store)
    store.update_build(build.build_id, status="running", stage="build", progress=50)
    failed = store.update_build(build.build_id, status="failed", detail="cargo build failed")
    assert (failed.status, failed.stage, failed.progress, failed.detail) == (
        "failed",
        "build",
        50,
        "cargo build failed",
    )
    assert failed.finished_at is not None
    with pytest.raises(FinalStateError):
        store.update_build(build.build_id, status="succeeded")
    entry = store.query_audit(action="build.failed").entries[0]
    assert entry.reason == "cargo build failed"
    cancelled = store.update_build(new_build(store).build_id, status="cancelled")
    assert cancelled.finished_at is not None and cancelled.stage == "pr"


def test_builds_are_found_by_pr_merge_sha_and_listed_newest_first(store: Store, clock: FakeClock) -> None:
    first = new_build(store, pr_number=7)
    clock.advance(1)
    second = new_build(store, pr_number=7)
    clock.advance(1)
    other_pr = new_build(store, pr_number=8)
    clock.advance(1)
    other_repo = new_build(store, repository="acme/other", pr_number=7)
    store.update_build(first.build_id, merge_sha=SHA_A)
    store.update_build(second.build_id, merge_sha=SHA_A)
    assert [b.build_id for b in store.builds_for_pr("ACME/site", 7)] == [second.build_id, first.build_id]
    assert [b.build_id for b in store.builds_for_merge_sha(REPO, SHA_A)] == [second.build_id, first.build_id]
    assert store.builds_for_merge_sha(REPO, SHA_B) == []
    assert [b.build_id for b in store.builds(REPO)] == [other_pr.build_id, second.build_id, first.build_id]
    assert [b.build_id for b in store.builds(limit=2)] == [other_repo.build_id, other_pr.build_id]
    assert len(store.builds()) == 4
    with pytest.raises(ValueError, match="limit"):
        store.builds(limit=1001)


def test_an_unfinished_build_for_the_same_pr_and_target_is_reused(store: Store, clock: FakeClock) -> None:
    first = new_build(store, pr_number=7, manifest_hash=HASH_A, reuse_unfinished=True)
    clock.advance(1)
    assert new_build(store, pr_number=7, manifest_hash=HASH_A, reuse_unfinished=True) == first
    other_target = new_build(store, pr_number=7, manifest_hash=HASH_B, reuse_unfinished=True)
    assert other_target.build_id != first.build_id
    assert new_build(store, pr_number=7, manifest_hash=HASH_A).build_id != first.build_id  # asked for new
    store.update_build(other_target.build_id, status="failed")
    again = new_build(store, pr_number=7, manifest_hash=HASH_B, reuse_unfinished=True)
    assert again.build_id != other_target.build_id  # a finished build is never reused


def test_two_identical_build_requests_at_once_make_one_build(store: Store) -> None:
    def request(pr: int, start: threading.Barrier, made: list[str]) -> None:
        start.wait()
        made.append(new_build(store, pr_number=pr, manifest_hash=HASH_A, reuse_unfinished=True).build_id)

    for round_ in range(10):
        pr, start, made = 100 + round_, threading.Barrier(2), []
        threads = [threading.Thread(target=request, args=(pr, start, made)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(made) == 2 and made[0] == made[1], (round_, made)
        assert len(store.builds_for_pr(REPO, pr)) == 1


def test_build_input_is_checked(store: Store) -> None:
    assert store.get_build("bld_nope") is None
    assert store.get_build(new_build_id(datetime(2026, 1, 1, tzinfo=UTC))) is None
    with pytest.raises(RecordNotFoundError):
        store.update_build(new_build_id(datetime(2026, 1, 1, tzinfo=UTC)), progress=5)
    with pytest.raises(ValueError, match="build id"):
        store.update_build("bld_nope", progress=5)
    with pytest.raises(ValueError, match="modules_delta"):
        new_build(store, modules_delta={"when": datetime(2026, 1, 1, tzinfo=UTC)})
    for number in (-1, 2**31):  # the column is a 32-bit integer, as GitHub's numbers are
        with pytest.raises(ValueError, match="pr_number"):
            new_build(store, pr_number=number)
    build = new_build(store)
    for bad, match in (
        ({"progress": 101}, "progress"),
        ({"status": "done"}, "status"),
        ({"stage": "deploy"}, "stage"),
        ({"release_id": "rel_1"}, "release id"),
        ({"merge_sha": "HEAD"}, "commit sha"),
        ({"logs_url": "ftp://x"}, "URL"),
        # 2,000 characters as given, more once its password is masked: it would not fit its column
        ({"logs_url": "https://u:p@example.com/" + "x" * 1976}, "URL"),
    ):
        with pytest.raises(ValueError, match=match):
            store.update_build(build.build_id, **bad)
    assert store.get_build(build.build_id) == build


def test_build_ids_are_ulids_in_time_order() -> None:
    at = datetime(2026, 1, 1, 12, tzinfo=UTC)
    ids = [new_build_id(at + timedelta(milliseconds=n)) for n in range(50)]
    assert all(re.fullmatch(r"bld_[0-9A-HJKMNP-TV-Z]{26}", i) and is_build_id(i) for i in ids)
    assert ids == sorted(ids)
    assert len({new_build_id(at) for _ in range(200)}) == 200  # 80 random bits each
    # the time part is the ULID's: 2026-01-01T12:00:00Z = 1767268800000 ms
    assert new_build_id(at)[4:14] == "01KDWPVNG0"
    assert not is_build_id("bld_" + "8" + "0" * 25)  # over 128 bits
    assert not is_build_id("bld_" + "0" * 25 + "U")  # not Crockford
    with pytest.raises(ValueError, match="aware"):
        new_build_id(datetime(2026, 1, 1))
