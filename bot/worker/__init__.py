"""The worker: takes jobs from the store, hands each to the handler for its event, and records
the outcome. A job that raises is retried with backoff (GitHub outages, rate limits) up to the
store's attempt limit; nothing is lost when the process dies, because the lease expires and
another worker takes the job again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bot.forge import ForgeError
from bot.logs import job_context
from bot.metrics import Metrics
from bot.store import default_backoff

log = logging.getLogger(__name__)


class PermanentError(Exception):
    """The job can never succeed (bad payload, refused by policy): fail it without retrying."""


class JobQueue(Protocol):
    def claim_next(self, worker_id: str, lease_seconds: float) -> Any: ...
    def complete(self, job: Any) -> Any: ...
    def fail(self, job: Any, error: str, retry_in: float | None) -> Any: ...
    def ignore(self, job: Any, reason: str) -> Any: ...


Handler = Callable[[Any], str | None]  # returns a short outcome ("commented", "ignored: ...")


@dataclass
class Worker:
    queue: JobQueue
    handlers: Mapping[str, Handler]
    metrics: Metrics
    worker_id: str
    lease_seconds: float = 120.0
    poll_seconds: float = 2.0
    base_backoff: float = 5.0
    max_backoff: float = 600.0

    def run_once(self) -> bool:
        """Handle one job if there is one; True when a job was taken."""
        job = self.queue.claim_next(self.worker_id, self.lease_seconds)
        if job is None:
            return False
        handler = self.handlers.get(job.event)
        if handler is None:
            self.queue.ignore(job, f"no handler for {job.event}")
            self.metrics.jobs.labels(job.event, "ignored").inc()
            return True
        started = time.perf_counter()
        with job_context(
            delivery_id=job.delivery_id,
            job_id=job.id,
            event=job.event,
            repository=job.repository,
            pr=_pr_number(job.payload),
        ):
            try:
                outcome = handler(job)
            except PermanentError as exc:
                log.warning("job %s (%s) failed permanently: %s", job.id, job.event, exc)
                self.queue.fail(job, str(exc), None)
                self.metrics.jobs.labels(job.event, "failed").inc()
            except Exception as exc:
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
                    exc_info=not isinstance(exc, ForgeError),
                )
                self.metrics.jobs.labels(job.event, "failed" if final else "retry").inc()
            else:
                self.queue.complete(job)
                self.metrics.jobs.labels(job.event, "done").inc()
                log.info("job %s (%s): %s", job.id, job.event, outcome or "done")
            finally:
                self.metrics.handling_seconds.labels(job.event).observe(time.perf_counter() - started)
        return True

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
