"""Taking in verified deliveries: parse, classify, store durably, and say what to answer.

The webhook endpoint checks what is cheap and must come first (size, signature, the two headers) on the
event loop, then hands the raw body here. `take_deliveries` does the rest for a whole batch: the JSON
(400 when it is not a JSON object), ``ping`` (200), events without a handler and repositories outside
the allow-list (202 ignored, nothing stored), and one `record_deliveries` transaction for the rest. It
is the same code whether it runs in a thread of the web process or in the writer process
(bot/web/writer.py): that process parses and writes while the web process's event loop only does HTTP
and signatures, so the two use both cores instead of sharing one interpreter lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot import jsoncodec
from bot.store.queue import IncomingDelivery, RecordOutcome

__all__ = ["HANDLED_EVENTS", "DeliveryIntake", "Intake", "RawDelivery", "StoreIntake", "take_deliveries"]

# Events a handler exists for; anything else is acknowledged and dropped.
HANDLED_EVENTS = frozenset(
    {
        "pull_request",
        "issue_comment",
        "push",
        "create",
        "deployment_status",
        "workflow_run",
        "check_run",
        "installation",
    }
)


@dataclass(frozen=True, slots=True)
class RawDelivery:
    """A delivery whose signature has been verified; its body is not parsed yet."""

    delivery_id: str  # may be empty for a ping
    event: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Intake:
    """What was done with one delivery: the HTTP answer and the metrics outcome."""

    status: int
    outcome: str  # a RecordOutcome value, "ignored", "accepted" (ping) or "rejected"
    error: str | None = None

    def answer(self) -> dict[str, Any]:
        if self.error is not None:
            return {"error": self.error}
        if self.outcome == "accepted":
            return {"ok": True}
        return {"status": self.outcome}


class DeliveryRecorder(Protocol):
    def record_deliveries(self, deliveries: Sequence[IncomingDelivery]) -> list[RecordOutcome]: ...


class DeliveryIntake(Protocol):
    """Takes a batch of verified deliveries and answers for each, in order; raises when nothing of the
    batch could be stored (every delivery of it then gets a 503 and is redelivered)."""

    def take(self, batch: Sequence[RawDelivery]) -> list[Intake]: ...


def _classify(raw: RawDelivery, repositories: frozenset[str] | None) -> IncomingDelivery | Intake:
    try:
        payload, text = jsoncodec.loads_exact(raw.body)
    except ValueError:
        return Intake(400, "rejected", "the body is not JSON")
    if not isinstance(payload, dict):
        return Intake(400, "rejected", "the body is not a JSON object")
    if raw.event == "ping":
        return Intake(200, "accepted")
    repo = payload.get("repository")
    repository = repo.get("full_name") if isinstance(repo, dict) else None
    repository = repository if isinstance(repository, str) else None
    if raw.event not in HANDLED_EVENTS or (
        repositories is not None and (repository or "").lower() not in repositories
    ):
        return Intake(202, "ignored")
    action = payload.get("action")
    installation = payload.get("installation")
    installation_id = installation.get("id") if isinstance(installation, dict) else None
    return IncomingDelivery(
        raw.delivery_id,
        raw.event,
        action if isinstance(action, str) else None,
        repository,
        installation_id if isinstance(installation_id, int) else None,
        payload,
        text,
    )


def take_deliveries(
    batch: Sequence[RawDelivery], recorder: DeliveryRecorder, repositories: frozenset[str] | None
) -> list[Intake]:
    """Classify every delivery, store the ones to handle in ONE transaction, answer for each in order."""
    classified = [_classify(raw, repositories) for raw in batch]
    storable = [item for item in classified if isinstance(item, IncomingDelivery)]
    outcomes = iter(recorder.record_deliveries(storable) if storable else [])
    return [
        Intake(202, next(outcomes).value) if isinstance(item, IncomingDelivery) else item
        for item in classified
    ]


@dataclass(frozen=True)
class StoreIntake:
    """`take_deliveries` against a store in this process."""

    recorder: DeliveryRecorder
    repositories: frozenset[str] | None

    def take(self, batch: Sequence[RawDelivery]) -> list[Intake]:
        return take_deliveries(batch, self.recorder, self.repositories)
