"""The delivery queue's records: a delivery's status, what recording one did, a leased job, a
delivery as stored, dead letters; the retry backoff and the attempt budget.

docs/store.md has the state diagram of a delivery's job.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from bot.domain.records.checks import check_id

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "FINISHED_STATUSES",
    "MAX_DEAD_LETTER_PAGE",
    "DeadLetter",
    "DeadLetterPage",
    "DeliveryInfo",
    "DeliveryStatus",
    "IncomingDelivery",
    "Job",
    "LeaseLostError",
    "RecordOutcome",
    "check_text",
    "default_backoff",
]

DEFAULT_MAX_ATTEMPTS: Final = 5
"""How many times a job is taken (crashes included) before it is failed for good."""


class DeliveryStatus(enum.StrEnum):
    """The life of a delivery's job (docs/store.md has the state diagram)."""

    PENDING = "pending"  # waiting to be taken (now, or at next_attempt_at after a failed attempt)
    RUNNING = "running"  # taken by lease_owner until lease_until
    DONE = "done"  # handled
    FAILED = "failed"  # gave up: a permanent error, or max attempts reached
    IGNORED = "ignored"  # looked at and deliberately not handled (reason in last_error)


FINISHED_STATUSES = frozenset({DeliveryStatus.DONE, DeliveryStatus.FAILED, DeliveryStatus.IGNORED})


class RecordOutcome(enum.StrEnum):
    """What ``record_delivery`` did with a delivery (the webhook reports it in its 202 body)."""

    NEW = "new"  # first time seen: stored, job pending
    DUPLICATE_DONE = "duplicate_done"  # already finished (done or ignored): nothing to do
    REQUEUED = "requeued"  # a redelivery of a failed or stalled job: it runs again (now)
    DUPLICATE_PENDING = "duplicate_pending"  # already queued or running: nothing new


class LeaseLostError(RuntimeError):
    """The worker no longer holds the job's lease (it expired and the job was taken again, or the
    job was redelivered). The worker must stop and must not report a result for this job."""


@dataclass(frozen=True, slots=True)
class Job:
    """A delivery leased to one worker. Pass it back to complete / fail / ignore / heartbeat."""

    id: int
    delivery_id: str
    event: str
    action: str | None
    repository: str | None
    installation_id: int | None
    payload: dict[str, Any]
    received_at: datetime
    attempts: int  # including this one
    worker_id: str
    lease_until: datetime
    lease_seconds: float


@dataclass(frozen=True, slots=True)
class DeliveryInfo:
    """A delivery row as stored (for status pages, tests and operators)."""

    id: int
    delivery_id: str
    event: str
    action: str | None
    repository: str | None
    installation_id: int | None
    payload: dict[str, Any]
    received_at: datetime
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    lease_owner: str | None
    lease_until: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A delivery whose job gave up (``failed``): what an operator needs to decide on a retry. The
    payload is left out (it is large, and the retry does not need it shown)."""

    id: int
    delivery_id: str
    event: str
    action: str | None
    repository: str | None
    installation_id: int | None
    received_at: datetime
    attempts: int
    failed_at: datetime | None  # when it gave up
    last_error: str | None


@dataclass(frozen=True, slots=True)
class DeadLetterPage:
    dead_letters: list[DeadLetter]  # newest first (by id)
    next_cursor: int | None  # pass as ``cursor`` for the next (older) page; None: no more


MAX_DEAD_LETTER_PAGE: Final = 1000


@dataclass(frozen=True, slots=True)
class IncomingDelivery:
    """A verified webhook delivery on its way into the store (``record_deliveries``)."""

    delivery_id: str
    event: str
    action: str | None
    repository: str | None
    installation_id: int | None
    payload: Mapping[str, Any] | None  # the parsed body, or None when ``payload_text`` carries it
    # the JSON text to store (exactly what GitHub sent, when that is strict JSON): the webhook's hot path
    # passes this instead of the object, so the writer never serializes a payload again
    payload_text: str | None = None

    def check(self) -> None:
        check_text("delivery_id", self.delivery_id, 100, required=True)
        check_text("event", self.event, 100, required=True)
        check_text("action", self.action, 100, required=False)
        check_text("repository", self.repository, 200, required=False)
        check_id("installation_id", self.installation_id, required=False)
        if (self.payload is None) == (self.payload_text is None):
            raise ValueError("a delivery needs exactly one of payload and payload_text")


def default_backoff(attempts: int, *, base: float = 5.0, cap: float = 600.0) -> float:
    """Seconds to wait before retrying after ``attempts`` failed attempts: exponential with full
    jitter (AWS architecture blog), so replicas retrying the same outage spread out."""
    ceiling = min(cap, base * (2 ** max(0, attempts - 1)))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not a secret)


def check_text(name: str, value: str | None, limit: int, *, required: bool) -> None:
    if value is None or value == "":
        if required:
            raise ValueError(f"{name} is required")
        return
    if len(value) > limit:
        raise ValueError(f"{name} is longer than {limit} characters")
