"""The SQLite store's timings are settings (MODBOT_SQLITE_*), their defaults the values the store had
before they were, and what is set reaches the database connections, the writers and the checkpoint
thread."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.bot_commands import _store
from bot.config import SettingsError, load_settings
from bot.store import Store, make_engine, open_store
from bot.store.timings import StoreTimings

SET = {
    "MODBOT_SQLITE_BUSY_TIMEOUT_SECONDS": "2.5",
    "MODBOT_SQLITE_WRITER_WAIT_SECONDS": "0.05",
    "MODBOT_SQLITE_CHECKPOINT_INTERVAL_SECONDS": "7.5",
    "MODBOT_SQLITE_CHECKPOINT_BUSY_TIMEOUT_SECONDS": "1.5",
    "MODBOT_SQLITE_WAL_AUTOCHECKPOINT_PAGES": "1000",
}


def pragmas(store: Store) -> tuple[int, int]:
    with store.engine.connect() as conn:
        busy = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
        pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    assert isinstance(busy, int) and isinstance(pages, int)
    return busy, pages


def test_the_defaults_are_the_values_the_store_always_had(tmp_path: Path) -> None:
    settings = load_settings({})
    assert StoreTimings.from_settings(settings) == StoreTimings()
    assert StoreTimings() == StoreTimings(
        busy_timeout_seconds=10.0,
        writer_wait_seconds=30.0,
        checkpoint_interval_seconds=0.05,
        checkpoint_busy_timeout_seconds=5.0,
        wal_autocheckpoint_pages=16_384,
    )
    # a store opened with the default settings and one opened without any timings are the same
    with_settings = open_store(
        f"sqlite:///{tmp_path / 'a.sqlite3'}", timings=StoreTimings.from_settings(settings)
    )
    without = open_store(f"sqlite:///{tmp_path / 'b.sqlite3'}")
    try:
        assert pragmas(with_settings) == pragmas(without) == (10_000, 16_384)
        stops = [with_settings.start_background_checkpoints(), without.start_background_checkpoints()]
        try:
            checkpointers = [stop.__self__ for stop in stops]  # type: ignore[attr-defined]
            assert [(c.interval, c.busy_timeout_ms) for c in checkpointers] == [(0.05, 5000), (0.05, 5000)]
        finally:
            for stop in stops:
                stop()
    finally:
        with_settings.dispose()
        without.dispose()


def test_timings_set_in_the_environment_reach_the_store(tmp_path: Path) -> None:
    settings = load_settings({"MODBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'modbot.sqlite3'}", **SET})
    assert StoreTimings.from_settings(settings) == StoreTimings(2.5, 0.05, 7.5, 1.5, 1000)
    with _store(settings) as store:  # what every CLI command and `modbot serve` open
        assert pragmas(store) == (2500, 1000)
        stop = store.start_background_checkpoints()
        try:
            checkpointer = stop.__self__  # type: ignore[attr-defined]
            assert (checkpointer.interval, checkpointer.busy_timeout_ms) == (7.5, 1500)
        finally:
            stop()
        other = Store(make_engine(store.engine.url), timings=store.timings)
        try:
            with store.write(), pytest.raises(TimeoutError, match=r"stayed busy for 0\.05 s"):
                other.record_delivery("d-1", "push", None, None, None, {})
            assert other.record_delivery("d-1", "push", None, None, None, {}).value == "new"
        finally:
            other.dispose()


def test_a_timing_that_is_not_positive_stops_the_bot_with_the_variable_named() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            {
                "MODBOT_SQLITE_BUSY_TIMEOUT_SECONDS": "0",
                "MODBOT_SQLITE_WRITER_WAIT_SECONDS": "nan",
                "MODBOT_SQLITE_CHECKPOINT_INTERVAL_SECONDS": "-1",
                "MODBOT_SQLITE_CHECKPOINT_BUSY_TIMEOUT_SECONDS": "soon",
                "MODBOT_SQLITE_WAL_AUTOCHECKPOINT_PAGES": "0",
            }
        )
    problems = caught.value.problems
    for name in (
        "MODBOT_SQLITE_BUSY_TIMEOUT_SECONDS: must be a positive number of seconds",
        "MODBOT_SQLITE_WRITER_WAIT_SECONDS: must be a positive number of seconds",
        "MODBOT_SQLITE_CHECKPOINT_INTERVAL_SECONDS: must be a positive number of seconds",
        "MODBOT_SQLITE_CHECKPOINT_BUSY_TIMEOUT_SECONDS: ",
        "MODBOT_SQLITE_WAL_AUTOCHECKPOINT_PAGES: must be at least 1",
    ):
        assert any(problem.startswith(name) for problem in problems), (name, problems)
    assert len(problems) == 5


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"busy_timeout_seconds": 0}, "busy_timeout_seconds must be a positive number of seconds, not 0"),
        ({"writer_wait_seconds": float("inf")}, "writer_wait_seconds must be a positive number of seconds"),
        ({"checkpoint_interval_seconds": True}, "checkpoint_interval_seconds must be a positive number"),
        (
            {"wal_autocheckpoint_pages": 0},
            "wal_autocheckpoint_pages must be a whole number of at least 1, not 0",
        ),
        ({"wal_autocheckpoint_pages": 1.5}, "wal_autocheckpoint_pages must be a whole number"),
    ],
)
def test_store_timings_refuse_what_sqlite_cannot_use(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StoreTimings(**fields)  # type: ignore[arg-type]


def test_a_fraction_of_a_millisecond_is_rounded_up_not_to_no_wait(tmp_path: Path) -> None:
    store = open_store(
        f"sqlite:///{tmp_path / 'c.sqlite3'}", timings=StoreTimings(busy_timeout_seconds=0.0001)
    )
    try:
        assert pragmas(store)[0] == 1
    finally:
        store.dispose()
