"""The Deployment contract (docs/workflows.md#the-deployment-contract): the payload of a Deployment modbot
creates (`contract_payload`), how one is read back from a forge (`read_contract`), the stage a deployment
status says it reached (`deploy_stage`), and the one way a contract deployment is recorded in the store
(`record_contract_deployment`, used by the live follow-up and by `modbot releases sync` alike).

The deploy workflow template writes the statuses this module reads; tests/test_chatops_deployments.py
and the workflow drift tests hold both sides to the same words."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast, get_args

from bot.domain.ids import is_release_id
from bot.forge import Deployment
from bot.pipeline.release import DEPLOY_TAG_PREFIX
from bot.pipeline.version import TEMPLATE_VERSION
from bot.store import DeployKind, DeploymentRecord, DeployStage, DeployStatus, ReleaseInfo, Store
from bot.store.values import check_actor, check_short_text, check_url

__all__ = [
    "CONTRACT_KINDS",
    "CONTRACT_VERSION",
    "DeploymentContract",
    "contract_payload",
    "deploy_stage",
    "read_contract",
    "record_contract_deployment",
    "recorded_status",
    "stored_url",
]

CONTRACT_VERSION = 1  # the Deployment payload's `modbot` key (docs/workflows.md#the-deployment-contract)
CONTRACT_KINDS: frozenset[str] = frozenset(get_args(DeployKind))


def deploy_stage(state: str, description: str) -> DeployStage | None:
    """The stage a status says a deployment reached (None: the status does not say)."""
    if state in ("queued", "pending"):
        return "queued"
    if state == "success":
        return "done"
    if state == "in_progress":
        if description.startswith("smoke testing "):
            return "smoke"
        if description.startswith("deploying "):
            return "deploy"
    return None  # a failure stays at the stage where it stopped


def recorded_status(state: str) -> DeployStatus | None:
    if state == "pending":
        return "queued"
    if state in get_args(DeployStatus):
        return cast(DeployStatus, state)
    return None


@dataclass(frozen=True, slots=True)
class DeploymentContract:
    """What a modbot Deployment's payload says (docs/workflows.md#the-deployment-contract), checked."""

    kind: DeployKind
    release_id: str
    previous_release: str | None
    manifest_hash: str | None
    requested_by: str
    reason: str | None


def read_contract(payload: Mapping[str, Any], creator: str | None) -> DeploymentContract | str:
    """A Deployment's payload (as the forge reads it: a JSON object, {} for anything else) as the
    contract, or why it is not a modbot Deployment's. Only `kind` and `release_id` must be right: an
    optional value that is wrong or that the store would refuse is left out (a refused upsert would
    fail the job on every retry and keep the lock), a missing requester is the Deployment's creator."""
    modbot = payload.get("modbot")
    if modbot != 1 or isinstance(modbot, bool):
        return "not a modbot Deployment (no payload.modbot == 1)"
    kind, release_id = payload.get("kind"), payload.get("release_id")
    if kind not in CONTRACT_KINDS:
        return f"unknown kind {str(kind)[:40]!r}"
    if not isinstance(release_id, str) or not is_release_id(release_id):
        return "payload.release_id is not a release id"
    previous = payload.get("previous_release")
    if previous is not None and (not isinstance(previous, str) or not is_release_id(previous)):
        previous = None
    asked = payload.get("requested_by")
    one_line = " ".join(asked.split())[:200] if isinstance(asked, str) else ""
    requested_by = _acceptable(lambda: check_actor("requested_by", one_line))
    reason = payload.get("reason")
    return DeploymentContract(
        kind=cast(DeployKind, kind),
        release_id=release_id,
        previous_release=previous,
        manifest_hash=_acceptable(
            lambda: check_short_text("manifest_hash", payload.get("manifest_hash"), 100, required=False)
        ),
        requested_by=requested_by or creator or "github",
        reason=reason if isinstance(reason, str) and reason.strip() else None,
    )


def _acceptable(check: Callable[[], str | None]) -> str | None:
    """The value `check` (a store validator) returns, or None when it refuses it."""
    try:
        return check()
    except ValueError:
        return None


def contract_payload(
    *,
    kind: Literal["deploy", "rollback"],
    release: ReleaseInfo,
    environment: str,
    requested_by: str,
    reason: str | None,
    previous_release: str | None,
    rollback_of: str | None,
) -> dict[str, Any]:
    """The payload of a GitHub Deployment modbot creates: every key of the Deployment contract
    (docs/workflows.md#the-deployment-contract), always present."""
    return {
        "modbot": CONTRACT_VERSION,
        "kind": kind,
        "release_id": release.release_id,
        "manifest_hash": release.manifest_hash,
        "image": release.image,
        "deploy_tag": f"{DEPLOY_TAG_PREFIX}{environment}",
        "requested_by": requested_by,
        "reason": reason or "",
        "previous_release": previous_release,
        "rollback_of": rollback_of,
        "trigger": "modbot",
        "modbot_template_version": TEMPLATE_VERSION,
    }


def record_contract_deployment(
    store: Store,
    repo: str,
    deployment: Deployment,
    contract: DeploymentContract,
    *,
    status: DeployStatus,
    stage: DeployStage | None,
    logs_url: str | None,
    finished_at: datetime | None = None,
) -> DeploymentRecord:
    """A modbot Deployment seen on GitHub, into the store: the one way the live handler and `modbot
    releases sync` record one, so a store rebuilt from GitHub holds what a store fed live holds (a log
    URL the store refuses is left out, not the whole deployment)."""
    return store.upsert_github_deployment(
        repository=repo,
        github_deployment_id=deployment.id,
        environment=deployment.environment,
        release_id=contract.release_id,
        commit_sha=deployment.sha,
        kind=contract.kind,
        requested_by=contract.requested_by,
        reason=contract.reason,
        status=status,
        created_at=deployment.created_at,
        stage=stage,
        previous_release=contract.previous_release,
        manifest_hash=contract.manifest_hash,
        logs_url=stored_url(logs_url),
        finished_at=finished_at,
        actor="github",
    )


def stored_url(value: Any) -> str | None:
    """An http(s) URL as the store keeps it (a password redacted), else None."""
    return _acceptable(lambda: check_url("logs_url", value)) if isinstance(value, str) and value else None
