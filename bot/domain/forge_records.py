"""What the local forge keeps beside its git repository: change requests and what hangs on them.

Plain frozen values shared by the store (which keeps them, `bot.store.local_forge`) and the local forge
(which turns them into the forge's values, `bot.forge.local`): neither layer may import the other, so
the vocabulary both speak lives here. Times are aware UTC datetimes. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "CHANGE_REQUEST_STATES",
    "REVIEW_STATES",
    "Announcement",
    "ChangeRequestRecord",
    "CheckRecord",
    "CommentRecord",
    "DeploymentRecordLocal",
    "DeploymentStatusRecord",
    "ReviewRecord",
    "RunRecord",
    "StatusRecord",
]

CHANGE_REQUEST_STATES = ("open", "closed")
REVIEW_STATES = ("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED")


@dataclass(frozen=True, slots=True)
class ChangeRequestRecord:
    """A change request: a head branch proposed for a base branch. ``head_repository`` is None for a
    branch of the same repository; the SHAs are the ones recorded at the last open / update / merge."""

    repository: str
    number: int
    title: str
    body: str
    author: str
    head_ref: str
    head_repository: str | None
    base_ref: str
    head_sha: str
    base_sha: str
    state: str  # open | closed
    merged: bool
    draft: bool
    merge_commit_sha: str | None
    merged_by: str | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    id: int
    repository: str
    number: int
    author: str
    state: str  # one of REVIEW_STATES
    commit_sha: str
    body: str
    submitted_at: datetime


@dataclass(frozen=True, slots=True)
class CommentRecord:
    id: int
    repository: str
    number: int
    author: str
    author_type: str  # User | Bot
    body: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CheckRecord:
    """A check run: a named verdict on a commit with a report and annotations (as JSON objects)."""

    id: int
    repository: str
    head_sha: str
    name: str
    status: str
    conclusion: str | None
    title: str
    summary: str
    text: str | None
    annotations: list[dict[str, Any]]
    details_url: str | None
    external_id: str | None
    creator: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StatusRecord:
    id: int
    repository: str
    sha: str
    state: str
    context: str
    description: str
    target_url: str | None
    creator: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeploymentRecordLocal:
    """A deployment request (the store's `DeploymentRecord` is modbot's own deploy history: another
    thing)."""

    id: int
    repository: str
    sha: str
    ref: str
    environment: str
    task: str
    description: str
    payload: dict[str, Any]
    creator: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeploymentStatusRecord:
    id: int
    deployment_id: int
    state: str
    description: str
    log_url: str | None
    environment_url: str | None
    creator: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run of the local runner (the local form of a CI workflow run)."""

    id: int
    repository: str
    name: str
    path: str  # the workflow it runs, e.g. ".github/workflows/modbot-build.yml"
    head_sha: str
    head_branch: str | None
    event: str
    status: str  # queued | in_progress | completed
    conclusion: str | None
    run_attempt: int
    logs_url: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Announcement:
    """An event of the local forge on its way into the delivery queue, written in the same transaction
    as the record it announces (an outbox): the change and its event are stored together or not at all.
    ``event`` is the job's event name (``forge:<kind>``), ``payload`` its JSON object."""

    delivery_id: str
    event: str
    action: str | None
    repository: str
    payload: dict[str, Any]
