"""The durable delivery queue: record a webhook delivery, then lease its job to one worker.

Each delivery row is also its job (docs/store.md has the state diagram)::

    record_delivery ──► pending ──claim_next──► running ──complete──► done
                          ▲  ▲                   │ │ │
                          │  └──fail(retry_in)───┘ │ └──ignore──► ignored
                          │     (attempts left)    └──fail──► failed (no retry, or attempts used up)
                          └── lease expired: claim_next takes it again (or fails it when attempts are used up)

Exactly-once *taking*: a job is claimed by one UPDATE that moves it to ``running`` with a lease
(``lease_owner``, ``lease_until``). On PostgreSQL the candidate row is picked with
``SELECT … FOR UPDATE SKIP LOCKED`` so replicas never wait for or take each other's rows; on SQLite
the claim runs under ``BEGIN IMMEDIATE`` (one writer at a time). Every later transition
(``complete``, ``fail``, ``ignore``, ``heartbeat``, ``release``) is fenced on the lease: it only
applies while the row is still ``running`` for the same owner and attempt, so a worker whose lease
expired and whose job was taken again cannot overwrite the new attempt (it gets LeaseLostError).
Handling itself is at-least-once: a worker that dies mid-job is retried after its lease expires,
so handlers must be idempotent (the sticky comment and the PR-state compare-and-set are).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Dialect, Row, and_, func, select, update

from bot import jsoncodec
from bot.domain.delivery_state import after_failure, check_retry_in, redelivery
from bot.domain.records.queue import (
    DEFAULT_MAX_ATTEMPTS,
    DeadLetter,
    DeadLetterPage,
    DeliveryInfo,
    DeliveryStatus,
    IncomingDelivery,
    Job,
    LeaseLostError,
    RecordOutcome,
    check_text,
    default_backoff,
)
from bot.domain.text import redact_text, truncate
from bot.store.audit import AuditMixin
from bot.store.models import DELIVERIES

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "DeadLetter",
    "DeadLetterPage",
    "DeliveryInfo",
    "IncomingDelivery",
    "Job",
    "LeaseLostError",
    "QueueMixin",
    "RecordOutcome",
    "default_backoff",
]

_T = DELIVERIES
_C = _T.c

_EXHAUSTED_SWEEP_BATCH = 100


def _payload_value(delivery: IncomingDelivery) -> Any:
    if delivery.payload_text is not None:
        return jsoncodec.RawJson(delivery.payload_text)
    assert delivery.payload is not None  # check() guarantees one of them
    return delivery.payload if isinstance(delivery.payload, dict) else dict(delivery.payload)


def _message(error: str | BaseException) -> str:
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
    return truncate(redact_text(text))


_JOB_COLUMNS = (
    _C.id,
    _C.delivery_id,
    _C.event,
    _C.action,
    _C.repository,
    _C.installation_id,
    _C.payload,
    _C.received_at,
    _C.attempts,
    _C.lease_owner,
    _C.lease_until,
)


def _job(row: Row[Any], lease_seconds: float) -> Job:
    return Job(
        id=row.id,
        delivery_id=row.delivery_id,
        event=row.event,
        action=row.action,
        repository=row.repository,
        installation_id=row.installation_id,
        payload=row.payload,
        received_at=row.received_at,
        attempts=row.attempts,
        worker_id=row.lease_owner,
        lease_until=row.lease_until,
        lease_seconds=lease_seconds,
    )


# The columns a new delivery is inserted with (the others start NULL).
_INSERT_COLUMNS = (
    "delivery_id",
    "event",
    "action",
    "repository",
    "installation_id",
    "payload",
    "received_at",
    "status",
    "attempts",
    "next_attempt_at",
)


def _insert_new_deliveries(
    conn: Connection, deliveries: Sequence[IncomingDelivery], now: datetime
) -> set[str]:
    """``INSERT … ON CONFLICT (delivery_id) DO NOTHING RETURNING delivery_id`` for the whole batch, as one
    statement handed to the driver; returns the ids it inserted.

    Written out here rather than built by SQLAlchemy per batch: that building (a statement with a row
    of parameters per delivery, then each parameter processed) cost the webhook's writer thread ~100 µs
    of interpreter time per delivery, time the event loop waits for, as both need the one interpreter
    lock (docs/performance.md). Values still go through each column type's own bind processing, so they
    are stored exactly as every other query of the store writes and reads them."""
    dialect = conn.dialect
    binders = _delivery_binders(dialect)
    received_at = binders["received_at"](now)
    params: list[Any] = []
    for d in deliveries:
        params += (
            d.delivery_id,
            d.event,
            d.action,
            d.repository,
            d.installation_id,
            binders["payload"](_payload_value(d)),
            received_at,
            DeliveryStatus.PENDING.value,
            0,
            received_at,
        )
    statement = _insert_statement(dialect.paramstyle, len(deliveries))
    return set(conn.exec_driver_sql(statement, tuple(params)).scalars())


@functools.cache
def _insert_statement(paramstyle: str, rows: int) -> str:
    mark = "?" if paramstyle == "qmark" else "%s"
    row = "(" + ", ".join([mark] * len(_INSERT_COLUMNS)) + ")"
    # only this module's constant names go into the text; every value is a bound parameter
    columns, values = ", ".join(_INSERT_COLUMNS), ", ".join([row] * rows)
    return (
        f"INSERT INTO {_T.name} ({columns}) VALUES {values} "  # noqa: S608 (constants, see above)
        "ON CONFLICT (delivery_id) DO NOTHING RETURNING delivery_id"
    )


_Binder = Callable[[Any], Any]
_BINDERS: weakref.WeakKeyDictionary[Dialect, dict[str, _Binder]] = weakref.WeakKeyDictionary()


def _delivery_binders(dialect: Dialect) -> dict[str, _Binder]:
    """Each inserted column type's bind processing on this dialect (identity where it has none)."""
    binders = _BINDERS.get(dialect)
    if binders is None:
        binders = {}
        for name in ("payload", "received_at"):
            process = _C[name].type.dialect_impl(dialect).bind_processor(dialect)
            binders[name] = process if process is not None else _identity
        _BINDERS[dialect] = binders
    return binders


def _identity(value: Any) -> Any:
    return value


class QueueMixin(AuditMixin):
    max_attempts: int = DEFAULT_MAX_ATTEMPTS

    # -- the webhook side -------------------------------------------------------------------

    def record_delivery(  # noqa: PLR0917 (positional: the webhook's DeliveryRecorder protocol)
        self,
        delivery_id: str,
        event: str,
        action: str | None,
        repository: str | None,
        installation_id: int | None,
        payload: Mapping[str, Any],
    ) -> RecordOutcome:
        """Store a verified delivery durably (one short transaction), deduplicated on its id.

        A delivery seen before is not stored again: done/ignored → DUPLICATE_DONE; pending or
        running under a live lease → DUPLICATE_PENDING; failed → REQUEUED with a fresh attempt
        budget; pending but waiting for a retry, or running under an expired lease (its worker
        died) → REQUEUED, due now. The stored payload is the parsed JSON body.
        """
        delivery = IncomingDelivery(delivery_id, event, action, repository, installation_id, payload)
        return self.record_deliveries([delivery])[0]

    def record_deliveries(self, deliveries: Sequence[IncomingDelivery]) -> list[RecordOutcome]:
        """Group commit: record every delivery as ``record_delivery`` would, all in ONE transaction, so
        one commit (one fsync) makes the whole batch durable. Outcomes come back in order. Either all
        are stored or none is (an exception): the caller answers none of them before this returns.

        A delivery id that appears twice in one batch is stored once; the second copy sees the
        first (DUPLICATE_PENDING), exactly as two separate calls would.
        """
        for delivery in deliveries:
            delivery.check()
        if not deliveries:
            return []
        now = self.now()
        with self.write() as conn:
            # One multi-row INSERT for the batch; what it skipped was seen before (or earlier in
            # this same batch) and takes the duplicate path below, one by one (rare).
            inserted = _insert_new_deliveries(conn, deliveries, now)
            outcomes = []
            for delivery in deliveries:
                if delivery.delivery_id in inserted:
                    inserted.discard(delivery.delivery_id)  # a later copy in the batch is a duplicate
                    outcomes.append(RecordOutcome.NEW)
                else:
                    outcomes.append(self._record_seen(conn, delivery, now))
            return outcomes

    def _record_seen(self, conn: Connection, delivery: IncomingDelivery, now: datetime) -> RecordOutcome:
        """A delivery whose id is already stored: report it, and requeue it when it needs another run."""
        # Lock the row (PostgreSQL) so a worker's transition cannot interleave.
        row = conn.execute(
            select(_C.id, _C.status, _C.next_attempt_at, _C.lease_until)
            .where(_C.delivery_id == delivery.delivery_id)
            .with_for_update()
        ).one()
        outcome, changes = redelivery(
            DeliveryStatus(row.status),
            next_attempt_at=row.next_attempt_at,
            lease_until=row.lease_until,
            now=now,
        )
        if changes is not None:
            conn.execute(update(_T).where(_C.id == row.id).values(**changes))
        return outcome

    # -- the worker side ----------------------------------------------------------------------

    def claim_next(self, worker_id: str, lease_seconds: float = 60.0) -> Job | None:
        """Lease the next due job to ``worker_id`` for ``lease_seconds``, or None if none is due.

        Jobs whose worker died (lease expired) come first, then pending jobs by due time. A job
        whose lease expired after its last allowed attempt is marked failed instead of retried.
        ``worker_id`` must be unique per concurrently running worker (e.g. host:pid:thread).
        """
        check_text("worker_id", worker_id, 200, required=True)
        if not (lease_seconds > 0 and math.isfinite(lease_seconds)):
            raise ValueError("lease_seconds must be positive")
        now = self.now()
        until = now + timedelta(seconds=lease_seconds)
        running = _C.status == DeliveryStatus.RUNNING.value
        expired = and_(running, _C.lease_until <= now)
        with self.write() as conn:
            exhausted = (
                select(_C.id)
                .where(expired, _C.attempts >= self.max_attempts)
                .limit(_EXHAUSTED_SWEEP_BATCH)
                .with_for_update(skip_locked=True)
            )
            conn.execute(
                update(_T)
                .where(_C.id.in_(exhausted.scalar_subquery()), expired)
                .values(
                    status=DeliveryStatus.FAILED.value,
                    finished_at=now,
                    lease_owner=None,
                    lease_until=None,
                    last_error=func.coalesce(_C.last_error + " | ", "")
                    + "the worker's lease expired on the last allowed attempt",
                )
            )
            candidates = (
                (and_(expired, _C.attempts < self.max_attempts), _C.lease_until),
                (
                    and_(_C.status == DeliveryStatus.PENDING.value, _C.next_attempt_at <= now),
                    _C.next_attempt_at,
                ),
            )
            for condition, order in candidates:
                pick = (
                    select(_C.id)
                    .where(condition)
                    .order_by(order, _C.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                    .scalar_subquery()
                )
                row = conn.execute(
                    update(_T)
                    .where(_C.id == pick, condition)
                    .values(
                        status=DeliveryStatus.RUNNING.value,
                        attempts=_C.attempts + 1,
                        lease_owner=worker_id,
                        lease_until=until,
                        started_at=now,
                    )
                    .returning(*_JOB_COLUMNS)
                ).first()
                if row is not None:
                    return _job(row, lease_seconds)
        return None

    def _transition(self, job: Job, values: Mapping[str, Any]) -> None:
        held = and_(
            _C.id == job.id,
            _C.status == DeliveryStatus.RUNNING.value,
            _C.lease_owner == job.worker_id,
            _C.attempts == job.attempts,
        )
        with self.write() as conn:
            result = conn.execute(update(_T).where(held).values(**values))
            if result.rowcount != 1:
                raise LeaseLostError(
                    f"job {job.id} (delivery {job.delivery_id}, attempt {job.attempts}) "
                    f"is no longer leased to {job.worker_id}"
                )

    def complete(self, job: Job) -> None:
        """The job was handled: done. Raises LeaseLostError if the lease was lost meanwhile."""
        self._transition(
            job,
            {
                "status": DeliveryStatus.DONE.value,
                "finished_at": self.now(),
                "lease_owner": None,
                "lease_until": None,
            },
        )

    def fail(self, job: Job, error: str | BaseException, retry_in: float | None) -> DeliveryStatus:
        """The attempt failed. With ``retry_in`` seconds (see ``default_backoff``) and attempts
        left, the job goes back to pending, due then; otherwise (``retry_in=None`` for a permanent
        error, or the last attempt) it is failed. The error is stored redacted and truncated.
        Returns the job's new status."""
        check_retry_in(retry_in)
        status, changes = after_failure(
            attempts=job.attempts,
            max_attempts=self.max_attempts,
            retry_in=retry_in,
            message=_message(error),
            now=self.now(),
        )
        self._transition(job, changes)
        return status

    def ignore(self, job: Job, reason: str) -> None:
        """The job needs no handling (e.g. a PR that does not touch the manifest); the reason is
        kept in ``last_error``."""
        self._transition(
            job,
            {
                "status": DeliveryStatus.IGNORED.value,
                "finished_at": self.now(),
                "lease_owner": None,
                "lease_until": None,
                "last_error": truncate(redact_text(reason)),
            },
        )

    def heartbeat(self, job: Job, lease_seconds: float | None = None) -> Job:
        """Extend the lease to now + ``lease_seconds`` (default: the job's own). Call it well
        within the lease during long work. Raises LeaseLostError if the lease is gone."""
        seconds = job.lease_seconds if lease_seconds is None else lease_seconds
        if not (seconds > 0 and math.isfinite(seconds)):
            raise ValueError("lease_seconds must be positive")
        until = self.now() + timedelta(seconds=seconds)
        self._transition(job, {"lease_until": until})
        return dataclasses.replace(job, lease_until=until, lease_seconds=seconds)

    def release(self, job: Job) -> None:
        """Give the job back without handling it (e.g. on shutdown): pending, due now, and this
        attempt is not counted."""
        self._transition(
            job,
            {
                "status": DeliveryStatus.PENDING.value,
                "next_attempt_at": self.now(),
                "attempts": job.attempts - 1,
                "lease_owner": None,
                "lease_until": None,
            },
        )

    def expire_abandoned_leases(self, owner_prefix: str, is_abandoned: Callable[[str], bool]) -> int:
        """End now the live leases of workers that are known dead, so their jobs are taken again at
        once instead of when the lease runs out. A restarted bot calls it before its workers start,
        with its host's prefix (``host:``) and a test of each owner (is its process gone?). The
        attempt stays counted, as for any crash, so a job that kills its worker still ends failed.
        Returns how many leases it ended."""
        check_text("owner_prefix", owner_prefix, 200, required=True)
        now = self.now()
        running = _C.status == DeliveryStatus.RUNNING.value
        with self.write() as conn:
            rows = conn.execute(
                select(_C.id, _C.lease_owner)
                .where(
                    running, _C.lease_until > now, _C.lease_owner.startswith(owner_prefix, autoescape=True)
                )
                .with_for_update()
            ).all()
            ended = 0
            for row in rows:
                if is_abandoned(row.lease_owner):
                    held = and_(_C.id == row.id, running, _C.lease_owner == row.lease_owner)
                    ended += conn.execute(update(_T).where(held).values(lease_until=now)).rowcount
        return ended
