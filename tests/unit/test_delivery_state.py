"""A delivery's job rules of bot/domain/delivery_state.py, without a database: the redelivery table of
docs/store.md, a failed attempt, the fresh start (tests/unit/test_store_queue.py checks the store applies
them, on SQLite and PostgreSQL)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.delivery_state import after_failure, check_retry_in, fresh_start, redelivery
from bot.domain.records import DeliveryStatus, RecordOutcome

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BEFORE = NOW - timedelta(seconds=1)
AFTER = NOW + timedelta(seconds=30)


@pytest.mark.parametrize("status", [DeliveryStatus.DONE, DeliveryStatus.IGNORED])
def test_a_finished_delivery_is_not_run_again(status: DeliveryStatus) -> None:
    assert redelivery(status, next_attempt_at=AFTER, lease_until=None, now=NOW) == (
        RecordOutcome.DUPLICATE_DONE,
        None,
    )


def test_a_failed_delivery_starts_again_with_a_fresh_budget() -> None:
    outcome, changes = redelivery(DeliveryStatus.FAILED, next_attempt_at=BEFORE, lease_until=None, now=NOW)
    assert outcome is RecordOutcome.REQUEUED
    assert (
        changes
        == fresh_start(NOW)
        == {
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": NOW,
            "lease_owner": None,
            "lease_until": None,
            "finished_at": None,
        }
    )


def test_a_pending_delivery_waiting_for_a_retry_is_due_now_and_a_due_one_is_left() -> None:
    assert redelivery(DeliveryStatus.PENDING, next_attempt_at=AFTER, lease_until=None, now=NOW) == (
        RecordOutcome.REQUEUED,
        {"next_attempt_at": NOW},
    )
    for due in (NOW, BEFORE):
        assert redelivery(DeliveryStatus.PENDING, next_attempt_at=due, lease_until=None, now=NOW) == (
            RecordOutcome.DUPLICATE_PENDING,
            None,
        )


def test_a_running_delivery_is_requeued_only_once_its_lease_has_expired() -> None:
    expired = {"status": "pending", "next_attempt_at": NOW, "lease_owner": None, "lease_until": None}
    for until in (NOW, BEFORE):
        assert redelivery(DeliveryStatus.RUNNING, next_attempt_at=BEFORE, lease_until=until, now=NOW) == (
            RecordOutcome.REQUEUED,
            expired,
        )
    assert redelivery(DeliveryStatus.RUNNING, next_attempt_at=BEFORE, lease_until=AFTER, now=NOW) == (
        RecordOutcome.DUPLICATE_PENDING,
        None,
    )


def test_a_failed_attempt_with_attempts_left_is_retried_later() -> None:
    status, changes = after_failure(attempts=2, max_attempts=5, retry_in=12.5, message="boom", now=NOW)
    assert status is DeliveryStatus.PENDING
    assert changes == {
        "status": "pending",
        "next_attempt_at": NOW + timedelta(seconds=12.5),
        "lease_owner": None,
        "lease_until": None,
        "last_error": "boom",
    }


@pytest.mark.parametrize(("attempts", "retry_in"), [(5, 10.0), (6, 10.0), (1, None)])
def test_the_last_attempt_or_a_permanent_error_fails_the_job(attempts: int, retry_in: float | None) -> None:
    status, changes = after_failure(
        attempts=attempts, max_attempts=5, retry_in=retry_in, message="x", now=NOW
    )
    assert status is DeliveryStatus.FAILED
    assert changes == {
        "status": "failed",
        "finished_at": NOW,
        "lease_owner": None,
        "lease_until": None,
        "last_error": "x",
    }


@pytest.mark.parametrize("retry_in", [-1.0, math.inf, math.nan])
def test_retry_in_must_be_a_real_non_negative_delay(retry_in: float) -> None:
    with pytest.raises(ValueError, match="retry_in must be a non-negative number of seconds"):
        check_retry_in(retry_in)
    with pytest.raises(ValueError, match="retry_in must be a non-negative number of seconds"):
        after_failure(attempts=1, max_attempts=5, retry_in=retry_in, message="x", now=NOW)
    check_retry_in(0.0)
    check_retry_in(None)
