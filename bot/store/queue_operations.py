"""What operators and metrics ask of the delivery queue: dead letters (jobs that gave up) and their
retry, the queue's depth and counts, when the next job is due, one delivery as stored, and purging
finished deliveries. The webhook's and the worker's side are bot/store/queue.py's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select, update

from bot.domain.delivery_state import fresh_start
from bot.domain.records.queue import (
    FINISHED_STATUSES,
    MAX_DEAD_LETTER_PAGE,
    DeadLetter,
    DeadLetterPage,
    DeliveryInfo,
    DeliveryStatus,
    check_text,
)
from bot.store.audit import AuditMixin
from bot.store.models import DELIVERIES

__all__ = ["QueueOperationsMixin"]

_T = DELIVERIES
_C = _T.c

_DEAD_LETTER_COLUMNS = (
    _C.id,
    _C.delivery_id,
    _C.event,
    _C.action,
    _C.repository,
    _C.installation_id,
    _C.received_at,
    _C.attempts,
    _C.finished_at.label("failed_at"),
    _C.last_error,
)


class QueueOperationsMixin(AuditMixin):
    # -- dead letters: jobs that gave up ----------------------------------------------------------------

    def dead_letter_count(self) -> int:
        """Failed deliveries (the dead-letter queue), for the ``modbot_dead_letters`` gauge."""
        with self.read() as conn:
            count = conn.execute(
                select(func.count()).select_from(_T).where(_C.status == DeliveryStatus.FAILED.value)
            ).scalar_one()
        return int(count)

    def dead_letters(self, *, limit: int = 100, cursor: int | None = None) -> DeadLetterPage:
        """Failed deliveries, newest first, at most ``limit`` (1..1000) per page; older pages through
        ``cursor`` (the previous page's ``next_cursor``)."""
        if not 1 <= limit <= MAX_DEAD_LETTER_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_DEAD_LETTER_PAGE}")
        query = select(*_DEAD_LETTER_COLUMNS).where(_C.status == DeliveryStatus.FAILED.value)
        if cursor is not None:
            query = query.where(_C.id < cursor)
        with self.read() as conn:
            rows = conn.execute(query.order_by(_C.id.desc()).limit(limit + 1)).all()
        letters = [DeadLetter(**row._asdict()) for row in rows[:limit]]
        return DeadLetterPage(letters, letters[-1].id if len(rows) > limit else None)

    def retry_dead_letters(
        self, delivery_ids: Sequence[str] | None, *, actor: str, reason: str | None = None
    ) -> list[str]:
        """Make failed deliveries pending again, due now, with a fresh attempt budget: those named,
        or every one (``delivery_ids=None``). A named delivery that is not failed is left alone.
        Returns the ids retried; one audit entry (``delivery.retry``) is written in the same
        transaction, whatever was retried."""
        if delivery_ids is not None:
            for delivery_id in delivery_ids:
                check_text("delivery_id", delivery_id, 100, required=True)
        failed = _C.status == DeliveryStatus.FAILED.value
        which = failed if delivery_ids is None else and_(failed, _C.delivery_id.in_(list(delivery_ids)))
        with self.write() as conn:
            retried = sorted(
                conn.execute(
                    update(_T).where(which).values(**fresh_start(self.now())).returning(_C.delivery_id)
                ).scalars()
            )
            self._append_audit(
                conn,
                actor=actor,
                action="delivery.retry",
                target=retried[0] if len(retried) == 1 else None,
                details={
                    "asked": "all" if delivery_ids is None else list(delivery_ids)[:100],
                    "retried": retried[:100],
                    "count": len(retried),
                },
                reason=reason,
            )
        return retried

    # -- observing the queue ---------------------------------------------------------------------

    def queue_depth(self) -> int:
        """Jobs not finished yet: pending (due or waiting for a retry) plus running."""
        with self.read() as conn:
            count = conn.execute(
                select(func.count())
                .select_from(_T)
                .where(_C.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.RUNNING.value]))
            ).scalar_one()
        return int(count)

    def delivery_counts(self) -> dict[tuple[str, DeliveryStatus], int]:
        """Number of stored deliveries by (event, status), for metrics."""
        with self.read() as conn:
            rows = conn.execute(select(_C.event, _C.status, func.count()).group_by(_C.event, _C.status)).all()
        return {(event, DeliveryStatus(status)): int(count) for event, status, count in rows}

    def next_due_at(self) -> datetime | None:
        """When the earliest pending job is due (a worker can sleep until then), or None."""
        with self.read() as conn:
            value: datetime | None = conn.execute(
                select(func.min(_C.next_attempt_at)).where(_C.status == DeliveryStatus.PENDING.value)
            ).scalar_one()
        return value

    def get_delivery(self, delivery_id: str) -> DeliveryInfo | None:
        with self.read() as conn:
            row = conn.execute(select(_T).where(_C.delivery_id == delivery_id)).first()
        if row is None:
            return None
        return DeliveryInfo(**{**row._asdict(), "status": DeliveryStatus(row.status)})

    def purge_finished(self, older_than: timedelta) -> int:
        """Delete finished deliveries (done, failed, ignored) received more than ``older_than``
        ago; returns how many. A redelivery of a purged id is treated as new, so keep more than
        GitHub's redelivery window (a few days). Unfinished jobs are never purged."""
        cutoff = self.now() - older_than
        with self.write() as conn:
            result = conn.execute(
                _T.delete().where(
                    _C.status.in_([s.value for s in FINISHED_STATUSES]),
                    _C.received_at < cutoff,
                )
            )
        return int(result.rowcount)
