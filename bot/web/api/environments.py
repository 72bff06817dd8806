"""``GET /admin/environments``: what runs where now (current release, deployment in flight, lock, freeze),
per environment of the policy, then any other environment the store has seen."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from bot.app.audit import audit_safely
from bot.app.queries.environments import environments_overview
from bot.domain.ids import REPO_PATTERN
from bot.web.api.auditing import api_actor
from bot.web.api.auth import Caller
from bot.web.api.context import ForgesDep, SettingsDep, StoreDep
from bot.web.api.fields import MAX_ID
from bot.web.api.guards import forge_for, repository_for
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
    overview = environments_overview(store, forge, repo, settings.policy_path)
    views = [
        EnvironmentView(
            environment=status.name,
            in_policy=status.in_policy,
            frozen=status.frozen,
            freeze_reason=status.freeze_reason,
            required_permission=status.required_permission,
            current_release=status.current.release_id if status.current else None,
            current=deployment_view(status.current) if status.current else None,
            in_flight=deployment_view(status.in_flight) if status.in_flight else None,
            lock=lock_view(status.lock) if status.lock else None,
        )
        for status in overview.environments
    ]
    policy_error = overview.policy_error
    audit_safely(
        store,
        api_actor(token),
        "environment.list",
        repo,
        details={"token_id": token.id, "count": len(views), "policy_error": policy_error},
        reason="",
    )
    return EnvironmentList(repository=repo, environments=views, policy_error=policy_error)
