"""Recording a contract Deployment (bot/pipeline/contract.py: the wire format) in the store: the one way
the live follow-up and `modbot releases sync` record one, so a store rebuilt from the forge holds what a
store fed live holds."""

from __future__ import annotations

from datetime import datetime

from bot.app.ports.store import DeploymentStore
from bot.domain.records import DeploymentRecord, DeployStage, DeployStatus
from bot.forge import Deployment
from bot.pipeline.contract import DeploymentContract, stored_url

__all__ = ["record_contract_deployment"]


def record_contract_deployment(
    store: DeploymentStore,
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
