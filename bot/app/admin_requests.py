"""Admin requests as every front end makes them (the admin API, the CLI, the console): run the proposal and
write its one audit entry, whatever the outcome, so that the same request leaves the same record whoever
asked. The front end says who asks (`actor`, in its own format) and adds what only it knows to the
entry's details (an API token's id); failures are re-raised for it to answer in its own way.

- `request_module_change`: install | uninstall | upgrade | enable | disable → the PR (`module.<action>`);
- `request_build`: "make the module set exactly this" → the PR and a build record (`build.request`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.app.audit import audit_safely
from bot.app.proposals import (
    BuildIntent,
    BuildProposal,
    Intent,
    NothingToChange,
    ProposeResult,
    propose_build,
    propose_change,
)
from bot.forge import Forge, ForgeError
from bot.manifest.edit import EditRefused
from bot.store import BuildRecord, Store

__all__ = ["BuildRequested", "request_build", "request_module_change", "target_of"]


def target_of(repo: str, pull_number: int | None) -> str:
    """An admin request's audit target: the PR when there is one, else the repository."""
    return f"{repo}#{pull_number}" if pull_number else repo


def request_module_change(
    forge: Forge,
    store: Store,
    repo: str,
    intent: Intent,
    *,
    manifest_path: str,
    actor: str,
    details: Mapping[str, Any],
) -> ProposeResult:
    """`propose_change`, audited as ``module.<action>``: refused (`EditRefused`, re-raised), failed
    (`ForgeError`, re-raised) or its status with the branch, commits and summary."""
    action = f"module.{intent.action}"

    def audit(target: str, outcome: dict[str, Any]) -> None:
        audit_safely(store, actor, action, target, details={**details, **outcome}, reason=intent.reason)

    try:
        result = propose_change(forge, repo, intent, manifest_path=manifest_path)
    except EditRefused as refused:
        audit(
            repo,
            {
                "outcome": "refused",
                "detail": f"modbot refused to {intent.action} `{intent.slug}`; nothing was opened",
                **({"reasons": list(refused.reasons)} if refused.reasons else {}),
            },
        )
        raise
    except ForgeError as error:
        audit(repo, {"outcome": "failed", "detail": str(error)})
        raise
    audit(
        target_of(repo, result.pull_number),
        {
            "outcome": result.status,
            "branch": result.branch,
            "base_sha": result.base_sha,
            "commit_sha": result.commit_sha,
            "summary": result.summary,
        },
    )
    return result


@dataclass(frozen=True, slots=True)
class BuildRequested:
    proposal: BuildProposal
    build: BuildRecord | None  # None: the branch is a person's (`left-alone`), no build was recorded


def request_build(
    forge: Forge,
    store: Store,
    repo: str,
    intent: BuildIntent,
    *,
    manifest_path: str,
    actor: str,
    requested_by: str,
    details: Mapping[str, Any],
) -> BuildRequested:
    """`propose_build`, then the build record (one per PR and target: asking again while it is unfinished
    gives the same build), audited as ``build.request``. `NothingToChange`, `EditRefused` and
    `ForgeError` are audited and re-raised; a branch a person owns is audited `left-alone` and no build
    is recorded. ``requested_by`` is the build's requester as the store keeps it."""

    def audit(outcome: dict[str, Any], target: str = repo) -> None:
        audit_safely(
            store, actor, "build.request", target, details={**details, **outcome}, reason=intent.reason
        )

    try:
        proposal = propose_build(forge, repo, intent, manifest_path=manifest_path)
    except NothingToChange:
        audit({"outcome": "refused", "error": "nothing_to_build"})
        raise
    except EditRefused as refused:
        audit({"outcome": "refused", "error": "edit_refused", "reasons": list(refused.reasons)})
        raise
    except ForgeError as error:
        audit({"outcome": "failed", "detail": str(error)})
        raise
    target = target_of(repo, proposal.pull_number)
    if proposal.status == "left-alone":
        audit({"outcome": "left-alone", "branch": proposal.branch}, target)
        return BuildRequested(proposal, None)
    build = store.create_build(
        repository=proposal.repository,
        requested_by=requested_by,
        reason=intent.reason,
        manifest_ref=intent.base_branch,
        manifest_hash=proposal.manifest_hash,
        modules_delta=proposal.delta,
        pr_number=proposal.pull_number,
        reuse_unfinished=True,
    )
    audit(
        {
            "outcome": proposal.status,
            "build_id": build.build_id,
            "branch": proposal.branch,
            "commit_sha": proposal.commit_sha,
            "summary": proposal.summary,
            "manifest_hash": proposal.manifest_hash,
        },
        target,
    )
    return BuildRequested(proposal, build)
