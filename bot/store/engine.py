"""Engines for the two supported databases: a SQLite file (default) and PostgreSQL.

SQLite: WAL journal (readers never block the writer), ``busy_timeout`` (a writer waits for the
lock instead of failing), foreign keys on, ``synchronous=FULL`` (a commit is on disk before the
webhook answers 202, even across a power cut), and SQLAlchemy, not the ``sqlite3`` module, decides
where a transaction begins: writes use ``BEGIN IMMEDIATE`` so they take the write lock up front
(no deadlock-prone lock upgrade, and the busy timeout applies), reads use a plain ``BEGIN``.

PostgreSQL: the psycopg 3 driver (``postgresql://`` URLs are mapped to ``postgresql+psycopg://``),
pre-ping so a connection dropped by a database restart is replaced instead of failing a webhook.
Anything else is refused: the queue's locking is written for these two.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import ConnectionPoolEntry

from bot import jsoncodec
from bot.store.checkpoint import WAL_BACKSTOP_PAGES
from bot.store.timings import DEFAULT_BUSY_TIMEOUT_SECONDS, milliseconds

__all__ = [
    "DEFAULT_DATABASE_URL",
    "SQLITE_BEGIN_OPTION",
    "UnsupportedDatabaseError",
    "describe_url",
    "make_engine",
    "normalize_url",
]

log = logging.getLogger(__name__)

DEFAULT_DATABASE_URL = "sqlite:///modbot.sqlite3"

# Connection execution option read by the "begin" hook: "IMMEDIATE" (default) or "DEFERRED".
SQLITE_BEGIN_OPTION = "modbot_sqlite_begin"
_SQLITE_BEGIN_MODES = frozenset({"IMMEDIATE", "DEFERRED"})


class UnsupportedDatabaseError(ValueError):
    """The URL names a database the store does not support (or one that would lose jobs)."""


def normalize_url(url: str | URL) -> URL:
    """Parse and check a database URL; map bare PostgreSQL URLs to the psycopg 3 driver."""
    parsed = make_url(url) if isinstance(url, str) else url
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
            return parsed.set(drivername="postgresql+psycopg")
        raise UnsupportedDatabaseError(
            f"PostgreSQL driver {parsed.drivername!r} is not supported; use postgresql+psycopg://"
        )
    if backend == "sqlite":
        if parsed.drivername not in ("sqlite", "sqlite+pysqlite"):
            raise UnsupportedDatabaseError(f"SQLite driver {parsed.drivername!r} is not supported")
        database = parsed.database or ""
        if database in ("", ":memory:") or parsed.query.get("mode") == "memory":
            raise UnsupportedDatabaseError(
                "an in-memory SQLite database would lose every job on restart; give a file path"
            )
        return parsed
    raise UnsupportedDatabaseError(
        f"database {backend!r} is not supported; use sqlite:///PATH or postgresql+psycopg://..."
    )


def describe_url(url: str | URL) -> str:
    """The URL with any password masked: the only form of a database URL fit for a log line."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.render_as_string(hide_password=True)


def make_engine(
    url: str | URL = DEFAULT_DATABASE_URL,
    *,
    busy_timeout_ms: int = milliseconds(DEFAULT_BUSY_TIMEOUT_SECONDS),
    sqlite_synchronous: str = "FULL",
    wal_autocheckpoint_pages: int = WAL_BACKSTOP_PAGES,
    pool_size: int = 5,
    max_overflow: int = 10,
    echo: bool = False,
) -> Engine:
    """An engine for ``url`` configured for the store (see the module docstring)."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        if sqlite_synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"sqlite_synchronous must be FULL, NORMAL or EXTRA, not {sqlite_synchronous!r}")
        engine = create_engine(
            parsed,
            echo=echo,
            pool_size=pool_size,
            max_overflow=max_overflow,
            connect_args={"timeout": busy_timeout_ms / 1000},
            json_serializer=jsoncodec.dumps,
            json_deserializer=jsoncodec.loads,
        )
        _configure_sqlite(engine, busy_timeout_ms, sqlite_synchronous.upper(), wal_autocheckpoint_pages)
        return engine
    return create_engine(
        parsed,
        echo=echo,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        json_serializer=postgres_json_dumps,
    )


# A JSON "\u0000" escape preceded by an even number of backslashes (so a literal "\\u0000" is kept).
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def postgres_json_dumps(value: Any) -> str:
    """JSON text for JSONB, which refuses the NUL character (U+0000) that JSON text may
    contain (a PR body can): NULs become U+FFFD so the delivery is still stored."""
    text = jsoncodec.dumps(value)
    if "\\u0000" in text:
        text = _NUL_ESCAPE.sub(lambda m: m.group(1) + "\\ufffd", text)
    return text


def _configure_sqlite(engine: Engine, busy_timeout_ms: int, synchronous: str, wal_pages: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the sqlite3 module (it would BEGIN lazily and only
        # before DML); the "begin" hook below emits the BEGIN we want.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            mode = _enable_wal(cursor, busy_timeout_ms / 1000)
            if mode is None or str(mode[0]).lower() != "wal":
                # e.g. a network file system: concurrent readers and writer would be unsafe
                raise UnsupportedDatabaseError(f"SQLite refused WAL journal mode (got {mode!r})")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            # while the bot serves, checkpoints run in a thread of their own (bot/store/checkpoint.py);
            # a commit checkpoints only past this backstop
            cursor.execute(f"PRAGMA wal_autocheckpoint={int(wal_pages)}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "IMMEDIATE")
        if mode not in _SQLITE_BEGIN_MODES:
            raise ValueError(f"unknown SQLite BEGIN mode {mode!r}")
        conn.exec_driver_sql(f"BEGIN {mode}")


def _enable_wal(cursor: sqlite3.Cursor, timeout_s: float) -> Any:
    """``PRAGMA journal_mode=WAL``, retried while another connection holds the lock it needs.

    Switching a new file to WAL takes an exclusive lock, and SQLite does not call the busy
    handler for it when another connection is doing the same (it returns "database is locked" at
    once to avoid a deadlock): two replicas opening a fresh database together would fail. So wait
    here, up to the busy timeout, as any other write would."""
    deadline = time.monotonic() + timeout_s
    delay = 0.002
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return cursor.fetchone()
        except sqlite3.OperationalError as error:
            if not _is_busy(error) or time.monotonic() + delay > deadline:
                raise
            log.debug("SQLite busy switching to WAL; retrying in %.3fs", delay)
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    message = str(error).lower()
    return "locked" in message or "busy" in message
