"""`FakeForge`: an in-memory GitHub behind the `bot.forge.Forge` interface, for handler tests.

It keeps a small git model per repository (commits as whole file snapshots, branch and tag refs,
annotated tag objects), pull requests and their reviews, issue comments, check runs, commit statuses,
reactions, collaborator roles and team memberships, deployments and their statuses, and workflow runs,
and records every call. It refuses what GitHub refuses (unknown PR → 404, existing ref → 422,
non-fast-forward without force → 422, a second open PR for the same branch → 422, a deployment of an
unknown ref → 422, re-running a run that is still running → 403 …) and counts API calls the way
`GitHubForge` makes them (a listing costs one call per page up to the answer or its ``limit``;
``commit_file`` costs 5; a check run costs one call per 50 annotations), so call budgets measured against
the fake hold against GitHub.
tests/contract/test_forge_contract.py runs the same checks against this fake and against `GitHubForge` behind
GitHub's published API description: when one changes, the other must follow.

Seed it with ``add_repo``, ``commit`` / ``put_file``, ``add_pull`` / ``merge_pull``, ``add_comment``,
``add_review``, ``set_permission``, ``set_team_member``, ``add_annotated_tag`` (lightweight tags with
``create_ref``), ``add_workflow_run`` / ``update_workflow_run``; make a call fail with
``fail_next(operation, ForgeError(...))``. Times come from ``clock`` (default: now, UTC).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from bot.forge import (
    PERMISSIONS,
    Annotation,
    Capability,
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
    check_limit,
    check_write_fence,
    normalize_ref,
    record_call,
    validate_login,
    validate_org,
    validate_path,
    validate_repo,
    validate_tag_prefix,
    validate_team_slug,
    validate_workflow,
)
from bot.forge.github.client import unanswered
from bot.forge.github.conversions import (
    deployment_request,
    deployment_status_request,
    permission_from,
)
from bot.forge.github.limits import (
    COMMIT_STATES,
    MAX_ANNOTATIONS_PER_REQUEST,
    MAX_PULL_FILES,
    REACTIONS,
    check_comment_body,
    check_run_fields,
    status_description,
    truncate_output,
    validate_environment,
)

PAGE = 100
LARGE_FILE = 1024 * 1024  # the contents API leaves larger files to the blob API: a second call


def fake_sha(*parts: object) -> str:
    return hashlib.sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()


@dataclass
class FakeCommit:
    sha: str
    parents: tuple[str, ...]
    files: dict[str, bytes]
    message: str = ""
    author_login: str | None = "alice"
    committer_login: str | None = "alice"
    author_email: str = "alice@example.com"
    committer_email: str = "alice@example.com"


@dataclass
class FakeCheckRun:
    id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    title: str = ""
    summary: str = ""
    text: str | None = None
    annotations: list[Annotation] = field(default_factory=list)
    details_url: str | None = None
    external_id: str | None = None

    def as_check_run(self, repo: str) -> CheckRun:
        return CheckRun(
            id=self.id,
            name=self.name,
            head_sha=self.head_sha,
            status=self.status,
            conclusion=self.conclusion,
            html_url=f"https://github.com/{repo}/runs/{self.id}",
            annotations_count=len(self.annotations),
        )


@dataclass(frozen=True)
class FakeStatus:
    sha: str
    state: str
    context: str
    description: str
    target_url: str | None


@dataclass
class FakeDeployment:
    deployment: Deployment
    statuses: list[DeploymentStatus] = field(default_factory=list)  # oldest first


@dataclass
class FakeRepo:
    full_name: str
    default_branch: str = "main"
    commits: dict[str, FakeCommit] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # "heads/main" / "tags/v1" -> sha
    pulls: dict[int, PullRequest] = field(default_factory=dict)
    pull_files: dict[int, list[str]] = field(default_factory=dict)  # explicit changed-file lists
    comments: dict[int, list[Comment]] = field(default_factory=dict)  # issue number -> comments
    reactions: dict[int, list[str]] = field(default_factory=dict)  # comment id -> contents
    check_runs: dict[int, FakeCheckRun] = field(default_factory=dict)
    statuses: list[FakeStatus] = field(default_factory=list)
    permissions: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # permission, role
    tag_objects: dict[str, TagObject] = field(default_factory=dict)  # annotated tags by their own SHA
    reviews: dict[int, list[Review]] = field(default_factory=dict)  # PR number -> reviews, oldest first
    deployments: list[FakeDeployment] = field(default_factory=list)  # oldest first
    workflows: dict[int, str] = field(default_factory=dict)  # workflow id -> file path
    workflow_runs: dict[int, WorkflowRun] = field(default_factory=dict)


@dataclass(frozen=True)
class FakeCall:
    operation: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]


_WRITES = frozenset(
    {
        "add_reaction",
        "commit_file",
        "create_branch",
        "create_check_run",
        "create_comment",
        "create_deployment",
        "create_deployment_status",
        "create_pull",
        "create_ref",
        "rerun_workflow_run",
        "set_commit_status",
        "update_branch_ref",
        "update_check_run",
        "update_comment",
        "update_pull",
        "update_ref",
    }
)  # what GitHubForge sends with a verb other than GET: checked against the write fence


class FakeForge:
    """An in-memory `Forge` (see the module docstring)."""

    def __init__(
        self, *, bot_login: str = "modbot[bot]", clock: Callable[[], datetime] | None = None
    ) -> None:
        self._bot_login = bot_login
        self._clock = clock or (lambda: datetime.now(UTC))
        self.repos: dict[str, FakeRepo] = {}
        self.team_members: dict[tuple[str, str, str], str] = {}  # (org, team, login), lower -> state
        self.calls: list[FakeCall] = []
        self.api_calls = 0  # what GitHubForge would have sent
        self._failures: dict[str, list[ForgeError]] = {}
        self._lost_answers: dict[str, list[ForgeError]] = {}
        self._ids = itertools.count(1000)

    @property
    def bot_login(self) -> str:
        return self._bot_login

    @property
    def capabilities(self) -> frozenset[Capability]:
        """Every capability, as `GitHubForge` in App mode (the fake also accepts check runs in token mode)."""
        return frozenset(Capability)

    # --- seeding --------------------------------------------------------------------------------------
    def add_repo(
        self, repo: str, *, default_branch: str = "main", files: Mapping[str, bytes] | None = None
    ) -> FakeRepo:
        validate_repo(repo)
        state = self.repos[repo.lower()] = FakeRepo(full_name=repo, default_branch=default_branch)
        root = FakeCommit(sha=fake_sha(repo, "root"), parents=(), files=dict(files or {}), message="initial")
        state.commits[root.sha] = root
        state.refs[f"heads/{default_branch}"] = root.sha
        return state

    def commit(
        self,
        repo: str,
        branch: str,
        files: Mapping[str, bytes | None],
        *,
        message: str = "change",
        author: str | None = "alice",
        committer: str | None = None,
        parent: str | None = None,
    ) -> str:
        """A commit on ``branch`` (created from ``parent`` or the default branch) setting (bytes) or
        deleting (None) files; returns its SHA."""
        state = self._state(repo)
        base_sha = parent or state.refs.get(f"heads/{branch}") or state.refs[f"heads/{state.default_branch}"]
        snapshot = dict(state.commits[base_sha].files)
        for path, content in files.items():
            if content is None:
                snapshot.pop(path, None)
            else:
                snapshot[path] = content
        committer = committer if committer is not None else author
        sha = fake_sha(repo, base_sha, sorted(snapshot.items()), message, author, next(self._ids))
        state.commits[sha] = FakeCommit(
            sha=sha,
            parents=(base_sha,),
            files=snapshot,
            message=message,
            author_login=author,
            committer_login=committer,
            author_email=f"{author}@example.com",
            committer_email=f"{committer}@example.com",
        )
        state.refs[f"heads/{branch}"] = sha
        return sha

    def set_default_branch(self, repo: str, branch: str) -> None:
        """Make ``branch`` the default one (created at the current default branch's head if missing)."""
        st = self._state(repo)
        st.refs.setdefault(f"heads/{branch}", st.refs[f"heads/{st.default_branch}"])
        st.default_branch = branch

    def put_file(self, repo: str, ref: str, path: str, content: bytes) -> str:
        return self.commit(repo, ref, {path: content}, message=f"put {path}")

    def add_pull(
        self,
        repo: str,
        head_ref: str,
        *,
        number: int | None = None,
        base_ref: str | None = None,
        author: str = "alice",
        head_repo: str | None = "",
        files: Sequence[str] | None = None,
        draft: bool = False,
        state: str = "open",
        merged: bool = False,
        title: str = "Change modules",
        body: str = "",
        merge_commit_sha: str | None = None,
    ) -> PullRequest:
        """A PR from ``head_ref`` (a branch of ``repo``, or of ``head_repo`` for a fork: None = deleted
        fork). Its changed files are the diff of the two branches unless ``files`` says otherwise.
        ``merge_pull`` merges it the way GitHub does."""
        st = self._state(repo)
        base_ref = base_ref or st.default_branch
        number = number or max([0, *st.pulls, *st.comments]) + 1
        pull = PullRequest(
            repo=st.full_name,
            number=number,
            state=state,
            merged=merged,
            draft=draft,
            title=title,
            body=body,
            author=author,
            html_url=f"https://github.com/{st.full_name}/pull/{number}",
            head_sha=st.refs[f"heads/{head_ref}"],
            head_ref=head_ref,
            head_repo=st.full_name if head_repo == "" else head_repo,
            base_sha=st.refs[f"heads/{base_ref}"],
            base_ref=base_ref,
            merge_commit_sha=merge_commit_sha,
        )
        st.pulls[number] = pull
        st.comments.setdefault(number, [])
        if files is not None:
            st.pull_files[number] = list(files)
        return pull

    def merge_pull(self, repo: str, number: int, *, merged_by: str | None = "alice") -> PullRequest:
        """Squash-merge the open PR: one commit on the base branch with the PR's changes (the base's later
        changes kept), the PR closed and merged with that commit as ``merge_commit_sha``."""
        st = self._state(repo)
        pull = st.pulls[number]
        if pull.state != "open":
            raise ValueError(f"pull request #{number} is not open")
        head, fork_point = st.commits[pull.head_sha].files, st.commits[pull.base_sha].files
        changes: dict[str, bytes | None] = {
            path: head.get(path)
            for path in head.keys() | fork_point.keys()
            if head.get(path) != fork_point.get(path)
        }
        sha = self.commit(
            repo,
            pull.base_ref,
            changes,
            message=f"{pull.title} (#{number})",
            author=pull.author,
            committer=merged_by,
        )
        merged = replace(pull, state="closed", merged=True, merge_commit_sha=sha)
        st.pulls[number] = merged
        return merged

    def add_review(
        self,
        repo: str,
        number: int,
        author: str | None,
        state: str = "APPROVED",
        *,
        commit_id: str | None = None,
        submitted_at: datetime | None = None,
    ) -> Review:
        """A review of the PR (on its current head unless ``commit_id`` says otherwise; submitted now
        unless PENDING)."""
        st = self._state(repo)
        pull = st.pulls[number]
        if submitted_at is None and state != "PENDING":
            submitted_at = self._clock()
        review = Review(
            id=next(self._ids),
            author=author,
            state=state,
            commit_id=commit_id or pull.head_sha,
            submitted_at=submitted_at,
        )
        st.reviews.setdefault(number, []).append(review)
        return review

    def set_team_member(self, org: str, team_slug: str, username: str, state: str | None = "active") -> None:
        """``username``'s membership of ``org``'s team: "active", "pending" (invited), or None (none)."""
        key = _team_key(org, team_slug, username)
        if state is None:
            self.team_members.pop(key, None)
        else:
            self.team_members[key] = state

    def add_annotated_tag(self, repo: str, name: str, commit_sha: str, message: str) -> TagObject:
        """An annotated tag ``name`` (e.g. ``release/rel_2026_01_02_001``) on the commit, as ``git tag -a``
        and ``git push`` make it: a tag object with the message and the ref ``refs/tags/<name>`` to it."""
        st = self._state(repo)
        short = normalize_ref(f"tags/{name}")
        if short in st.refs:
            raise ValueError(f"tag {name!r} already exists")
        if commit_sha not in st.commits:
            raise ValueError(f"no commit {commit_sha}")
        tag = TagObject(
            sha=fake_sha(repo, "tag", name, commit_sha, message),
            tag=name,
            message=message,
            object_sha=commit_sha,
            object_type="commit",
        )
        st.tag_objects[tag.sha] = tag
        st.refs[short] = tag.sha
        return tag

    def add_workflow_run(
        self,
        repo: str,
        *,
        head_sha: str,
        path: str = ".github/workflows/modbot-build.yml",
        name: str | None = None,
        head_branch: str | None = "main",
        event: str = "push",
        status: str | None = "completed",
        conclusion: str | None = "success",
        run_attempt: int = 1,
        created_at: datetime | None = None,
    ) -> WorkflowRun:
        """A run of the workflow in ``path`` (the workflow gets an id the first time it is seen)."""
        st = self._state(repo)
        workflow_id = next((i for i, p in st.workflows.items() if p == path), None)
        if workflow_id is None:
            workflow_id = next(self._ids)
            st.workflows[workflow_id] = path
        run_id = next(self._ids)
        run = WorkflowRun(
            id=run_id,
            name=name if name is not None else posixpath.basename(path),
            path=path,
            head_sha=head_sha,
            head_branch=head_branch,
            event=event,
            status=status,
            conclusion=conclusion,
            html_url=f"https://github.com/{st.full_name}/actions/runs/{run_id}",
            run_attempt=run_attempt,
            created_at=created_at or self._clock(),
        )
        st.workflow_runs[run_id] = run
        return run

    def update_workflow_run(
        self, repo: str, run_id: int, *, status: str | None, conclusion: str | None = None
    ) -> WorkflowRun:
        """Move a run on (e.g. to ``completed``/``failure``), as GitHub Actions would."""
        st = self._state(repo)
        run = st.workflow_runs[run_id] = replace(
            st.workflow_runs[run_id], status=status, conclusion=conclusion
        )
        return run

    def add_comment(
        self, repo: str, number: int, body: str, *, author: str = "alice", author_type: str = "User"
    ) -> Comment:
        st = self._state(repo)
        comment_id = next(self._ids)
        comment = Comment(
            id=comment_id,
            body=body,
            author=author,
            author_type=author_type,
            html_url=f"https://github.com/{st.full_name}/issues/{number}#issuecomment-{comment_id}",
        )
        st.comments.setdefault(number, []).append(comment)
        return comment

    def set_permission(
        self, repo: str, username: str, permission: str | None, role_name: str | None = None
    ) -> None:
        """``permission`` as GitHub's legacy field (admin/write/read/none), ``role_name`` the real role."""
        self._state(repo).permissions[username.lower()] = (permission, role_name or permission)

    def fail_next(self, operation: str, error: ForgeError) -> None:
        self._failures.setdefault(operation, []).append(error)

    def fail_after_next(self, operation: str, error: ForgeError) -> None:
        """The next ``operation`` (create_comment, create_check_run, set_commit_status) is *done*, then
        answered with ``error``: GitHub's answer lost after the write (a 502, a timeout). As with
        `GitHubForge`, set_commit_status does not raise a lost answer (5xx, none): it reads the status back."""
        self._lost_answers.setdefault(operation, []).append(error)

    def _answer_lost(self, operation: str) -> None:
        lost = self._lost_answers.get(operation)
        if lost:
            raise lost.pop(0)

    # --- inspection -----------------------------------------------------------------------------------
    def comments(self, repo: str, number: int) -> list[Comment]:
        return list(self._state(repo).comments.get(number, []))

    def check_runs(self, repo: str) -> list[FakeCheckRun]:
        return list(self._state(repo).check_runs.values())

    def statuses(self, repo: str, sha: str | None = None) -> list[FakeStatus]:
        return [s for s in self._state(repo).statuses if sha is None or s.sha == sha]

    def reactions(self, repo: str, comment_id: int) -> list[str]:
        return list(self._state(repo).reactions.get(comment_id, []))

    def file_at(self, repo: str, ref: str, path: str) -> bytes | None:
        commit = self._resolve(self._state(repo), ref)
        return commit.files.get(path) if commit else None

    def operations(self) -> list[str]:
        return [c.operation for c in self.calls]

    def deployments(self, repo: str) -> list[FakeDeployment]:
        """Every deployment with its statuses, oldest first."""
        return list(self._state(repo).deployments)

    # --- plumbing -------------------------------------------------------------------------------------
    def _state(self, repo: str) -> FakeRepo:
        validate_repo(repo)
        try:
            return self.repos[repo.lower()]
        except KeyError:
            raise ForgeError("repository", 404, f"Not Found ({repo})") from None

    def _call(self, operation: str, cost: int, *args: Any, **kwargs: Any) -> None:
        if operation in _WRITES:
            check_write_fence(operation)
        self.calls.append(FakeCall(operation, args, kwargs))
        queued = self._failures.get(operation)
        if queued:
            self.api_calls += 1
            record_call(operation)
            raise queued.pop(0)
        self.api_calls += cost
        for _ in range(cost):
            record_call(operation)

    def _resolve(self, st: FakeRepo, ref: str) -> FakeCommit | None:
        """Like ``git rev-parse``: a commit SHA, ``main``, ``heads/main``, ``refs/tags/v1`` …"""
        if ref in st.commits:
            return st.commits[ref]
        short = ref.removeprefix("refs/")
        for candidate in (f"heads/{short}", f"tags/{short}", short):
            sha = st.refs.get(candidate)
            if sha is not None:
                return st.commits.get(self._peel(st, sha))
        return None

    @staticmethod
    def _peel(st: FakeRepo, sha: str) -> str:
        """An annotated tag's SHA -> the commit it points at; anything else unchanged."""
        while sha in st.tag_objects:
            sha = st.tag_objects[sha].object_sha
        return sha

    @staticmethod
    def _as_ref(st: FakeRepo, short: str, sha: str) -> Ref:
        return Ref(ref=f"refs/{short}", sha=sha, object_type="tag" if sha in st.tag_objects else "commit")

    @staticmethod
    def _listing_cost(total: int, limit: int) -> int:
        """Calls a listing with ``limit`` costs: pages of ``min(limit, 100)`` up to the answer (at least 1)."""
        per_page = min(limit, PAGE)
        return max(1, math.ceil(min(total, limit) / per_page))

    def _changed_files(self, st: FakeRepo, pull: PullRequest) -> list[str]:
        if pull.number in st.pull_files:
            return st.pull_files[pull.number]
        head, base = st.commits[pull.head_sha].files, st.commits[pull.base_sha].files
        return sorted(p for p in head.keys() | base.keys() if head.get(p) != base.get(p))

    @staticmethod
    def _pages_until(index: int | None, total: int) -> int:
        """Calls a paginated listing costs: up to the page holding ``index``, else every page (at least 1)."""
        if index is not None:
            return index // PAGE + 1
        return max(1, math.ceil(total / PAGE))

    def _is_ancestor(self, st: FakeRepo, ancestor: str, sha: str) -> bool:
        todo, seen = [sha], set()
        while todo:
            current = todo.pop()
            if current == ancestor:
                return True
            if current in seen or current not in st.commits:
                continue
            seen.add(current)
            todo.extend(st.commits[current].parents)
        return False

    # --- reading --------------------------------------------------------------------------------------
    def get_file(self, repo: str, path: str, ref: str) -> bytes | None:
        validate_path(path)
        st = self._state(repo)
        commit = self._resolve(st, ref)
        content = commit.files.get(path) if commit else None
        self._call("get_file", 2 if content is not None and len(content) > LARGE_FILE else 1, repo, path, ref)
        return content

    def get_pull(self, repo: str, number: int) -> PullRequest:
        st = self._state(repo)
        self._call("get_pull", 1, repo, number)
        try:
            return st.pulls[number]
        except KeyError:
            raise ForgeError("get_pull", 404, "Not Found") from None

    def pull_touches(self, repo: str, number: int, path: str) -> bool:
        validate_path(path)
        st = self._state(repo)
        pull = st.pulls.get(number)
        if pull is None:
            self._call("pull_touches", 1, repo, number, path)
            raise ForgeError("pull_touches", 404, "Not Found")
        listed = self._changed_files(st, pull)[:MAX_PULL_FILES]
        index = listed.index(path) if path in listed else None
        self._call("pull_touches", self._pages_until(index, len(listed)), repo, number, path)
        return index is not None or len(listed) >= MAX_PULL_FILES

    def default_branch(self, repo: str) -> str:
        st = self._state(repo)
        self._call("default_branch", 1, repo)
        return st.default_branch

    def branch_head(self, repo: str, branch: str) -> str:
        st = self._state(repo)
        ref = normalize_ref(f"heads/{branch}")
        self._call("branch_head", 1, repo, branch)
        try:
            return st.refs[ref]
        except KeyError:
            raise ForgeError("branch_head", 404, "Not Found") from None

    def get_permission(self, repo: str, username: str) -> Permission:
        st = self._state(repo)
        self._call("get_permission", 1, repo, username)
        entry = st.permissions.get(username.lower())
        if entry is None:
            return "none"
        return permission_from(*entry)

    # --- comments -------------------------------------------------------------------------------------
    def find_comment(self, repo: str, number: int, marker: str) -> Comment | None:
        if not marker:
            raise ValueError("an empty marker would match every comment")
        st = self._state(repo)
        comments = st.comments.get(number, [])
        me = self._bot_login.lower()
        index = next((i for i, c in enumerate(comments) if c.author.lower() == me and marker in c.body), None)
        self._call("find_comment", self._pages_until(index, len(comments)), repo, number, marker)
        return comments[index] if index is not None else None

    def create_comment(self, repo: str, number: int, body: str) -> Comment:
        check_comment_body(body)
        st = self._state(repo)
        self._call("create_comment", 1, repo, number, body)
        if number not in st.comments and number not in st.pulls:
            raise ForgeError("create_comment", 404, "Not Found")
        comment = self.add_comment(repo, number, body, author=self._bot_login, author_type="Bot")
        self._answer_lost("create_comment")
        return comment

    def update_comment(self, repo: str, comment_id: int, body: str) -> Comment:
        check_comment_body(body)
        st = self._state(repo)
        self._call("update_comment", 1, repo, comment_id, body)
        for comments in st.comments.values():
            for i, comment in enumerate(comments):
                if comment.id == comment_id:
                    comments[i] = replace(comment, body=body)
                    return comments[i]
        raise ForgeError("update_comment", 404, "Not Found")

    def add_reaction(self, repo: str, comment_id: int, content: str) -> None:
        if content not in REACTIONS:
            raise ValueError(f"reaction must be one of {sorted(REACTIONS)}, not {content!r}")
        st = self._state(repo)
        self._call("add_reaction", 1, repo, comment_id, content)
        if not any(c.id == comment_id for cs in st.comments.values() for c in cs):
            raise ForgeError("add_reaction", 404, "Not Found")
        mine = st.reactions.setdefault(comment_id, [])
        if content not in mine:  # GitHub answers 200 with the existing reaction
            mine.append(content)

    # --- checks and statuses --------------------------------------------------------------------------
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
    ) -> CheckRun:
        check_run_fields(status, conclusion)
        _check_output(title, summary, text, annotations)
        st = self._state(repo)
        self._call("create_check_run", 1, repo, head_sha, name)
        extra = _annotation_batches(annotations) - 1
        if extra:
            self._call("update_check_run", extra, repo, name)
        run = FakeCheckRun(
            id=next(self._ids),
            name=name,
            head_sha=head_sha,
            status=status,
            conclusion=conclusion,
            title=title[:255],
            summary=truncate_output(summary),
            text=truncate_output(text) if text else None,
            annotations=list(annotations),
            details_url=details_url,
            external_id=external_id,
        )
        st.check_runs[run.id] = run
        self._answer_lost("create_check_run")
        return run.as_check_run(st.full_name)

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
    ) -> CheckRun:
        check_run_fields(status, conclusion)
        _check_output(title, summary, text, annotations)
        st = self._state(repo)
        self._call("update_check_run", _annotation_batches(annotations), repo, check_run_id)
        run = st.check_runs.get(check_run_id)
        if run is None:
            raise ForgeError("update_check_run", 404, "Not Found")
        if conclusion is not None:
            run.status, run.conclusion = "completed", conclusion
        elif status is not None:
            run.status = status
        if title or summary:
            run.title, run.summary = title[:255], truncate_output(summary)
        if text:
            run.text = truncate_output(text)
        run.annotations.extend(annotations)
        return run.as_check_run(st.full_name)

    def find_check_run(self, repo: str, head_sha: str, name: str) -> CheckRun | None:
        st = self._state(repo)
        self._call("find_check_run", 1, repo, head_sha, name)
        runs = [run for run in st.check_runs.values() if run.head_sha == head_sha and run.name == name]
        return max(runs, key=lambda run: run.id).as_check_run(st.full_name) if runs else None

    def latest_commit_status(self, repo: str, sha: str, context: str) -> CommitStatus | None:
        st = self._state(repo)
        self._call("latest_commit_status", 1, repo, sha, context)
        if self._resolve(st, sha) is None:
            raise ForgeError("latest_commit_status", 404, "Not Found")
        for status in reversed(st.statuses):
            if status.sha == sha and status.context == context:
                return CommitStatus(status.state, context, status.description, status.target_url)
        return None

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
        if state not in COMMIT_STATES:
            raise ValueError(f"commit status state must be one of {sorted(COMMIT_STATES)}, not {state!r}")
        st = self._state(repo)
        self._call("set_commit_status", 1, repo, sha, state, context)
        if sha not in st.commits:
            raise ForgeError("set_commit_status", 422, f"No commit found for SHA: {sha}")
        st.statuses.append(FakeStatus(sha, state, context, status_description(description), target_url))
        try:
            self._answer_lost("set_commit_status")
        except ForgeError as lost:
            if not unanswered(lost):
                raise
            # as GitHubForge: a status whose answer is lost is read back (one call), found set, not sent again
            self._call("latest_commit_status", 1, repo, sha, context)

    # --- branches, commits, pull requests -------------------------------------------------------------
    def create_branch(self, repo: str, branch: str, from_sha: str) -> None:
        self._create_ref("create_branch", repo, f"heads/{branch}", from_sha)

    def update_branch_ref(self, repo: str, branch: str, sha: str, *, force: bool = False) -> None:
        self._update_ref("update_branch_ref", repo, f"heads/{branch}", sha, force, cost=1)

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
        validate_path(path)
        st = self._state(repo)
        normalize_ref(f"heads/{branch}")
        parent = st.commits.get(parent_sha)
        if parent is None:
            self._call("commit_file", 1, repo, branch, path)
            raise ForgeError("commit_file", 404, "Not Found")
        self._call("commit_file", 4, repo, branch, path)  # GET commit, POST blob, tree, commit
        files = {**parent.files, path: bytes(content)}
        sha = fake_sha(repo, parent_sha, sorted(files.items()), message, next(self._ids))
        bot = self._bot_login
        st.commits[sha] = FakeCommit(
            sha=sha,
            parents=(parent_sha,),
            files=files,
            message=message,
            author_login=bot,
            committer_login=bot,
            author_email=f"{bot}@users.noreply.github.com",
            committer_email=f"{bot}@users.noreply.github.com",
        )
        self._update_ref("commit_file", repo, f"heads/{branch}", sha, force, cost=1)
        return sha

    def find_open_pull_by_branch(self, repo: str, head_branch: str) -> PullRequest | None:
        st = self._state(repo)
        normalize_ref(f"heads/{head_branch}")
        self._call("find_open_pull_by_branch", 1, repo, head_branch)
        for pull in st.pulls.values():
            if pull.state == "open" and pull.head_ref == head_branch and not pull.from_fork:
                return self._refreshed(st, pull)
        return None

    def _refreshed(self, st: FakeRepo, pull: PullRequest) -> PullRequest:
        """GitHub's view of an open PR follows its branches."""
        head = st.refs.get(f"heads/{pull.head_ref}", pull.head_sha)
        base = st.refs.get(f"heads/{pull.base_ref}", pull.base_sha)
        fresh = replace(pull, head_sha=head, base_sha=base)
        st.pulls[pull.number] = fresh
        return fresh

    def create_pull(
        self, repo: str, *, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> PullRequest:
        check_comment_body(body)
        st = self._state(repo)
        self._call("create_pull", 1, repo, head, base)
        head_sha, base_sha = st.refs.get(f"heads/{head}"), st.refs.get(f"heads/{base}")
        if head_sha is None or base_sha is None:
            raise ForgeError(
                "create_pull", 422, "Validation Failed (Pull request: head or base does not exist)"
            )
        if any(p.state == "open" and p.head_ref == head and p.base_ref == base for p in st.pulls.values()):
            owner = st.full_name.split("/")[0]
            raise ForgeError(
                "create_pull", 422, f"Validation Failed (A pull request already exists for {owner}:{head}.)"
            )
        if head_sha == base_sha or self._is_ancestor(st, head_sha, base_sha):
            raise ForgeError("create_pull", 422, f"Validation Failed (No commits between {base} and {head})")
        return self.add_pull(
            repo, head, base_ref=base, author=self._bot_login, draft=draft, title=title, body=body
        )

    def update_pull(
        self, repo: str, number: int, *, title: str | None = None, body: str | None = None
    ) -> PullRequest:
        if body is not None:
            check_comment_body(body)
        st = self._state(repo)
        self._call("update_pull", 1, repo, number)
        pull = st.pulls.get(number)
        if pull is None:
            raise ForgeError("update_pull", 404, "Not Found")
        pull = replace(
            pull, title=pull.title if title is None else title, body=pull.body if body is None else body
        )
        st.pulls[number] = pull
        return self._refreshed(st, pull)

    def branch_commits_authors(self, repo: str, base: str, head: str) -> list[CommitInfo]:
        st = self._state(repo)
        base_commit, head_commit = self._resolve(st, base), self._resolve(st, head)
        if base_commit is None or head_commit is None:
            self._call("branch_commits_authors", 1, repo, base, head)
            raise ForgeError("branch_commits_authors", 404, "Not Found")
        in_base: set[str] = set()
        todo = [base_commit.sha]
        while todo:
            sha = todo.pop()
            if sha not in in_base:
                in_base.add(sha)
                todo.extend(st.commits[sha].parents)
        ahead: list[FakeCommit] = []
        todo = [head_commit.sha]
        seen: set[str] = set()
        while todo:
            sha = todo.pop()
            if sha in seen or sha in in_base:
                continue
            seen.add(sha)
            ahead.append(st.commits[sha])
            todo.extend(st.commits[sha].parents)
        ahead.reverse()  # oldest first (a linear history in this model)
        self._call("branch_commits_authors", self._pages_until(None, len(ahead)), repo, base, head)
        return [
            CommitInfo(
                sha=c.sha,
                author_login=c.author_login,
                committer_login=c.committer_login,
                author_email=c.author_email,
                committer_email=c.committer_email,
            )
            for c in ahead
        ]

    # --- refs -----------------------------------------------------------------------------------------
    def get_ref(self, repo: str, ref: str) -> Ref | None:
        short = normalize_ref(ref)
        st = self._state(repo)
        self._call("get_ref", 1, repo, ref)
        sha = st.refs.get(short)
        return self._as_ref(st, short, sha) if sha is not None else None

    def create_ref(self, repo: str, ref: str, sha: str) -> Ref:
        return self._create_ref("create_ref", repo, ref, sha)

    def update_ref(self, repo: str, ref: str, sha: str, *, force: bool = False) -> Ref:
        return self._update_ref("update_ref", repo, ref, sha, force, cost=1)

    def _create_ref(self, operation: str, repo: str, ref: str, sha: str) -> Ref:
        short = normalize_ref(ref)
        st = self._state(repo)
        self._call(operation, 1, repo, ref, sha)
        if short in st.refs:
            raise ForgeError(operation, 422, "Reference already exists")
        if sha not in st.commits and sha not in st.tag_objects:
            raise ForgeError(operation, 422, "Object does not exist")
        st.refs[short] = sha
        return self._as_ref(st, short, sha)

    def _update_ref(self, operation: str, repo: str, ref: str, sha: str, force: bool, *, cost: int) -> Ref:
        short = normalize_ref(ref)
        st = self._state(repo)
        self._call(operation, cost, repo, ref, sha, force)
        current = st.refs.get(short)
        if current is None:
            raise ForgeError(operation, 422, "Reference does not exist")
        if sha not in st.commits and sha not in st.tag_objects:
            raise ForgeError(operation, 422, "Object does not exist")
        if not force and not self._is_ancestor(st, self._peel(st, current), self._peel(st, sha)):
            raise ForgeError(operation, 422, "Update is not a fast forward")
        st.refs[short] = sha
        return self._as_ref(st, short, sha)

    def list_tags(self, repo: str, prefix: str) -> list[Ref]:
        validate_tag_prefix(prefix)
        st = self._state(repo)
        wanted = f"tags/{prefix}"
        names = sorted(short for short in st.refs if short.startswith(wanted))  # GitHub sorts by name
        self._call("list_tags", self._pages_until(None, len(names)), repo, prefix)
        return [self._as_ref(st, short, st.refs[short]) for short in names]

    def get_tag_object(self, repo: str, sha: str) -> TagObject:
        st = self._state(repo)
        self._call("get_tag_object", 1, repo, sha)
        try:
            return st.tag_objects[sha]
        except KeyError:
            raise ForgeError("get_tag_object", 404, "Not Found") from None

    # --- reviews and teams ----------------------------------------------------------------------------
    def list_reviews(self, repo: str, number: int) -> list[Review]:
        st = self._state(repo)
        if number not in st.pulls:
            self._call("list_reviews", 1, repo, number)
            raise ForgeError("list_reviews", 404, "Not Found")
        reviews = st.reviews.get(number, [])
        self._call("list_reviews", self._pages_until(None, len(reviews)), repo, number)
        return list(reviews)

    def is_team_member(self, org: str, team_slug: str, username: str) -> bool:
        key = _team_key(org, team_slug, username)
        self._call("is_team_member", 1, org, team_slug, username)
        return self.team_members.get(key) == "active"

    # --- deployments ----------------------------------------------------------------------------------
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
        body = deployment_request(
            ref=ref,
            environment=environment,
            description=description,
            payload=payload,
            task=task,
            production_environment=production_environment,
        )
        st = self._state(repo)
        self._call("create_deployment", 1, repo, ref, environment)
        commit = self._resolve(st, ref)
        if commit is None:
            raise ForgeError("create_deployment", 422, f"No ref found for: {ref}")
        deployment = Deployment(
            id=next(self._ids),
            sha=commit.sha,
            ref=ref,
            environment=environment,
            task=task,
            description=body["description"],
            payload=body["payload"],
            creator=self._bot_login,
            created_at=self._clock(),
        )
        st.deployments.append(FakeDeployment(deployment))
        return deployment

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
        body = deployment_status_request(state, description, log_url, environment_url, auto_inactive)
        st = self._state(repo)
        self._call("create_deployment_status", 1, repo, deployment_id, state)
        target = _find_deployment(st, deployment_id)
        if target is None:
            raise ForgeError("create_deployment_status", 404, "Not Found")
        status = self._deployment_status(state, body["description"], log_url, environment_url)
        if state == "success" and auto_inactive:
            # GitHub marks the environment's earlier successful deployments inactive (the docs say "non-
            # production, non-transient" ones; GitHub does it for production environments too, and every
            # deployment here is non-transient: `deployment_request` always sends transient_environment false).
            for other in st.deployments:
                same_environment = other.deployment.environment == target.deployment.environment
                if other is target or not same_environment or not other.statuses:
                    continue
                if other.statuses[-1].state == "success":
                    other.statuses.append(
                        self._deployment_status("inactive", "", None, other.statuses[-1].environment_url)
                    )
        target.statuses.append(status)
        return status

    def _deployment_status(
        self, state: str, description: str, log_url: str | None, environment_url: str | None
    ) -> DeploymentStatus:
        return DeploymentStatus(
            id=next(self._ids),
            state=state,
            description=description,
            log_url=log_url or None,
            environment_url=environment_url or None,
            creator=self._bot_login,
            created_at=self._clock(),
        )

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
        check_limit(limit)
        if environment is not None:
            validate_environment(environment)
        st = self._state(repo)
        found = [
            d.deployment
            for d in reversed(st.deployments)  # newest first
            if (environment is None or d.deployment.environment == environment)
            and (sha is None or d.deployment.sha == sha)
            and (ref is None or d.deployment.ref == ref)
            and (task is None or d.deployment.task == task)
        ]
        self._call(
            "list_deployments", self._listing_cost(len(found), limit), repo, environment, sha, ref, task
        )
        return found[:limit]

    def list_deployment_statuses(
        self, repo: str, deployment_id: int, *, limit: int = 100
    ) -> list[DeploymentStatus]:
        check_limit(limit)
        st = self._state(repo)
        target = _find_deployment(st, deployment_id)
        if target is None:
            self._call("list_deployment_statuses", 1, repo, deployment_id)
            raise ForgeError("list_deployment_statuses", 404, "Not Found")
        statuses = list(reversed(target.statuses))
        self._call("list_deployment_statuses", self._listing_cost(len(statuses), limit), repo, deployment_id)
        return statuses[:limit]

    # --- GitHub Actions -------------------------------------------------------------------------------
    def list_workflow_runs(
        self,
        repo: str,
        *,
        head_sha: str | None = None,
        workflow: str | int | None = None,
        event: str | None = None,
        limit: int = 30,
    ) -> list[WorkflowRun]:
        check_limit(limit)
        wanted = validate_workflow(workflow) if workflow is not None else None
        st = self._state(repo)
        workflow_id: int | None = None
        if wanted is not None:
            workflow_id = next(
                (
                    i
                    for i, path in st.workflows.items()
                    if str(i) == wanted or posixpath.basename(path.split("@", 1)[0]) == wanted
                ),
                None,
            )
            if workflow_id is None:
                self._call("list_workflow_runs", 1, repo, head_sha, workflow, event)
                raise ForgeError("list_workflow_runs", 404, "Not Found")
        workflow_path = st.workflows.get(workflow_id) if workflow_id is not None else None
        runs = sorted(
            (
                run
                for run in st.workflow_runs.values()
                if (workflow_path is None or run.path == workflow_path)
                and (head_sha is None or run.head_sha == head_sha)
                and (event is None or run.event == event)
            ),
            key=lambda run: (run.created_at, run.id),
            reverse=True,  # newest first
        )
        self._call(
            "list_workflow_runs", self._listing_cost(len(runs), limit), repo, head_sha, workflow, event
        )
        return runs[:limit]

    def get_workflow_run(self, repo: str, run_id: int) -> WorkflowRun:
        st = self._state(repo)
        self._call("get_workflow_run", 1, repo, run_id)
        try:
            return st.workflow_runs[run_id]
        except KeyError:
            raise ForgeError("get_workflow_run", 404, "Not Found") from None

    def rerun_workflow_run(self, repo: str, run_id: int) -> None:
        st = self._state(repo)
        self._call("rerun_workflow_run", 1, repo, run_id)
        run = st.workflow_runs.get(run_id)
        if run is None:
            raise ForgeError("rerun_workflow_run", 404, "Not Found")
        if run.status != "completed":
            raise ForgeError("rerun_workflow_run", 403, "This workflow is already running")
        st.workflow_runs[run_id] = replace(
            run, status="queued", conclusion=None, run_attempt=run.run_attempt + 1
        )


def _team_key(org: str, team_slug: str, username: str) -> tuple[str, str, str]:
    """The key of ``FakeForge.team_members``: the validated names, lower-cased as GitHub matches them."""
    return validate_org(org).lower(), validate_team_slug(team_slug).lower(), validate_login(username).lower()


def _find_deployment(st: FakeRepo, deployment_id: int) -> FakeDeployment | None:
    return next((d for d in st.deployments if d.deployment.id == deployment_id), None)


def _annotation_batches(annotations: Sequence[Annotation]) -> int:
    return max(1, math.ceil(len(annotations) / MAX_ANNOTATIONS_PER_REQUEST))


def _check_output(title: str, summary: str, text: str | None, annotations: Sequence[Annotation]) -> None:
    if (title or summary or text or annotations) and not (title and summary):
        raise ValueError("a check run output needs a title and a summary")


__all__ = [
    "PERMISSIONS",
    "FakeCall",
    "FakeCheckRun",
    "FakeCommit",
    "FakeDeployment",
    "FakeForge",
    "FakeRepo",
    "FakeStatus",
    "fake_sha",
]
