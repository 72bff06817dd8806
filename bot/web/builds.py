"""The builds API (the seed's admin panel) and the admin read endpoints: builds, releases, environments and
the audit log, and deploy / rollback of a build's release.

* ``POST /admin/builds`` opens (or refreshes) the one PR that makes the manifest's module set exactly the
  requested one, and records a build (``bld_…``) that the pipeline's events move on;
* ``GET /admin/builds``, ``GET /admin/builds/{build_id}``: what a build is doing;
* ``POST /admin/builds/{build_id}/deploy`` and ``…/rollback``: the chat-ops service's deploy and rollback
  (``bot.chatops.service.execute``), which alone decides who may do what (`bot.chatops.authorize`);
  an admin token acts as actor ``api:<token name>``, kind ``token``;
* ``GET /admin/releases``, ``GET /admin/environments`` (what runs where now), ``GET /admin/audit``;
* ``GET /admin/dead-letters`` and ``POST /admin/dead-letters/retry``: deliveries whose job gave up.

Auth is the admin API's bearer token (bot/web/admin.py), checked before anything else. Every answer that
is not a success is an `ApiError` ``{"error": code, "message": …, "next_step": …, "reasons": […]}`` with a
stable ``error`` code; every authenticated call appends one audit entry (actor ``api:<token name>``). The
handlers are plain ``def``: FastAPI runs the store and GitHub work in its thread pool. docs/admin-api.md
documents each endpoint, code and answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, NoReturn

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.chatops.facts import load_policy
from bot.chatops.service import CommandRequest, execute
from bot.config import BotSettings
from bot.domain.ids import (
    ENVIRONMENT_NAME_PATTERN,
    RELEASE_ID_PATTERN,
    REPO_PATTERN,
    SLUG_PATTERN,
    is_release_id,
)
from bot.forge import Forge, ForgeError, normalize_ref
from bot.handlers.admin_actions import BuildIntent, NothingToChange, propose_build
from bot.manifest.edit import EditRefused
from bot.pipeline.config import RepositoryPolicy
from bot.runtime import Runtime
from bot.store import (
    AdminToken,
    AuditEntry,
    BuildRecord,
    BuildStage,
    BuildStatus,
    DeadLetter,
    DeployKind,
    DeploymentRecord,
    DeploySource,
    DeployStage,
    DeployStatus,
    EnvironmentLock,
    LockPurpose,
    ReleaseInfo,
)
from bot.web.admin import (
    BEARER,
    CHALLENGE,
    MAX_ID,
    UNAUTHORIZED,
    audit_safely,
    audit_unreadable_request,
    describe_errors,
    only_repository,
    repository_needed,
    request_problems,
    retry_after_header,
    verify_token,
)

__all__ = [
    "API_ERRORS",
    "REFUSAL_STATUS",
    "ApiError",
    "AuditPageView",
    "BuildAccepted",
    "BuildList",
    "BuildRequest",
    "BuildView",
    "CommandAccepted",
    "DeadLetterList",
    "DeadLetterRetry",
    "DeadLetterRetryResult",
    "DeployRequest",
    "EnvironmentList",
    "EnvironmentView",
    "ModuleSpecBody",
    "ReleaseList",
    "RollbackRequest",
    "builds_router",
    "github_web_url",
]

log = logging.getLogger(__name__)

MAX_MODULES = 2000
MAX_PAGE = 1000
# A refused command's HTTP status, by the deciding rule (docs/admin-api.md): a lock or the state of the
# releases is a conflict to wait out or resolve (409), a bad environment name is a bad request (422), and
# everything about who may do what, or the policy, is forbidden (403).
REFUSAL_STATUS: dict[str, int] = {
    "locked": 409,
    "no_release": 409,
    "no_previous_release": 409,
    "not_older": 409,
    "not_merged": 409,
    "build_failed": 409,
    "build_running": 409,
    "unknown_environment": 422,
    "permission": 403,
    "frozen": 403,
    "not_approved": 403,
    "policy_invalid": 403,
    "no_policy": 403,
    "bot_ignored": 403,
}
# The API's own error codes; a refused command answers with the rule id that refused it (REFUSAL_STATUS).
API_ERRORS = (
    "unauthorized",
    "invalid_request",
    "not_found",
    "forbidden_repository",
    "edit_refused",
    "nothing_to_build",
    "branch_taken",
    "no_release",
    "not_current",
    "deploy_failed",
    "rollback_failed",
    "github_error",
    "internal",
)


# --- the models (the OpenAPI document is generated from these) ---------------------------------------------
class ApiError(BaseModel):
    """Every answer that is not a success: a stable code, what happened, and what to do next."""

    error: str = Field(
        description=f"stable code: {', '.join(API_ERRORS)}, "
        f"or the chat-ops rule that refused the command ({', '.join(REFUSAL_STATUS)})",
        examples=["locked"],
    )
    message: str = Field(description="what happened, for a person")
    next_step: str = Field(default="", description="what to do next (empty: nothing)")
    reasons: list[str] = Field(default_factory=list, description="each problem, when there are several")


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


class PullRequestRef(BaseModel):
    number: int
    url: str


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


class DeployRequest(BaseModel):
    """Deploy the build's release to an environment."""

    model_config = ConfigDict(extra="forbid")

    environment: str = Field(pattern=ENVIRONMENT_NAME_PATTERN, description="an environment of the policy")
    reason: str | None = Field(
        default=None, max_length=2000, description="why; in the Deployment and the audit log"
    )
    installation_id: int | None = Field(
        default=None, gt=0, le=MAX_ID, description="the App installation (App mode)"
    )


class RollbackRequest(BaseModel):
    """Roll an environment back: to ``target_release``, or else to the release it ran before."""

    model_config = ConfigDict(extra="forbid")

    target_release: str | None = Field(
        default=None, pattern=RELEASE_ID_PATTERN, description="default: the environment's previous release"
    )
    environment: str | None = Field(
        default=None,
        pattern=ENVIRONMENT_NAME_PATTERN,
        description="required unless the policy has exactly one environment",
    )
    reason: str | None = Field(default=None, max_length=2000)
    installation_id: int | None = Field(
        default=None, gt=0, le=MAX_ID, description="the App installation (App mode)"
    )


class CommandAccepted(BaseModel):
    """The deploy or rollback started: the tag moved and the deploy workflow takes it from here."""

    action: Literal["deploy", "rollback"]
    message: str = Field(description="what was decided")
    message_markdown: str = Field(description="the same answer a PR comment gets")
    warnings: list[str] = Field(description="e.g. a rollback that skips releases")
    deployment: DeploymentView | None
    lock: LockView | None


class ReleaseView(BaseModel):
    release_id: str
    commit_sha: str
    manifest_hash: str
    modules: list[str]
    image: str
    build_key: str
    build_id: str | None
    previous_release: str | None
    created_at: datetime


class ReleaseList(BaseModel):
    releases: list[ReleaseView]
    next_before: str | None = Field(description="pass as `before` for the next (older) page; null: no more")


class DeploymentView(BaseModel):
    id: int
    environment: str
    release_id: str
    commit_sha: str
    kind: DeployKind
    status: DeployStatus
    stage: DeployStage
    requested_by: str
    reason: str | None
    github_deployment_id: int | None
    previous_release: str | None
    manifest_hash: str | None
    source: DeploySource
    logs_url: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class LockView(BaseModel):
    holder: str
    purpose: LockPurpose
    release_id: str | None
    deployment_id: int | None
    reason: str | None
    acquired_at: datetime
    expires_at: datetime


class EnvironmentView(BaseModel):
    """What runs in one environment now."""

    environment: str
    in_policy: bool = Field(description="named in the policy on the default branch")
    frozen: bool | None = Field(description="null when the policy could not be read")
    freeze_reason: str | None
    required_permission: str | None = Field(description="the role deploy, rollback and unlock need")
    current_release: str | None = Field(description="the release of the newest successful deployment")
    current: DeploymentView | None
    in_flight: DeploymentView | None = Field(description="the newest deployment, while it is not finished")
    lock: LockView | None


class EnvironmentList(BaseModel):
    repository: str
    environments: list[EnvironmentView]
    policy_error: str | None = Field(description="why the policy could not be read (null: it was)")


class AuditEntryView(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    details: dict[str, Any] | None
    reason: str | None


class AuditPageView(BaseModel):
    entries: list[AuditEntryView]
    next_cursor: int | None = Field(description="pass as `cursor` for the next (older) page; null: no more")


class DeadLetterView(BaseModel):
    """A delivery whose job gave up (failed): a permanent error, or every attempt used."""

    delivery_id: str = Field(description="GitHub's X-GitHub-Delivery")
    event: str
    action: str | None
    repository: str | None
    installation_id: int | None
    received_at: datetime
    attempts: int = Field(description="attempts made before it gave up")
    failed_at: datetime | None
    last_error: str | None = Field(description="redacted, at most 2,000 characters")


class DeadLetterList(BaseModel):
    dead_letters: list[DeadLetterView]
    next_cursor: int | None = Field(description="pass as `cursor` for the next (older) page; null: no more")


class DeadLetterRetry(BaseModel):
    """Which dead letters to run again: those named, or all of them."""

    model_config = ConfigDict(extra="forbid")

    delivery_ids: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None, min_length=1, max_length=1000, description="X-GitHub-Delivery ids"
    )
    all: bool = Field(default=False, description="every dead letter (instead of `delivery_ids`)")
    reason: str = Field(default="", max_length=2000, description="why; kept in the audit log")


class DeadLetterRetryResult(BaseModel):
    retried: list[str] = Field(description="pending again, due now, with a fresh attempt budget")
    not_dead_letters: list[str] = Field(description="named but unknown or not failed: left alone")


# --- answers ------------------------------------------------------------------------------------------------
class _Failure(Exception):
    """An answer that is not a success; raised anywhere in a handler, answered by the route class."""

    def __init__(
        self,
        status: int,
        error: str,
        /,
        message: str,
        next_step: str = "",
        reasons: list[str] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = ApiError(error=error, message=message, next_step=next_step, reasons=reasons or [])
        self.headers = headers

    def response(self) -> JSONResponse:
        return JSONResponse(self.body.model_dump(), status_code=self.status, headers=self.headers)


def _unauthorized() -> _Failure:
    return _Failure(
        401,
        "unauthorized",
        UNAUTHORIZED,
        "create one with `modbot admin token create NAME`",
        headers=CHALLENGE,
    )


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    described = {
        401: "no or invalid admin token",
        403: "this bot does not manage that repository, or a chat-ops rule refused it",
        404: "no such build",
        409: "the request conflicts with the state (a lock, no release yet, …)",
        422: "the request is not valid, or the change was refused",
        500: "a bug in modbot (never a traceback)",
        502: "GitHub failed or refused; nothing more was done",
    }
    return {code: {"model": ApiError, "description": described[code]} for code in (*codes, 401, 500)}


def github_web_url(settings: BotSettings) -> str:
    """github.com, or the GitHub Enterprise host the API URL belongs to (for links to pull requests)."""
    api = settings.github_api_url
    if api == "https://api.github.com":
        return "https://github.com"
    return api.removesuffix("/api/v3")


# --- the router ---------------------------------------------------------------------------------------------
def builds_router(runtime: Runtime) -> APIRouter:
    settings = runtime.settings
    web = github_web_url(settings)

    def authenticate(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    ) -> AdminToken:
        token = verify_token(runtime, credentials.credentials if credentials else None)
        if token is None:
            raise _unauthorized()
        return token

    class Route(APIRoute):
        """`_Failure` → its `ApiError`; a bad body, path or query → 422 `invalid_request` (audited as
        `request.invalid`), but only for a valid token (FastAPI checks the request before the auth
        dependency runs); anything else → 500."""

        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                try:
                    return await handler(request)
                except _Failure as failure:
                    return failure.response()
                except (RequestValidationError, StarletteHTTPException) as error:
                    reasons = request_problems(error)
                    if reasons is None:
                        raise
                    if not await audit_unreadable_request(runtime, request, reasons):
                        return _unauthorized().response()
                    return _Failure(
                        422,
                        "invalid_request",
                        "the request is not valid",
                        "fix the fields named in `reasons` and send it again",
                        reasons,
                    ).response()
                except Exception:
                    log.exception("admin API: %s %s failed", request.method, request.url.path)
                    return _Failure(
                        500, "internal", "internal error; the bot's log has the details"
                    ).response()

            return guarded

    router = APIRouter(prefix="/admin", tags=["builds"], route_class=Route)
    authenticated = Depends(authenticate)  # a default, not an annotation: it names a local

    def actor_of(token: AdminToken) -> str:
        return f"api:{token.name}"

    def refuse_invalid(token: AdminToken, action: str, target: str | None, reasons: list[str]) -> NoReturn:
        audit_safely(
            runtime,
            actor_of(token),
            action,
            target,
            details={
                "token_id": token.id,
                "outcome": "refused",
                "error": "invalid_request",
                "reasons": reasons,
            },
            reason="",
        )
        raise _Failure(
            422,
            "invalid_request",
            "the request is not valid",
            "fix what `reasons` names and send it again",
            reasons,
        )

    def repository_for(given: str | None, token: AdminToken, action: str) -> str:
        repo = given or only_repository(settings.repositories)
        if repo is None:
            refuse_invalid(token, action, None, [repository_needed(settings.repositories)])
        if not settings.allows_repository(repo):
            audit_safely(
                runtime,
                actor_of(token),
                action,
                repo,
                details={"token_id": token.id, "outcome": "refused", "error": "forbidden_repository"},
                reason="",
            )
            raise _Failure(
                403,
                "forbidden_repository",
                f"{repo} is not among the repositories this bot manages (MODBOT_REPOSITORIES)",
                "ask for a repository this bot manages",
            )
        return repo

    def forge_for(installation_id: int | None, token: AdminToken, action: str, target: str) -> Forge:
        if settings.auth_mode == "app" and installation_id is None:
            refuse_invalid(
                token, action, target, ["`installation_id` is required: the bot runs as a GitHub App"]
            )
        return runtime.forges.for_installation(installation_id)

    def github_failed(error: ForgeError, audit: Callable[[dict[str, Any]], None]) -> NoReturn:
        audit({"outcome": "failed", "detail": str(error)})
        raise _Failure(
            502,
            "github_error",
            str(error),
            "try again; asking twice is safe",
            headers=retry_after_header(error),
        )

    def pull_ref(repo: str, number: int | None, url: str | None = None) -> PullRequestRef | None:
        return (
            None
            if number is None
            else PullRequestRef(number=number, url=url or f"{web}/{repo}/pull/{number}")
        )

    def build_view(build: BuildRecord) -> BuildView:
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
            pull_request=pull_ref(build.repository, build.pr_number),
            detail=build.detail,
        )

    # --- builds -------------------------------------------------------------------------------------------
    @router.post(
        "/builds",
        summary="Open (or refresh) the PR that makes the manifest this module set, and record a build",
        status_code=202,
        response_model=BuildAccepted,
        responses=_responses(403, 409, 422, 502),
    )
    def create_build(body: BuildRequest, token: AdminToken = authenticated) -> BuildAccepted:
        actor = actor_of(token)
        repo = repository_for(body.repository, token, "build.request")
        details: dict[str, Any] = {
            "token_id": token.id,
            "requested_by": body.requested_by,
            "manifest_ref": body.manifest_ref,
            "modules": len(body.modules),
        }

        def audit(outcome: dict[str, Any], target: str = repo) -> None:
            audit_safely(
                runtime, actor, "build.request", target, details={**details, **outcome}, reason=body.reason
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
            raise _Failure(422, "invalid_request", "the request is not valid", "", reasons) from None
        forge = forge_for(body.installation_id, token, "build.request", repo)
        try:
            proposal = propose_build(forge, repo, intent, manifest_path=settings.manifest_path)
        except NothingToChange as nothing:
            audit({"outcome": "refused", "error": "nothing_to_build"})
            raise _Failure(
                422,
                "nothing_to_build",
                nothing.reasons[0],
                _existing_release_hint(runtime, repo, nothing.manifest_hash),
            ) from None
        except EditRefused as refused:
            audit({"outcome": "refused", "error": "edit_refused", "reasons": list(refused.reasons)})
            raise _Failure(
                422,
                "edit_refused",
                "modbot refused this module set; nothing was opened",
                "change the module set as `reasons` say and send it again",
                list(refused.reasons),
            ) from None
        except ForgeError as error:
            log.warning("build request on %s: %s", repo, error)
            github_failed(error, audit)
        target = f"{repo}#{proposal.pull_number}" if proposal.pull_number else repo
        if proposal.status == "left-alone":
            audit({"outcome": "left-alone", "branch": proposal.branch}, target)
            raise _Failure(
                409,
                "branch_taken",
                proposal.message,
                f"merge or close it, or delete the branch `{proposal.branch}`, and ask again",
            )
        # one build per PR and target: asking again while it is unfinished answers the same build
        build = runtime.store.create_build(
            repository=proposal.repository,
            requested_by=f"{actor} ({body.requested_by})"[:200],
            reason=body.reason,
            manifest_ref=body.manifest_ref,
            manifest_hash=proposal.manifest_hash,
            modules_delta=proposal.delta,
            pr_number=proposal.pull_number,
            reuse_unfinished=True,
        )
        audit(
            {
                "outcome": proposal.status,
                "build_id": build.build_id,
                "branch": proposal.branch,
                "commit_sha": proposal.commit_sha,
                "summary": proposal.summary,
                "manifest_hash": proposal.manifest_hash,
            },
            target,
        )
        return BuildAccepted(
            build_id=build.build_id,
            status=build.status,
            pull_request=pull_ref(repo, proposal.pull_number, proposal.pull_url),
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
        responses=_responses(403, 422),
    )
    def list_builds(
        token: AdminToken = authenticated,
        repository: Annotated[
            str | None, Query(pattern=REPO_PATTERN, description="only this repository's (default: all)")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    ) -> BuildList:
        if repository is not None:
            repository_for(repository, token, "build.list")
        builds = runtime.store.builds(repository, limit=limit)
        audit_safely(
            runtime,
            actor_of(token),
            "build.list",
            repository,
            details={"token_id": token.id, "limit": limit, "count": len(builds)},
            reason="",
        )
        return BuildList(builds=[build_view(b) for b in builds])

    @router.get(
        "/builds/{build_id}",
        summary="One build: status, stage, progress, logs, release",
        response_model=BuildView,
        responses=_responses(404, 422),
    )
    def get_build(
        build_id: Annotated[str, Path(max_length=64, description="bld_ + 26 characters")],
        token: AdminToken = authenticated,
    ) -> BuildView:
        build = runtime.store.get_build(build_id)
        audit_safely(
            runtime,
            actor_of(token),
            "build.read",
            build_id if build is not None else None,
            details={"token_id": token.id, "found": build is not None},
            reason="",
        )
        if build is None:
            raise _Failure(404, "not_found", "there is no such build", "GET /admin/builds lists the builds")
        return build_view(build)

    # --- releases, environments, audit ---------------------------------------------------------------------
    @router.get(
        "/releases",
        summary="Released builds (the releases cache), newest first",
        response_model=ReleaseList,
        responses=_responses(403, 422),
    )
    def list_releases(
        token: AdminToken = authenticated,
        repository: Annotated[str | None, Query(pattern=REPO_PATTERN)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        before: Annotated[
            str | None,
            Query(pattern=RELEASE_ID_PATTERN, description="only older than this id"),
        ] = None,
    ) -> ReleaseList:
        repo = repository_for(repository, token, "release.list")
        if before is not None and not is_release_id(before):
            refuse_invalid(token, "release.list", repo, [f"`before`: {before} is not a release id"])
        releases = runtime.store.releases(repo, limit=limit, before=before)
        audit_safely(
            runtime,
            actor_of(token),
            "release.list",
            repo,
            details={"token_id": token.id, "limit": limit, "count": len(releases)},
            reason="",
        )
        return ReleaseList(
            releases=[_release_view(r) for r in releases],
            next_before=releases[-1].release_id if len(releases) == limit else None,
        )

    @router.get(
        "/environments",
        summary="What runs where now: current release, deployment in flight, lock, freeze",
        response_model=EnvironmentList,
        responses=_responses(403, 422),
    )
    def list_environments(
        token: AdminToken = authenticated,
        repository: Annotated[str | None, Query(pattern=REPO_PATTERN)] = None,
        installation_id: Annotated[int | None, Query(gt=0, le=MAX_ID)] = None,
    ) -> EnvironmentList:
        repo = repository_for(repository, token, "environment.list")
        forge = forge_for(installation_id, token, "environment.list", repo)
        try:
            policy, policy_error = _read_policy(forge, repo, settings.policy_path)
        except ForgeError as error:  # the store's view is still worth answering
            policy, policy_error = None, f"the policy could not be read: {error}"
        states = {state.environment: state for state in runtime.store.environments(repo)}
        configured = {env.name: env for env in policy.environments} if policy is not None else {}
        views = []
        for name in [*configured, *sorted(set(states) - set(configured))]:
            state = states.get(name)
            env = configured.get(name)
            current = state.current if state else None
            latest = state.latest if state else None
            views.append(
                EnvironmentView(
                    environment=name,
                    in_policy=env is not None,
                    frozen=env.frozen if env is not None else (False if policy is not None else None),
                    freeze_reason=env.freeze_reason if env is not None else None,
                    required_permission=env.required_permission if env is not None else None,
                    current_release=current.release_id if current else None,
                    current=_deployment_view(current) if current else None,
                    in_flight=_deployment_view(latest)
                    if latest is not None and not latest.finished
                    else None,
                    lock=_lock_view(state.lock) if state and state.lock else None,
                )
            )
        audit_safely(
            runtime,
            actor_of(token),
            "environment.list",
            repo,
            details={"token_id": token.id, "count": len(views), "policy_error": policy_error},
            reason="",
        )
        return EnvironmentList(repository=repo, environments=views, policy_error=policy_error)

    @router.get(
        "/audit",
        summary="The audit log, newest first, filtered and paged",
        response_model=AuditPageView,
        responses=_responses(422),
    )
    def read_audit(  # noqa: PLR0917 - FastAPI passes each query parameter
        token: AdminToken = authenticated,
        actor: Annotated[
            str | None, Query(min_length=1, max_length=200, description="exactly this actor")
        ] = None,
        action: Annotated[str | None, Query(min_length=1, max_length=100, description="e.g. deploy")] = None,
        target: Annotated[
            str | None, Query(min_length=1, max_length=300, description="e.g. owner/name:prod")
        ] = None,
        since: Annotated[
            datetime | None, Query(description="entries at or after this time (ISO 8601)")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        cursor: Annotated[
            int | None, Query(ge=1, le=MAX_ID, description="`next_cursor` of the previous page")
        ] = None,
    ) -> AuditPageView:
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)  # a time without a zone is UTC, as every time here
        page = runtime.store.query_audit(
            actor=actor, action=action, target=target, since=since, limit=limit, cursor=cursor
        )
        audit_safely(
            runtime,
            actor_of(token),
            "audit.read",
            None,
            details={
                "token_id": token.id,
                "filters": {"actor": actor, "action": action, "target": target},
                "count": len(page.entries),
            },
            reason="",
        )
        return AuditPageView(entries=[_audit_view(e) for e in page.entries], next_cursor=page.next_cursor)

    # --- dead letters: deliveries whose job gave up ---------------------------------------------------------
    @router.get(
        "/dead-letters",
        summary="Deliveries whose job gave up (failed), newest first",
        response_model=DeadLetterList,
        responses=_responses(422),
    )
    def list_dead_letters(
        token: AdminToken = authenticated,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        cursor: Annotated[
            int | None, Query(ge=1, le=MAX_ID, description="`next_cursor` of the previous page")
        ] = None,
    ) -> DeadLetterList:
        page = runtime.store.dead_letters(limit=limit, cursor=cursor)
        audit_safely(
            runtime,
            actor_of(token),
            "delivery.dead_letters",
            None,
            details={"token_id": token.id, "count": len(page.dead_letters)},
            reason="",
        )
        return DeadLetterList(
            dead_letters=[_dead_letter_view(d) for d in page.dead_letters], next_cursor=page.next_cursor
        )

    @router.post(
        "/dead-letters/retry",
        summary="Run dead letters again, with a fresh attempt budget",
        response_model=DeadLetterRetryResult,
        responses=_responses(422),
    )
    def retry_dead_letters(body: DeadLetterRetry, token: AdminToken = authenticated) -> DeadLetterRetryResult:
        if body.all == (body.delivery_ids is not None):
            refuse_invalid(
                token, "delivery.retry", None, ["give either `delivery_ids` or `all: true`, not both"]
            )
        asked = None if body.all else list(dict.fromkeys(body.delivery_ids or ()))
        retried = runtime.store.retry_dead_letters(asked, actor=actor_of(token), reason=body.reason or None)
        runtime.wake.set()  # this process's workers take them now
        return DeadLetterRetryResult(
            retried=retried, not_dead_letters=[d for d in asked or () if d not in retried]
        )

    # --- deploy and rollback (the chat-ops service decides and acts) ----------------------------------------
    def owned_build(build_id: str, token: AdminToken, action: str) -> BuildRecord:
        build = runtime.store.get_build(build_id)
        if build is None:
            audit_safely(
                runtime,
                actor_of(token),
                action,
                None,
                details={"token_id": token.id, "outcome": "refused", "error": "not_found"},
                reason="",
            )
            raise _Failure(404, "not_found", "there is no such build", "GET /admin/builds lists the builds")
        repository_for(build.repository, token, action)
        return build

    def run_command(
        request: CommandRequest, forge: Forge, audit: Callable[[dict[str, Any]], None]
    ) -> CommandAccepted:
        try:
            result = execute(request, forge=forge, store=runtime.store, settings=settings)
        except ValueError as error:
            audit({"outcome": "refused", "error": "invalid_request"})
            raise _Failure(422, "invalid_request", "the request is not valid", "", [str(error)]) from None
        except ForgeError as error:
            github_failed(error, audit)
        decision = result.decision
        if not decision.allowed:
            audit({"outcome": "refused", "rule": decision.rule})
            raise _Failure(REFUSAL_STATUS[decision.rule], decision.rule, decision.message, decision.next_step)
        if not result.ok:
            github_error = result.data.get("github_error")
            audit({"outcome": "failed", "error": result.data.get("error")})
            raise _Failure(
                502 if github_error else 409,
                "github_error" if github_error else f"{request.action}_failed",
                str(result.data.get("error") or decision.message),
                "fix the cause and send the request again; nothing is left half-done",
                [str(github_error)] if github_error else [],
            )
        audit(
            {
                "outcome": "started",
                "deployment": result.deployment.id if result.deployment else None,
                "github_deployment_id": result.deployment.github_deployment_id if result.deployment else None,
            }
        )
        assert request.action in ("deploy", "rollback")
        return CommandAccepted(
            action=request.action,
            message=decision.message,
            message_markdown=result.message_markdown,
            warnings=list(decision.warnings),
            deployment=_deployment_view(result.deployment) if result.deployment else None,
            lock=_lock_view(result.lock) if result.lock else None,
        )

    @router.post(
        "/builds/{build_id}/deploy",
        summary="Deploy the build's release to an environment",
        status_code=202,
        response_model=CommandAccepted,
        responses=_responses(403, 404, 409, 422, 502),
    )
    def deploy_build(
        build_id: Annotated[str, Path(max_length=64, description="bld_ + 26 characters")],
        body: DeployRequest,
        token: AdminToken = authenticated,
    ) -> CommandAccepted:
        build = owned_build(build_id, token, "build.deploy")
        actor = actor_of(token)

        def audit(outcome: dict[str, Any]) -> None:
            audit_safely(
                runtime,
                actor,
                "build.deploy",
                build.build_id,
                details={
                    "token_id": token.id,
                    "repository": build.repository,
                    "environment": body.environment,
                    "release_id": build.release_id,
                    **outcome,
                },
                reason=body.reason or "",
            )

        if build.release_id is None:
            audit({"outcome": "refused", "error": "no_release"})
            raise _Failure(
                409,
                "no_release",
                f"build {build.build_id} has no release yet (status {build.status}, stage {build.stage})",
                _no_release_advice(build),
            )
        forge = forge_for(body.installation_id, token, "build.deploy", build.build_id)
        request = CommandRequest(
            repo=build.repository,
            action="deploy",
            environment=body.environment,
            release_id=build.release_id,
            actor=actor,
            actor_kind="token",
            source="api",
            reason=body.reason or f"deploy of build {build.build_id}",
        )
        return run_command(request, forge, audit)

    @router.post(
        "/builds/{build_id}/rollback",
        summary="Roll an environment back from the build's release",
        status_code=202,
        response_model=CommandAccepted,
        responses=_responses(403, 404, 409, 422, 502),
    )
    def rollback_build(
        build_id: Annotated[str, Path(max_length=64, description="bld_ + 26 characters")],
        body: RollbackRequest,
        token: AdminToken = authenticated,
    ) -> CommandAccepted:
        build = owned_build(build_id, token, "build.rollback")
        actor = actor_of(token)
        environment = body.environment

        def audit(outcome: dict[str, Any]) -> None:
            audit_safely(
                runtime,
                actor,
                "build.rollback",
                build.build_id,
                details={
                    "token_id": token.id,
                    "repository": build.repository,
                    "environment": environment,
                    "target_release": body.target_release,
                    "release_id": build.release_id,
                    **outcome,
                },
                reason=body.reason or "",
            )

        forge = forge_for(body.installation_id, token, "build.rollback", build.build_id)
        if environment is None:
            try:
                policy, policy_error = _read_policy(forge, build.repository, settings.policy_path)
            except ForgeError as error:
                github_failed(error, audit)
            names = [env.name for env in policy.environments] if policy is not None else []
            if len(names) != 1:
                audit({"outcome": "refused", "error": "invalid_request"})
                why = (
                    f"`environment` is required: the policy has {len(names)} environments "
                    f"({', '.join(names)})"
                    if policy is not None
                    else f"`environment` is required: {policy_error}"
                )
                raise _Failure(
                    422, "invalid_request", "the request is not valid", "name the environment", [why]
                )
            environment = names[0]
        if body.target_release is None:
            if build.release_id is None:
                audit({"outcome": "refused", "error": "no_release"})
                raise _Failure(
                    409,
                    "no_release",
                    f"build {build.build_id} was never released, so there is nothing of it to roll back",
                    "name `target_release` to roll the environment back to a release of your choice",
                )
            current = runtime.store.current_deployment(build.repository, environment)
            if current is not None and current.release_id != build.release_id:
                audit({"outcome": "refused", "error": "not_current", "current_release": current.release_id})
                raise _Failure(
                    409,
                    "not_current",
                    f"{environment} runs {current.release_id}, not this build's {build.release_id}: rolling "
                    f"back from here would undo {current.release_id}",
                    "name `target_release`, or roll back from the build of what runs there now",
                )
        request = CommandRequest(
            repo=build.repository,
            action="rollback",
            environment=environment,
            release_id=body.target_release,
            actor=actor,
            actor_kind="token",
            source="api",
            reason=body.reason or f"rollback from build {build.build_id}",
        )
        return run_command(request, forge, audit)

    return router


# --- helpers ------------------------------------------------------------------------------------------------
def _no_release_advice(build: BuildRecord) -> str:
    """What to do about a build without a release: something that can work in its state."""
    if build.status in ("failed", "cancelled"):
        return "it will not get one: request a new build (POST /admin/builds)"
    if build.stage == "release":
        # the run succeeded, yet no release tag at the merge commit nor a modbot/release status naming
        # the release it reused was found (waiting on the tag's event is the usual case; an older
        # workflow that reused a release sets no status)
        return (
            f"its build run succeeded: wait for the release tag (GET /admin/builds/{build.build_id}); if its "
            "build reused a release (the run's plan step names it), deploy that release by id "
            "(/deploy <env> rel_… in a comment, or `modbot deploy`)"
        )
    return f"wait until it succeeds (GET /admin/builds/{build.build_id})"


def _existing_release_hint(runtime: Runtime, repo: str, manifest_hash: str | None) -> str:
    """Point at a release that already carries this manifest, when the cache has one."""
    if manifest_hash is not None:
        for release in runtime.store.releases(repo, limit=MAX_PAGE):
            if release.manifest_hash == manifest_hash:
                return (
                    f"release {release.release_id} already carries this manifest: deploy it "
                    f"(/deploy <env> {release.release_id} in a comment, or `modbot deploy`)"
                )
    return "change `modules` (this is the manifest as it is), or rebuild the current manifest with /rebuild"


def _read_policy(forge: Forge, repo: str, path: str) -> tuple[RepositoryPolicy | None, str | None]:
    """The policy on the default branch, or None and why not; ForgeError when GitHub cannot be asked."""
    policy = load_policy(forge, repo, path=path, default_branch=None)
    if policy.config is None and policy.error is None:
        return None, f"there is no {path} on {policy.branch}"
    return policy.config, policy.error


def _release_view(info: ReleaseInfo) -> ReleaseView:
    return ReleaseView.model_validate(info, from_attributes=True)


def _deployment_view(record: DeploymentRecord) -> DeploymentView:
    return DeploymentView.model_validate(record, from_attributes=True)


def _lock_view(lock: EnvironmentLock) -> LockView:
    return LockView.model_validate(lock, from_attributes=True)


def _audit_view(entry: AuditEntry) -> AuditEntryView:
    return AuditEntryView.model_validate(entry, from_attributes=True)


def _dead_letter_view(letter: DeadLetter) -> DeadLetterView:
    return DeadLetterView(
        delivery_id=letter.delivery_id,
        event=letter.event,
        action=letter.action,
        repository=letter.repository,
        installation_id=letter.installation_id,
        received_at=letter.received_at,
        attempts=letter.attempts,
        failed_at=letter.finished_at,
        last_error=letter.last_error,
    )
