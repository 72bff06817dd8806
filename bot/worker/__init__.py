"""The worker: takes jobs from the store, hands each to the handler for its event, and records
the outcome. A job that raises is retried with backoff (GitHub outages, rate limits) up to the
store's attempt limit, then dead-lettered (failed: an operator sees it and can retry it). While the
handler runs, the job's lease is renewed (bot/worker/leases.py); a worker that loses the lease stops
writing and drops the job without reporting it. Nothing is lost when the process dies: the lease
expires (or the restarted bot ends it) and another worker takes the job again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.config import (
    DEFAULT_HEARTBEAT_SECONDS,
    DEFAULT_LEASE_SECONDS,
    DEFAULT_POLL_SECONDS,
    DEFAULT_RETRY_BASE_SECONDS,
    DEFAULT_RETRY_CAP_SECONDS,
)
from bot.domain.errors import PermanentError as PermanentError  # re-exported: the worker fails these at once
from bot.forge import ForgeError, write_fence
from bot.logs import job_context
from bot.metrics import Metrics
from bot.store import LeaseLostError, default_backoff
from bot.worker.leases import LeaseKeeper

log = logging.getLogger(__name__)


class JobQueue(Protocol):
    def now(self) -> datetime: ...
    def claim_next(self, worker_id: str, lease_seconds: float) -> Any: ...
    def complete(self, job: Any) -> Any: ...
    def fail(self, job: Any, error: str, retry_in: float | None) -> Any: ...
    def ignore(self, job: Any, reason: str) -> Any: ...
    def heartbeat(self, job: Any, lease_seconds: float | None = None) -> Any: ...
    def release(self, job: Any) -> Any: ...


Handler = Callable[[Any], str | None]  # returns a short outcome ("commented", "ignored: ...")


@dataclass
class Worker:
    queue: JobQueue
    handlers: Mapping[str, Handler]
    metrics: Metrics
    worker_id: str
    # MODBOT_* settings (bot/worker/wiring.py passes them); the defaults are bot/config.py's
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS
    poll_seconds: float = DEFAULT_POLL_SECONDS
    base_backoff: float = DEFAULT_RETRY_BASE_SECONDS
    max_backoff: float = DEFAULT_RETRY_CAP_SECONDS
    _keeper: LeaseKeeper | None = field(default=None, init=False, repr=False)
    _keeper_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def run_once(self) -> bool:
        """Handle one job if there is one; True when a job was taken."""
        asked = time.monotonic()
        job = self.queue.claim_next(self.worker_id, self.lease_seconds)
        if job is None:
            return False
        self._observe_age(job, "claimed")
        handler = self.handlers.get(job.event)
        if handler is None:
            try:
                self.queue.ignore(job, f"no handler for {job.event}")
            except LeaseLostError as exc:
                self._not_reported(job, exc)
            else:
                self.metrics.jobs.labels(job.event, "ignored").inc()
            return True
        with job_context(
            delivery_id=job.delivery_id,
            job_id=job.id,
            event=job.event,
            repository=job.repository,
            pr=_pr_number(job.payload),
        ):
            self._handle(job, handler, asked)
        return True

    def _handle(self, job: Any, handler: Handler, asked: float) -> None:
        started = time.perf_counter()
        outcome: str | None = None
        error: Exception | None = None
        with self._leased(job, asked) as keeper:
            try:
                with write_fence(keeper.check):
                    outcome = handler(job)
            except Exception as exc:
                error = exc
        try:
            lost = keeper.lost
            if lost is not None or isinstance(error, LeaseLostError):
                # the job was handed back, or another worker has it now: that attempt reports, not ours
                self._not_reported(job, lost or error)
            elif error is not None:
                self._failed(job, error)
            else:
                self.queue.complete(job)
                self.metrics.jobs.labels(job.event, "done").inc()
                self._observe_age(job, "done")
                log.info("job %s (%s): %s", job.id, job.event, outcome or "done")
        except LeaseLostError as exc:  # lost between the handler's end and the report
            self._not_reported(job, exc)
        finally:
            self.metrics.handling_seconds.labels(job.event).observe(time.perf_counter() - started)

    def _failed(self, job: Any, exc: Exception) -> None:
        if isinstance(exc, PermanentError):
            log.warning("job %s (%s) failed permanently: %s", job.id, job.event, exc)
            self.queue.fail(job, str(exc), None)
            self.metrics.jobs.labels(job.event, "failed").inc()
            return
        # GitHub may have said how long to wait (rate limits); otherwise back off with jitter
        asked = getattr(exc, "retry_after", None)
        retry_in = self.backoff(job.attempts)
        if isinstance(asked, int | float) and asked > 0:
            retry_in = float(asked)
        status = self.queue.fail(job, f"{type(exc).__name__}: {exc}", retry_in)
        final = str(getattr(status, "value", status)) == "failed"
        then = "gave up" if final else f"retry in {retry_in:.0f}s"
        # GitHub answering an error is expected: its message says it all; a traceback is for a bug
        log.log(
            logging.ERROR if final else logging.WARNING,
            "job %s (%s) failed; %s: %s: %s",
            job.id,
            job.event,
            then,
            type(exc).__name__,
            exc,
            exc_info=exc if not isinstance(exc, ForgeError) else None,
        )
        self.metrics.jobs.labels(job.event, "failed" if final else "retry").inc()

    def _not_reported(self, job: Any, why: object) -> None:
        log.warning("job %s (%s) dropped, not reported: %s", job.id, job.event, why)
        self.metrics.jobs.labels(job.event, "lease_lost").inc()

    def _observe_age(self, job: Any, stage: str) -> None:
        age = (self.queue.now() - job.received_at).total_seconds()
        self.metrics.job_age_seconds.labels(job.event, stage).observe(max(0.0, age))

    @contextmanager
    def _leased(self, job: Any, taken_at: float) -> Iterator[LeaseKeeper]:
        """Renew the job's lease while the block runs; `hand_back` can reach it meanwhile."""
        keeper = LeaseKeeper(self.queue, job, every=self.heartbeat_seconds, taken_at=taken_at)
        with self._keeper_lock:
            self._keeper = keeper
        keeper.start()
        try:
            yield keeper
        finally:
            keeper.stop()
            with self._keeper_lock:
                self._keeper = None

    def hand_back(self) -> bool:
        """Shutdown: give the job in flight back at once (its handler writes nothing more, and it is
        pending again for another worker or the restarted bot). False when there was none."""
        with self._keeper_lock:
            keeper = self._keeper
        if keeper is None:
            return False
        handed = keeper.hand_back()
        if handed:
            log.warning("worker %s: handed its job back on shutdown", self.worker_id)
        return handed

    def backoff(self, attempts: int) -> float:
        return default_backoff(attempts, base=self.base_backoff, cap=self.max_backoff)

    def run_forever(self, stop: threading.Event, wake: threading.Event) -> None:
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # the store itself failed: wait and try again, never die
                log.exception("worker %s: could not take a job", self.worker_id)
                busy = False
            if not busy:
                wake.wait(self.poll_seconds)
                wake.clear()


def _pr_number(payload: Mapping[str, Any]) -> int | None:
    """The pull request (or issue, for chat-ops comments) a job is about, for its log lines."""
    for key in ("pull_request", "issue"):
        item = payload.get(key)
        if isinstance(item, Mapping) and isinstance(item.get("number"), int):
            return int(item["number"])
    return None
