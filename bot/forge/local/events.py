"""What happens in the local forge, as events for the same durable queue webhook deliveries go into.

Each event is recorded as a delivery (`bot.store.queue`: a delivery row is its job) with a forge-neutral
event name the worker can route (``change_request``, ``comment``, ``review``, ``push``, ``tag``,
``deployment_status``, ``run``), an action (``opened``, ``updated``, ``closed``, ``merged`` …) and a
JSON payload that says which forge it came from. The names are not GitHub's (``pull_request`` …) on
purpose: a handler that reads GitHub JSON can never be handed one of these by mistake.

Recording happens after the change is made (git and the records first): an event is never announced
for a change that did not happen. A failure to record is the caller's to see (`EventSink` raises), except
in the post-receive hook, which must not fail a push that git has already accepted.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["EVENT_KINDS", "DeliveryRecorder", "EventSink", "LocalEvent", "QueueSink"]

EVENT_KINDS = frozenset({"change_request", "comment", "review", "push", "tag", "deployment_status", "run"})


@dataclass(frozen=True, slots=True)
class LocalEvent:
    kind: str  # one of EVENT_KINDS
    action: str
    repository: str
    data: Mapping[str, Any] = field(default_factory=dict)
    delivery_id: str = field(default_factory=lambda: f"local-{uuid.uuid4().hex}")

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"not a local forge event kind: {self.kind!r}")

    def payload(self) -> dict[str, Any]:
        """The JSON the queue keeps: the forge, the event and its data."""
        return {
            "forge": "local",
            "kind": self.kind,
            "action": self.action,
            "repository": self.repository,
            **dict(self.data),
        }


class EventSink(Protocol):
    def emit(self, event: LocalEvent) -> None: ...


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
    """Events into the durable delivery queue: one delivery (and job) per event."""

    def __init__(self, recorder: DeliveryRecorder) -> None:
        self.recorder = recorder

    def emit(self, event: LocalEvent) -> None:
        self.recorder.record_delivery(
            event.delivery_id, event.kind, event.action, event.repository, None, event.payload()
        )
