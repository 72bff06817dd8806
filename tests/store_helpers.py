"""Helpers for tests that need a real store (the store tests, the webhook, worker and chat-ops tests, bench/).

No pytest here: plain context managers, so any test can wrap them in a fixture::

    @pytest.fixture(params=["sqlite", "postgresql"])
    def store(request, tmp_path):
        with temporary_store(request.param, directory=tmp_path) as store:
            yield store

PostgreSQL: ``MODBOT_TEST_POSTGRES_URL`` (default: the local server's ``test`` database, trust
auth). Each store lives in a fresh schema of that database, dropped afterwards; schemas left by a
killed test run are dropped by the next run once they are an hour old.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from bot.store.base import Clock, utc_now
from bot.store.engine import describe_url, make_engine, normalize_url
from bot.store.migrate import upgrade_to_head
from bot.store.queue import DEFAULT_MAX_ATTEMPTS
from bot.store.store import Store

__all__ = [
    "DEFAULT_TEST_POSTGRES_URL",
    "FakeClock",
    "postgres_schema",
    "postgres_test_url",
    "temporary_store",
    "with_schema",
]

DEFAULT_TEST_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_SCHEMA_PREFIX = "modbot_test_"
_STALE_AFTER_SECONDS = 3600


class FakeClock:
    """A clock for the store that only moves when told to (leases, retries, purges)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


def postgres_test_url() -> URL:
    return normalize_url(os.environ.get("MODBOT_TEST_POSTGRES_URL") or DEFAULT_TEST_POSTGRES_URL)


def with_schema(url: URL, schema: str) -> URL:
    """``url`` whose connections use ``schema`` (libpq ``options=-csearch_path=…``)."""
    return url.update_query_dict({"options": f"-csearch_path={schema}"})


@contextmanager
def postgres_schema(base_url: URL | None = None) -> Iterator[URL]:
    """A fresh, empty schema in the test database; yields a URL bound to it; dropped at exit."""
    base = base_url or postgres_test_url()
    name = f"{_SCHEMA_PREFIX}{int(time.time())}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, poolclass=NullPool)
    try:
        with admin.begin() as conn:
            _drop_stale_schemas(conn)
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
    except OperationalError as error:
        admin.dispose()
        raise RuntimeError(
            f"PostgreSQL for the store tests is unreachable at {describe_url(base)} "
            "(set MODBOT_TEST_POSTGRES_URL, or start it: pg_ctlcluster <version> main start)"
        ) from error
    try:
        yield with_schema(base, name)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


def _drop_stale_schemas(conn: Connection) -> None:
    names = (
        conn.execute(
            text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :pattern"),
            {"pattern": _SCHEMA_PREFIX + "%"},
        )
        .scalars()
        .all()
    )
    cutoff = time.time() - _STALE_AFTER_SECONDS
    for schema in names:
        match = re.fullmatch(re.escape(_SCHEMA_PREFIX) + r"(\d+)_[0-9a-f]+", schema)
        if match and int(match.group(1)) < cutoff:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@contextmanager
def temporary_store(
    backend: str,
    *,
    directory: Path,
    clock: Clock = utc_now,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    migrate: bool = True,
) -> Iterator[Store]:
    """A migrated store on ``backend`` ("sqlite": a file in ``directory``; "postgresql": a fresh
    schema), disposed (and its schema dropped) at exit."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{directory / 'modbot-test.sqlite3'}")
        try:
            if migrate:
                upgrade_to_head(engine)
            yield Store(engine, max_attempts=max_attempts, clock=clock)
        finally:
            engine.dispose()
        return
    if backend != "postgresql":
        raise ValueError(f"unknown backend {backend!r}")
    with postgres_schema() as url:
        engine = make_engine(url)
        try:
            if migrate:
                upgrade_to_head(engine)
            yield Store(engine, max_attempts=max_attempts, clock=clock)
        finally:
            engine.dispose()
