"""GitHub's webhook payloads into typed forge events (bot.forge.events): `event_from_webhook`.

What each use case needs of a payload is named by a model here, checked at the GitHub forge's edge.

GitHub's payloads are large; a model names only the fields a handler reads (everything else is ignored)
and their types, strictly (a number sent as a string is wrong, not converted). A payload that lacks one
or has it of the wrong type can never be handled, however often it is retried: `read_payload` raises
`MalformedPayload`, the worker's `PermanentError`, naming each field by its path
("pull_request.head.sha is missing"), so the job fails once, at once, without a traceback.

pydantic (already the settings' and the manifest's library) rather than a second one for the same job;
tests/contract/test_payloads.py checks every real example payload of @octokit/webhooks-examples for the events
modbot handles is accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.domain.errors import PermanentError
from bot.domain.ids import GIT_SHA_PATTERN
from bot.forge import events
from bot.forge.github.conversions import (
    deployment_from_json,
    deployment_status_from_json,
    workflow_run_from_json,
)

__all__ = [
    "WEBHOOK_EVENTS",
    "CreateEvent",
    "DeploymentStatusEvent",
    "IssueCommentEvent",
    "MalformedPayload",
    "PullRequestEvent",
    "PushEvent",
    "WorkflowRunEvent",
    "event_from_webhook",
    "read_payload",
]

_MAX_REASONS = 5
Timestamp = Annotated[datetime, Field(strict=False)]  # GitHub sends ISO 8601 text
CommitSha = Annotated[str, Field(pattern=GIT_SHA_PATTERN)]  # SHA-1 or SHA-256
Number = Annotated[int, Field(gt=0)]  # an issue, PR or object id


class MalformedPayload(PermanentError):
    """A webhook payload without what its handler needs."""


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class Repository(_Model):
    full_name: str
    default_branch: str | None = None


class User(_Model):
    login: str | None = None
    type: str | None = None


# --- pull_request ------------------------------------------------------------------------------------------
class CommitRef(_Model):
    sha: CommitSha


class PullRequest(_Model):
    number: Number
    state: str
    head: CommitRef
    base: CommitRef
    merged: bool | None = None
    merge_commit_sha: str | None = None


class PullRequestRepository(Repository):
    html_url: str  # the review links each problem to its line


class PullRequestEvent(_Model):
    action: str
    pull_request: PullRequest
    repository: PullRequestRepository
    changes: dict[str, Any] | None = None


# --- issue_comment -----------------------------------------------------------------------------------------
class Comment(_Model):
    id: Number
    body: str | None = None
    user: User | None = None


class Issue(_Model):
    number: Number


class IssueCommentEvent(_Model):
    action: str
    comment: Comment
    issue: Issue
    repository: Repository


# --- deployment_status -------------------------------------------------------------------------------------
class Deployment(_Model):
    """What `bot.forge.github.conversions.deployment_from_json` reads."""

    id: int
    sha: str
    ref: str
    environment: str
    task: str
    created_at: Timestamp
    description: str | None = None
    creator: User | None = None


class DeploymentStatus(_Model):
    """What `bot.forge.github.conversions.deployment_status_from_json` reads."""

    id: int
    state: str
    created_at: Timestamp
    description: str | None = None
    log_url: str | None = None
    target_url: str | None = None
    environment_url: str | None = None


class DeploymentStatusEvent(_Model):
    deployment: Deployment
    deployment_status: DeploymentStatus
    repository: Repository


# --- workflow_run ------------------------------------------------------------------------------------------
class WorkflowRun(_Model):
    """What `bot.forge.github.conversions.workflow_run_from_json` reads."""

    id: int
    head_sha: str
    event: str
    html_url: str
    created_at: Timestamp
    path: str | None = None  # not in older payloads
    name: str | None = None
    head_branch: str | None = None
    status: str | None = None
    conclusion: str | None = None
    run_attempt: int | None = None


class WorkflowRunEvent(_Model):
    action: str
    workflow_run: WorkflowRun
    repository: Repository


# --- create and push (of release tags) ---------------------------------------------------------------------
class CreateEvent(_Model):
    ref: str
    ref_type: str
    repository: Repository


class PushEvent(_Model):
    ref: str
    after: str
    deleted: bool
    repository: Repository


Event = TypeVar("Event", bound=_Model)


def read_payload(model: type[Event], payload: Any, event: str) -> Event:
    """``payload`` as ``model``; `MalformedPayload` naming every missing or wrongly-typed field."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        reasons = [_reason(error) for error in exc.errors(include_url=False)]
        more = f" (and {len(reasons) - _MAX_REASONS} more)" if len(reasons) > _MAX_REASONS else ""
        raise MalformedPayload(
            f"malformed {event} payload: {'; '.join(reasons[:_MAX_REASONS])}{more}"
        ) from None


_EXPECTED = {
    "bool_type": "a boolean",
    "datetime_type": "a timestamp",
    "datetime_from_date_parsing": "a timestamp",
    "datetime_parsing": "a timestamp",
    "dict_type": "an object",
    "int_type": "an integer",
    "model_type": "an object",
    "string_type": "a string",
    "string_pattern_mismatch": "a commit sha",  # the only pattern: CommitSha
    "greater_than": "a positive number",
}


def _reason(error: Any) -> str:
    path = ".".join(str(part) for part in error["loc"]) or "the payload"
    if error["type"] == "missing":
        return f"{path} is missing"
    expected = _EXPECTED.get(error["type"])
    if expected is None:
        return f"{path}: {error['msg']}"
    got = "null" if error.get("input") is None else type(error.get("input")).__name__
    return f"{path} is not {expected} (got {got})"


# --- into typed events -------------------------------------------------------------------------------------


def _repository(repository: Repository) -> events.Repository:
    web_url = repository.html_url if isinstance(repository, PullRequestRepository) else None
    return events.Repository(repository.full_name, repository.default_branch, web_url)


def _pull_request(payload: Any) -> events.ChangeRequestEvent:
    event = read_payload(PullRequestEvent, payload, "pull_request")
    pr = event.pull_request
    return events.ChangeRequestEvent(
        repository=_repository(event.repository),
        action=event.action,
        number=pr.number,
        state=pr.state,
        head_sha=pr.head.sha,
        base_sha=pr.base.sha,
        base_changed="base" in (event.changes or {}),
        merged=pr.merged,
        merge_commit_sha=pr.merge_commit_sha,
    )


def _issue_comment(payload: Any) -> events.CommentEvent:
    event = read_payload(IssueCommentEvent, payload, "issue_comment")
    comment = event.comment
    user = comment.user or User()
    return events.CommentEvent(
        repository=_repository(event.repository),
        action=event.action,
        issue_number=event.issue.number,
        comment_id=comment.id,
        body=comment.body or "",
        author=user.login or "",
        author_is_bot=user.type == "Bot",
    )


def _deployment_status(payload: Any) -> events.DeploymentStatusEvent:
    event = read_payload(DeploymentStatusEvent, payload, "deployment_status")
    return events.DeploymentStatusEvent(
        repository=_repository(event.repository),
        deployment=deployment_from_json(payload["deployment"]),  # the fields it reads are checked
        status=deployment_status_from_json(payload["deployment_status"]),
    )


def _workflow_run(payload: Any) -> events.RunEvent:
    event = read_payload(WorkflowRunEvent, payload, "workflow_run")
    return events.RunEvent(
        repository=_repository(event.repository),
        action=event.action,
        run=workflow_run_from_json(payload["workflow_run"]),  # the fields it reads are checked
    )


def _create(payload: Any) -> events.RefCreatedEvent:
    event = read_payload(CreateEvent, payload, "create")
    return events.RefCreatedEvent(_repository(event.repository), event.ref, event.ref_type)


def _push(payload: Any) -> events.RefPushedEvent:
    event = read_payload(PushEvent, payload, "push")
    return events.RefPushedEvent(_repository(event.repository), event.ref, event.after, event.deleted)


_CONVERSIONS: dict[str, Callable[[Any], events.ForgeEvent]] = {
    "pull_request": _pull_request,
    "issue_comment": _issue_comment,
    "deployment_status": _deployment_status,
    "workflow_run": _workflow_run,
    "create": _create,
    "push": _push,
}
WEBHOOK_EVENTS: frozenset[str] = frozenset(_CONVERSIONS)  # the GitHub events modbot acts on


def event_from_webhook(name: str, payload: Any) -> events.ForgeEvent | None:
    """The typed event of a GitHub webhook delivery (None: an event modbot does not act on);
    `MalformedPayload` (permanent) when the payload lacks what its use case needs."""
    conversion = _CONVERSIONS.get(name)
    return conversion(payload) if conversion is not None else None
