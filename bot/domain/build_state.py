"""How a build moves on, without the database (bot/store/builds.py applies it in its transaction).

``status``: queued → running → a final one (succeeded, failed, cancelled); a final status is final
(``FinalStateError``), so a late or replayed event cannot resurrect a finished build, and reaching one
sets ``finished_at``. ``succeeded`` also means stage ``done`` and progress 100, unless the same update
says otherwise.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.records.builds import FINAL_BUILD_STATUSES, BuildStatus
from bot.domain.records.common import FinalStateError

__all__ = ["build_status_change", "check_progress", "is_final_build_status"]


def is_final_build_status(status: str) -> bool:
    return status in FINAL_BUILD_STATUSES


def check_progress(progress: int) -> int:
    """A build's progress: an integer from 0 to 100."""
    if isinstance(progress, bool) or not isinstance(progress, int) or not 0 <= progress <= 100:
        raise ValueError(f"progress must be an integer from 0 to 100, not {progress!r}")
    return progress


def build_status_change(
    build_id: str,
    before: BuildStatus,
    after: BuildStatus,
    *,
    stage_given: bool,
    progress_given: bool,
    now: datetime,
) -> dict[str, Any]:
    """What else changes when a build's status goes from ``before`` to ``after`` (nothing if it
    stays): a final status sets ``finished_at``; ``succeeded`` moves to stage ``done`` and progress
    100 where the update does not give them. A finished build's status cannot change."""
    if after == before:
        return {}
    if is_final_build_status(before):
        raise FinalStateError(f"build {build_id} finished as {before!r}; it cannot become {after!r}")
    changes: dict[str, Any] = {}
    if is_final_build_status(after):
        changes["finished_at"] = now
        if after == "succeeded":
            if not stage_given:
                changes["stage"] = "done"
            if not progress_given:
                changes["progress"] = 100
    return changes
