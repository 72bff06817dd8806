"""bot/logs.py: the line format (text and JSON), a job's context on its lines, redaction, the access
log's query strings, rate-limited warnings; the worker's one line per outcome, a traceback only for a bug."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import logs
from bot.cli.bot_commands import LOG_LEVELS
from bot.forge import ForgeError
from bot.metrics import Metrics
from bot.store import Store
from bot.worker import PermanentError, Worker
from tests.store_helpers import temporary_store

TOKEN = "ghp_" + "T" * 36


def _record(message: str, *args: Any, name: str = "bot.test", level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, args, None)


def test_text_line_has_time_level_logger_message_and_the_job() -> None:
    formatter = logs.LogFormatter()
    plain = formatter.format(_record("hello %s", "world"))
    assert plain.endswith(" INFO    bot.test: hello world")
    assert plain[:4].isdigit() and plain[10] == "T" and plain.split(" ")[0].endswith("Z")
    with logs.job_context(delivery_id="d-1", job_id=7, event="pull_request", repository="o/r", pr=12):
        line = formatter.format(_record("job 7 (pull_request): commented"))
    assert line.endswith("commented [delivery_id=d-1 job_id=7 event=pull_request repository=o/r pr=12]")
    assert logs.current_job() is None  # the context ended with the block


def test_json_line() -> None:
    formatter = logs.LogFormatter(json=True)
    with logs.job_context(delivery_id="d-2", job_id=3, event="issue_comment", repository=None, pr=None):
        line = json.loads(formatter.format(_record("x", level=logging.WARNING)))
    assert line.keys() == {"ts", "level", "logger", "message", "delivery_id", "job_id", "event"}
    assert (line["level"], line["logger"], line["message"], line["job_id"]) == ("WARNING", "bot.test", "x", 3)
    assert json.loads(formatter.format(_record("y"))).keys() == {"ts", "level", "logger", "message"}


def test_secrets_are_redacted_from_messages_and_tracebacks() -> None:
    formatter = logs.LogFormatter(json=True)
    try:
        raise RuntimeError(f"token {TOKEN} refused")
    except RuntimeError:
        record = logging.LogRecord(
            "bot", logging.ERROR, __file__, 1, "calling with %s", (TOKEN,), sys.exc_info()
        )
    line = formatter.format(record)
    assert TOKEN not in line and "[redacted]" in json.loads(line)["message"]
    assert "RuntimeError" in json.loads(line)["exception"]


def test_the_access_log_never_shows_a_query_string() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    logs.configure(level="info", json=False)
    handler = next(h for h in root.handlers if h.get_name() == "modbot")
    try:
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
        access = logging.getLogger("uvicorn.access")
        access.info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", f"/healthz?token={TOKEN}&a=1", "1.1", 200
        )
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "POST", "/webhook", "1.1", 202)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    text = stream.getvalue()
    assert TOKEN not in text
    assert '"GET /healthz?[redacted] HTTP/1.1" 200' in text and '"POST /webhook HTTP/1.1" 202' in text


def test_configure_refuses_an_unknown_level_and_matches_the_cli() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        logs.configure(level="loud", json=False)
    assert logs.LEVELS == LOG_LEVELS


def test_throttled_warnings_count_what_they_suppress(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    throttled = logs.ThrottledLog(logging.getLogger("bot.test.throttle"), interval=10, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="bot.test.throttle"):
        for _ in range(1000):
            throttled.warning("401", "refused %s", "x")
        throttled.warning("413", "too large")
        now[0] += 10
        throttled.warning("401", "refused %s", "y")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "refused x",
        "too large",
        "refused y (999 more like it in the last 10s not logged)",
    ]


# -- the worker's lines ---------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with temporary_store("sqlite", directory=tmp_path, max_attempts=2) as opened:
        yield opened


def _run_one(store: Store, handler: Any, caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    payload = {"pull_request": {"number": 5}}
    store.record_delivery("d-9", "pull_request", "opened", "o/r", 1, payload)
    worker = Worker(store, {"pull_request": handler}, Metrics(), "w1", base_backoff=0.0, max_backoff=0.0)
    with caplog.at_level(logging.INFO, logger="bot.worker"):
        assert worker.run_once()
    return [r for r in caplog.records if r.name == "bot.worker"]


def _context_of(caplog: pytest.LogCaptureFixture, handler: Any, store: Store) -> list[str]:
    formatter = logs.LogFormatter()
    seen: list[str] = []

    def handle(job: Any) -> Any:
        seen.append(formatter.format(_record("inside")))
        return handler(job)

    _run_one(store, handle, caplog)
    return seen


def test_a_job_line_per_outcome_with_its_context(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    seen = _context_of(caplog, lambda job: "commented", store)
    assert seen[0].endswith("[delivery_id=d-9 job_id=1 event=pull_request repository=o/r pr=5]")
    lines = [r for r in caplog.records if r.name == "bot.worker"]
    assert [(r.levelname, r.getMessage()) for r in lines] == [("INFO", "job 1 (pull_request): commented")]


@pytest.mark.parametrize(
    ("error", "traceback"),
    [
        (ForgeError("create_comment", 502, "Bad Gateway"), False),  # GitHub failing: expected
        (PermanentError("the payload has no pull_request.head.sha"), False),
        (KeyError("head"), True),  # a bug
    ],
)
def test_a_traceback_only_for_a_bug(
    store: Store, caplog: pytest.LogCaptureFixture, error: Exception, traceback: bool
) -> None:
    def fail(job: Any) -> str:
        raise error

    lines = _run_one(store, fail, caplog)
    assert len(lines) == 1
    assert lines[0].getMessage().startswith("job 1 (pull_request) failed")
    assert bool(lines[0].exc_info) is traceback


def test_alembic_step_chatter_is_shown_only_when_debugging() -> None:
    logs.configure(level="info", json=False)
    assert not logging.getLogger("alembic.runtime.migration").isEnabledFor(logging.INFO)
    assert logging.getLogger("bot.store.migrate").isEnabledFor(logging.INFO)
    logs.configure(level="debug", json=False)
    assert logging.getLogger("alembic.runtime.migration").isEnabledFor(logging.INFO)
    logs.configure(level="info", json=False)
