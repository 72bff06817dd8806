"""The one writer of the audit log's entries for what people ask: used by the use cases (an admin action's
outcome, a build request, a sync) and by a front end only for what it alone sees (a request it could not
read, a repository it does not manage). Writing an entry never fails the call that is being audited: the
store's own failure is logged instead."""

from __future__ import annotations

import logging
from typing import Any

from bot.store import Store

__all__ = ["audit_safely"]

log = logging.getLogger(__name__)


def audit_safely(
    store: Store, actor: str, action: str, target: str | None, *, details: dict[str, Any], reason: str
) -> None:
    try:
        store.append_audit(actor, action, target, details, reason or None)
    except Exception:
        log.exception("could not write the audit entry for %s on %s", action, target)
