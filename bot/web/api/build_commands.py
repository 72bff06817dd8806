"""Deploy and rollback of a build's release: ``POST /admin/builds/{build_id}/deploy`` and ``…/rollback``
run the chat-ops service's command (``bot.app.commands.service.execute``), which alone decides who may do
what (`bot.app.chatops.authorize`); an admin token acts as actor ``api:<token name>``, kind ``token``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from bot.app.audit import audit_safely
from bot.app.commands.service import CommandRequest, execute
from bot.app.queries.environments import read_policy
from bot.config import BotSettings
from bot.domain.ids import ENVIRONMENT_NAME_PATTERN, RELEASE_ID_PATTERN
from bot.forge import Forge, ForgeError
from bot.store import AdminToken, BuildRecord, Store
from bot.web.api.auditing import api_actor
from bot.web.api.auth import Caller
from bot.web.api.context import ForgesDep, SettingsDep, StoreDep
from bot.web.api.fields import MAX_ID
from bot.web.api.guards import audit_refusal, forge_for, github_failed, repository_for
from bot.web.api.problems import REFUSAL_STATUS, ApiRoute, Dialect, coded_problem, responses
from bot.web.api.views import DeploymentView, LockView, deployment_view, lock_view

__all__ = ["CommandAccepted", "DeployRequest", "RollbackRequest", "deploy_build", "rollback_build", "router"]

router = APIRouter(prefix="/admin", tags=["builds"], route_class=ApiRoute)


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


def owned_build(
    store: Store, settings: BotSettings, token: AdminToken, build_id: str, action: str
) -> BuildRecord:
    build = store.get_build(build_id)
    if build is None:
        audit_refusal(store, token, action, None, "not_found")
        raise coded_problem(404, "not_found", "there is no such build", "GET /admin/builds lists the builds")
    repository_for(store, settings, token, build.repository, action)
    return build


def run_command(
    request: CommandRequest,
    forge: Forge,
    store: Store,
    settings: BotSettings,
    audit: Callable[[dict[str, Any]], None],
) -> CommandAccepted:
    try:
        result = execute(request, forge=forge, store=store, settings=settings)
    except ValueError as error:
        audit({"outcome": "refused", "error": "invalid_request"})
        raise Dialect.CODED.invalid_request([str(error)]) from None
    except ForgeError as error:
        audit({"outcome": "failed", "detail": str(error)})
        github_failed(error)
    decision = result.decision
    if not decision.allowed:
        audit({"outcome": "refused", "rule": decision.rule})
        raise coded_problem(
            REFUSAL_STATUS[decision.rule], decision.rule, decision.message, decision.next_step
        )
    if not result.ok:
        github_error = result.data.get("github_error")
        audit({"outcome": "failed", "error": result.data.get("error")})
        raise coded_problem(
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
        deployment=deployment_view(result.deployment) if result.deployment else None,
        lock=lock_view(result.lock) if result.lock else None,
    )


@router.post(
    "/builds/{build_id}/deploy",
    summary="Deploy the build's release to an environment",
    status_code=202,
    response_model=CommandAccepted,
    responses=responses(403, 404, 409, 422, 502),
)
def deploy_build(
    build_id: Annotated[str, Path(max_length=64, description="bld_ + 26 characters")],
    body: DeployRequest,
    *,
    token: Caller,
    store: StoreDep,
    settings: SettingsDep,
    forges: ForgesDep,
) -> CommandAccepted:
    build = owned_build(store, settings, token, build_id, "build.deploy")
    actor = api_actor(token)

    def audit(outcome: dict[str, Any]) -> None:
        audit_safely(
            store,
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
        raise coded_problem(
            409,
            "no_release",
            f"build {build.build_id} has no release yet (status {build.status}, stage {build.stage})",
            _no_release_advice(build),
        )
    forge = forge_for(store, settings, forges, token, body.installation_id, "build.deploy", build.build_id)
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
    return run_command(request, forge, store, settings, audit)


@router.post(
    "/builds/{build_id}/rollback",
    summary="Roll an environment back from the build's release",
    status_code=202,
    response_model=CommandAccepted,
    responses=responses(403, 404, 409, 422, 502),
)
def rollback_build(
    build_id: Annotated[str, Path(max_length=64, description="bld_ + 26 characters")],
    body: RollbackRequest,
    *,
    token: Caller,
    store: StoreDep,
    settings: SettingsDep,
    forges: ForgesDep,
) -> CommandAccepted:
    build = owned_build(store, settings, token, build_id, "build.rollback")
    actor = api_actor(token)
    environment = body.environment

    def audit(outcome: dict[str, Any]) -> None:
        audit_safely(
            store,
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

    forge = forge_for(store, settings, forges, token, body.installation_id, "build.rollback", build.build_id)
    if environment is None:
        try:
            policy, policy_error = read_policy(forge, build.repository, settings.policy_path)
        except ForgeError as error:
            audit({"outcome": "failed", "detail": str(error)})
            github_failed(error)
        names = [env.name for env in policy.environments] if policy is not None else []
        if len(names) != 1:
            audit({"outcome": "refused", "error": "invalid_request"})
            why = (
                f"`environment` is required: the policy has {len(names)} environments ({', '.join(names)})"
                if policy is not None
                else f"`environment` is required: {policy_error}"
            )
            raise Dialect.CODED.invalid_request([why], "name the environment")
        environment = names[0]
    if body.target_release is None:
        if build.release_id is None:
            audit({"outcome": "refused", "error": "no_release"})
            raise coded_problem(
                409,
                "no_release",
                f"build {build.build_id} was never released, so there is nothing of it to roll back",
                "name `target_release` to roll the environment back to a release of your choice",
            )
        current = store.current_deployment(build.repository, environment)
        if current is not None and current.release_id != build.release_id:
            audit({"outcome": "refused", "error": "not_current", "current_release": current.release_id})
            raise coded_problem(
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
    return run_command(request, forge, store, settings, audit)


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
