"""A delivery's job, without the database: what a redelivery of a stored delivery does, what a failed
attempt leads to, and the fresh start both a redelivery of a failed job and an operator's retry give.

The store applies these inside its transactions (bot/store/queue.py, queue_operations.py); the changes
are named by the delivery record's fields (``DeliveryInfo``). docs/store.md has the state diagram and
the redelivery table.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from bot.domain.records.queue import DeliveryStatus, RecordOutcome

__all__ = ["after_failure", "check_retry_in", "fresh_start", "redelivery"]


def fresh_start(now: datetime) -> dict[str, Any]:
    """A failed job made pending again, due now, with a fresh attempt budget (a redelivery of it, or
    an operator's retry)."""
    return {
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "lease_owner": None,
        "lease_until": None,
        "finished_at": None,
    }


def redelivery(
    status: DeliveryStatus,
    *,
    next_attempt_at: datetime,
    lease_until: datetime | None,
    now: datetime,
) -> tuple[RecordOutcome, dict[str, Any] | None]:
    """What a redelivery (the same delivery id again) does to the stored job, and the changes to make
    (None: none). Finished: nothing. Failed: a fresh start. Pending but waiting for a retry: due now.
    Running under an expired lease (its worker died): pending, due now, the dead worker's lease void.
    Pending and due, or running under a live lease: nothing new (it will run, or is running)."""
    if status in (DeliveryStatus.DONE, DeliveryStatus.IGNORED):
        return RecordOutcome.DUPLICATE_DONE, None
    if status is DeliveryStatus.FAILED:
        return RecordOutcome.REQUEUED, fresh_start(now)
    if status is DeliveryStatus.PENDING and next_attempt_at > now:
        return RecordOutcome.REQUEUED, {"next_attempt_at": now}
    if status is DeliveryStatus.RUNNING and lease_until is not None and lease_until <= now:
        return RecordOutcome.REQUEUED, {
            "status": DeliveryStatus.PENDING.value,
            "next_attempt_at": now,
            "lease_owner": None,
            "lease_until": None,
        }
    return RecordOutcome.DUPLICATE_PENDING, None


def check_retry_in(retry_in: float | None) -> None:
    if retry_in is not None and not (retry_in >= 0 and math.isfinite(retry_in)):
        raise ValueError("retry_in must be a non-negative number of seconds")


def after_failure(
    *, attempts: int, max_attempts: int, retry_in: float | None, message: str, now: datetime
) -> tuple[DeliveryStatus, dict[str, Any]]:
    """A failed attempt: with ``retry_in`` seconds and attempts left (``attempts`` counts this one) the
    job is pending again, due then; otherwise (a permanent error, or the last attempt) it has failed.
    Either way its lease ends and ``message`` is kept."""
    check_retry_in(retry_in)
    if retry_in is not None and attempts < max_attempts:
        return DeliveryStatus.PENDING, {
            "status": DeliveryStatus.PENDING.value,
            "next_attempt_at": now + timedelta(seconds=retry_in),
            "lease_owner": None,
            "lease_until": None,
            "last_error": message,
        }
    return DeliveryStatus.FAILED, {
        "status": DeliveryStatus.FAILED.value,
        "finished_at": now,
        "lease_owner": None,
        "lease_until": None,
        "last_error": message,
    }
