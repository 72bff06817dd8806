"""What every part of the store shares: the engine, the clock and the two kinds of transaction."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.checkpoint import WalCheckpointer
from bot.store.engine import SQLITE_BEGIN_OPTION
from bot.store.timings import DEFAULT_WRITER_WAIT_SECONDS, StoreTimings, milliseconds

__all__ = ["Clock", "StoreBase", "utc_now"]

Clock = Callable[[], datetime]


WRITER_WAIT_SECONDS = DEFAULT_WRITER_WAIT_SECONDS  # without StoreTimings (MODBOT_SQLITE_WRITER_WAIT_SECONDS)

_SQLITE_WRITERS: dict[str, threading.Lock] = {}
_SQLITE_WRITERS_GUARD = threading.Lock()


def _nothing() -> None:
    pass


def utc_now() -> datetime:
    return datetime.now(UTC)


def _sqlite_writer_lock(engine: Engine) -> threading.Lock:
    """One lock per SQLite file in this process, shared by every engine on that file."""
    key = os.path.realpath(engine.url.database or "")
    with _SQLITE_WRITERS_GUARD:
        return _SQLITE_WRITERS.setdefault(key, threading.Lock())


class StoreBase:
    """Holds the engine; each public store method runs in exactly one transaction of its own."""

    def __init__(
        self, engine: Engine, *, clock: Clock = utc_now, timings: StoreTimings | None = None
    ) -> None:
        backend = engine.dialect.name
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"the store supports SQLite and PostgreSQL, not {backend!r}")
        self.engine = engine
        self.clock = clock
        self.timings = timings  # None: the defaults (bot/store/timings.py)
        self.is_postgresql = backend == "postgresql"
        self._writer = None if self.is_postgresql else _sqlite_writer_lock(engine)

    def now(self) -> datetime:
        value = self.clock()
        if value.tzinfo is None:
            raise ValueError("the store's clock must return aware datetimes")
        return value.astimezone(UTC)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A read-write transaction: committed on success, rolled back on any exception.

        On SQLite it starts with BEGIN IMMEDIATE: the write lock is taken at once, so two writers
        wait (``busy_timeout``) instead of one failing on a lock upgrade. Threads of this process
        first queue on an in-process lock per database file: SQLite's busy handler polls with
        growing sleeps, which under contention gave some writers waits of hundreds of ms.
        On PostgreSQL it is a READ COMMITTED transaction; the statements take the row locks.
        """
        if self._writer is None:
            with self.engine.connect() as conn, conn.begin():
                yield conn
            return
        wait = WRITER_WAIT_SECONDS if self.timings is None else self.timings.writer_wait_seconds
        if not self._writer.acquire(timeout=wait):
            raise TimeoutError(f"the SQLite store stayed busy for {wait} s")
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        finally:
            self._writer.release()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (a plain deferred BEGIN on SQLite: never waits for writers)."""
        with self.engine.connect() as conn:
            conn.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
            with conn.begin():
                yield conn

    def insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """The dialect's INSERT construct (both have ``on_conflict_do_nothing``)."""
        if self.is_postgresql:
            return postgresql.insert(table)
        return sqlite.insert(table)

    def start_background_checkpoints(self) -> Callable[[], None]:
        """SQLite: copy the write-ahead log into the database file from a thread of its own instead of
        inside commits (bot/store/checkpoint.py); returns the function that stops it. PostgreSQL: nothing
        to do."""
        database = self.engine.url.database
        if self.is_postgresql or not database:
            return _nothing
        if self.timings is None:
            checkpointer = WalCheckpointer(database)
        else:
            checkpointer = WalCheckpointer(
                database,
                interval=self.timings.checkpoint_interval_seconds,
                busy_timeout_ms=milliseconds(self.timings.checkpoint_busy_timeout_seconds),
            )
        checkpointer.start()
        return checkpointer.close

    def dispose(self) -> None:
        """Close every pooled connection (at shutdown, or in a child process after fork)."""
        self.engine.dispose()
