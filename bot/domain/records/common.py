"""What every aggregate's records share: the KEEP sentinel, the bot's own actor, the two errors of a
record's life, page and reason limits, and the audit target of an environment."""

from __future__ import annotations

import enum
from typing import Final

__all__ = [
    "KEEP",
    "MAX_PAGE",
    "MAX_REASON_CHARS",
    "SYSTEM_ACTOR",
    "FinalStateError",
    "Keep",
    "RecordNotFoundError",
    "environment_target",
]

MAX_REASON_CHARS: Final = 4000
"""A reason or detail a person typed is cut to this many characters before it is stored."""
MAX_PAGE: Final = 1000
"""The largest page any listing returns (the audit log's, shared by every listing)."""

SYSTEM_ACTOR: Final = "modbot"
"""The audit actor of changes the bot makes on its own (progress reported by a workflow, expiry)."""


class Keep(enum.Enum):
    KEEP = "keep"


KEEP: Final = Keep.KEEP
"""Default of the optional fields of an update (``save_pr_state``, ``update_deployment``,
``update_build``): leave the stored value as it is."""


class FinalStateError(ValueError):
    """A finished build or deployment was asked to change its outcome: a final status is final."""


class RecordNotFoundError(LookupError):
    """No build or deployment record has that id."""


def environment_target(repository: str, environment: str) -> str:
    """The audit ``target`` of an environment's lock and deployments: ``owner/name:env``."""
    return f"{repository}:{environment}"
