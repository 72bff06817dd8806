"""The forge, as capabilities: what modbot asks of the place its repository lives, in small interfaces.

A forge is GitHub (`bot.forge.github`) today; a local git forge (single-host mode) comes next. Each
capability below is one `Protocol`; `Forge` is their composition, what handlers take for now. A forge
says which capabilities it really offers in ``capabilities`` (a frozenset of `Capability`); one it
cannot offer honestly it *declines*: it leaves the capability out of that set, and a forge that has no
such thing at all (a local git forge has no CI runs) raises `CapabilityDeclined` from its methods, a
`ForgeError`, so callers that already handle a failed forge call fail closed. (GitHub with a plain
token declines check runs, but still sends the request and GitHub refuses it, as before.) A caller
that can do without a capability asks first: ``supports(forge, Capability.CHECK_RUNS)``; one that
cannot calls ``require(forge, Capability.X, operation)`` and is refused before any side effect.

Every method is one API call where the forge allows it (no listing when an id is known); listings stop
as soon as they have their answer (or their ``limit``). ``repo`` is always ``owner/name``. Untrusted
arguments are checked by `bot.forge.arguments` before any call, the same way in every forge. Every
call is counted and every write passes the write fence (`bot.forge.calls`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from bot.forge.values import (
    Annotation,
    CheckRun,
    Comment,
    CommitInfo,
    CommitStatus,
    Deployment,
    DeploymentStatus,
    ForgeError,
    Permission,
    PullRequest,
    Ref,
    Review,
    TagObject,
    WorkflowRun,
)

__all__ = [
    "CAPABILITY_PROTOCOLS",
    "CHECK_OUTPUT_LIMIT",
    "COMMENT_LIMIT",
    "STATUS_DESCRIPTION_LIMIT",
    "Capability",
    "CapabilityDeclined",
    "ChangeRequests",
    "CheckRuns",
    "Comments",
    "CommitStatuses",
    "Deployments",
    "FilesAndRefs",
    "Forge",
    "ForgeProvider",
    "Permissions",
    "Reactions",
    "WorkflowRuns",
    "require",
    "supports",
]

# The longest comment body modbot posts (GitHub's maximum, the smallest of any forge's): the sticky
# comment and chat-ops replies are cut to it, and every forge must accept a comment of this length.
COMMENT_LIMIT = 65_536
# Likewise the longest check run report (summary, text) and commit status description modbot writes.
CHECK_OUTPUT_LIMIT = 65_535
STATUS_DESCRIPTION_LIMIT = 140


class Capability(StrEnum):
    """One capability a forge offers or declines (the protocol of the same name below)."""

    FILES_AND_REFS = "files_and_refs"
    CHANGE_REQUESTS = "change_requests"
    COMMENTS = "comments"
    REACTIONS = "reactions"
    CHECK_RUNS = "check_runs"
    COMMIT_STATUSES = "commit_statuses"
    DEPLOYMENTS = "deployments"
    WORKFLOW_RUNS = "workflow_runs"
    PERMISSIONS = "permissions"


class CapabilityDeclined(ForgeError):
    """The forge does not offer this capability (e.g. a local git forge has no CI runs to list)."""

    def __init__(self, capability: Capability, operation: str, forge: str) -> None:
        super().__init__(operation, None, f"{forge} does not offer {capability.value}")
        self.capability = capability
        # ForgeError's text says "GitHub … failed": this one is no GitHub failure, and says so.
        Exception.__init__(self, f"{operation}: the {forge} forge does not offer {capability.value}")


@runtime_checkable
class FilesAndRefs(Protocol):
    """Files at a ref, branches, commits and tags: what a manifest review reads and a proposal or a release
    writes."""

    def get_file(self, repo: str, path: str, ref: str) -> bytes | None:
        """The file's exact bytes at ``ref`` (branch, tag or SHA); None when it does not exist there."""
        ...

    def default_branch(self, repo: str) -> str: ...

    def branch_head(self, repo: str, branch: str) -> str:
        """The commit SHA the branch points at (ForgeError 404 when there is no such branch)."""
        ...

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

    def branch_commits_authors(self, repo: str, base: str, head: str) -> list[CommitInfo]:
        """Who made each commit on ``head`` that ``base`` does not have (oldest first)."""
        ...

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


@runtime_checkable
class ChangeRequests(Protocol):
    """Change requests (GitHub's pull requests) and their reviews."""

    def get_pull(self, repo: str, number: int) -> PullRequest: ...

    def pull_touches(self, repo: str, number: int, path: str) -> bool:
        """Whether the PR adds, changes, removes or renames ``path``. Conservatively True when the PR
        changes more files than GitHub will list (3,000)."""
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

    def list_reviews(self, repo: str, number: int) -> list[Review]:
        """Every review of the pull request, oldest first."""
        ...


@runtime_checkable
class Comments(Protocol):
    """Comments on a change request or an issue: the sticky comment and chat-ops replies."""

    def find_comment(self, repo: str, number: int, marker: str) -> Comment | None:
        """The first comment on the issue/PR holding ``marker`` that *we* wrote (others' copies of the
        marker do not count)."""
        ...

    def create_comment(self, repo: str, number: int, body: str) -> Comment: ...

    def update_comment(self, repo: str, comment_id: int, body: str) -> Comment: ...


@runtime_checkable
class Reactions(Protocol):
    """A reaction on a comment (how a chat-ops command is acknowledged)."""

    def add_reaction(self, repo: str, comment_id: int, content: str) -> None: ...


@runtime_checkable
class CheckRuns(Protocol):
    """A named verdict on a commit with a report and annotations (GitHub: check runs, App mode only)."""

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


@runtime_checkable
class CommitStatuses(Protocol):
    """A named one-line verdict on a commit (GitHub: commit statuses, any token)."""

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


@runtime_checkable
class Deployments(Protocol):
    """Deployment requests and their statuses: what the deploy workflow reports progress on."""

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


@runtime_checkable
class WorkflowRuns(Protocol):
    """CI runs (GitHub Actions workflow runs): the build of a release, its re-run."""

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


@runtime_checkable
class Permissions(Protocol):
    """Who may do what: a user's role on the repository, team membership."""

    def get_permission(self, repo: str, username: str) -> Permission:
        """The user's role on the repository: admin, maintain, write, triage, read or none."""
        ...

    def is_team_member(self, org: str, team_slug: str, username: str) -> bool:
        """True only for an *active* member of the team (a pending invitation is no membership); False
        when GitHub says 404 (no such team, user or membership, or we may not see it: fail closed)."""
        ...


@runtime_checkable
class Forge(
    FilesAndRefs,
    ChangeRequests,
    Comments,
    Reactions,
    CheckRuns,
    CommitStatuses,
    Deployments,
    WorkflowRuns,
    Permissions,
    Protocol,
):
    """Every capability, as handlers take it for now; ``capabilities`` says which ones are real."""

    @property
    def bot_login(self) -> str:
        """Our own identity (e.g. ``modbot[bot]``): whose comments and commits are ours."""
        ...

    @property
    def capabilities(self) -> frozenset[Capability]:
        """The capabilities this forge offers (see the module docstring for the others)."""
        ...


# Each capability's protocol: what a forge that offers the capability implements.
CAPABILITY_PROTOCOLS: Mapping[Capability, type] = {
    Capability.FILES_AND_REFS: FilesAndRefs,
    Capability.CHANGE_REQUESTS: ChangeRequests,
    Capability.COMMENTS: Comments,
    Capability.REACTIONS: Reactions,
    Capability.CHECK_RUNS: CheckRuns,
    Capability.COMMIT_STATUSES: CommitStatuses,
    Capability.DEPLOYMENTS: Deployments,
    Capability.WORKFLOW_RUNS: WorkflowRuns,
    Capability.PERMISSIONS: Permissions,
}


def supports(forge: Forge, capability: Capability) -> bool:
    """Whether ``forge`` offers ``capability`` (what a caller that can do without it asks first)."""
    return capability in forge.capabilities


def require(forge: Forge, capability: Capability, operation: str) -> None:
    """Refuse ``operation`` before any side effect when ``forge`` declines ``capability``."""
    if not supports(forge, capability):
        raise CapabilityDeclined(capability, operation, type(forge).__name__)


class ForgeProvider(Protocol):
    """Hands out a `Forge` for the installation a webhook came from (App mode: each installation has its
    own token; token mode: one forge for all)."""

    def for_installation(self, installation_id: int | None) -> Forge: ...
