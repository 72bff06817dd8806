"""Which handler runs for which event, with what it needs (the forge of the delivery's installation),
and the GitHub call/error metrics of each job."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

from bot.forge import ForgeError, count_calls
from bot.handlers.pull_request import handle_pull_request
from bot.runtime import Runtime
from bot.worker import Handler, Worker


def _measured(runtime: Runtime, handler: Callable[[Any], str]) -> Handler:
    def run(job: Any) -> str:
        with count_calls() as counter:
            try:
                return handler(job)
            except ForgeError as exc:
                runtime.metrics.github_errors.labels(str(exc.status or "none")).inc()
                raise
            finally:
                for operation, calls in counter.by_operation.items():
                    runtime.metrics.github_calls.labels(operation).inc(calls)

    return run


def build_handlers(runtime: Runtime) -> dict[str, Handler]:
    def pull_request(job: Any) -> str:
        forge = runtime.forges.for_installation(job.installation_id)
        return handle_pull_request(
            job.payload, job.received_at, forge=forge, store=runtime.store, settings=runtime.settings
        )

    return {"pull_request": _measured(runtime, pull_request)}


def build_worker(runtime: Runtime, index: int) -> Worker:
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{index}"
    return Worker(runtime.store, build_handlers(runtime), runtime.metrics, worker_id)
