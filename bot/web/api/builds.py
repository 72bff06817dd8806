"""Builds: ``POST /admin/builds`` opens (or refreshes) the one PR that makes the manifest's module set
exactly the requested one and records a build (``bld_…``) that the pipeline's events move on;
``GET /admin/builds`` and ``GET /admin/builds/{build_id}`` say what a build is doing. Deploy and rollback
of a build's release: bot/web/api/build_commands.py. docs/admin-api.md documents each answer.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.app.admin_requests import request_build
from bot.app.audit import audit_safely
from bot.app.proposals import BuildIntent, NothingToChange
from bot.config import BotSettings
from bot.domain.ids import REPO_PATTERN, SLUG_PATTERN
from bot.forge import ForgeError, normalize_ref
from bot.manifest.edit import EditRefused
from bot.store import BuildRecord, BuildStage, BuildStatus, Store
from bot.web.api.auditing import api_actor
from bot.web.api.auth import Caller
from bot.web.api.context import ForgesDep, SettingsDep, StoreDep
from bot.web.api.fields import MAX_ID, MAX_PAGE
from bot.web.api.guards import forge_for, github_failed, repository_for
from bot.web.api.problems import ApiRoute, Dialect, coded_problem, describe_errors, responses
from bot.web.api.views import PullRequestRef, pull_ref

__all__ = [
    "BuildAccepted",
    "BuildList",
    "BuildRequest",
    "BuildView",
    "ModuleSpecBody",
    "build_view",
    "create_build",
    "get_build",
    "list_builds",
    "router",
]

log = logging.getLogger(__name__)

MAX_MODULES = 2000

router = APIRouter(prefix="/admin", tags=["builds"], route_class=ApiRoute)


class ModuleSpecBody(BaseModel):
    """One module, as its table in modules.toml (docs/manifest.md)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    crate: str = Field(min_length=1, max_length=64, description="the crate (package) name")
    source: Literal["crates-io", "registry", "git", "path"]
    version: str | None = Field(default=None, max_length=200, description="version requirement (crates-io)")
    git: str | None = Field(default=None, max_length=2000, description="git URL (git)")
    rev: str | None = Field(default=None, max_length=200, description="commit, tag or branch (git)")
    path: str | None = Field(default=None, max_length=1000, description="path from the manifest (path)")
    features: list[Annotated[str, Field(max_length=200)]] | None = Field(default=None, max_length=500)
    required: bool | None = None
    depends_on: list[Annotated[str, Field(max_length=48)]] | None = Field(default=None, max_length=500)
    runtime: Literal["extension"] | None = None

    def table(self) -> dict[str, Any]:
        """The module table with the keys that were given (null = left out)."""
        return self.model_dump(exclude_none=True)


class BuildRequest(BaseModel):
    """Make the manifest's module set exactly ``modules``, build and release it."""

    model_config = ConfigDict(extra="forbid")

    repository: str | None = Field(
        default=None,
        pattern=REPO_PATTERN,
        description="owner/name; may be left out when MODBOT_REPOSITORIES names exactly one repository",
    )
    installation_id: int | None = Field(
        default=None, gt=0, le=MAX_ID, description="the App installation (App mode)"
    )
    manifest_ref: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        pattern=r"^[A-Za-z0-9._/+@-]+$",
        description="the branch whose manifest is edited and that the pull request merges into "
        "(default: the default branch; releases are built from the default branch)",
    )
    requested_by: str = Field(min_length=1, max_length=100, description="the person asking (one line)")
    reason: str = Field(min_length=1, max_length=2000, description="why; in the PR and the audit log")
    modules: dict[Annotated[str, Field(max_length=48, pattern=SLUG_PATTERN)], ModuleSpecBody] = Field(
        max_length=MAX_MODULES, description="slug -> module spec: the complete module set wanted"
    )

    @field_validator("manifest_ref")
    @classmethod
    def _a_branch_name(cls, value: str | None) -> str | None:
        # git's rules for a branch name (no "..", "//", ".lock" ending, …), as the forge checks them
        if value is not None:
            try:
                normalize_ref(f"heads/{value}")
            except ValueError:
                raise ValueError(
                    "not a branch name git allows "
                    "(no '..', '//', '@{', leading '/', ending '/', '.' or '.lock')"
                ) from None
        return value


class BuildAccepted(BaseModel):
    """The build was recorded and its pull request opened (or refreshed)."""

    build_id: str = Field(examples=["bld_01JD3X5V8Q1N4K2M6P7R9S0T1W"])
    status: BuildStatus
    pull_request: PullRequestRef | None
    pr_status: Literal["opened", "updated", "unchanged"] = Field(
        description="what was done to the pull request (see POST /admin/modules)"
    )
    branch: str
    manifest_hash: str = Field(description="the target manifest's hash: what the release will carry")
    summary: str = Field(description="the modules_delta summary line")
    message: str


class BuildView(BaseModel):
    """A build (the seed's "what the admin stores", plus where it is)."""

    build_id: str
    repository: str
    status: BuildStatus
    stage: BuildStage
    progress: int = Field(ge=0, le=100)
    logs_url: str | None = Field(description="the Actions run that builds it, once known")
    release_id: str | None
    started_at: datetime
    finished_at: datetime | None
    manifest_hash: str | None
    modules_delta: dict[str, Any]
    requested_by: str
    reason: str | None
    manifest_ref: str | None
    pull_request: PullRequestRef | None
    detail: str | None = Field(description="why it failed or was cancelled, when it did")


class BuildList(BaseModel):
    builds: list[BuildView]


@router.post(
    "/builds",
    summary="Open (or refresh) the PR that makes the manifest this module set, and record a build",
    status_code=202,
    response_model=BuildAccepted,
    responses=responses(403, 409, 422, 502),
)
def create_build(
    body: BuildRequest, token: Caller, store: StoreDep, settings: SettingsDep, forges: ForgesDep
) -> BuildAccepted:
    actor = api_actor(token)
    repo = repository_for(store, settings, token, body.repository, "build.request")
    details: dict[str, Any] = {
        "token_id": token.id,
        "requested_by": body.requested_by,
        "manifest_ref": body.manifest_ref,
        "modules": len(body.modules),
    }

    def audit(outcome: dict[str, Any], target: str = repo) -> None:
        audit_safely(
            store, actor, "build.request", target, details={**details, **outcome}, reason=body.reason
        )

    try:
        intent = BuildIntent(
            modules={slug: spec.table() for slug, spec in body.modules.items()},
            requested_by=body.requested_by,
            reason=body.reason,
            base_branch=body.manifest_ref,
        )
    except ValidationError as error:
        reasons = describe_errors(error.errors())
        audit({"outcome": "refused", "error": "invalid_request", "reasons": reasons})
        raise Dialect.CODED.invalid_request(reasons) from None
    forge = forge_for(store, settings, forges, token, body.installation_id, "build.request", repo)
    try:
        requested = request_build(
            forge,
            store,
            repo,
            intent,
            manifest_path=settings.manifest_path,
            actor=actor,
            requested_by=api_actor(token, body.requested_by),
            details=details,
        )
    except NothingToChange as nothing:  # each refusal and failure is audited by the use case
        raise coded_problem(
            422,
            "nothing_to_build",
            nothing.reasons[0],
            _existing_release_hint(store, repo, nothing.manifest_hash),
        ) from None
    except EditRefused as refused:
        raise coded_problem(
            422,
            "edit_refused",
            "modbot refused this module set; nothing was opened",
            "change the module set as `reasons` say and send it again",
            list(refused.reasons),
        ) from None
    except ForgeError as error:
        log.warning("build request on %s: %s", repo, error)
        github_failed(error)
    proposal, build = requested.proposal, requested.build
    if build is None:
        raise coded_problem(
            409,
            "branch_taken",
            proposal.message,
            f"merge or close it, or delete the branch `{proposal.branch}`, and ask again",
        )
    return BuildAccepted(
        build_id=build.build_id,
        status=build.status,
        pull_request=pull_ref(settings, repo, proposal.pull_number, proposal.pull_url),
        pr_status=proposal.status,
        branch=proposal.branch,
        manifest_hash=proposal.manifest_hash,
        summary=proposal.summary,
        message=proposal.message,
    )


@router.get(
    "/builds",
    summary="Builds, newest first",
    response_model=BuildList,
    responses=responses(403, 422),
)
def list_builds(
    token: Caller,
    store: StoreDep,
    settings: SettingsDep,
    repository: Annotated[
        str | None, Query(pattern=REPO_PATTERN, description="only this repository's (default: all)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> BuildList:
    if repository is not None:
        repository_for(store, settings, token, repository, "build.list")
    builds = store.builds(repository, limit=limit)
    audit_safely(
        store,
        api_actor(token),
        "build.list",
        repository,
        details={"token_id": token.id, "limit": limit, "count": len(builds)},
        reason="",
    )
    return BuildList(builds=[build_view(settings, b) for b in builds])


@router.get(
    "/builds/{build_id}",
    summary="One build: status, stage, progress, logs, release",
    response_model=BuildView,
    responses=responses(404, 422),
)
def get_build(
    build_id: Annotated[str, Path(max_length=64, description="bld_ + 26 characters")],
    token: Caller,
    store: StoreDep,
    settings: SettingsDep,
) -> BuildView:
    build = store.get_build(build_id)
    audit_safely(
        store,
        api_actor(token),
        "build.read",
        build_id if build is not None else None,
        details={"token_id": token.id, "found": build is not None},
        reason="",
    )
    if build is None:
        raise coded_problem(404, "not_found", "there is no such build", "GET /admin/builds lists the builds")
    return build_view(settings, build)


def build_view(settings: BotSettings, build: BuildRecord) -> BuildView:
    return BuildView(
        build_id=build.build_id,
        repository=build.repository,
        status=build.status,
        stage=build.stage,
        progress=build.progress,
        logs_url=build.logs_url,
        release_id=build.release_id,
        started_at=build.started_at,
        finished_at=build.finished_at,
        manifest_hash=build.manifest_hash,
        modules_delta=build.modules_delta,
        requested_by=build.requested_by,
        reason=build.reason,
        manifest_ref=build.manifest_ref,
        pull_request=pull_ref(settings, build.repository, build.pr_number),
        detail=build.detail,
    )


def _existing_release_hint(store: Store, repo: str, manifest_hash: str | None) -> str:
    """Point at a release that already carries this manifest, when the cache has one."""
    if manifest_hash is not None:
        for release in store.releases(repo, limit=MAX_PAGE):
            if release.manifest_hash == manifest_hash:
                return (
                    f"release {release.release_id} already carries this manifest: deploy it "
                    f"(/deploy <env> {release.release_id} in a comment, or `modbot deploy`)"
                )
    return "change `modules` (this is the manifest as it is), or rebuild the current manifest with /rebuild"
