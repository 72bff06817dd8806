"""The audit log's records: one entry, and a page of them (newest first)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

__all__ = ["AUDIT_OUTCOMES", "AuditEntry", "AuditOutcome", "AuditPage"]

# What a filter of the log by outcome may ask for (an entry's details say it: bot.store.audit).
AuditOutcome = Literal["refused", "failed"]
AUDIT_OUTCOMES: tuple[AuditOutcome, ...] = ("refused", "failed")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    details: dict[str, Any] | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditEntry]
    next_cursor: int | None  # pass as ``cursor`` for the next (older) page; None: no more
