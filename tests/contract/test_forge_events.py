"""Typed forge events: every real GitHub example payload of an event modbot acts on converts, survives the
queue's JSON round trip unchanged, and a queued event that cannot be read fails permanently, naming why."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.domain.errors import PermanentError
from bot.forge.events import (
    ChangeRequestEvent,
    CommentEvent,
    MalformedEvent,
    Repository,
    event_from_json,
    event_to_json,
    job_event_name,
)
from bot.forge.github.webhooks import WEBHOOK_EVENTS, event_from_webhook
from bot.worker.wiring import read_job_event
from tests.github_conformance.webhooks import _examples


def real_examples() -> list[Any]:
    return [
        pytest.param(name, example, id=f"{name}-{index}")
        for name in sorted(WEBHOOK_EVENTS)
        for index, example in enumerate(_examples()[name])
    ]


@pytest.mark.parametrize(("name", "payload"), real_examples())
def test_every_real_payload_round_trips_through_the_queue(name: str, payload: dict[str, Any]) -> None:
    event = event_from_webhook(name, payload)
    assert event is not None
    assert event.repository.full_name == payload["repository"]["full_name"]
    queued = event_to_json(event)
    assert queued["kind"] == event.kind
    assert event_from_json(queued) == event
    assert read_job_event(job_event_name(event), queued) == event


def test_a_pull_request_names_what_the_review_reads() -> None:
    payload = _examples()["pull_request"][0]
    event = event_from_webhook("pull_request", payload)
    assert isinstance(event, ChangeRequestEvent)
    pr = payload["pull_request"]
    assert (event.number, event.head_sha, event.base_sha) == (
        pr["number"],
        pr["head"]["sha"],
        pr["base"]["sha"],
    )
    assert event.repository.web_url == payload["repository"]["html_url"]


def test_a_bot_comment_is_marked_as_a_bot() -> None:
    payload = next(ex for ex in _examples()["issue_comment"] if ex["action"] == "created")
    payload = {**payload, "comment": {**payload["comment"], "user": {"login": "ci[bot]", "type": "Bot"}}}
    event = event_from_webhook("issue_comment", payload)
    assert isinstance(event, CommentEvent)
    assert (event.author, event.author_is_bot) == ("ci[bot]", True)


def test_an_event_modbot_does_not_act_on_is_none() -> None:
    assert event_from_webhook("star", {"action": "created"}) is None
    assert read_job_event("star", {"action": "created"}) is None


def test_a_queued_event_that_cannot_be_read_fails_permanently() -> None:
    event = CommentEvent(Repository("o/r"), "created", 1, 2, "/status", "alice", False)
    broken = event_to_json(event)
    del broken["comment_id"]
    broken["issue_number"] = "one"
    with pytest.raises(MalformedEvent) as caught:
        read_job_event("forge:comment", broken)
    assert isinstance(caught.value, PermanentError)
    assert "comment_id" in str(caught.value) and "issue_number" in str(caught.value)
    with pytest.raises(MalformedEvent):
        event_from_json({"kind": "no-such-kind", "repository": {"full_name": "o/r"}})


def test_timestamps_survive_as_aware_datetimes() -> None:
    payload = _examples()["deployment_status"][0]
    event = event_from_webhook("deployment_status", payload)
    assert event is not None
    back = event_from_json(event_to_json(event))
    created = back.deployment.created_at  # type: ignore[union-attr]
    assert isinstance(created, datetime) and created.tzinfo is not None
    assert created.astimezone(UTC) == event.deployment.created_at.astimezone(UTC)  # type: ignore[union-attr]
