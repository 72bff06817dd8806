"""How a deployment moves on and when an environment's lock holds: the rules, without the database.

The store applies them inside its transactions (bot/store/deployments.py, bot/store/locks.py); they
live here so that every implementation of the deployment store, and any use case that reasons about
progress, applies the same ones.

- ``status``: queued < in_progress < a final one (success, failure, error, inactive). A final status
  is final: changing it is a ``FinalStateError``; reaching one sets ``finished_at``.
- ``stage``: queued < deploy < smoke < done. ``success`` means ``done``; another final status leaves
  the stage where the deployment stopped.
- A deployment seen on GitHub only moves forward, and never once final, so replayed or out-of-order
  events change nothing.
- A lock is held until ``expires_at``; an expired lock holds nothing. It is released by the
  deployment it is attached to, by its holder, or by force.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, cast, get_args

from bot.domain.records.checks import check_choice
from bot.domain.records.common import FinalStateError
from bot.domain.records.deployments import (
    FINAL_DEPLOY_STATUSES,
    DeploymentRecord,
    DeployStage,
    DeployStatus,
    EnvironmentLock,
)

__all__ = [
    "STAGE_RANK",
    "STATUS_RANK",
    "check_stage",
    "check_status",
    "forward_progress",
    "is_final",
    "lock_is_live",
    "may_release",
    "stage_for",
    "starting_stage",
    "status_change",
]

# Order in which a deployment moves on; an upsert from GitHub never moves one back.
STATUS_RANK: Final = {"queued": 0, "in_progress": 1, **dict.fromkeys(FINAL_DEPLOY_STATUSES, 2)}
STAGE_RANK: Final = {"queued": 0, "deploy": 1, "smoke": 2, "done": 3}


def check_status(status: str) -> DeployStatus:
    return cast(DeployStatus, check_choice("status", status, get_args(DeployStatus)))


def check_stage(stage: str) -> DeployStage:
    return cast(DeployStage, check_choice("stage", stage, get_args(DeployStage)))


def is_final(status: str) -> bool:
    return status in FINAL_DEPLOY_STATUSES


def stage_for(status: str, stage_now: str) -> DeployStage:
    """The stage a status implies: queued → queued, in_progress → deploy, success → done; any other
    final status leaves the stage where the deployment stopped."""
    if status == "queued":
        return "queued"
    if status == "in_progress":
        return "deploy"
    if status == "success":
        return "done"
    return check_stage(stage_now)


def starting_stage(status: DeployStatus, stage: DeployStage) -> DeployStage:
    """The stage a new record starts at: ``done`` if it is recorded as a success already."""
    return "done" if status == "success" else stage


def status_change(
    record_id: int, before: DeployStatus, after: DeployStatus, *, stage_given: bool, now: datetime
) -> dict[str, Any]:
    """What else changes when a deployment's status goes from ``before`` to ``after`` (nothing if it
    stays): a final status sets ``finished_at`` and, for ``success``, stage ``done`` unless a stage is
    given. A finished deployment's status cannot change: ``FinalStateError``."""
    if after == before:
        return {}
    if is_final(before):
        raise FinalStateError(
            f"deployment record {record_id} finished with {before!r}; it cannot become {after!r}"
        )
    changes: dict[str, Any] = {}
    if is_final(after):
        changes["finished_at"] = now
        if after == "success" and not stage_given:
            changes["stage"] = "done"
    return changes


def forward_progress(
    before: DeploymentRecord,
    *,
    status: DeployStatus,
    stage: DeployStage | None,
    logs_url: str | None,
    manifest_hash: str | None,
    previous_release: str | None,
    finished_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """The changes a report from GitHub makes to a known deployment: its progress moves only forward
    (status by rank, stage by rank, never once final; without ``stage`` it follows the status), and
    the empty ``manifest_hash``, ``previous_release`` and ``logs_url`` are filled in. Empty: nothing
    to change."""
    changes: dict[str, Any] = {}
    if not before.finished and STATUS_RANK[status] >= STATUS_RANK[before.status]:
        if status != before.status:
            changes["status"] = status
            if is_final(status):
                changes["finished_at"] = finished_at or now
        candidate = stage or stage_for(status, before.stage)
        if STAGE_RANK[candidate] > STAGE_RANK[before.stage]:
            changes["stage"] = candidate
        if logs_url is not None and logs_url != before.logs_url:
            changes["logs_url"] = logs_url
    for name, value in (
        ("manifest_hash", manifest_hash),
        ("previous_release", previous_release),
        ("logs_url", logs_url),
    ):
        if value is not None and getattr(before, name) is None:
            changes[name] = value
    return changes


def lock_is_live(lock: EnvironmentLock, now: datetime) -> bool:
    """A lock holds until its ``expires_at``; from then on it holds nothing (the store's queries say
    the same in SQL: ``expires_at > now``)."""
    return lock.expires_at > now


def may_release(lock: EnvironmentLock, *, actor: str, deployment_id: int | None, force: bool) -> bool:
    """Whether this caller may release the live ``lock``: with ``force`` (``/unlock``) whatever holds
    it; with a ``deployment_id`` only the lock attached to that deployment (a late event of an old
    deploy must not free a newer deploy's lock); otherwise only its holder (case-insensitively)."""
    if force:
        return True
    if deployment_id is not None:
        return lock.deployment_id == deployment_id
    return lock.holder.lower() == actor.lower()
