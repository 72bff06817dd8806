"""Classifying a verified delivery: what to answer at once, and what to store.

After the endpoint's checks (size, signature, the two headers), `classify` parses the body: 400 when it
is not a JSON object, 200 for ``ping``, 202 "ignored" for events without a handler and repositories
outside the allow-list (nothing stored); anything else becomes an `IncomingDelivery` carrying the JSON
text to store — GitHub's own bytes when they are strict JSON — so the writer thread
(bot/web/recorder.py) only writes and never parses or serializes a payload again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot import jsoncodec
from bot.store.queue import IncomingDelivery

__all__ = ["HANDLED_EVENTS", "Intake", "RawDelivery", "classify"]

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


def classify(raw: RawDelivery, repositories: frozenset[str] | None) -> IncomingDelivery | Intake:
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
        None,
        text if text is not None else jsoncodec.RawJson(jsoncodec.dumps(payload)),
    )
