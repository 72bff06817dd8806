"""A deploy's or rollback's reply as it stands now, rendered again at every step and edited in place.

The reply of a `/deploy` or `/rollback` comment is kept in the deployment record (`reply_comment_id`);
what it was asked with (the command comment, the warnings) is in the `deploy.start` /
`rollback.start` audit entry. An automatic rollback (a Deployment the deploy workflow creates after a
failed deploy) has no reply of its own: it is shown in the reply of the deploy it undoes.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.app.chatops.replies import render_deployment
from bot.forge import Forge, ForgeError
from bot.store import AuditEntry, DeploymentRecord, Store, environment_target

log = logging.getLogger(__name__)

__all__ = [
    "START_ACTIONS",
    "automatic_rollback_of",
    "render_progress",
    "rolled_back_deployment",
    "start_details",
]

START_ACTIONS = {"deploy": "deploy.start", "rollback": "rollback.start"}
_NEARBY = 20  # deployments looked at around a record (newest first)
_AUDIT_PAGES = 5


def start_details(store: Store, record: DeploymentRecord) -> dict[str, Any]:
    """The details of the audit entry that started `record` ({} when there is none: not ours)."""
    action = START_ACTIONS.get(record.kind)
    if action is None:
        return {}
    target = environment_target(record.repository, record.environment)
    cursor: int | None = None
    for _ in range(_AUDIT_PAGES):
        page = store.query_audit(action=action, target=target, limit=100, cursor=cursor)
        found = next((entry for entry in page.entries if _started(entry, record)), None)
        if found is not None:
            return dict(found.details or {})
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return {}


def _started(entry: AuditEntry, record: DeploymentRecord) -> bool:
    details = entry.details
    return details is not None and details.get("deployment") == record.id


def automatic_rollback_of(store: Store, record: DeploymentRecord) -> DeploymentRecord | None:
    """The automatic rollback the deploy workflow made after `record` failed, if any: the first one away
    from its release after it (a later deploy of the same release may have failed and been rolled back
    too, and that one is not this record's)."""
    if record.kind == "auto_rollback":
        return None
    newest_first = store.deployments(record.repository, environment=record.environment, limit=_NEARBY)
    for other in reversed(newest_first):
        if (
            other.kind == "auto_rollback"
            and other.previous_release == record.release_id
            and other.created_at >= record.created_at
        ):
            return other
    return None


def rolled_back_deployment(store: Store, automatic: DeploymentRecord) -> DeploymentRecord | None:
    """The deploy (or rollback) an automatic rollback undoes: the newest one of the failed release
    (the automatic rollback's `previous_release`) made before it."""
    if automatic.kind != "auto_rollback" or automatic.previous_release is None:
        return None
    for other in store.deployments(automatic.repository, environment=automatic.environment, limit=_NEARBY):
        if (
            other.kind != "auto_rollback"
            and other.release_id == automatic.previous_release
            and other.created_at <= automatic.created_at
        ):
            return other
    return None


def render_progress(store: Store, record: DeploymentRecord) -> str:
    """The reply of the command that started `record`, as it stands now."""
    details = start_details(store, record)
    comment_id = details.get("comment_id")
    warnings = details.get("warnings") or []
    return render_deployment(
        record,
        auto_rollback=automatic_rollback_of(store, record),
        warnings=[str(warning) for warning in warnings],
        comment_id=comment_id if isinstance(comment_id, int) else None,
    )


def update_reply(forge: Forge, store: Store, record: DeploymentRecord) -> None:
    """Edit the reply of the command behind `record` (for an automatic rollback: the deploy it undoes)."""
    shown = rolled_back_deployment(store, record) if record.kind == "auto_rollback" else record
    if shown is None or shown.reply_comment_id is None:
        return
    try:
        forge.update_comment(shown.repository, shown.reply_comment_id, render_progress(store, shown))
    except ForgeError as exc:
        # the store and the lock are right already; a retried job would find nothing changed and
        # skip the edit, so failing the job would only repeat work (the next status edits it again)
        log.warning("reply %s of deployment %s not updated: %s", shown.reply_comment_id, shown.id, exc)
