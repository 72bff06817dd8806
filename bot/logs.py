"""Logging for `modbot serve`: one format for the bot's and uvicorn's lines, a job's context on every line
it causes, refusals rate-limited, and nothing secret written.

- `configure(level=..., json=...)` installs one stderr handler on the root logger; uvicorn's loggers
  (``uvicorn.error``, ``uvicorn.access``) propagate to it, so its access log has the same format.
- `job_context(...)` (a context manager, contextvars-based) names the delivery, job, event, repository and
  PR; every line logged inside it, in that thread or task, carries them.
- Every line's message and traceback pass through the shared redaction (bot/domain/text.py: tokens,
  keys, signatures, URL passwords), and the access log never shows a query string (``?token=…``).
- `ThrottledLog`: at most one line per key and interval, saying how many were suppressed, for what an
  unauthenticated sender can cause at will (bad signatures, oversized or slow requests).
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot import jsoncodec
from bot.domain.text import redact_text

__all__ = [
    "LEVELS",
    "JobContext",
    "LogFormatter",
    "ThrottledLog",
    "configure",
    "current_job",
    "job_context",
]

LEVELS = ("debug", "info", "warning", "error", "critical")
ACCESS_LOGGER = "uvicorn.access"
THROTTLE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class JobContext:
    delivery_id: str
    job_id: int
    event: str
    repository: str | None
    pr: int | None


_JOB: contextvars.ContextVar[JobContext | None] = contextvars.ContextVar("modbot_job", default=None)


@contextmanager
def job_context(
    *, delivery_id: str, job_id: int, event: str, repository: str | None, pr: int | None
) -> Iterator[None]:
    """Lines logged inside carry the job's delivery id, job id, event, repository and PR."""
    token = _JOB.set(JobContext(delivery_id, job_id, event, repository, pr))
    try:
        yield
    finally:
        _JOB.reset(token)


def current_job() -> JobContext | None:
    return _JOB.get()


class LogFormatter(logging.Formatter):
    """timestamp (UTC, ms), level, logger, message, then the job's fields when a job is being handled;
    text (``key=value`` after the message) or one JSON object per line."""

    def __init__(self, *, json: bool = False) -> None:
        super().__init__()
        self.json = json

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        when = when.replace("+00:00", "Z")
        message = redact_text(record.getMessage())
        error = redact_text(self.formatException(record.exc_info)) if record.exc_info else None
        job = _JOB.get()
        if self.json:
            line: dict[str, Any] = {
                "ts": when,
                "level": record.levelname,
                "logger": record.name,
                "message": message,
            }
            if job is not None:
                line.update(_job_fields(job))
            if error is not None:
                line["exception"] = error
            return jsoncodec.dumps(line)
        text = f"{when} {record.levelname:<7} {record.name}: {message}"
        if job is not None:
            text += " [" + " ".join(f"{key}={value}" for key, value in _job_fields(job).items()) + "]"
        if error is not None:
            text += "\n" + error
        return text


def _job_fields(job: JobContext) -> dict[str, Any]:
    fields: dict[str, Any] = {"delivery_id": job.delivery_id, "job_id": job.job_id, "event": job.event}
    if job.repository is not None:
        fields["repository"] = job.repository
    if job.pr is not None:
        fields["pr"] = job.pr
    return fields


class _AccessLogRedaction(logging.Filter):
    """uvicorn's access line is ``'%s - "%s %s HTTP/%s" %d'`` with the path and query as the third
    argument: the query (where a client may put a token) is replaced, the path kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            path = args[2].split("?", 1)[0]
            record.args = (*args[:2], f"{path}?[redacted]", *args[3:])
        return True


class _Throttle:
    """Per key: the first event in an interval passes, the rest are counted; the next one to pass after
    the interval reports the count. Thread-safe (uvicorn's loop and the worker threads may share it)."""

    def __init__(self, interval: float, clock: Callable[[], float]) -> None:
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, int]] = {}  # key -> (last passed at, suppressed since)

    def admit(self, key: str) -> int | None:
        """None: suppress this one; else how many were suppressed before it."""
        now = self.clock()
        with self._lock:
            last, suppressed = self._state.get(key, (None, 0))
            if last is not None and now - last < self.interval:
                self._state[key] = (last, suppressed + 1)
                return None
            if len(self._state) > 1000:  # keys come from a small fixed set; never grow without bound
                self._state.clear()
            self._state[key] = (now, 0)
            return suppressed


class ThrottledLog:
    """Warnings an unauthenticated sender can trigger at will: one line per key per ``interval`` seconds,
    the next one saying how many were suppressed meanwhile (so 1,000 bad signatures are a few lines)."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = THROTTLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self._throttle = _Throttle(interval, clock)

    def warning(self, key: str, message: str, *args: object) -> None:
        suppressed = self._throttle.admit(key)
        if suppressed is None:
            return
        if suppressed:
            message += f" ({suppressed} more like it in the last {self._throttle.interval:.0f}s not logged)"
        self.logger.warning(message, *args)


class _ThrottleFilter(logging.Filter):
    """The same limit for warnings of uvicorn's own that a sender can cause ("Invalid HTTP request
    received.", "Exceeded concurrency limit."), keyed by the message template."""

    def __init__(self, interval: float = THROTTLE_SECONDS) -> None:
        super().__init__()
        self._throttle = _Throttle(interval, time.monotonic)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING or record.exc_info:
            return True
        suppressed = self._throttle.admit(str(record.msg))
        if suppressed is None:
            return False
        if suppressed:
            record.msg = f"{record.msg} ({suppressed} more like it not logged)"
        return True


_HANDLER_NAME = "modbot"


def configure(*, level: str, json: bool) -> None:
    """One stderr handler on the root logger, with `LogFormatter`; uvicorn's loggers propagate to it
    (pass ``log_config=None`` to uvicorn so it adds no handlers of its own). Calling it again replaces
    the handler (tests, or a second `serve` in one process)."""
    if level.lower() not in LEVELS:
        raise ValueError(f"unknown log level {level!r}; one of {', '.join(LEVELS)}")
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(LogFormatter(json=json))
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", ACCESS_LOGGER):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
        uvicorn_logger.setLevel(logging.NOTSET)
    _replace_filter(logging.getLogger(ACCESS_LOGGER), _AccessLogRedaction())
    _replace_filter(logging.getLogger("uvicorn.error"), _ThrottleFilter())
    # alembic says every migration step and its whole docstring; bot.store.migrate's one line ("store
    # schema: upgrade 0004 → 0006") says what an operator needs, the steps only when debugging
    logging.getLogger("alembic").setLevel(logging.NOTSET if level.lower() == "debug" else logging.WARNING)


def _replace_filter(logger: logging.Logger, new: logging.Filter) -> None:
    for old in [f for f in logger.filters if type(f) is type(new)]:
        logger.removeFilter(old)
    logger.addFilter(new)
