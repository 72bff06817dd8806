"""What each handler needs of its webhook payload, as typed models checked at the handler's edge.

GitHub's payloads are large; a model names only the fields a handler reads (everything else is ignored)
and their types, strictly (a number sent as a string is wrong, not converted). A payload that lacks one
or has it of the wrong type can never be handled, however often it is retried: `read_payload` raises
`MalformedPayload`, the worker's `PermanentError`, naming each field by its path
("pull_request.head.sha is missing"), so the job fails once, at once, without a traceback.

pydantic (already the settings' and the manifest's library) rather than a second one for the same job;
tests/test_payloads.py checks every real example payload of @octokit/webhooks-examples for the events
modbot handles is accepted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.domain.errors import PermanentError
from bot.domain.ids import GIT_SHA_PATTERN

__all__ = [
    "CreateEvent",
    "DeploymentStatusEvent",
    "IssueCommentEvent",
    "MalformedPayload",
    "PullRequestEvent",
    "PushEvent",
    "WorkflowRunEvent",
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
