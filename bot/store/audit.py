"""The audit log: append-only, newest first, paged by an id cursor.

There is deliberately no update or delete here. The migration also installs triggers that make
the database itself refuse UPDATE and DELETE on ``audit_log`` (and TRUNCATE on PostgreSQL), so a
bug elsewhere in the bot cannot rewrite history either. Details and reasons are passed through the
secret redactor before they are written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, or_, select

from bot.domain.records.audit import AUDIT_OUTCOMES, AuditEntry, AuditOutcome, AuditPage
from bot.domain.records.common import MAX_PAGE, MAX_REASON_CHARS
from bot.domain.text import redact_text, redact_value, truncate
from bot.store.base import StoreBase
from bot.store.models import AUDIT_LOG

__all__ = [
    "AUDIT_OUTCOMES",
    "MAX_PAGE",
    "MAX_REASON_CHARS",
    "AuditEntry",
    "AuditMixin",
    "AuditOutcome",
    "AuditPage",
]

_T = AUDIT_LOG
_C = _T.c


def _required(name: str, value: str, limit: int) -> str:
    value = value.strip()
    if not value or len(value) > limit:
        raise ValueError(f"audit {name} is required (at most {limit} characters)")
    return value


class AuditMixin(StoreBase):
    def append_audit(
        self,
        actor: str,
        action: str,
        target: str | None = None,
        details: Mapping[str, Any] | None = None,
        reason: str | None = None,
    ) -> AuditEntry:
        """Append one entry (e.g. actor ``api:<token name>``, action ``module.install``, target
        ``owner/repo#12``)."""
        with self.write() as conn:
            return self._append_audit(
                conn, actor=actor, action=action, target=target, details=details, reason=reason
            )

    def _append_audit(
        self,
        conn: Connection,
        *,
        actor: str,
        action: str,
        target: str | None,
        details: Mapping[str, Any] | None,
        reason: str | None,
    ) -> AuditEntry:
        values = {
            "at": self.now(),
            "actor": _required("actor", actor, 200),
            "action": _required("action", action, 100),
            "target": None if target is None else truncate(redact_text(target), 300),
            "details": None if details is None else redact_value(details),
            "reason": None if reason is None else truncate(redact_text(reason), MAX_REASON_CHARS),
        }
        row = conn.execute(_T.insert().values(**values).returning(*_T.c)).one()
        return AuditEntry(**row._asdict())

    def query_audit(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        cursor: int | None = None,
        until: datetime | None = None,
        outcome: AuditOutcome | None = None,
    ) -> AuditPage:
        """Entries newest first, filtered by exact actor / action / target, ``since <= at < until`` and
        outcome; at most ``limit`` (1..1000) per page, older pages through ``cursor``. The outcome is
        what the entry's details say: ``refused`` (``outcome: refused``, or a command not ``allowed``)
        or ``failed``."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
        query = select(_T).order_by(_C.id.desc()).limit(limit + 1)
        if actor is not None:
            query = query.where(_C.actor == actor)
        if action is not None:
            query = query.where(_C.action == action)
        if target is not None:
            query = query.where(_C.target == target)
        if since is not None:
            query = query.where(_C.at >= since)
        if until is not None:
            query = query.where(_C.at < until)
        if outcome is not None:
            said = _C.details["outcome"].as_string() == outcome
            if outcome == "refused":
                said = or_(said, _C.details["allowed"].as_boolean().is_(False))
            query = query.where(said)
        if cursor is not None:
            query = query.where(_C.id < cursor)
        with self.read() as conn:
            rows = conn.execute(query).all()
        entries = [AuditEntry(**row._asdict()) for row in rows[:limit]]
        next_cursor = entries[-1].id if len(rows) > limit else None
        return AuditPage(entries=entries, next_cursor=next_cursor)

    def audit_actions(self, limit: int = 200) -> list[str]:
        """The distinct actions in the log, by name (at most ``limit``: a filter's choices)."""
        with self.read() as conn:
            return list(conn.execute(select(_C.action).distinct().order_by(_C.action).limit(limit)).scalars())
