"""`modbot releases sync`: rebuild the releases cache and the deployment history from GitHub alone.

GitHub is the system of record (docs/workflows.md, "The Deployment contract"): every release is an
annotated ``release/<id>`` tag whose message is its JSON record, and every deploy or rollback is a GitHub
Deployment whose payload has ``modbot: 1``. If the bot's database is lost, this reads both back:

1. each ``release/*`` tag not cached yet: its tag object, parsed as a release record, cached
   (``upsert_release``). A lightweight tag, a tag object that is not on a commit, a message that is not
   a record, or a record naming another commit than the tag's is skipped with a warning: never trusted;
2. for each environment (given, else the policy's on the default branch; with no readable policy, every
   environment GitHub has Deployments for) the Deployments with ``payload.modbot == 1`` and each one's
   newest status, recorded with ``upsert_github_deployment``.

Idempotent: a second run changes nothing, reads no tag object again and asks for the statuses of the
unfinished deployments only. It never downgrades: the store
only ever moves a deployment's progress forward and never changes a final one.

A Deployment's newest status ``inactive`` means GitHub retired it when a newer one succeeded (modbot's
statuses use ``auto_inactive``): it ran there. Its ``success`` status (one more call) is recorded, with
that status's time and log, which is also what a store that saw the events live holds (its ``success``
was final before the ``inactive`` came).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, cast

from bot.app.audit import audit_safely
from bot.app.contract import record_contract_deployment
from bot.app.policy import load_policy
from bot.app.ports.store import DeploymentStore, ReleaseCache, WholeStore
from bot.app.releases import release_in_tag_object
from bot.domain.ids import is_release_id
from bot.domain.records import FINAL_DEPLOY_STATUSES, DeploymentRecord, DeployStage, DeployStatus, ReleaseInfo
from bot.forge import Deployment, DeploymentStatus, Forge, ForgeError
from bot.pipeline.config import DEFAULT_CONFIG_PATH
from bot.pipeline.contract import deploy_stage, read_contract
from bot.pipeline.release import RELEASE_TAG_PREFIX

__all__ = ["DEFAULT_DEPLOYMENTS_PER_ENVIRONMENT", "SyncReport", "sync_releases", "sync_releases_audited"]

log = logging.getLogger(__name__)

DEFAULT_DEPLOYMENTS_PER_ENVIRONMENT = 500
_CACHE_PAGE = 1000
_STATUS_HISTORY = 100  # statuses read to find the success an ``inactive`` retired
_STATES: dict[str, DeployStatus] = {
    "pending": "queued",
    "queued": "queued",
    "in_progress": "in_progress",
    "success": "success",
    "inactive": "inactive",  # only when no success came before it (see _deciding_status)
    "failure": "failure",
    "error": "error",
}


@dataclass
class SyncReport:
    """What one sync found and changed. Counts are of what GitHub holds; ``*_added`` and
    ``deployments_updated`` are what this run changed in the store (empty on a second run)."""

    repository: str
    environments: list[str] = field(default_factory=list)
    release_tags: int = 0  # release/* tags on GitHub
    releases_cached: int = 0  # of those, already in the store before this run
    releases_added: list[str] = field(default_factory=list)
    deployments_seen: int = 0  # modbot's Deployments on GitHub (payload.modbot == 1)
    deployments_added: list[int] = field(default_factory=list)  # GitHub Deployment ids
    deployments_updated: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.releases_added or self.deployments_added or self.deployments_updated)

    def to_json(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "environments": list(self.environments),
            "release_tags": self.release_tags,
            "releases_cached": self.releases_cached,
            "releases_added": list(self.releases_added),
            "deployments_seen": self.deployments_seen,
            "deployments_added": list(self.deployments_added),
            "deployments_updated": list(self.deployments_updated),
            "warnings": list(self.warnings),
            "changed": self.changed,
        }


def sync_releases_audited(
    repo: str,
    *,
    actor: str,
    forge: Forge,
    store: WholeStore,
    environments: list[str] | None,
    policy_path: str = DEFAULT_CONFIG_PATH,
) -> SyncReport:
    """`sync_releases` as an operator asks for it: audited as ``releases.sync`` with its report, or with
    the failure (what was synced before it stays in the store; the `ForgeError` is re-raised)."""
    target = repo.lower()
    try:
        report = sync_releases(
            repo, forge=forge, store=store, environments=environments, policy_path=policy_path
        )
    except ForgeError as error:
        audit_safely(
            store,
            actor,
            "releases.sync",
            target,
            details={"outcome": "failed", "error": str(error)},
            reason="",
        )
        raise
    audit_safely(store, actor, "releases.sync", target, details=report.to_json(), reason="")
    return report


def sync_releases(
    repo: str,
    *,
    forge: Forge,
    store: WholeStore,
    environments: list[str] | None,
    policy_path: str = DEFAULT_CONFIG_PATH,
    deployments_per_environment: int = DEFAULT_DEPLOYMENTS_PER_ENVIRONMENT,
) -> SyncReport:
    """Read ``repo``'s release tags and modbot's Deployments into ``store`` (module docstring).
    ``environments`` None: the policy's (``policy_path`` on the default branch). Raises `ForgeError`
    when GitHub fails (what was synced so far stays: a rerun continues)."""
    report = SyncReport(repository=repo)
    _sync_tags(repo, forge, store, report)
    if environments is None:
        names = _policy_environments(repo, forge, policy_path, report)
    else:
        names = list(dict.fromkeys(environments))
    if names is None:
        # no readable policy: every environment GitHub has Deployments for
        deployments = forge.list_deployments(repo, limit=deployments_per_environment)
        names = sorted({d.environment for d in deployments if _modbot_payload(d) is not None})
        by_environment = {name: [d for d in deployments if d.environment == name] for name in names}
    else:
        by_environment = {
            name: forge.list_deployments(repo, environment=name, limit=deployments_per_environment)
            for name in names
        }
    report.environments = list(names)
    for name in names:
        # oldest first, as they happened: the store's history and audit log read in order
        for deployment in sorted(by_environment[name], key=lambda d: d.id):
            _sync_deployment(repo, forge, store, deployment, report)
    return report


# --- releases -----------------------------------------------------------------------------------------


def _cached_release_ids(store: ReleaseCache, repo: str) -> set[str]:
    ids: set[str] = set()
    before: str | None = None
    while True:
        page = store.releases(repo, limit=_CACHE_PAGE, before=before)
        ids.update(info.release_id for info in page)
        if len(page) < _CACHE_PAGE:
            return ids
        before = page[-1].release_id


def _sync_tags(repo: str, forge: Forge, store: ReleaseCache, report: SyncReport) -> None:
    cached = _cached_release_ids(store, repo)
    for ref in forge.list_tags(repo, RELEASE_TAG_PREFIX):
        tag = ref.ref.removeprefix("refs/tags/")
        release_id = tag.removeprefix(RELEASE_TAG_PREFIX)
        if not is_release_id(release_id):
            report.warnings.append(f"{tag}: not a release id (rel_YYYY_MM_DD_NNN); skipped")
            continue
        report.release_tags += 1
        if release_id in cached:
            report.releases_cached += 1
            continue
        if ref.object_type != "tag":
            report.warnings.append(f"{tag}: a lightweight tag, so it carries no release record; skipped")
            continue
        info = _read_release(repo, forge, tag, ref.sha, report)
        if info is not None:
            store.upsert_release(info)
            report.releases_added.append(info.release_id)


def _read_release(repo: str, forge: Forge, tag: str, tag_sha: str, report: SyncReport) -> ReleaseInfo | None:
    try:
        tag_object = forge.get_tag_object(repo, tag_sha)
    except ForgeError as error:
        if error.status not in (404, 422):
            raise
        report.warnings.append(f"{tag}: its tag object cannot be read ({error.message}); skipped")
        return None
    info = release_in_tag_object(repo, tag, tag_object)
    if isinstance(info, str):
        report.warnings.append(f"{tag}: {info}; skipped")
        return None
    return info


# --- deployments --------------------------------------------------------------------------------------


def _policy_environments(repo: str, forge: Forge, policy_path: str, report: SyncReport) -> list[str] | None:
    """The policy's environment names, or None (with a warning) when there is no readable policy."""
    policy = load_policy(forge, repo, path=policy_path, default_branch=None)
    if policy.config is not None:
        return [env.name for env in policy.config.environments]
    if policy.error is None:
        report.warnings.append(
            f"no {policy_path} on {policy.branch}: reading every environment GitHub has Deployments for"
        )
    else:
        report.warnings.append(
            f"{policy_path} on {policy.branch} cannot be read ({policy.error}): reading every environment "
            "GitHub has Deployments for"
        )
    return None


def _modbot_payload(deployment: Deployment) -> dict[str, Any] | None:
    """The payload when it is modbot's (``modbot == 1``); a string payload is parsed as JSON."""
    payload: Any = deployment.payload
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return None
    if not isinstance(payload, dict) or payload.get("modbot") != 1 or isinstance(payload.get("modbot"), bool):
        return None
    return cast(dict[str, Any], payload)


def stage_of(status: DeploymentStatus | None) -> DeployStage | None:
    """The stage a status says it reached, read as the deployment_status handler reads it
    (`deploy_stage`). None: let the store derive it from the state.

    Live, a failure stays at the stage the earlier statuses reached; a sync sees only the newest
    status, so a failure's stage comes from its description (docs/workflows.md)."""
    if status is None:
        return None
    stage = deploy_stage(status.state, status.description)
    if stage is not None or status.state not in ("failure", "error"):
        return stage
    text = status.description.lower()
    if "failed: smoke test" in text:
        return "smoke"
    if "failed: deploy step" in text or "failed: ui deploy step" in text or "failed: preflight" in text:
        return "deploy"
    return None


def _deciding_status(repo: str, forge: Forge, deployment_id: int) -> DeploymentStatus | None:
    """The newest status (one call), except when it is ``inactive``: then the newest ``success`` before
    it (one more call), whose time and log are the deployment's; an ``inactive`` that never followed a
    success (set by hand) stays ``inactive``."""
    newest = forge.list_deployment_statuses(repo, deployment_id, limit=1)
    if not newest or newest[0].state != "inactive":
        return newest[0] if newest else None
    earlier = forge.list_deployment_statuses(repo, deployment_id, limit=_STATUS_HISTORY)
    return next((status for status in earlier if status.state == "success"), newest[0])


def _sync_deployment(
    repo: str, forge: Forge, store: DeploymentStore, deployment: Deployment, report: SyncReport
) -> None:
    payload = _modbot_payload(deployment)
    if payload is None:
        return  # GitHub's own Deployment of an environment-bound job, or someone else's
    report.deployments_seen += 1
    contract = read_contract(payload, deployment.creator)  # as the deployment_status handler reads it
    if isinstance(contract, str):
        report.warnings.append(f"Deployment {deployment.id} ({deployment.environment}): {contract}; skipped")
        return
    before = store.deployment_by_github_id(repo, deployment.id)
    if before is not None and before.finished:
        # the store never changes a final deployment's progress, so its statuses cannot tell it anything
        # new (a rerun asks GitHub nothing for it); what the payload fills in still goes through
        status, state = None, before.status
    else:
        status = _deciding_status(repo, forge, deployment.id)
        state = _STATES.get(status.state, "queued") if status is not None else "queued"
    try:
        after = record_contract_deployment(
            store,
            repo,
            deployment,
            contract,
            status=state,
            stage=stage_of(status),
            logs_url=status.log_url if status is not None else None,
            finished_at=status.created_at if status is not None and state in FINAL_DEPLOY_STATUSES else None,
        )
    except ValueError as error:  # a value the store refuses (e.g. a malformed commit SHA)
        report.warnings.append(f"Deployment {deployment.id} ({deployment.environment}): {error}; skipped")
        return
    if before is None:
        report.deployments_added.append(deployment.id)
    elif _progress(before) != _progress(after):
        report.deployments_updated.append(deployment.id)


def _progress(record: DeploymentRecord) -> tuple[object, ...]:
    return (
        record.status,
        record.stage,
        record.logs_url,
        record.manifest_hash,
        record.previous_release,
        record.finished_at,
    )
