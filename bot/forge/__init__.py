"""The forge: what handlers may ask of GitHub, as a small typed interface of our own.

Handlers take a `Forge` and never see PyGithub (only `bot.forge.github` imports it), so they stay pure
and are tested against `tests.fakes.FakeForge`; a contract suite (tests/test_forge_contract.py) runs
the same checks against the fake and against `GitHubForge` behind GitHub's published API description,
so the fake cannot drift from the real thing.

Every method is one API call where GitHub allows it (no listing when an id is known); listings follow
``Link`` pagination and stop as soon as they have their answer (or their ``limit``). Untrusted parts of
a URL (logins, team slugs, workflow files, refs, paths) are checked here, before any call, by the same
``validate_*`` helpers in every Forge, and refused with ValueError. Times are aware UTC datetimes.
Failures raise `ForgeError` (never PyGithub's exceptions). Calls made inside
``with count_calls() as counter:`` are counted per task, which is how call budgets (e.g. "at most 5
calls for a first validation") are measured and tested.
"""

from __future__ import annotations

import contextvars
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, cast, runtime_checkable

from bot.domain.ids import is_login, is_owner, validate_path, validate_repo
from bot.domain.text import cut, shorten

__all__ = [
    "CHECK_CONCLUSIONS",
    "CHECK_OUTPUT_LIMIT",
    "CHECK_STATUSES",
    "COMMENT_LIMIT",
    "COMMIT_STATES",
    "DEPLOYMENT_STATES",
    "ENVIRONMENT_NAME_LIMIT",
    "MAX_ANNOTATIONS_PER_REQUEST",
    "MAX_PULL_FILES",
    "PERMISSIONS",
    "REACTIONS",
    "STATUS_DESCRIPTION_LIMIT",
    "Annotation",
    "AnnotationLevel",
    "CallCounter",
    "CheckRun",
    "Comment",
    "CommitInfo",
    "CommitStatus",
    "Deployment",
    "DeploymentStatus",
    "Forge",
    "ForgeError",
    "ForgeProvider",
    "Permission",
    "PullRequest",
    "Ref",
    "Review",
    "TagObject",
    "WorkflowRun",
    "check_comment_body",
    "check_limit",
    "check_run_fields",
    "check_write_fence",
    "count_calls",
    "deployment_payload",
    "deployment_request",
    "deployment_status_request",
    "normalize_ref",
    "permission_from",
    "record_call",
    "status_description",
    "truncate_output",
    "validate_environment",
    "validate_login",
    "validate_org",
    "validate_path",
    "validate_repo",
    "validate_tag_prefix",
    "validate_team_slug",
    "validate_workflow",
    "write_fence",
]

# --- limits GitHub enforces (checked before a call, identically by every Forge) ----------------------
COMMENT_LIMIT = 65_536  # characters in an issue comment body
CHECK_OUTPUT_LIMIT = 65_535  # characters in a check run's output.summary / output.text
MAX_ANNOTATIONS_PER_REQUEST = 50  # check run annotations per create/update request
STATUS_DESCRIPTION_LIMIT = 140  # characters in a commit status description
MAX_PULL_FILES = 3_000  # GET /pulls/{n}/files lists at most this many files
REACTIONS = frozenset({"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"})
CHECK_STATUSES = frozenset({"queued", "in_progress", "completed"})
CHECK_CONCLUSIONS = frozenset(
    {"action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out"}
)
COMMIT_STATES = frozenset({"error", "failure", "pending", "success"})
DEPLOYMENT_STATES = frozenset({"error", "failure", "inactive", "in_progress", "queued", "pending", "success"})
ENVIRONMENT_NAME_LIMIT = 255  # characters in a deployment environment's name
# Repository roles, strongest first. Custom roles fall back to the base permission they extend.
PERMISSIONS = ("admin", "maintain", "write", "triage", "read", "none")

Permission = Literal["admin", "maintain", "write", "triage", "read", "none"]
AnnotationLevel = Literal["notice", "warning", "failure"]

_REF_PART = re.compile(r"^[A-Za-z0-9._/+@-]+$")
_TEAM_SLUG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$")
_WORKFLOW_FILE = re.compile(r"^[A-Za-z0-9_.-]+\.ya?ml$")


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

    state: str  # one of COMMIT_STATES
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
    state: str  # one of DEPLOYMENT_STATES
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


# --- the interface ---------------------------------------------------------------------------------
@runtime_checkable
class Forge(Protocol):
    """What handlers may do on GitHub. ``repo`` is always ``owner/name``."""

    @property
    def bot_login(self) -> str:
        """Our own identity (e.g. ``modbot[bot]``): whose comments and commits are ours."""
        ...

    # reading
    def get_file(self, repo: str, path: str, ref: str) -> bytes | None:
        """The file's exact bytes at ``ref`` (branch, tag or SHA); None when it does not exist there."""
        ...

    def get_pull(self, repo: str, number: int) -> PullRequest: ...

    def pull_touches(self, repo: str, number: int, path: str) -> bool:
        """Whether the PR adds, changes, removes or renames ``path``. Conservatively True when the PR
        changes more files than GitHub will list (3,000)."""
        ...

    def default_branch(self, repo: str) -> str: ...

    def branch_head(self, repo: str, branch: str) -> str:
        """The commit SHA the branch points at (ForgeError 404 when there is no such branch)."""
        ...

    def get_permission(self, repo: str, username: str) -> Permission:
        """The user's role on the repository: admin, maintain, write, triage, read or none."""
        ...

    # the sticky comment
    def find_comment(self, repo: str, number: int, marker: str) -> Comment | None:
        """The first comment on the issue/PR holding ``marker`` that *we* wrote (others' copies of the
        marker do not count)."""
        ...

    def create_comment(self, repo: str, number: int, body: str) -> Comment: ...

    def update_comment(self, repo: str, comment_id: int, body: str) -> Comment: ...

    def add_reaction(self, repo: str, comment_id: int, content: str) -> None: ...

    # checks (App mode) and commit statuses (token mode)
    def create_check_run(
        self,
        repo: str,
        head_sha: str,
        name: str,
        *,
        status: str = "completed",
        conclusion: str | None = None,
        title: str = "",
        summary: str = "",
        text: str | None = None,
        annotations: Sequence[Annotation] = (),
        details_url: str | None = None,
        external_id: str | None = None,
    ) -> CheckRun: ...

    def update_check_run(
        self,
        repo: str,
        check_run_id: int,
        *,
        status: str | None = None,
        conclusion: str | None = None,
        title: str = "",
        summary: str = "",
        text: str | None = None,
        annotations: Sequence[Annotation] = (),
    ) -> CheckRun: ...

    def find_check_run(self, repo: str, head_sha: str, name: str) -> CheckRun | None:
        """The latest check run named ``name`` on ``head_sha`` that *we* created, if any (how a retry finds
        the run an earlier attempt created before it could record its id)."""
        ...

    def latest_commit_status(self, repo: str, sha: str, context: str) -> CommitStatus | None:
        """The latest status of ``context`` on commit ``sha``, whoever set it (one call: the combined
        status); None when the commit has none of that context."""
        ...

    def set_commit_status(
        self,
        repo: str,
        sha: str,
        state: str,
        *,
        context: str,
        description: str,
        target_url: str | None = None,
    ) -> None:
        """Set the status of ``context`` on ``sha``. Exactly once: when GitHub fails to answer, the
        status is read back before asking again, so an answer lost after the write adds no second status."""
        ...

    # branches, commits and pull requests (admin actions)
    def create_branch(self, repo: str, branch: str, from_sha: str) -> None: ...

    def update_branch_ref(self, repo: str, branch: str, sha: str, *, force: bool = False) -> None: ...

    def commit_file(
        self,
        repo: str,
        branch: str,
        path: str,
        content: bytes,
        *,
        message: str,
        parent_sha: str,
        force: bool = False,
    ) -> str:
        """One commit on top of ``parent_sha`` whose tree is the parent's with ``path`` set to exactly
        ``content``; moves the existing ``branch`` to it (``force`` when that is not a fast-forward, e.g.
        regenerating the bot's branch on a new base). Returns the new commit's SHA."""
        ...

    def find_open_pull_by_branch(self, repo: str, head_branch: str) -> PullRequest | None:
        """The open PR from ``head_branch`` of this same repository, if any."""
        ...

    def create_pull(
        self, repo: str, *, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> PullRequest: ...

    def update_pull(
        self, repo: str, number: int, *, title: str | None = None, body: str | None = None
    ) -> PullRequest: ...

    def branch_commits_authors(self, repo: str, base: str, head: str) -> list[CommitInfo]:
        """Who made each commit on ``head`` that ``base`` does not have (oldest first)."""
        ...

    # refs (tags for deploys)
    def get_ref(self, repo: str, ref: str) -> Ref | None:
        """``ref`` as ``tags/x``, ``heads/x`` or ``refs/...``; None when it does not exist."""
        ...

    def create_ref(self, repo: str, ref: str, sha: str) -> Ref: ...

    def update_ref(self, repo: str, ref: str, sha: str, *, force: bool = False) -> Ref: ...

    def list_tags(self, repo: str, prefix: str) -> list[Ref]:
        """Every tag whose name starts with ``prefix`` (e.g. ``release/``; "" for all tags), as
        ``refs/tags/…`` refs; ``object_type`` is "tag" for annotated tags, "commit" for lightweight ones."""
        ...

    def get_tag_object(self, repo: str, sha: str) -> TagObject:
        """The annotated tag object ``sha`` (a `Ref.sha` whose ``object_type`` is "tag")."""
        ...

    # reviews and teams (who may deploy)
    def list_reviews(self, repo: str, number: int) -> list[Review]:
        """Every review of the pull request, oldest first."""
        ...

    def is_team_member(self, org: str, team_slug: str, username: str) -> bool:
        """True only for an *active* member of the team (a pending invitation is no membership); False
        when GitHub says 404 (no such team, user or membership, or we may not see it: fail closed)."""
        ...

    # deployments
    def create_deployment(
        self,
        repo: str,
        *,
        ref: str,
        environment: str,
        description: str,
        payload: Mapping[str, Any],
        task: str = "deploy",
        production_environment: bool | None = None,
    ) -> Deployment:
        """A GitHub Deployment of ``ref`` (branch, tag or SHA). GitHub never merges branches for it and
        checks no status contexts (modbot applies its own rules first); ``description`` is cut to 140
        characters. GitHub's refusals (409, 422) are `ForgeError` with GitHub's message."""
        ...

    def create_deployment_status(
        self,
        repo: str,
        deployment_id: int,
        state: str,
        *,
        description: str,
        log_url: str | None = None,
        environment_url: str | None = None,
        auto_inactive: bool = True,
    ) -> DeploymentStatus:
        """A new status of the deployment; with ``auto_inactive`` a ``success`` marks earlier successful
        deployments to the same environment inactive."""
        ...

    def list_deployments(
        self,
        repo: str,
        *,
        environment: str | None = None,
        sha: str | None = None,
        ref: str | None = None,
        task: str | None = None,
        limit: int = 100,
    ) -> list[Deployment]:
        """Deployments matching every filter given, newest first, at most ``limit``."""
        ...

    def list_deployment_statuses(
        self, repo: str, deployment_id: int, *, limit: int = 100
    ) -> list[DeploymentStatus]:
        """The deployment's statuses, newest first, at most ``limit``."""
        ...

    # GitHub Actions
    def list_workflow_runs(
        self,
        repo: str,
        *,
        head_sha: str | None = None,
        workflow: str | int | None = None,
        event: str | None = None,
        limit: int = 30,
    ) -> list[WorkflowRun]:
        """Workflow runs, newest first, at most ``limit``: of one workflow (its file name, e.g.
        ``modbot-build.yml``, or its id) or of all, filtered by head commit and triggering event."""
        ...

    def get_workflow_run(self, repo: str, run_id: int) -> WorkflowRun: ...

    def rerun_workflow_run(self, repo: str, run_id: int) -> None:
        """Start a new attempt of a completed run (same run id, ``run_attempt`` + 1)."""
        ...


class ForgeProvider(Protocol):
    """Hands out a `Forge` for the installation a webhook came from (App mode: each installation has its
    own token; token mode: one forge for all)."""

    def for_installation(self, installation_id: int | None) -> Forge: ...


# --- per-task call counting ------------------------------------------------------------------------
@dataclass
class CallCounter:
    """API calls made in one task (``with count_calls() as counter``). ``token_exchanges`` counts the
    App's installation-token requests separately: they happen about once an hour, not per task."""

    calls: int = 0
    token_exchanges: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.calls + self.token_exchanges


_COUNTERS: contextvars.ContextVar[tuple[CallCounter, ...]] = contextvars.ContextVar(
    "modbot_forge_counters", default=()
)


@contextmanager
def count_calls() -> Iterator[CallCounter]:
    """Count the forge calls made in this context (thread / asyncio task); nests."""
    counter = CallCounter()
    token = _COUNTERS.set((*_COUNTERS.get(), counter))
    try:
        yield counter
    finally:
        _COUNTERS.reset(token)


def record_call(operation: str, *, token_exchange: bool = False) -> None:
    """Called by every Forge implementation once per API request it makes."""
    for counter in _COUNTERS.get():
        if token_exchange:
            counter.token_exchanges += 1
        else:
            counter.calls += 1
        counter.by_operation[operation] = counter.by_operation.get(operation, 0) + 1


# --- the write fence: no GitHub write from a job that is no longer its worker's ---------------------------
_WRITE_FENCES: contextvars.ContextVar[tuple[Callable[[str], None], ...]] = contextvars.ContextVar(
    "modbot_forge_write_fences", default=()
)


@contextmanager
def write_fence(check: Callable[[str], None]) -> Iterator[None]:
    """Call ``check(operation)`` before every GitHub write (any request but a GET, each retry included)
    made in this context (thread / asyncio task); it raises to refuse the write. The hook for leases: the
    worker wraps a job's handler in ``write_fence`` with a check that raises once its lease on the job is
    lost, so a worker that lost a job writes nothing more for it. Nests: every fence is checked."""
    token = _WRITE_FENCES.set((*_WRITE_FENCES.get(), check))
    try:
        yield
    finally:
        _WRITE_FENCES.reset(token)


def check_write_fence(operation: str) -> None:
    """Called by every Forge implementation before each write request it sends."""
    for check in _WRITE_FENCES.get():
        check(operation)


# --- argument checks shared by every Forge (so the fake refuses exactly what the real one refuses) ----
def normalize_ref(ref: str) -> str:
    """``refs/tags/x`` / ``tags/x`` → ``tags/x``; only ``heads/`` and ``tags/`` refs are allowed."""
    short = ref.removeprefix("refs/")
    kind, _, name = short.partition("/")
    if (
        kind not in {"heads", "tags"}
        or not name
        or not _REF_PART.fullmatch(name)
        or ".." in name
        or "//" in name
        or name.startswith("/")
        or name.endswith(("/", ".", ".lock"))
        or "@{" in name
    ):
        raise ValueError(f"not a branch or tag ref: {ref!r}")
    return short


def validate_org(org: str) -> str:
    """An organization (or user) login, as a URL path segment."""
    if not is_owner(org):
        raise ValueError(f"not an organization name: {org!r}")
    return org


def validate_login(username: str) -> str:
    """A GitHub account login (``alice``, ``modbot[bot]``), as a URL path segment."""
    if not is_login(username):
        raise ValueError(f"not a GitHub login: {username!r}")
    return username


def validate_team_slug(team_slug: str) -> str:
    """A team's slug (``release-managers``), as a URL path segment: no ``/``, no ``..``."""
    if not isinstance(team_slug, str) or not _TEAM_SLUG.fullmatch(team_slug) or ".." in team_slug:
        raise ValueError(f"not a team slug: {team_slug!r}")
    return team_slug


def validate_workflow(workflow: str | int) -> str:
    """A workflow's id or its file name (``modbot-build.yml``, not a path), as a URL path segment."""
    if isinstance(workflow, int) and not isinstance(workflow, bool):
        if workflow < 1:
            raise ValueError(f"not a workflow id: {workflow!r}")
        return str(workflow)
    if isinstance(workflow, str) and workflow.isascii() and workflow.isdigit() and int(workflow) > 0:
        return str(int(workflow))
    if not isinstance(workflow, str) or not _WORKFLOW_FILE.fullmatch(workflow) or ".." in workflow:
        raise ValueError(
            f"not a workflow id or file name (give the file name, e.g. 'modbot-build.yml'): {workflow!r}"
        )
    return workflow


def validate_tag_prefix(prefix: str) -> str:
    """The start of a tag name (``release/``), "" for every tag."""
    if prefix == "":
        return prefix
    if (
        not isinstance(prefix, str)
        or not _REF_PART.fullmatch(prefix)
        or ".." in prefix
        or "//" in prefix
        or prefix.startswith("/")
        or "@{" in prefix
    ):
        raise ValueError(f"not a tag name prefix: {prefix!r}")
    return prefix


def validate_environment(environment: str) -> str:
    """A deployment environment's name: 1-255 characters, no surrounding or control whitespace."""
    if (
        not isinstance(environment, str)
        or not environment
        or len(environment) > ENVIRONMENT_NAME_LIMIT
        or environment != environment.strip()
        or not environment.isprintable()
    ):
        raise ValueError(
            f"not a deployment environment name (1-{ENVIRONMENT_NAME_LIMIT} printable characters): "
            f"{environment!r}"
        )
    return environment


def check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive number of items, not {limit!r}")
    return limit


def deployment_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload as GitHub will store and return it (a JSON object); ValueError when it is not one."""
    if not isinstance(payload, Mapping):
        raise ValueError(f"a deployment payload is a JSON object, not {type(payload).__name__}")
    try:
        decoded = json.loads(json.dumps(dict(payload), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"a deployment payload must be plain JSON: {exc}") from None
    return cast(dict[str, Any], decoded)


def deployment_request(
    *,
    ref: str,
    environment: str,
    description: str,
    payload: Mapping[str, Any],
    task: str,
    production_environment: bool | None,
) -> dict[str, Any]:
    """The exact ``POST /deployments`` body for `Forge.create_deployment` (ValueError on bad input)."""
    if not ref:
        raise ValueError("a deployment needs a ref (branch, tag or SHA)")
    if not task:
        raise ValueError("a deployment needs a task, e.g. 'deploy'")
    body: dict[str, Any] = {
        "ref": ref,
        "task": task,
        "auto_merge": False,  # never let GitHub merge the default branch into what we deploy
        "required_contexts": [],  # modbot checks its own rules; GitHub must not block on contexts
        "payload": deployment_payload(payload),
        "environment": validate_environment(environment),
        "description": status_description(description),
        "transient_environment": False,
    }
    if production_environment is not None:
        body["production_environment"] = production_environment
    return body


def deployment_status_request(
    state: str, description: str, log_url: str | None, environment_url: str | None, auto_inactive: bool
) -> dict[str, Any]:
    """The exact ``POST /deployments/{id}/statuses`` body (ValueError on bad input)."""
    if state not in DEPLOYMENT_STATES:
        raise ValueError(f"deployment state must be one of {sorted(DEPLOYMENT_STATES)}, not {state!r}")
    body: dict[str, Any] = {
        "state": state,
        "description": status_description(description),
        "auto_inactive": auto_inactive,
    }
    if log_url is not None:
        body["log_url"] = log_url
    if environment_url is not None:
        body["environment_url"] = environment_url
    return body


def check_comment_body(body: str) -> str:
    if len(body) > COMMENT_LIMIT:
        raise ValueError(
            f"comment body has {len(body)} characters; GitHub accepts at most {COMMENT_LIMIT} "
            "(truncate it with a note before posting)"
        )
    return body


def truncate_output(text: str, limit: int = CHECK_OUTPUT_LIMIT) -> str:
    return cut(text, limit, "\n\n… (truncated: GitHub limits check output to 65,535 characters)")


def status_description(description: str) -> str:
    return shorten(description, STATUS_DESCRIPTION_LIMIT)


def check_run_fields(status: str | None, conclusion: str | None) -> None:
    if status is not None and status not in CHECK_STATUSES:
        raise ValueError(f"check run status must be one of {sorted(CHECK_STATUSES)}, not {status!r}")
    if conclusion is not None and conclusion not in CHECK_CONCLUSIONS:
        raise ValueError(
            f"check run conclusion must be one of {sorted(CHECK_CONCLUSIONS)}, not {conclusion!r}"
        )
    if status == "completed" and conclusion is None:
        raise ValueError("a completed check run needs a conclusion")
    if conclusion is not None and status not in (None, "completed"):
        raise ValueError(f"a check run with a conclusion is completed, not {status!r}")


def permission_from(permission: str | None, role_name: str | None) -> Permission:
    """The collaborator-permission answer as one role: ``role_name`` when it is a built-in role (GitHub's
    ``permission`` field folds maintain into write and triage into read), else the base ``permission``
    a custom role extends; anything unknown is ``none`` (fail closed)."""
    for candidate in (role_name, permission):
        if candidate in PERMISSIONS:
            return cast(Permission, candidate)
    return "none"
