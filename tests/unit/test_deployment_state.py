"""The deployment progression and lock rules of bot/domain/deployment_state.py, without a database
(tests/unit/test_store_deploys.py checks the store applies them, on SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest

from bot.domain.deployment_state import (
    STAGE_RANK,
    STATUS_RANK,
    check_stage,
    check_status,
    forward_progress,
    is_final,
    lock_is_live,
    may_release,
    stage_for,
    starting_stage,
    status_change,
)
from bot.domain.records import (
    FINAL_DEPLOY_STATUSES,
    DeploymentRecord,
    DeployStage,
    DeployStatus,
    EnvironmentLock,
    FinalStateError,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
STATUSES: tuple[DeployStatus, ...] = get_args(DeployStatus)
STAGES: tuple[DeployStage, ...] = get_args(DeployStage)


def record(
    status: DeployStatus = "queued", stage: DeployStage = "queued", **fields: object
) -> DeploymentRecord:
    base = DeploymentRecord(
        id=7,
        repository="acme/site",
        environment="production",
        release_id="rel_2026_03_01_001",
        commit_sha="a" * 40,
        kind="deploy",
        status=status,
        stage=stage,
        requested_by="alice",
        reason=None,
        github_deployment_id=42,
        previous_release=None,
        manifest_hash=None,
        source="comment",
        issue_number=3,
        reply_comment_id=None,
        logs_url=None,
        created_at=NOW,
        updated_at=NOW,
        finished_at=None,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def lock(**fields: object) -> EnvironmentLock:
    base = EnvironmentLock(
        repository="acme/site",
        environment="production",
        holder="Alice",
        purpose="deploy",
        release_id="rel_2026_03_01_001",
        deployment_id=42,
        reason=None,
        acquired_at=NOW,
        expires_at=NOW + timedelta(hours=1),
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def test_ranks_cover_every_status_and_stage_in_order() -> None:
    assert set(STATUS_RANK) == set(STATUSES)
    assert set(STAGE_RANK) == set(STAGES)
    assert [s for s in STAGES] == sorted(STAGES, key=STAGE_RANK.__getitem__)
    assert STATUS_RANK["queued"] < STATUS_RANK["in_progress"] < STATUS_RANK["success"]
    assert {STATUS_RANK[s] for s in FINAL_DEPLOY_STATUSES} == {2}
    assert [s for s in STATUSES if is_final(s)] == ["success", "failure", "error", "inactive"]


def test_checks_refuse_unknown_values_with_a_readable_message() -> None:
    assert check_status("in_progress") == "in_progress"
    assert check_stage("smoke") == "smoke"
    with pytest.raises(
        ValueError,
        match=r"status must be one of error, failure, in_progress, inactive, queued, success, not 'done'",
    ):
        check_status("done")
    with pytest.raises(ValueError, match="stage must be one of deploy, done, queued, smoke"):
        check_stage("build")


@pytest.mark.parametrize(
    ("status", "stage_now", "expected"),
    [
        ("queued", "smoke", "queued"),
        ("in_progress", "queued", "deploy"),
        ("success", "deploy", "done"),
        ("failure", "smoke", "smoke"),
        ("error", "deploy", "deploy"),
        ("inactive", "queued", "queued"),
    ],
)
def test_stage_for_follows_the_status_and_a_failure_stays_where_it_stopped(
    status: str, stage_now: str, expected: str
) -> None:
    assert stage_for(status, stage_now) == expected


def test_a_new_record_that_succeeded_starts_done() -> None:
    assert starting_stage("success", "queued") == "done"
    assert starting_stage("failure", "smoke") == "smoke"
    assert starting_stage("queued", "queued") == "queued"


def test_status_change_sets_finished_at_and_done_on_success() -> None:
    assert status_change(1, "queued", "queued", stage_given=False, now=NOW) == {}
    assert status_change(1, "queued", "in_progress", stage_given=False, now=NOW) == {}
    assert status_change(1, "in_progress", "success", stage_given=False, now=NOW) == {
        "finished_at": NOW,
        "stage": "done",
    }
    assert status_change(1, "in_progress", "success", stage_given=True, now=NOW) == {"finished_at": NOW}
    assert status_change(1, "in_progress", "failure", stage_given=False, now=NOW) == {"finished_at": NOW}


@pytest.mark.parametrize(
    ("before", "after"), list(itertools.product(sorted(FINAL_DEPLOY_STATUSES), STATUSES))
)
def test_a_final_status_is_final(before: DeployStatus, after: DeployStatus) -> None:
    if before == after:
        assert status_change(9, before, after, stage_given=False, now=NOW) == {}
        return
    with pytest.raises(FinalStateError) as caught:
        status_change(9, before, after, stage_given=False, now=NOW)
    assert str(caught.value) == f"deployment record 9 finished with {before!r}; it cannot become {after!r}"


def test_forward_progress_moves_status_and_stage_forward_only() -> None:
    def progress(
        before: DeploymentRecord, status: DeployStatus, stage: DeployStage | None = None
    ) -> dict[str, object]:
        return forward_progress(
            before,
            status=status,
            stage=stage,
            logs_url=None,
            manifest_hash=None,
            previous_release=None,
            finished_at=None,
            now=LATER,
        )

    assert progress(record("queued"), "in_progress") == {"status": "in_progress", "stage": "deploy"}
    assert progress(record("in_progress", "smoke"), "in_progress") == {}  # deploy < smoke: stage stays
    assert progress(record("in_progress", "deploy"), "queued") == {}  # never back
    assert progress(record("in_progress", "deploy"), "in_progress", "smoke") == {"stage": "smoke"}
    assert progress(record("in_progress", "smoke"), "success") == {
        "status": "success",
        "finished_at": LATER,
        "stage": "done",
    }
    assert progress(record("in_progress", "smoke"), "failure") == {"status": "failure", "finished_at": LATER}
    finished = record("failure", "smoke", finished_at=NOW)
    assert progress(finished, "success") == {}  # never once final
    assert progress(record("success", "done"), "failure") == {}


def test_forward_progress_fills_empty_fields_even_when_final_and_keeps_given_times() -> None:
    finished = record("success", "done", finished_at=NOW, logs_url="https://ci.example/1")
    changes = forward_progress(
        finished,
        status="success",
        stage=None,
        logs_url="https://ci.example/2",
        manifest_hash="b" * 64,
        previous_release="rel_2026_02_01_001",
        finished_at=None,
        now=LATER,
    )
    assert changes == {"manifest_hash": "b" * 64, "previous_release": "rel_2026_02_01_001"}
    reported = forward_progress(
        record("in_progress", "deploy"),
        status="error",
        stage=None,
        logs_url="https://ci.example/3",
        manifest_hash=None,
        previous_release=None,
        finished_at=NOW,
        now=LATER,
    )
    assert reported == {"status": "error", "finished_at": NOW, "logs_url": "https://ci.example/3"}


def test_a_lock_holds_until_it_expires() -> None:
    held = lock()
    assert lock_is_live(held, NOW)
    assert lock_is_live(held, held.expires_at - timedelta(microseconds=1))
    assert not lock_is_live(held, held.expires_at)
    assert not lock_is_live(held, held.expires_at + timedelta(seconds=1))


def test_who_may_release_a_lock() -> None:
    held = lock()
    assert may_release(held, actor="someone", deployment_id=None, force=True)
    assert may_release(held, actor="someone", deployment_id=42, force=False)
    assert not may_release(held, actor="Alice", deployment_id=41, force=False)  # another deployment's event
    assert may_release(held, actor="alice", deployment_id=None, force=False)  # logins are case-insensitive
    assert not may_release(held, actor="bob", deployment_id=None, force=False)
    unattached = lock(deployment_id=None)
    assert not may_release(unattached, actor="Alice", deployment_id=42, force=False)
