"""``GET /admin/environments``: what runs where now (current release, deployment in flight, lock, freeze),
per environment of the policy, then any other environment the store has seen."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from bot.app.audit import audit_safely
from bot.domain.ids import REPO_PATTERN
from bot.forge import ForgeError
from bot.web.api.auditing import api_actor
from bot.web.api.auth import Caller
from bot.web.api.context import ForgesDep, SettingsDep, StoreDep
from bot.web.api.fields import MAX_ID
from bot.web.api.guards import forge_for, read_policy, repository_for
from bot.web.api.problems import ApiRoute, responses
from bot.web.api.views import DeploymentView, LockView, deployment_view, lock_view

__all__ = ["EnvironmentList", "EnvironmentView", "list_environments", "router"]

router = APIRouter(prefix="/admin", tags=["builds"], route_class=ApiRoute)


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


@router.get(
    "/environments",
    summary="What runs where now: current release, deployment in flight, lock, freeze",
    response_model=EnvironmentList,
    responses=responses(403, 422),
)
def list_environments(  # noqa: PLR0917 - FastAPI passes each parameter and dependency
    token: Caller,
    store: StoreDep,
    settings: SettingsDep,
    forges: ForgesDep,
    repository: Annotated[str | None, Query(pattern=REPO_PATTERN)] = None,
    installation_id: Annotated[int | None, Query(gt=0, le=MAX_ID)] = None,
) -> EnvironmentList:
    repo = repository_for(store, settings, token, repository, "environment.list")
    forge = forge_for(store, settings, forges, token, installation_id, "environment.list", repo)
    try:
        policy, policy_error = read_policy(forge, repo, settings.policy_path)
    except ForgeError as error:  # the store's view is still worth answering
        policy, policy_error = None, f"the policy could not be read: {error}"
    states = {state.environment: state for state in store.environments(repo)}
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
                current=deployment_view(current) if current else None,
                in_flight=deployment_view(latest) if latest is not None and not latest.finished else None,
                lock=lock_view(state.lock) if state and state.lock else None,
            )
        )
    audit_safely(
        store,
        api_actor(token),
        "environment.list",
        repo,
        details={"token_id": token.id, "count": len(views), "policy_error": policy_error},
        reason="",
    )
    return EnvironmentList(repository=repo, environments=views, policy_error=policy_error)
