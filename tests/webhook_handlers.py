"""The use cases driven by GitHub webhook payloads: the GitHub forge converts the payload into its typed
event (bot.forge.github.webhooks, as the worker does), then the use case runs. Tests written against
GitHub's payloads call these; each has its use case's name and takes the payload in place of the event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.app import followups
from bot.app.commands import comment
from bot.app.review import pull_request
from bot.forge.github.webhooks import event_from_webhook

__all__ = [
    "handle_create",
    "handle_deployment_status",
    "handle_issue_comment",
    "handle_pull_request",
    "handle_pull_request_closed",
    "handle_push",
    "handle_workflow_run",
]

Handler = Callable[..., str]


def _from_webhook(event_name: str, use_case: Callable[..., str]) -> Handler:
    def handle(payload: Any, received_at: datetime, **context: Any) -> str:
        event = event_from_webhook(event_name, payload)
        assert event is not None, f"modbot does not act on {event_name}"
        return use_case(event, received_at, **context)

    handle.__name__ = use_case.__name__
    return handle


handle_pull_request = _from_webhook("pull_request", pull_request.handle_pull_request)
handle_pull_request_closed = _from_webhook("pull_request", followups.handle_pull_request_closed)
handle_issue_comment = _from_webhook("issue_comment", comment.handle_issue_comment)
handle_deployment_status = _from_webhook("deployment_status", followups.handle_deployment_status)
handle_workflow_run = _from_webhook("workflow_run", followups.handle_workflow_run)
handle_create = _from_webhook("create", followups.handle_create)
handle_push = _from_webhook("push", followups.handle_push)
