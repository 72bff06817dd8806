"""What the bot last wrote on a pull request (a cache: the forge stays the system of record)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["PrState"]


@dataclass(frozen=True, slots=True)
class PrState:
    repository: str  # owner/name, lower-cased
    number: int
    comment_id: int | None
    check_run_id: int | None
    head_sha: str | None
    manifest_hash: str | None
    updated_at: datetime
