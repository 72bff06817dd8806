"""The store's timings (all SQLite's: PostgreSQL waits on its own row locks), in one object that
``modbot serve`` and the CLI make from their settings (``MODBOT_SQLITE_*``, docs/store.md); without one
the store uses the same defaults."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from bot.config import (
    DEFAULT_SQLITE_BUSY_TIMEOUT_SECONDS,
    DEFAULT_SQLITE_CHECKPOINT_BUSY_TIMEOUT_SECONDS,
    DEFAULT_SQLITE_CHECKPOINT_INTERVAL_SECONDS,
    DEFAULT_SQLITE_WAL_AUTOCHECKPOINT_PAGES,
    DEFAULT_SQLITE_WRITER_WAIT_SECONDS,
    BotSettings,
)

__all__ = [
    "DEFAULT_BUSY_TIMEOUT_SECONDS",
    "DEFAULT_CHECKPOINT_BUSY_TIMEOUT_SECONDS",
    "DEFAULT_CHECKPOINT_INTERVAL_SECONDS",
    "DEFAULT_WAL_AUTOCHECKPOINT_PAGES",
    "DEFAULT_WRITER_WAIT_SECONDS",
    "StoreTimings",
    "milliseconds",
]

# the defaults are the settings' (bot/config.py), named here for the store's own callers
DEFAULT_BUSY_TIMEOUT_SECONDS: Final = DEFAULT_SQLITE_BUSY_TIMEOUT_SECONDS
"""How long a connection waits for another process's write lock (``busy_timeout``)."""
DEFAULT_WRITER_WAIT_SECONDS: Final = DEFAULT_SQLITE_WRITER_WAIT_SECONDS
"""How long a writer waits for the other threads of this process (the in-process lock per file)."""
DEFAULT_CHECKPOINT_INTERVAL_SECONDS: Final = DEFAULT_SQLITE_CHECKPOINT_INTERVAL_SECONDS
"""How often the background thread checkpoints the write-ahead log, when it has changed."""
DEFAULT_CHECKPOINT_BUSY_TIMEOUT_SECONDS: Final = DEFAULT_SQLITE_CHECKPOINT_BUSY_TIMEOUT_SECONDS
"""The background checkpoint's own ``busy_timeout``."""
DEFAULT_WAL_AUTOCHECKPOINT_PAGES: Final = DEFAULT_SQLITE_WAL_AUTOCHECKPOINT_PAGES
"""The log size (4 KB pages) past which a commit checkpoints by itself: the backstop to the thread."""


def milliseconds(seconds: float) -> int:
    """Whole milliseconds for SQLite, rounded up (a positive wait never becomes no wait)."""
    return math.ceil(seconds * 1000)


@dataclass(frozen=True, slots=True)
class StoreTimings:
    busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS
    writer_wait_seconds: float = DEFAULT_WRITER_WAIT_SECONDS
    checkpoint_interval_seconds: float = DEFAULT_CHECKPOINT_INTERVAL_SECONDS
    checkpoint_busy_timeout_seconds: float = DEFAULT_CHECKPOINT_BUSY_TIMEOUT_SECONDS
    wal_autocheckpoint_pages: int = DEFAULT_WAL_AUTOCHECKPOINT_PAGES

    def __post_init__(self) -> None:
        for name in (
            "busy_timeout_seconds",
            "writer_wait_seconds",
            "checkpoint_interval_seconds",
            "checkpoint_busy_timeout_seconds",
        ):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (math.isfinite(value) and value > 0)
            ):
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
        pages = self.wal_autocheckpoint_pages
        if isinstance(pages, bool) or not isinstance(pages, int) or pages < 1:
            raise ValueError(f"wal_autocheckpoint_pages must be a whole number of at least 1, not {pages!r}")

    @classmethod
    def from_settings(cls, settings: BotSettings) -> StoreTimings:
        """The timings ``modbot serve`` and the CLI were configured with (``MODBOT_SQLITE_*``)."""
        return cls(
            busy_timeout_seconds=settings.sqlite_busy_timeout_seconds,
            writer_wait_seconds=settings.sqlite_writer_wait_seconds,
            checkpoint_interval_seconds=settings.sqlite_checkpoint_interval_seconds,
            checkpoint_busy_timeout_seconds=settings.sqlite_checkpoint_busy_timeout_seconds,
            wal_autocheckpoint_pages=settings.sqlite_wal_autocheckpoint_pages,
        )
