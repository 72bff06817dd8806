"""Admin actions become pull requests: install | uninstall | upgrade | enable | disable, and builds
(the builds API: "make the module set exactly this").

`plan_change` and `plan_build` are pure: an intent and the manifest text at the base branch's head in,
the branch, title, body and new text of the PR out (or `EditRefused` with the reasons).
`propose_change` and `propose_build` are the imperative part: they apply the plan through a `Forge`,
with one shared rule for opening, refreshing or leaving alone the intent's one PR.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from bot.forge import CommitInfo, Forge, ForgeError, PullRequest
from bot.manifest.delta import ModulesDelta
from bot.manifest.edit import (
    MODULE_KEY_ORDER,
    EditRefused,
    EditResult,
    apply_module_set,
    disable,
    enable,
    install,
    uninstall,
    upgrade,
)
from bot.render import render

Action = Literal["install", "uninstall", "upgrade", "enable", "disable"]
ACTIONS: tuple[Action, ...] = ("install", "uninstall", "upgrade", "enable", "disable")
INTENT_MARKER = "modbot:intent"
_MARKER_RE = re.compile(r"<!-- modbot:intent (\{.*?\}) -->", re.DOTALL)


def _printable_line(value: str) -> str:
    if any(not ch.isprintable() for ch in value):
        raise ValueError("requested_by must be printable text on one line")
    return value


# who asked for a change or a build: it goes into commit trailers and PR bodies, so one printable line
RequestedBy = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_printable_line)]


class ModuleChange(BaseModel):
    """The module fields an admin may give (install: the spec; upgrade: what changes)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    crate: str | None = None
    source: Literal["crates-io", "registry", "git", "path"] | None = None
    version: str | None = None
    git: str | None = None
    rev: str | None = None
    path: str | None = None
    features: list[str] | None = None
    required: bool | None = None
    depends_on: list[str] | None = None
    runtime: Literal["extension"] | None = None

    def fields(self) -> dict[str, Any]:
        return {key: value for key in MODULE_KEY_ORDER if (value := getattr(self, key)) is not None}


class Intent(BaseModel):
    """What an admin asked for; the same intent always maps to the same branch."""

    model_config = ConfigDict(extra="forbid", strict=True)

    action: Action
    slug: str = Field(pattern=r"^[a-z0-9]+(_[a-z0-9]+)*$", max_length=48)
    module: ModuleChange = Field(default_factory=ModuleChange)
    enable: bool = False  # install: also add to default_enabled
    requested_by: RequestedBy
    reason: str = Field(default="", max_length=2000)

    @property
    def branch(self) -> str:
        return f"modbot/{self.action}-{self.slug}"


BUILD_BRANCH_PREFIX = "modbot/build-"
BUILD_HASH_CHARS = 12  # of the target manifest_hash, in the build branch's name


class BuildIntent(BaseModel):
    """A build request: the manifest's module set must become exactly ``modules``. The same target
    manifest always maps to the same branch (``modbot/build-<12 hex of its manifest_hash>``)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    modules: dict[str, dict[str, Any]]  # slug -> the module table as in modules.toml
    requested_by: RequestedBy
    reason: str = Field(default="", max_length=2000)
    base_branch: str | None = Field(default=None, min_length=1, max_length=255)  # None: the default branch


@dataclass(frozen=True, slots=True)
class PlannedChange:
    intent: Intent | BuildIntent
    branch: str
    title: str
    body: str
    commit_message: str
    text: str  # the new manifest
    delta: ModulesDelta
    base_sha: str


def plan_change(intent: Intent, manifest_text: str, *, manifest_path: str, base_sha: str) -> PlannedChange:
    result = _apply(intent, manifest_text, manifest_path.rpartition("/")[0])
    title = f"modbot: {intent.action} {result.delta.summary}"
    body = render(
        "comments/admin_pr_body.md.j2",
        intent=intent,
        delta=result.delta,
        manifest_path=manifest_path,
        base_sha=base_sha,
        marker=intent_marker(intent, result, base_sha),
    )
    message = f"{title}\n\nRequested-by: {intent.requested_by}\n" + (
        f"\n{intent.reason}\n" if intent.reason else ""
    )
    return PlannedChange(
        intent, intent.branch, title[:256], body, message, result.text, result.delta, base_sha
    )


def _apply(intent: Intent, text: str, manifest_dir: str) -> EditResult:
    fields = intent.module.fields()
    if intent.action == "install":
        missing = [key for key in ("crate", "source") if key not in fields]
        if missing:
            raise EditRefused([f"install needs {' and '.join(f'`{k}`' for k in missing)} in the module spec"])
        return install(text, intent.slug, fields, enable=intent.enable, manifest_dir=manifest_dir)
    if intent.action == "upgrade":
        return upgrade(text, intent.slug, fields, manifest_dir=manifest_dir)
    if fields:
        raise EditRefused([f"{intent.action} takes no module fields (got {', '.join(sorted(fields))})"])
    if intent.action == "uninstall":
        return uninstall(text, intent.slug, manifest_dir=manifest_dir)
    if intent.action == "enable":
        return enable(text, intent.slug, manifest_dir=manifest_dir)
    return disable(text, intent.slug, manifest_dir=manifest_dir)


def plan_build(
    intent: BuildIntent, manifest_text: str, *, manifest_path: str, base_sha: str, base_branch: str
) -> PlannedChange:
    """The PR that makes the manifest's module set exactly ``intent.modules`` (`apply_module_set`). The
    plan may change nothing (``text`` equal to ``manifest_text``): the caller decides what that means."""
    result = apply_module_set(manifest_text, intent.modules, manifest_dir=manifest_path.rpartition("/")[0])
    target_hash = result.validation.manifest_hash
    assert target_hash is not None  # apply_module_set returns only valid manifests
    title = f"modbot: build {result.delta.summary}"
    body = render(
        "comments/build_pr_body.md.j2",
        intent=intent,
        delta=result.delta,
        manifest_path=manifest_path,
        base_sha=base_sha,
        base_branch=base_branch,
        manifest_hash=target_hash,
        marker=build_marker(intent, target_hash, base_sha),
    )
    message = f"{title}\n\nRequested-by: {intent.requested_by}\nManifest-hash: {target_hash}\n" + (
        f"\n{intent.reason}\n" if intent.reason else ""
    )
    branch = BUILD_BRANCH_PREFIX + target_hash[:BUILD_HASH_CHARS]
    return PlannedChange(intent, branch, title[:256], body, message, result.text, result.delta, base_sha)


def build_marker(intent: BuildIntent, manifest_hash: str, base_sha: str) -> str:
    """The build's hidden marker: what `_already_carries` reads back (the base), and who asked."""
    return _marker(
        {
            "action": "build",
            "requested_by": intent.requested_by,
            "base_sha": base_sha,
            "manifest_hash": manifest_hash,
        }
    )


def intent_marker(intent: Intent, result: EditResult, base_sha: str) -> str:
    """A hidden, machine-readable record of the intent in the PR body."""
    return _marker(
        {
            "action": intent.action,
            "slug": intent.slug,
            "module": intent.module.fields(),
            "enable": intent.enable,
            "requested_by": intent.requested_by,
            "base_sha": base_sha,
            "manifest_hash": result.validation.manifest_hash,
        }
    )


def _marker(data: dict[str, Any]) -> str:
    """HTML-significant characters are \\u-escaped so no value can close the comment early."""
    encoded = json.dumps(data, sort_keys=True, ensure_ascii=True)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("-", "\\u002d")):
        encoded = encoded.replace(char, escape)
    return f"<!-- {INTENT_MARKER} {encoded} -->"


def read_intent_marker(body: str) -> dict[str, Any] | None:
    match = _MARKER_RE.search(body or "")
    if not match:
        return None
    try:
        data = json.loads(match.group(1))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


# --- the imperative part: the plan, applied through a Forge --------------------------------------------
ProposeStatus = Literal["opened", "updated", "unchanged", "left-alone"]


class ProposeResult(BaseModel):
    """What `propose_change` did (also the admin API's answer)."""

    model_config = ConfigDict(frozen=True)

    status: ProposeStatus = Field(
        description="opened: a new PR; updated: the PR got a fresh commit or a new description; "
        "unchanged: the PR already carries exactly this change on the current base; left-alone: "
        "someone else pushed to the branch, so modbot touched nothing"
    )
    repository: str
    action: Action
    slug: str
    branch: str
    base_branch: str
    base_sha: str
    commit_sha: str | None = Field(default=None, description="the branch head after the call")
    pull_number: int | None = None
    pull_url: str | None = None
    summary: str = Field(description="the modules_delta summary line, e.g. '+forum@0.1'")
    delta: dict[str, Any] = Field(default_factory=dict, description="the modules_delta as JSON")
    message: str


class NothingToChange(EditRefused):
    """The manifest already says what was asked: no PR. ``manifest_hash`` is the manifest's hash."""

    def __init__(self, reasons: list[str], manifest_hash: str | None) -> None:
        super().__init__(reasons)
        self.manifest_hash = manifest_hash


@dataclass(frozen=True, slots=True)
class BuildProposal:
    """What `propose_build` did: the PR's state (``status`` as for `ProposeResult`) and the plan."""

    status: ProposeStatus
    repository: str
    branch: str
    base_branch: str
    base_sha: str
    commit_sha: str | None
    pull_number: int | None
    pull_url: str | None
    manifest_hash: str  # of the target manifest (what the build will release)
    summary: str
    delta: dict[str, Any]
    message: str


@dataclass(frozen=True, slots=True)
class _Carried:
    status: ProposeStatus
    message: str
    sha: str | None
    pull: PullRequest | None


def propose_change(forge: Forge, repo: str, intent: Intent, *, manifest_path: str) -> ProposeResult:
    """Open (or refresh) the one PR that carries ``intent`` on ``repo``.

    Reads the manifest at the default branch's head and plans the edit (`EditRefused` when the manifest
    core refuses it, `NothingToChange` when the manifest already says this: nothing is touched), then
    carries the plan on the branch ``modbot/<action>-<slug>`` (see `_carry`). Raises `ForgeError` when
    GitHub fails.
    """
    base_branch = forge.default_branch(repo)
    base_sha = forge.branch_head(repo, base_branch)
    text = _read_manifest(forge, repo, manifest_path, base_branch, base_sha)
    plan = plan_change(intent, text, manifest_path=manifest_path, base_sha=base_sha)
    if plan.text == text:
        raise NothingToChange(
            [f"nothing to change: `{manifest_path}` on `{base_branch}` already says this"],
            plan.delta.base_hash,
        )
    done = _carry(forge, repo, plan, base_branch, manifest_path=manifest_path)
    return ProposeResult(
        status=done.status,
        repository=repo,
        action=intent.action,
        slug=intent.slug,
        branch=plan.branch,
        base_branch=base_branch,
        base_sha=base_sha,
        commit_sha=done.sha,
        pull_number=done.pull.number if done.pull else None,
        pull_url=done.pull.html_url if done.pull else None,
        summary=plan.delta.summary,
        delta=plan.delta.to_json(),
        message=done.message,
    )


def propose_build(forge: Forge, repo: str, intent: BuildIntent, *, manifest_path: str) -> BuildProposal:
    """Open (or refresh) the one PR that makes the module set exactly ``intent.modules``.

    The base is ``intent.base_branch`` (default: the default branch); a branch that does not exist is
    refused (`EditRefused`). The module set equal to the base's → `NothingToChange` (with the base's
    manifest_hash, so the caller can point at a release of it). The branch is
    ``modbot/build-<12 hex of the target manifest_hash>``: asking for the same target again refreshes the
    same PR, and a branch a person pushed to is left alone, exactly as for admin actions.
    """
    base_branch = intent.base_branch or forge.default_branch(repo)
    try:
        base_sha = forge.branch_head(repo, base_branch)
    except ForgeError as error:
        if not error.not_found:
            raise
        raise EditRefused(
            [
                f"there is no branch `{base_branch}` on {repo}: manifest_ref names the branch the pull "
                "request merges into"
            ]
        ) from None
    text = _read_manifest(forge, repo, manifest_path, base_branch, base_sha)
    plan = plan_build(intent, text, manifest_path=manifest_path, base_sha=base_sha, base_branch=base_branch)
    if plan.text == text or plan.delta.is_empty:
        raise NothingToChange(
            [
                f"nothing to build: `{manifest_path}` on `{base_branch}` ({base_sha[:7]}) already has "
                "exactly this module set"
            ],
            plan.delta.base_hash,
        )
    done = _carry(forge, repo, plan, base_branch, manifest_path=manifest_path)
    return BuildProposal(
        status=done.status,
        repository=repo,
        branch=plan.branch,
        base_branch=base_branch,
        base_sha=base_sha,
        commit_sha=done.sha,
        pull_number=done.pull.number if done.pull else None,
        pull_url=done.pull.html_url if done.pull else None,
        manifest_hash=plan.delta.head_hash,
        summary=plan.delta.summary,
        delta=plan.delta.to_json(),
        message=done.message,
    )


def _read_manifest(forge: Forge, repo: str, manifest_path: str, base_branch: str, base_sha: str) -> str:
    raw = forge.get_file(repo, manifest_path, base_sha)
    if raw is None:
        raise EditRefused([f"`{manifest_path}` does not exist on `{base_branch}` ({base_sha[:7]})"])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise EditRefused([f"`{manifest_path}` on `{base_branch}` is not UTF-8 text"]) from None


def _carry(forge: Forge, repo: str, plan: PlannedChange, base_branch: str, *, manifest_path: str) -> _Carried:
    """Put ``plan`` on its branch and PR, the one rule for every intent:

    * the branch has a commit not made by the bot (author or committer) → ``left-alone``: nothing touched;
    * it already holds exactly the planned manifest in one bot commit on the current base, and the open
      PR says so → ``unchanged`` (or ``updated`` when only the PR's title/description differ);
    * else one fresh commit (parent: the base branch's head) is force-moved onto the branch, which is
      created when missing, and the PR is opened (``opened``) or its description refreshed (``updated``).

    Force-moving is only ever done to a branch whose commits are all the bot's own. GitHub's ref update
    has no compare-and-swap, so a push landing between the check and the move would still be replaced;
    the window is a few hundred milliseconds.
    """
    base_sha = plan.base_sha
    pull = forge.find_open_pull_by_branch(repo, plan.branch)
    try:
        commits: list[CommitInfo] | None = forge.branch_commits_authors(repo, base_sha, plan.branch)
    except ForgeError as error:
        if not error.not_found or pull is not None:
            raise
        commits = None  # no such branch yet
    if commits is not None:
        foreign = [c for c in commits if not c.made_by(forge.bot_login)]
        if foreign:
            who = sorted({c.author_login or c.author_email for c in foreign})
            where = f"pull request #{pull.number}" if pull else f"branch `{plan.branch}`"
            return _Carried(
                "left-alone",
                f"{where} has {len(foreign)} commit(s) not made by {forge.bot_login} "
                f"(by {', '.join(who)}); modbot leaves it alone. Merge or close it, or delete the branch, "
                "and ask again.",
                pull.head_sha if pull else commits[-1].sha,
                pull,
            )
        if pull is not None and _already_carries(
            forge, repo, plan, pull, commits, manifest_path=manifest_path
        ):
            if pull.title == plan.title and pull.body == plan.body:
                return _Carried(
                    "unchanged",
                    f"pull request #{pull.number} already carries this change on {base_branch} "
                    f"({base_sha[:7]})",
                    pull.head_sha,
                    pull,
                )
            pull = forge.update_pull(repo, pull.number, title=plan.title, body=plan.body)
            return _Carried(
                "updated", f"pull request #{pull.number}: description refreshed", pull.head_sha, pull
            )
    else:
        forge.create_branch(repo, plan.branch, base_sha)
    sha = forge.commit_file(
        repo,
        plan.branch,
        manifest_path,
        plan.text.encode("utf-8"),
        message=plan.commit_message,
        parent_sha=base_sha,
        force=True,
    )
    if pull is None:
        pull = forge.create_pull(repo, head=plan.branch, base=base_branch, title=plan.title, body=plan.body)
        return _Carried("opened", f"opened pull request #{pull.number}: {plan.title}", sha, pull)
    pull = forge.update_pull(repo, pull.number, title=plan.title, body=plan.body)
    return _Carried(
        "updated", f"pull request #{pull.number}: a fresh commit on {base_branch} ({base_sha[:7]})", sha, pull
    )


def _already_carries(
    forge: Forge,
    repo: str,
    plan: PlannedChange,
    pull: PullRequest,
    commits: list[CommitInfo],
    *,
    manifest_path: str,
) -> bool:
    """The PR's branch is one bot commit on the current base holding exactly the planned manifest. The
    base is read from the PR's marker (written with the commit); a stale marker only costs a fresh commit."""
    if len(commits) != 1 or commits[0].sha != pull.head_sha:
        return False
    marker = read_intent_marker(pull.body)
    if marker is None or marker.get("base_sha") != plan.base_sha:
        return False
    return forge.get_file(repo, manifest_path, pull.head_sha) == plan.text.encode("utf-8")
