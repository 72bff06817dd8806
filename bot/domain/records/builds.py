"""Builds' records: a build's status and stage, its id (``bld_`` + a ULID), the record.

Life: ``queued`` → ``running`` → ``succeeded`` | ``failed`` | ``cancelled``, with a ``stage`` (pr →
build → release → done) and a ``progress`` of 0..100; bot/domain/build_state.py has the rules.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from bot.domain.records.checks import check_when

__all__ = [
    "BUILD_ID_PATTERN",
    "FINAL_BUILD_STATUSES",
    "BuildRecord",
    "BuildStage",
    "BuildStatus",
    "is_build_id",
    "new_build_id",
]

BuildStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
BuildStage = Literal["pr", "build", "release", "done"]

FINAL_BUILD_STATUSES: Final = frozenset({"succeeded", "failed", "cancelled"})

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# 26 characters carry 130 bits; a ULID has 128, so the first character is at most 7.
BUILD_ID_PATTERN: Final = r"^bld_[0-7][0-9A-HJKMNP-TV-Z]{25}$"
_BUILD_ID = re.compile(BUILD_ID_PATTERN)


def new_build_id(at: datetime) -> str:
    """``bld_`` + a ULID for the instant ``at`` (an aware datetime) and 80 random bits."""
    check_when("at", at)
    millis = int(at.timestamp() * 1000)
    if not 0 <= millis < 2**48:
        raise ValueError("a build id's time must be between 1970 and the year 10889")
    value = (millis << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 0x1F])
        value >>= 5
    return "bld_" + "".join(reversed(chars))


def is_build_id(text: str) -> bool:
    return isinstance(text, str) and _BUILD_ID.fullmatch(text) is not None


@dataclass(frozen=True, slots=True)
class BuildRecord:
    build_id: str  # "bld_" + ULID
    repository: str  # owner/name, lower-cased
    release_id: str | None
    status: BuildStatus
    stage: BuildStage
    progress: int  # 0..100
    started_at: datetime
    finished_at: datetime | None
    manifest_hash: str | None
    modules_delta: dict[str, Any]
    requested_by: str
    reason: str | None
    manifest_ref: str | None
    pr_number: int | None
    merge_sha: str | None
    run_id: int | None
    logs_url: str | None
    detail: str | None
    updated_at: datetime

    @property
    def finished(self) -> bool:
        return self.status in FINAL_BUILD_STATUSES
