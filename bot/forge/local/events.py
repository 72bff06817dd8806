"""What happens in the local forge, as the typed events of `bot.forge.events`, into the same durable
queue webhook deliveries go into.

Each event is recorded as a delivery (`bot.store.queue`: a delivery row is its job) named
``forge:<kind>`` (`job_event_name`) with `event_to_json`'s object: the worker reads it back with
`event_from_json` and hands it to the same use case a GitHub webhook's event goes to. Recording happens
after the change is made (git and the records first): an event never announces a change that did not
happen. A failure to record is the caller's to see (the sink raises), except in the post-receive hook,
which must not fail a push git has already accepted (bot/forge/local/hook.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from bot.forge.events import ForgeEvent, event_to_json, job_event_name

__all__ = ["DeliveryRecorder", "EventSink", "QueueSink", "new_delivery_id"]


def new_delivery_id() -> str:
    return f"local-{uuid.uuid4().hex}"


class EventSink(Protocol):
    def emit(self, event: ForgeEvent, delivery_id: str | None = None) -> None:
        """Record ``event``; ``delivery_id`` when the event has a natural one (a replayed push must be
        recorded once), else a new one."""
        ...


class DeliveryRecorder(Protocol):
    """The store's queue (`bot.store.Store.record_delivery`), as far as events need it."""

    def record_delivery(  # noqa: PLR0917 (the store's positional signature)
        self,
        delivery_id: str,
        event: str,
        action: str | None,
        repository: str | None,
        installation_id: int | None,
        payload: Mapping[str, Any],
    ) -> object: ...


class QueueSink:
    """Events into the durable delivery queue: one delivery (and job) per event, deduplicated on its id."""

    def __init__(self, recorder: DeliveryRecorder) -> None:
        self.recorder = recorder

    def emit(self, event: ForgeEvent, delivery_id: str | None = None) -> None:
        self.recorder.record_delivery(
            delivery_id or new_delivery_id(),
            job_event_name(event),
            getattr(event, "action", None),
            event.repository.full_name,
            None,
            event_to_json(event),
        )
