"""What happens on a forge, as the use cases take it: typed events, the same whichever forge sent them.

Each forge turns its own notifications into these (GitHub: `bot.forge.github.webhooks` from webhook
payloads; the local forge from what it does itself), so no use case reads a forge's JSON. An event names
only what some use case reads; everything else a forge says is dropped at its edge.

Events go through the store's durable queue as JSON: a forge that produces them itself (not from a
GitHub webhook) records each as the job event ``forge:<kind>`` with `event_to_json`'s object, and the
worker reads it back with `event_from_json`, which checks it as strictly as a webhook payload is checked
(a job that can never be read fails permanently, naming the field).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError

from bot.domain.errors import PermanentError
from bot.forge.values import Deployment, DeploymentStatus, WorkflowRun

__all__ = [
    "FORGE_EVENT_PREFIX",
    "ChangeRequestEvent",
    "CommentEvent",
    "DeploymentStatusEvent",
    "ForgeEvent",
    "MalformedEvent",
    "RefCreatedEvent",
    "RefPushedEvent",
    "Repository",
    "RunEvent",
    "event_from_json",
    "event_to_json",
    "job_event_name",
]

FORGE_EVENT_PREFIX = "forge:"  # a queued job whose event is a typed event, not a GitHub webhook


class MalformedEvent(PermanentError):
    """A queued event that can never be handled: it lacks a field a use case needs."""


@dataclass(frozen=True, slots=True)
class Repository:
    full_name: str  # owner/name
    default_branch: str | None = None  # when the forge says it (saves asking)
    web_url: str | None = None  # the repository's page: a review links each problem to its line


@dataclass(frozen=True, slots=True)
class ChangeRequestEvent:
    """A change request (GitHub: pull request) opened, updated, edited, closed, … ."""

    repository: Repository
    action: str  # opened | synchronize | reopened | edited | closed | … (GitHub's words, every forge's)
    number: int
    state: str  # open | closed
    head_sha: str
    base_sha: str
    base_changed: bool = False  # `edited`: the base branch was changed
    merged: bool | None = None
    merge_commit_sha: str | None = None
    kind: Literal["change_request"] = "change_request"


@dataclass(frozen=True, slots=True)
class CommentEvent:
    """A comment on an issue or a change request."""

    repository: Repository
    action: str  # created | edited | deleted
    issue_number: int
    comment_id: int
    body: str
    author: str  # login ("" when the forge does not say)
    author_is_bot: bool
    kind: Literal["comment"] = "comment"


@dataclass(frozen=True, slots=True)
class DeploymentStatusEvent:
    """A deployment's new status (the deploy job reports each stage)."""

    repository: Repository
    deployment: Deployment
    status: DeploymentStatus
    kind: Literal["deployment_status"] = "deployment_status"


@dataclass(frozen=True, slots=True)
class RunEvent:
    """A CI run (GitHub: workflow run) requested, in progress or completed."""

    repository: Repository
    action: str  # requested | in_progress | completed
    run: WorkflowRun
    kind: Literal["run"] = "run"


@dataclass(frozen=True, slots=True)
class RefCreatedEvent:
    """A branch or tag created (GitHub's `create`)."""

    repository: Repository
    ref: str  # the short name: "release/rel_…", "main"
    ref_type: str  # tag | branch
    kind: Literal["ref_created"] = "ref_created"


@dataclass(frozen=True, slots=True)
class RefPushedEvent:
    """A ref moved, created or deleted by a push."""

    repository: Repository
    ref: str  # the full name: "refs/tags/release/rel_…", "refs/heads/main"
    after: str  # the new object ("0000…" when deleted)
    deleted: bool
    kind: Literal["ref_pushed"] = "ref_pushed"


ForgeEvent = (
    ChangeRequestEvent | CommentEvent | DeploymentStatusEvent | RunEvent | RefCreatedEvent | RefPushedEvent
)

_ADAPTER: TypeAdapter[ForgeEvent] = TypeAdapter(Annotated[ForgeEvent, Field(discriminator="kind")])
_MAX_REASONS = 5


def job_event_name(event: ForgeEvent) -> str:
    """The queue's event name of a typed event: ``forge:<kind>``."""
    return f"{FORGE_EVENT_PREFIX}{event.kind}"


def event_to_json(event: ForgeEvent) -> dict[str, Any]:
    """The event as a JSON object (timestamps as ISO 8601 text)."""
    data: dict[str, Any] = _ADAPTER.dump_python(event, mode="json")
    return data


def event_from_json(data: Any) -> ForgeEvent:
    """A queued event back; `MalformedEvent` (permanent) naming what is wrong."""
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        reasons = [
            f"{'.'.join(str(part) for part in error['loc']) or 'the event'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        ]
        more = f" (and {len(reasons) - _MAX_REASONS} more)" if len(reasons) > _MAX_REASONS else ""
        raise MalformedEvent(f"malformed forge event: {'; '.join(reasons[:_MAX_REASONS])}{more}") from None
