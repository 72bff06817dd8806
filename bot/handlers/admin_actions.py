"""Admin actions become pull requests: install | uninstall | upgrade | enable | disable.

`plan_change` is pure: an intent and the manifest text at the default branch's head in, the
branch, title, body and new text of the PR out (or `EditRefused` with the reasons).
`propose_change` is the imperative part: it applies the plan through a `Forge`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.forge import CommitInfo, Forge, ForgeError, PullRequest
from bot.manifest.delta import ModulesDelta
from bot.manifest.edit import (
    MODULE_KEY_ORDER,
    EditRefused,
    EditResult,
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
_SPEC_KEYS = (
    "crate",
    "source",
    "version",
    "git",
    "rev",
    "path",
    "features",
    "required",
    "depends_on",
    "runtime",
)


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
    requested_by: str = Field(min_length=1, max_length=100)
    reason: str = Field(default="", max_length=2000)

    @field_validator("requested_by")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if any(not ch.isprintable() for ch in value):
            raise ValueError("requested_by must be printable text on one line")
        return value

    @property
    def branch(self) -> str:
        return f"modbot/{self.action}-{self.slug}"


@dataclass(frozen=True, slots=True)
class PlannedChange:
    intent: Intent
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


def intent_marker(intent: Intent, result: EditResult, base_sha: str) -> str:
    """A hidden, machine-readable record of the intent in the PR body. HTML-significant
    characters are \\u-escaped so no value can close the comment early."""
    data = {
        "action": intent.action,
        "slug": intent.slug,
        "module": intent.module.fields(),
        "enable": intent.enable,
        "requested_by": intent.requested_by,
        "base_sha": base_sha,
        "manifest_hash": result.validation.manifest_hash,
    }
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


def propose_change(forge: Forge, repo: str, intent: Intent, *, manifest_path: str) -> ProposeResult:
    """Open (or refresh) the one PR that carries ``intent`` on ``repo``.

    Reads the manifest at the default branch's head and plans the edit (`EditRefused` when the manifest
    core refuses it: nothing is touched). Then, for the branch ``modbot/<action>-<slug>``:

    * it has a commit not made by the bot (author or committer) → ``left-alone``: nothing touched;
    * it already holds exactly the planned manifest in one bot commit on the current base, and the open
      PR says so → ``unchanged`` (or ``updated`` when only the PR's title/description differ);
    * else one fresh commit (parent: the default branch's head) is force-moved onto the branch, which is
      created when missing, and the PR is opened (``opened``) or its description refreshed (``updated``).

    Force-moving is only ever done to a branch whose commits are all the bot's own. GitHub's ref update
    has no compare-and-swap, so a push landing between the check and the move would still be replaced;
    the window is a few hundred milliseconds. Raises `ForgeError` when GitHub fails.
    """
    base_branch = forge.default_branch(repo)
    base_sha = forge.branch_head(repo, base_branch)
    raw = forge.get_file(repo, manifest_path, base_sha)
    if raw is None:
        raise EditRefused([f"`{manifest_path}` does not exist on `{base_branch}` ({base_sha[:7]})"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise EditRefused([f"`{manifest_path}` on `{base_branch}` is not UTF-8 text"]) from None
    plan = plan_change(intent, text, manifest_path=manifest_path, base_sha=base_sha)
    if plan.text == text:
        raise EditRefused([f"nothing to change: `{manifest_path}` on `{base_branch}` already says this"])

    def result(
        status: ProposeStatus, message: str, *, sha: str | None, pull: PullRequest | None
    ) -> ProposeResult:
        return ProposeResult(
            status=status,
            repository=repo,
            action=intent.action,
            slug=intent.slug,
            branch=plan.branch,
            base_branch=base_branch,
            base_sha=base_sha,
            commit_sha=sha,
            pull_number=pull.number if pull else None,
            pull_url=pull.html_url if pull else None,
            summary=plan.delta.summary,
            delta=plan.delta.to_json(),
            message=message,
        )

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
            return result(
                "left-alone",
                f"{where} has {len(foreign)} commit(s) not made by {forge.bot_login} "
                f"(by {', '.join(who)}); modbot leaves it alone. Merge or close it, or delete the branch, "
                "and ask again.",
                sha=pull.head_sha if pull else commits[-1].sha,
                pull=pull,
            )
        if pull is not None and _already_carries(
            forge, repo, plan, pull, commits, manifest_path=manifest_path
        ):
            if pull.title == plan.title and pull.body == plan.body:
                return result(
                    "unchanged",
                    f"pull request #{pull.number} already carries this change on {base_branch} "
                    f"({base_sha[:7]})",
                    sha=pull.head_sha,
                    pull=pull,
                )
            pull = forge.update_pull(repo, pull.number, title=plan.title, body=plan.body)
            return result(
                "updated", f"pull request #{pull.number}: description refreshed", sha=pull.head_sha, pull=pull
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
        return result("opened", f"opened pull request #{pull.number}: {plan.title}", sha=sha, pull=pull)
    pull = forge.update_pull(repo, pull.number, title=plan.title, body=plan.body)
    return result(
        "updated",
        f"pull request #{pull.number}: a fresh commit on {base_branch} ({base_sha[:7]})",
        sha=sha,
        pull=pull,
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
