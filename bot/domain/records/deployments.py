"""Deploys' records: environment locks, the deployment history and what runs where.

A deployment's ``status`` runs queued → in_progress → a final one (success, failure, error, inactive),
its ``stage`` queued → deploy → smoke → done; bot/domain/deployment_state.py has the rules of that
progression and of a lock's life.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

__all__ = [
    "FINAL_DEPLOY_STATUSES",
    "DeployKind",
    "DeploySource",
    "DeployStage",
    "DeployStatus",
    "DeploymentRecord",
    "EnvironmentLock",
    "EnvironmentState",
    "LockHeld",
    "LockLost",
    "LockPurpose",
]

LockPurpose = Literal["deploy", "rollback"]
DeployKind = Literal["deploy", "rollback", "auto_rollback"]
DeployStatus = Literal["queued", "in_progress", "success", "failure", "error", "inactive"]
DeployStage = Literal["queued", "deploy", "smoke", "done"]
DeploySource = Literal["comment", "api", "cli", "github", "console"]

FINAL_DEPLOY_STATUSES: Final = frozenset({"success", "failure", "error", "inactive"})


@dataclass(frozen=True, slots=True)
class EnvironmentLock:
    repository: str  # owner/name, lower-cased
    environment: str
    holder: str  # who took it: a GitHub login or "api:<token name>"
    purpose: LockPurpose
    release_id: str | None
    deployment_id: int | None  # the GitHub Deployment id, once created
    reason: str | None
    acquired_at: datetime
    expires_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The lock as JSON values (audit details, API and CLI answers)."""
        return {
            "holder": self.holder,
            "purpose": self.purpose,
            "release_id": self.release_id,
            "deployment_id": self.deployment_id,
            "acquired_at": self.acquired_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }

    def describe(self) -> str:
        """``alice (deploy of rel_2026_01_01_001) since 12:00:00 UTC, until 13:00:00 UTC``."""
        what = self.purpose + (f" of {self.release_id}" if self.release_id else "")
        return (
            f"{self.holder} ({what}) since {self.acquired_at:%Y-%m-%d %H:%M:%S} UTC, "
            f"until {self.expires_at:%Y-%m-%d %H:%M:%S} UTC"
        )


class LockHeld(Exception):
    """The environment is locked by someone else; ``lock`` is the live lock that refused."""

    def __init__(self, lock: EnvironmentLock) -> None:
        self.lock = lock
        super().__init__(f"{lock.environment} of {lock.repository} is locked by {lock.describe()}")


class LockLost(RuntimeError):
    """The lock a caller took is no longer its own: it expired, was released or was taken over."""


@dataclass(frozen=True, slots=True)
class DeploymentRecord:
    id: int
    repository: str  # owner/name, lower-cased
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
    source: DeploySource  # "comment" | "api" | "cli" | "github" (seen on GitHub, not started by us)
    issue_number: int | None  # where progress is reported
    reply_comment_id: int | None
    logs_url: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in FINAL_DEPLOY_STATUSES


@dataclass(frozen=True, slots=True)
class EnvironmentState:
    """What runs in one environment now, what was asked last, and who holds it."""

    environment: str
    current: DeploymentRecord | None  # the newest successful deployment
    latest: DeploymentRecord | None  # the newest deployment, whatever its status (maybe in flight)
    lock: EnvironmentLock | None  # the live lock, if any
