"""Malformed webhook payloads fail permanently at once (issue #11): each handler checks what it needs at its
edge (bot/forge/github/webhooks.py); a payload without it is one permanent failure naming the field, not five
retries with a KeyError and a traceback each. The models accept every real payload GitHub published for
the events modbot handles (@octokit/webhooks-examples, as published and completed to today's schema).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from bot.config import BotSettings
from bot.forge.github.webhooks import (
    WEBHOOK_EVENTS,
    CreateEvent,
    DeploymentStatusEvent,
    IssueCommentEvent,
    MalformedPayload,
    PullRequestEvent,
    PushEvent,
    WorkflowRunEvent,
    read_payload,
)
from bot.metrics import Metrics
from bot.runtime import Runtime
from bot.store import Store
from bot.worker import PermanentError
from bot.worker.wiring import build_worker, dispatch
from tests.e2e.test_webhook_e2e import OneForge
from tests.fakes import FakeForge
from tests.github_conformance import webhook_example
from tests.github_conformance.webhooks import _examples
from tests.store_helpers import temporary_store

MODELS: dict[str, type[BaseModel]] = {
    "pull_request": PullRequestEvent,
    "issue_comment": IssueCommentEvent,
    "deployment_status": DeploymentStatusEvent,
    "workflow_run": WorkflowRunEvent,
    "create": CreateEvent,
    "push": PushEvent,
}


def test_every_handled_event_has_a_model() -> None:
    assert set(MODELS) == set(WEBHOOK_EVENTS)


def real_examples() -> Iterator[Any]:
    for event in sorted(MODELS):
        for index, example in enumerate(_examples()[event]):
            action = example.get("action")
            yield pytest.param(event, action, index, id=f"{event}-{action}-{index}")


@pytest.mark.parametrize(("event", "action", "index"), list(real_examples()))
def test_every_real_example_payload_is_accepted(event: str, action: str | None, index: int) -> None:
    same_action = [ex for ex in _examples()[event] if ex.get("action") == action]
    position = next(i for i, ex in enumerate(same_action) if ex is _examples()[event][index])
    for complete in (False, True):
        payload = webhook_example(event, action, position, complete=complete)
        read_payload(MODELS[event], payload, event)


def pull_request(action: str = "opened") -> dict[str, Any]:
    return webhook_example("pull_request", action)


@pytest.mark.parametrize(
    ("event", "payload", "change", "reason"),
    [
        ("pull_request", pull_request(), ("pull_request", "head", "sha"), "pull_request.head.sha is missing"),
        ("pull_request", pull_request(), ("repository", "html_url"), "repository.html_url is missing"),
        ("pull_request", pull_request(), ("pull_request",), "pull_request is missing"),
        (
            "issue_comment",
            webhook_example("issue_comment", "created"),
            ("issue", "number"),
            "issue.number is missing",
        ),
        ("push", webhook_example("push"), ("after",), "after is missing"),
        ("create", webhook_example("create"), ("repository", "full_name"), "repository.full_name is missing"),
        (
            "workflow_run",
            webhook_example("workflow_run", "completed"),
            ("workflow_run", "created_at"),
            "workflow_run.created_at is missing",
        ),
        (
            "deployment_status",
            webhook_example("deployment_status", "created"),
            ("deployment", "sha"),
            "deployment.sha is missing",
        ),
    ],
)
def test_a_missing_field_is_named(
    event: str, payload: dict[str, Any], change: tuple[str, ...], reason: str
) -> None:
    parent = payload
    for key in change[:-1]:
        parent = parent[key]
    del parent[change[-1]]
    with pytest.raises(MalformedPayload) as caught:
        dispatch(event, payload, datetime.now(UTC), forge=FakeForge(), store=None, settings=SETTINGS)  # type: ignore[arg-type]
    assert str(caught.value) == f"malformed {event} payload: {reason}"
    assert isinstance(caught.value, PermanentError)


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (("pull_request", "number"), "7", "pull_request.number is not an integer (got str)"),
        (("pull_request", "number"), True, "pull_request.number is not an integer (got bool)"),
        (("pull_request", "number"), 0, "pull_request.number is not a positive number (got int)"),
        (("pull_request", "head", "sha"), None, "pull_request.head.sha is not a string (got null)"),
        (("pull_request", "head", "sha"), "main", "pull_request.head.sha is not a commit sha (got str)"),
        (("pull_request", "head"), "abc", "pull_request.head is not an object (got str)"),
        (("repository",), [], "repository is not an object (got list)"),
    ],
)
def test_a_wrongly_typed_field_is_named(path: tuple[str, ...], value: Any, reason: str) -> None:
    payload = pull_request()
    parent = payload
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    with pytest.raises(MalformedPayload) as caught:
        read_payload(PullRequestEvent, payload, "pull_request")
    assert str(caught.value) == f"malformed pull_request payload: {reason}"


def test_not_an_object_at_all() -> None:
    with pytest.raises(MalformedPayload) as caught:
        read_payload(PushEvent, [1, 2], "push")
    assert str(caught.value) == "malformed push payload: the payload is not an object (got list)"


def test_every_problem_is_named_at_once() -> None:
    payload = pull_request()
    del payload["pull_request"]["head"]["sha"], payload["pull_request"]["base"]["sha"]
    del payload["repository"]["html_url"]
    with pytest.raises(MalformedPayload) as caught:
        read_payload(PullRequestEvent, payload, "pull_request")
    assert str(caught.value) == (
        "malformed pull_request payload: pull_request.head.sha is missing; pull_request.base.sha is missing; "
        "repository.html_url is missing"
    )


# --- through the worker: once, permanent, no traceback ---------------------------------------------------
SETTINGS = BotSettings(github_token=SecretStr("test-token"), bot_login="modbot[bot]")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with temporary_store("sqlite", directory=tmp_path) as opened:
        yield opened


@pytest.mark.parametrize("missing", [("pull_request", "head", "sha"), ("repository", "html_url")])
def test_the_worker_fails_a_malformed_delivery_once_without_a_traceback(
    store: Store, caplog: pytest.LogCaptureFixture, missing: tuple[str, ...]
) -> None:
    payload = pull_request()
    parent = payload
    for key in missing[:-1]:
        parent = parent[key]
    del parent[missing[-1]]
    store.record_delivery("d-bad", "pull_request", "opened", "octo/modules", None, payload)
    metrics = Metrics()
    worker = build_worker(Runtime(SETTINGS, store, OneForge(FakeForge()), metrics=metrics), 0)
    with caplog.at_level(logging.INFO):
        assert worker.run_once()
        assert not worker.run_once()  # nothing left to retry
    info = store.get_delivery("d-bad")
    assert info is not None and info.status.value == "failed" and info.attempts == 1
    assert info.last_error == f"malformed pull_request payload: {'.'.join(missing)} is missing"
    assert not [r for r in caplog.records if r.exc_info]  # no traceback
    assert 'modbot_jobs_total{event="pull_request",result="failed"} 1.0' in metrics.exposition().decode()
    assert 'result="retry"' not in metrics.exposition().decode()
