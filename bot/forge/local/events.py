"""What happens in the local forge, as the typed events of `bot.forge.events`, into the same durable
queue webhook deliveries go into: an outbox.

Each event becomes an `Announcement`, which the records write as a delivery (`bot.store.queue`: a
delivery row is its job) named ``forge:<kind>`` (`job_event_name`) with `event_to_json`'s object, *in
the same transaction* as the record it announces (a comment, a change request opened, merged or closed,
a deployment status, a run): the change and its event are stored together or not at all. The worker
reads it back with `event_from_json` and hands it to the same use case a GitHub webhook's event goes to.
A change only git holds (a ref moved) is announced right after it, in a transaction of its own; what a
crash in between loses, `bot.forge.local.hook.catch_up` finds again (it compares branches with records).
"""

from __future__ import annotations

import uuid

from bot.domain.forge_records import Announcement
from bot.forge.events import ForgeEvent, event_to_json, job_event_name

__all__ = ["announcement", "new_delivery_id"]


def new_delivery_id() -> str:
    return f"local-{uuid.uuid4().hex}"


def announcement(event: ForgeEvent, delivery_id: str | None = None) -> Announcement:
    """``event`` as the delivery that queues it; ``delivery_id`` when the event has a natural one (a
    replayed push must be queued once), else a new one."""
    return Announcement(
        delivery_id or new_delivery_id(),
        job_event_name(event),
        getattr(event, "action", None),
        event.repository.full_name,
        event_to_json(event),
    )
