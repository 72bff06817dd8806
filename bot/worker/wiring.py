"""Which handler runs for which event, with what it needs (the forge of the delivery's installation).

A job's payload becomes a typed event (bot.forge.events) first: a GitHub webhook through the GitHub
forge's conversion (bot.forge.github.webhooks), a forge's own event as it was queued. One registry,
`EVENT_HANDLERS`: the event's kind to its use case. Every use case has the same shape,
`handler(event, received_at, *, forge, store, settings) -> outcome`, and is pure apart from what it asks
of the forge and the store. A change request has two: a closed one moves the builds waiting on it, every
other action reviews the manifest.

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
from bot.forge.events import FORGE_EVENT_PREFIX, ChangeRequestEvent, ForgeEvent, event_from_json
from bot.forge.github.webhooks import WEBHOOK_EVENTS, event_from_webhook
from bot.runtime import Runtime
from bot.store import Job, Store
from bot.worker import Handler, Worker
from bot.worker.leases import expire_abandoned
from bot.worker.pool import WorkerPool

__all__ = [
    "EVENT_HANDLERS",
    "EventHandler",
    "build_handlers",
    "build_worker",
    "dispatch",
    "read_job_event",
    "start_workers",
]


class EventHandler(Protocol):
    def __call__(
        self,
        event: Any,
        received_at: datetime,
        *,
        forge: Forge,
        store: Store,
        settings: BotSettings,
    ) -> str: ...


def handle_change_request_event(
    event: ChangeRequestEvent, received_at: datetime, *, forge: Forge, store: Store, settings: BotSettings
) -> str:
    if event.action == "closed":
        return handle_pull_request_closed(event, received_at, forge=forge, store=store, settings=settings)
    return handle_pull_request(event, received_at, forge=forge, store=store, settings=settings)


# One use case per kind of typed event (bot.forge.events), whichever forge sent it.
EVENT_HANDLERS: Mapping[str, EventHandler] = {
    "change_request": handle_change_request_event,
    "comment": handle_issue_comment,
    "deployment_status": handle_deployment_status,
    "run": handle_workflow_run,
    "ref_created": handle_create,
    "ref_pushed": handle_push,
}


def read_job_event(event_name: str, payload: Any) -> ForgeEvent | None:
    """A job's typed event: a forge's own event (``forge:<kind>``) or a GitHub webhook converted by the
    GitHub forge. None: an event modbot does not act on. A payload that can never be read raises a
    `PermanentError`."""
    if event_name.startswith(FORGE_EVENT_PREFIX):
        return event_from_json(payload)
    return event_from_webhook(event_name, payload)


def dispatch(
    event_name: str,
    payload: Any,
    received_at: datetime,
    *,
    forge: Forge,
    store: Store,
    settings: BotSettings,
) -> str:
    """Run the use case of one queued event."""
    event = read_job_event(event_name, payload)
    if event is None:
        return f"ignored: no handler for {event_name!r}"
    handler = EVENT_HANDLERS[event.kind]
    return handler(event, received_at, forge=forge, store=store, settings=settings)


def build_handlers(runtime: Runtime) -> dict[str, Handler]:
    """The worker's handlers: each queued event name's, given the forge of the job's installation."""

    def bind(event_name: str) -> Handler:
        def run(job: Job) -> str:
            forge = runtime.forges.for_installation(job.installation_id)
            event = read_job_event(event_name, job.payload)
            if event is None:
                return f"ignored: no handler for {event_name!r}"
            handler = EVENT_HANDLERS[event.kind]
            outcome = handler(
                event, job.received_at, forge=forge, store=runtime.store, settings=runtime.settings
            )
            for observe in runtime.observers:  # after the use case: a retry runs both again
                observe(event)
            return outcome

        return run

    names = [*WEBHOOK_EVENTS, *(f"{FORGE_EVENT_PREFIX}{kind}" for kind in EVENT_HANDLERS)]
    return {name: bind(name) for name in names}


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
