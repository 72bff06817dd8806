"""What a forge returns and how it fails: plain frozen values, the same for every forge.

Times are aware UTC datetimes. The names are still GitHub's (a change request is a `PullRequest`, a
forge's verdict on a commit a `CheckRun` or a `CommitStatus`) because handlers and the store use them;
a second forge fills the same fields from its own records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "PERMISSIONS",
    "Annotation",
    "AnnotationLevel",
    "CheckRun",
    "Comment",
    "CommitInfo",
    "CommitStatus",
    "Deployment",
    "DeploymentStatus",
    "ForgeError",
    "Permission",
    "PullRequest",
    "Ref",
    "Review",
    "TagObject",
    "WorkflowRun",
]

# Repository roles, strongest first. Custom roles fall back to the base permission they extend.
PERMISSIONS = ("admin", "maintain", "write", "triage", "read", "none")

Permission = Literal["admin", "maintain", "write", "triage", "read", "none"]
AnnotationLevel = Literal["notice", "warning", "failure"]


class ForgeError(Exception):
    """A GitHub operation failed: which operation, the HTTP status (None: no answer, e.g. a network
    error, or an answer we cannot use) and GitHub's own message. Never carries a token.

    ``retry_after`` (seconds) is set when GitHub asked us to wait longer than the forge may block, so the
    caller can reschedule the job instead of holding a worker.
    """

    def __init__(
        self,
        operation: str,
        status: int | None,
        message: str,
        *,
        retry_after: float | None = None,
        attempts: int = 1,
    ) -> None:
        self.operation = operation
        self.status = status
        self.message = message
        self.retry_after = retry_after
        self.attempts = attempts
        where = f"HTTP {status}: " if status is not None else ""
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        wait = f" (retry after {retry_after:.0f}s)" if retry_after is not None else ""
        super().__init__(f"GitHub {operation} failed{tries}: {where}{message}{wait}")

    @property
    def not_found(self) -> bool:
        return self.status == 404


# --- what the forge returns ------------------------------------------------------------------------
@dataclass(frozen=True)
class PullRequest:
    repo: str  # the base repository, owner/name
    number: int
    state: str  # "open" | "closed"
    merged: bool
    draft: bool
    title: str
    body: str
    author: str  # login
    html_url: str
    head_sha: str
    head_ref: str
    head_repo: str | None  # owner/name of the head repository; None when a fork was deleted
    base_sha: str
    base_ref: str
    # What merging made (the merge, squash or rebased commit on the base branch) once merged; while open,
    # GitHub's test merge commit; None before GitHub has computed it.
    merge_commit_sha: str | None = None

    @property
    def from_fork(self) -> bool:
        """The head lives in another repository (or one that no longer exists): no commands with power."""
        return self.head_repo is None or self.head_repo.lower() != self.repo.lower()


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    author: str  # login, e.g. "modbot[bot]"
    author_type: str  # "User" | "Bot" | "Organization"
    html_url: str


@dataclass(frozen=True)
class Annotation:
    path: str
    start_line: int
    end_line: int
    level: AnnotationLevel
    message: str
    title: str | None = None


@dataclass(frozen=True)
class CheckRun:
    id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    html_url: str | None
    annotations_count: int = 0  # how many annotations GitHub holds for it (they are appended per request)


@dataclass(frozen=True)
class CommitStatus:
    """A commit status (token mode's form of a check): the latest one of a context is what GitHub shows."""

    state: str  # one of COMMIT_STATES (bot.forge.github.limits)
    context: str
    description: str
    target_url: str | None


@dataclass(frozen=True)
class Ref:
    ref: str  # full name: "refs/tags/deploy/prod"
    sha: str  # what it points at (a commit, or an annotated tag object)
    object_type: str  # "commit" | "tag"


@dataclass(frozen=True)
class CommitInfo:
    """Who made a commit: the GitHub accounts (None when the e-mail maps to no account) and the git
    identities. A branch is the bot's own only while every commit is authored and committed by it."""

    sha: str
    author_login: str | None
    committer_login: str | None
    author_email: str
    committer_email: str

    def made_by(self, login: str) -> bool:
        wanted = login.lower()
        return (self.author_login or "").lower() == wanted and (self.committer_login or "").lower() == wanted


@dataclass(frozen=True)
class Review:
    """A pull request review (``GET /pulls/{n}/reviews``)."""

    id: int
    author: str | None  # login; None when the account was deleted
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED | PENDING
    commit_id: str | None  # the head commit the review was made on
    submitted_at: datetime | None  # None while PENDING


@dataclass(frozen=True)
class Deployment:
    """A GitHub Deployment: a request to deploy ``sha`` (resolved from ``ref``) to ``environment``."""

    id: int
    sha: str
    ref: str
    environment: str
    task: str
    description: str | None
    payload: dict[str, Any]
    creator: str | None  # login
    created_at: datetime


@dataclass(frozen=True)
class DeploymentStatus:
    id: int
    state: str  # one of DEPLOYMENT_STATES (bot.forge.github.limits)
    description: str
    log_url: str | None
    environment_url: str | None
    creator: str | None  # login
    created_at: datetime


@dataclass(frozen=True)
class TagObject:
    """An annotated tag object (``GET /git/tags/{sha}``): what a ``release/<id>`` tag carries."""

    sha: str  # the tag object's own SHA (what the ref points at)
    tag: str  # the tag name, e.g. "release/rel_2026_01_02_001"
    message: str
    object_sha: str  # what the tag points at
    object_type: str  # "commit" (or "tag", "tree", "blob")


@dataclass(frozen=True)
class WorkflowRun:
    """One GitHub Actions workflow run (the latest attempt's view)."""

    id: int
    name: str | None
    path: str  # the workflow file, e.g. ".github/workflows/modbot-build.yml"
    head_sha: str
    head_branch: str | None
    event: str
    status: str | None  # queued | in_progress | completed | waiting | requested | pending
    conclusion: str | None  # success | failure | cancelled | … ; None until completed
    html_url: str
    run_attempt: int
    created_at: datetime
