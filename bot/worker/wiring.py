"""Which handler runs for which event, with what it needs (the forge of the delivery's installation).

One registry, `EVENT_HANDLERS`: the webhook event name to the handler of its payload. Every handler has
the same shape, `handler(payload, received_at, *, forge, store, settings) -> outcome`, and is pure
apart from what it asks of the forge and the store. `pull_request` has two: a closed PR moves the
builds waiting on it, every other action reviews the manifest.

GitHub call and error metrics are fed by the forge provider's `ForgeStats` hooks (`modbot serve`),
which see every request, retries and admin API calls included, so nothing here counts them again."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from bot.app.commands.comment import handle_issue_comment
from bot.app.followups import (
    handle_create,
    handle_deployment_status,
    handle_pull_request_closed,
    handle_push,
    handle_workflow_run,
)
from bot.app.review.pull_request import handle_pull_request
from bot.config import BotSettings
from bot.forge import Forge
from bot.runtime import Runtime
from bot.store import Job, Store
from bot.worker import Handler, Worker
from bot.worker.leases import expire_abandoned
from bot.worker.pool import WorkerPool

__all__ = ["EVENT_HANDLERS", "EventHandler", "build_handlers", "build_worker", "start_workers"]


class EventHandler(Protocol):
    def __call__(
        self,
        payload: dict[str, Any],
        received_at: datetime,
        *,
        forge: Forge,
        store: Store,
        settings: BotSettings,
    ) -> str: ...


def handle_pull_request_event(
    payload: dict[str, Any], received_at: datetime, *, forge: Forge, store: Store, settings: BotSettings
) -> str:
    if payload.get("action") == "closed":
        return handle_pull_request_closed(payload, received_at, forge=forge, store=store, settings=settings)
    return handle_pull_request(payload, received_at, forge=forge, store=store, settings=settings)


EVENT_HANDLERS: Mapping[str, EventHandler] = {
    "pull_request": handle_pull_request_event,
    "issue_comment": handle_issue_comment,
    "deployment_status": handle_deployment_status,
    "workflow_run": handle_workflow_run,
    "create": handle_create,
    "push": handle_push,
}


def build_handlers(runtime: Runtime) -> dict[str, Handler]:
    """The worker's handlers: each event's handler, given the forge of the job's installation."""

    def bind(handler: EventHandler) -> Handler:
        def run(job: Job) -> str:
            forge = runtime.forges.for_installation(job.installation_id)
            return handler(
                job.payload, job.received_at, forge=forge, store=runtime.store, settings=runtime.settings
            )

        return run

    return {event: bind(handler) for event, handler in EVENT_HANDLERS.items()}


def build_worker(runtime: Runtime, index: int) -> Worker:
    settings = runtime.settings
    return Worker(
        runtime.store,
        build_handlers(runtime),
        runtime.metrics,
        f"{socket.gethostname()}:{os.getpid()}:{index}",  # the form expire_abandoned reads
        lease_seconds=settings.lease_seconds,
        heartbeat_seconds=settings.heartbeat_seconds,
        poll_seconds=settings.poll_seconds,
        base_backoff=settings.retry_base_seconds,
        max_backoff=settings.retry_cap_seconds,
    )


def start_workers(runtime: Runtime, count: int) -> WorkerPool:
    """``count`` worker threads, after taking back the jobs a killed previous run of this bot left
    leased (so they run again now, not when their lease runs out)."""
    if count > 0:
        expire_abandoned(runtime.store, socket.gethostname(), pid=os.getpid())
    workers = [build_worker(runtime, index) for index in range(count)]
    return WorkerPool(workers, runtime.stop, runtime.wake).start()
