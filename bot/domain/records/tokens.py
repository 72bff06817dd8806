"""An admin API token's record (never the token itself) and the tokens' shape."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

__all__ = ["TOKEN_PREFIX", "TOKEN_SHAPE", "AdminToken"]

TOKEN_PREFIX: Final = "mbt_"  # noqa: S105 (a prefix, not a secret)
# 32 bytes in unpadded URL-safe base64 = 43 characters
TOKEN_SHAPE: Final = re.compile(r"mbt_[A-Za-z0-9_\-]{43}")


@dataclass(frozen=True, slots=True)
class AdminToken:
    """A token's record (never the token itself)."""

    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None
