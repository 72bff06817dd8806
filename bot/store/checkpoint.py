"""Checkpoints of SQLite's write-ahead log, in a thread of their own while the bot serves.

In WAL mode a commit appends pages to the ``-wal`` file; a *checkpoint* copies them back into the
database file and fsyncs it. By default SQLite runs one inside whichever commit takes the log past
1,000 pages, and the webhook's 202s wait for that commit: every few hundred deliveries one batch also
copied ~4 MB and waited for a second fsync. Measured on the store alone (batches of 25 real payloads),
that made the batches' 99th percentile 18-21 ms against a median of 4.5 ms; checkpointing from here
instead (``PASSIVE``: it never blocks a writer or a reader) brought it to 10-11.5 ms
(docs/performance.md).

The log is only cut back to its start by a write that begins after a checkpoint has copied all of it,
so under steady load it grows although this thread keeps copying, until a pause. The writer
connections keep SQLite's automatic checkpoint as a backstop at ``WAL_BACKSTOP_PAGES`` (set by
bot/store/engine.py): it bounds the log, and covers processes that never start this thread (the CLI).
bot/store/timings.py has these timings and the settings that change them.
Nothing here is needed for correctness: a checkpoint only moves committed pages from one file to the
other.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading

from bot.store.timings import (
    DEFAULT_CHECKPOINT_BUSY_TIMEOUT_SECONDS,
    DEFAULT_CHECKPOINT_INTERVAL_SECONDS,
    DEFAULT_WAL_AUTOCHECKPOINT_PAGES,
    milliseconds,
)

__all__ = ["WAL_BACKSTOP_PAGES", "WalCheckpointer"]

log = logging.getLogger(__name__)

WAL_BACKSTOP_PAGES = (
    DEFAULT_WAL_AUTOCHECKPOINT_PAGES  # the writers' default (MODBOT_SQLITE_WAL_AUTOCHECKPOINT_PAGES)
)
CHECKPOINT_INTERVAL_SECONDS = DEFAULT_CHECKPOINT_INTERVAL_SECONDS


class WalCheckpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on ``database`` whenever its log has changed, at most
    every ``interval`` seconds, until `close`."""

    def __init__(
        self,
        database: str,
        *,
        interval: float = CHECKPOINT_INTERVAL_SECONDS,
        busy_timeout_ms: int = milliseconds(DEFAULT_CHECKPOINT_BUSY_TIMEOUT_SECONDS),
    ) -> None:
        self.database = database
        self.wal = f"{database}-wal"
        self.interval = interval
        self.busy_timeout_ms = busy_timeout_ms
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="modbot-wal-checkpoint", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            connection = sqlite3.connect(self.database, isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            log.exception("WAL checkpoints: cannot open %s; commits checkpoint as they go", self.database)
            return
        with contextlib.closing(connection):
            connection.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
            seen: tuple[int, int] | None = None
            while not self._stop.wait(self.interval):
                try:
                    stat = os.stat(self.wal)
                except FileNotFoundError:
                    continue
                state = (stat.st_mtime_ns, stat.st_size)
                if state == seen:
                    continue  # nothing committed since the last run
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    # e.g. a disk error: the writers' own backstop checkpoints still run
                    log.warning("WAL checkpoint of %s failed", self.database, exc_info=True)
                    continue
                seen = state
