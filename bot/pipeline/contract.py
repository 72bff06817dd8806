"""The Deployment contract (docs/workflows.md#the-deployment-contract): the one owner of the wire format
modbot shares with whatever deploys (the generated deploy workflow, single-host mode's deployer).

- writing: `DeploymentPayload` (every key, always present) and `contract_payload` for a deploy or
  rollback modbot asks for;
- reading: `read_contract` (a forge's Deployment payload back, checked and lenient where it may be),
  `deploy_stage` (the stage a status's description says: the `STAGE_PREFIXES`), `recorded_status`
  (a forge's deployment state as the store keeps it), `stored_url`.

Pure: the use cases record a contract deployment (bot/app/contract.py); the deploy workflow template and
bot/host write the statuses with these prefixes; tests/unit/test_chatops_deployments.py and the workflow
drift tests hold both sides to the same words."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

from bot.domain.ids import is_release_id
from bot.domain.records import DeployKind, DeployStage, DeployStatus, ReleaseInfo
from bot.domain.records.checks import check_actor, check_short_text, check_url
from bot.pipeline.release import DEPLOY_TAG_PREFIX
from bot.pipeline.version import TEMPLATE_VERSION

__all__ = [
    "CONTRACT_KINDS",
    "CONTRACT_VERSION",
    "STAGE_PREFIXES",
    "DeploymentContract",
    "DeploymentPayload",
    "contract_payload",
    "deploy_stage",
    "read_contract",
    "recorded_status",
    "stored_url",
]

CONTRACT_VERSION = 1  # the Deployment payload's `modbot` key
CONTRACT_KINDS: frozenset[str] = frozenset(get_args(DeployKind))
# An in_progress status's description starts with one of these; the stage is read from it.
STAGE_PREFIXES: Mapping[DeployStage, str] = {"deploy": "deploying ", "smoke": "smoke testing "}


@dataclass(frozen=True, slots=True)
class DeploymentPayload:
    """The payload of a Deployment modbot creates (or a deployer records): every key, always present."""

    kind: DeployKind
    release_id: str
    manifest_hash: str | None
    image: str
    deploy_tag: str
    requested_by: str
    reason: str
    previous_release: str | None
    rollback_of: str | None
    trigger: Literal["modbot", "tag"]
    modbot_template_version: str = TEMPLATE_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "modbot": CONTRACT_VERSION,
            "kind": self.kind,
            "release_id": self.release_id,
            "manifest_hash": self.manifest_hash,
            "image": self.image,
            "deploy_tag": self.deploy_tag,
            "requested_by": self.requested_by,
            "reason": self.reason,
            "previous_release": self.previous_release,
            "rollback_of": self.rollback_of,
            "trigger": self.trigger,
            "modbot_template_version": self.modbot_template_version,
        }


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
    """The payload of a Deployment modbot creates for a deploy or a rollback it was asked for."""
    return DeploymentPayload(
        kind=kind,
        release_id=release.release_id,
        manifest_hash=release.manifest_hash,
        image=release.image,
        deploy_tag=f"{DEPLOY_TAG_PREFIX}{environment}",
        requested_by=requested_by,
        reason=reason or "",
        previous_release=previous_release,
        rollback_of=rollback_of,
        trigger="modbot",
    ).to_json()


def deploy_stage(state: str, description: str) -> DeployStage | None:
    """The stage a status says a deployment reached (None: the status does not say)."""
    if state in ("queued", "pending"):
        return "queued"
    if state == "success":
        return "done"
    if state == "in_progress":
        for stage, prefix in STAGE_PREFIXES.items():
            if description.startswith(prefix):
                return stage
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


def stored_url(value: Any) -> str | None:
    """An http(s) URL as the store keeps it (a password redacted), else None."""
    return _acceptable(lambda: check_url("logs_url", value)) if isinstance(value, str) and value else None
