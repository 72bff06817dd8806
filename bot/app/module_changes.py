"""An admin action on a module becomes a pull request, audited once: the one path the admin API
(``POST /admin/modules/{slug}/{action}``) and the console's Modules page both take.

`request_module_change` plans and carries the intent through the forge (`propose_change`) and appends
exactly one audit entry ``module.<action>`` whatever happens: the outcome (opened, updated, unchanged,
left-alone), or ``refused`` with the manifest core's reasons, or ``failed`` with GitHub's error. The
caller's ``details`` (e.g. the admin token's id) go into that entry. Writing it never fails the call.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot.forge import Forge, ForgeError
from bot.handlers.admin_actions import Intent, ProposeResult, propose_change
from bot.manifest.edit import EditRefused
from bot.store import Store

__all__ = ["ChangeFailed", "ChangeRefused", "request_module_change"]

log = logging.getLogger(__name__)

INTERNAL = "internal error; the bot's log has the details"


class ChangeRefused(Exception):
    """The manifest core refused the edit: nothing was opened."""

    def __init__(self, detail: str, reasons: list[str]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.reasons = reasons


class ChangeFailed(Exception):
    """GitHub failed (``forge_error``) or modbot did (None): nothing more was done."""

    def __init__(self, detail: str, forge_error: ForgeError | None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.forge_error = forge_error


def request_module_change(
    store: Store,
    forge: Forge,
    repo: str,
    intent: Intent,
    *,
    manifest_path: str,
    actor: str,
    details: Mapping[str, Any],
) -> ProposeResult:
    action = f"module.{intent.action}"

    def audit(target: str, outcome: dict[str, Any]) -> None:
        try:
            store.append_audit(actor, action, target, {**details, **outcome}, intent.reason or None)
        except Exception:
            log.exception("could not write the audit entry for %s on %s", action, target)

    def refused(status: str, detail: str, reasons: list[str] | None = None) -> None:
        audit(repo, {"outcome": status, "detail": detail, **({"reasons": reasons} if reasons else {})})

    try:
        result = propose_change(forge, repo, intent, manifest_path=manifest_path)
    except EditRefused as error:
        detail = f"modbot refused to {intent.action} `{intent.slug}`; nothing was opened"
        refused("refused", detail, list(error.reasons))
        raise ChangeRefused(detail, list(error.reasons)) from None
    except ForgeError as error:
        log.warning("admin %s %s on %s: %s", intent.action, intent.slug, repo, error)
        refused("failed", str(error))
        raise ChangeFailed(str(error), error) from None
    except Exception:
        log.exception("admin %s %s on %s failed", intent.action, intent.slug, repo)
        refused("failed", INTERNAL)
        raise ChangeFailed(INTERNAL, None) from None
    audit(
        f"{repo}#{result.pull_number}" if result.pull_number else repo,
        {
            "outcome": result.status,
            "branch": result.branch,
            "base_sha": result.base_sha,
            "commit_sha": result.commit_sha,
            "summary": result.summary,
        },
    )
    return result
