"""Answer models more than one resource shows: deployments, locks, pull requests."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from bot.config import BotSettings
from bot.store import (
    DeployKind,
    DeploymentRecord,
    DeploySource,
    DeployStage,
    DeployStatus,
    EnvironmentLock,
    LockPurpose,
)

__all__ = [
    "DeploymentView",
    "LockView",
    "PullRequestRef",
    "deployment_view",
    "github_web_url",
    "lock_view",
    "pull_ref",
]


class PullRequestRef(BaseModel):
    number: int
    url: str


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


def deployment_view(record: DeploymentRecord) -> DeploymentView:
    return DeploymentView.model_validate(record, from_attributes=True)


def lock_view(lock: EnvironmentLock) -> LockView:
    return LockView.model_validate(lock, from_attributes=True)


def github_web_url(settings: BotSettings) -> str:
    """github.com, or the GitHub Enterprise host the API URL belongs to (for links to pull requests)."""
    api = settings.github_api_url
    if api == "https://api.github.com":
        return "https://github.com"
    return api.removesuffix("/api/v3")


def pull_ref(
    settings: BotSettings, repo: str, number: int | None, url: str | None = None
) -> PullRequestRef | None:
    if number is None:
        return None
    return PullRequestRef(number=number, url=url or f"{github_web_url(settings)}/{repo}/pull/{number}")
