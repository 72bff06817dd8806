"""Engine set-up: supported URLs only, SQLite pragmas, transaction modes, aware timestamps, redaction."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.domain.text import redact_text, redact_value, truncate
from bot.store import DEFAULT_DATABASE_URL, Store, UnsupportedDatabaseError, describe_url, make_engine
from bot.store.checkpoint import WAL_BACKSTOP_PAGES
from bot.store.engine import normalize_url
from bot.store.queue import IncomingDelivery
from tests.store_helpers import temporary_store


def test_default_url_is_a_sqlite_file() -> None:
    assert DEFAULT_DATABASE_URL == "sqlite:///modbot.sqlite3"
    assert normalize_url(DEFAULT_DATABASE_URL).database == "modbot.sqlite3"


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
        ("sqlite+pysqlite:////tmp/x.db", "sqlite+pysqlite"),
    ],
)
def test_supported_urls(url: str, driver: str) -> None:
    assert normalize_url(url).drivername == driver


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file:x?mode=memory&uri=true",
        "mysql://u@h/db",
        "postgresql+psycopg2://u@h/db",
        "postgresql+asyncpg://u@h/db",
        "sqlite+aiosqlite:///x.db",
    ],
)
def test_unsupported_or_volatile_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsupportedDatabaseError):
        make_engine(url)


def test_describe_url_never_shows_the_password() -> None:
    described = describe_url("postgresql+psycopg://modbot:s3cr%40t@db.internal:5432/modbot")
    assert "s3cr" not in described
    assert described == "postgresql+psycopg://modbot:***@db.internal:5432/modbot"


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.sqlite3'}", busy_timeout_ms=1234)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == WAL_BACKSTOP_PAGES
    finally:
        engine.dispose()
    with pytest.raises(ValueError, match="sqlite_synchronous"):
        make_engine(f"sqlite:///{tmp_path / 'q.sqlite3'}", sqlite_synchronous="OFF")


def test_sqlite_writes_take_the_lock_up_front_and_reads_do_not(tmp_path: Path) -> None:
    with temporary_store("sqlite", directory=tmp_path) as store:
        statements: list[str] = []
        with store.engine.connect() as probe:
            probe.connection.driver_connection.set_trace_callback(statements.append)  # type: ignore[union-attr]
        # the pool hands the same connection back: trace what the store emits
        with store.write() as conn:
            conn.execute(text("SELECT 1"))
        with store.read() as conn:
            conn.execute(text("SELECT 1"))
        assert [s for s in statements if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE", "BEGIN DEFERRED"]


def test_a_failed_write_is_rolled_back(tmp_path: Path) -> None:
    with temporary_store("sqlite", directory=tmp_path) as store:

        def insert_then_fail() -> None:
            with store.write() as conn:
                conn.execute(
                    text(
                        "INSERT INTO pr_state (repository, number, updated_at) "
                        "VALUES ('acme/site', 1, '2026-01-01 00:00:00.000000')"
                    )
                )
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            insert_then_fail()
        assert store.get_pr_state("acme/site", 1) is None


def test_the_clock_must_be_aware(tmp_path: Path) -> None:
    with temporary_store("sqlite", directory=tmp_path) as store:
        naive = Store(store.engine, clock=lambda: datetime(2026, 1, 1))
        with pytest.raises(ValueError, match="aware"):
            naive.record_delivery("d", "push", None, None, None, {})
        with pytest.raises(ValueError, match="max_attempts"):
            Store(store.engine, max_attempts=0)


def test_redaction() -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"
    text_in = (
        f"key {pem} token ghs_{'a' * 36} pat github_pat_{'B' * 30} admin mbt_{'c' * 43} "
        f"auth Bearer {'d' * 30} sig sha256={'0' * 64} url https://bot:hunter2@ghe.example/api jwt "
        f"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxMjMifQ.c2lnbmF0dXJl"
    )
    out = redact_text(text_in)
    for secret in (
        "MIIEow",
        "a" * 36,
        "B" * 30,
        "c" * 43,
        "d" * 30,
        "0" * 64,
        "hunter2",
        "eyJpc3MiOiIxMjMifQ",
    ):
        assert secret not in out
    assert "https://bot:[redacted]@ghe.example/api" in out
    assert redact_text("GitHub 502 on /repos/acme/site/pulls/7") == "GitHub 502 on /repos/acme/site/pulls/7"
    assert redact_value({"password": "x", "items": [{"private_key": "y"}, "ok"], "n": 1}) == {
        "password": "[redacted]",
        "items": [{"private_key": "[redacted]"}, "ok"],
        "n": 1,
    }
    assert truncate("short", 10) == "short"
    long = truncate("x" * 100, 60)
    assert len(long) == 60 and long.endswith("[truncated: 100 characters in all]")


def test_sqlite_writers_of_one_process_queue_on_one_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.store.base

    with temporary_store("sqlite", directory=tmp_path) as store:
        other = Store(make_engine(f"sqlite:///{tmp_path / 'modbot-test.sqlite3'}"))
        assert other._writer is store._writer is not None
        monkeypatch.setattr(bot.store.base, "WRITER_WAIT_SECONDS", 0.05)
        with store.write(), pytest.raises(TimeoutError, match="busy"):  # a writer holds the file
            other.record_delivery("d", "push", None, None, None, {})
        assert other.record_delivery("d", "push", None, None, None, {}).value == "new"
        other.dispose()


def test_background_checkpoints_copy_the_log_into_the_database_file(tmp_path: Path) -> None:
    """Commits no longer checkpoint below the backstop: the thread does, and only while it runs."""
    payload = {"body": "x" * 2000, "list": list(range(500))}

    def write(store: Store, prefix: str) -> None:
        for batch in range(20):
            deliveries = [
                IncomingDelivery(f"{prefix}-{batch}-{n}", "push", None, "a/b", 1, payload) for n in range(20)
            ]
            store.record_deliveries(deliveries)

    with temporary_store("sqlite", directory=tmp_path) as store:
        database = Path(store.engine.url.database or "")
        write(store, "before")
        size_before = database.stat().st_size  # the rows are in the log only
        time.sleep(0.2)
        assert database.stat().st_size == size_before  # nothing checkpoints them yet
        stop = store.start_background_checkpoints()
        try:
            deadline = time.monotonic() + 10
            while database.stat().st_size <= size_before and time.monotonic() < deadline:
                time.sleep(0.02)
            assert database.stat().st_size > size_before  # copied by the thread
            write(store, "during")
        finally:
            stop()
        assert all(store.get_delivery(f"{p}-19-19") is not None for p in ("before", "during"))


def test_background_checkpoints_are_nothing_to_do_on_postgresql(tmp_path: Path) -> None:
    with temporary_store("postgresql", directory=tmp_path) as store:
        stop = store.start_background_checkpoints()
        assert not any(thread.name == "modbot-wal-checkpoint" for thread in threading.enumerate())
        stop()
