"""Checks the admin endpoints share: which repository, which forge, GitHub's failures. A refusal is
audited for the caller, then raised as an `ApiProblem` (the CODED dialect: the builds endpoints')."""

from __future__ import annotations

import math
from typing import Any, NoReturn

from bot.app.audit import audit_safely
from bot.config import BotSettings
from bot.forge import Forge, ForgeError, ForgeProvider
from bot.store import AdminToken, Store
from bot.web.api.auditing import api_actor
from bot.web.api.problems import Dialect, coded_problem

__all__ = [
    "audit_refusal",
    "forge_for",
    "github_failed",
    "only_repository",
    "refuse_invalid",
    "repository_for",
    "repository_needed",
    "retry_after_header",
]


def audit_refusal(
    store: Store, token: AdminToken, action: str, target: str | None, error: str, **more: Any
) -> None:
    """The audit entry of a request refused before it did anything: outcome ``refused``, its ``error``."""
    details = {"token_id": token.id, "outcome": "refused", "error": error, **more}
    audit_safely(store, api_actor(token), action, target, details=details, reason="")


def refuse_invalid(
    store: Store, token: AdminToken, action: str, target: str | None, reasons: list[str]
) -> NoReturn:
    audit_refusal(store, token, action, target, "invalid_request", reasons=reasons)
    raise Dialect.CODED.invalid_request(reasons, "fix what `reasons` names and send it again")


def repository_for(
    store: Store, settings: BotSettings, token: AdminToken, given: str | None, action: str
) -> str:
    """The repository asked for (or the only one configured), when this bot manages it."""
    repo = given or only_repository(settings.repositories)
    if repo is None:
        refuse_invalid(store, token, action, None, [repository_needed(settings.repositories)])
    if not settings.allows_repository(repo):
        audit_refusal(store, token, action, repo, "forbidden_repository")
        raise coded_problem(
            403,
            "forbidden_repository",
            f"{repo} is not among the repositories this bot manages (MODBOT_REPOSITORIES)",
            "ask for a repository this bot manages",
        )
    return repo


def forge_for(  # noqa: PLR0917 - what it checks and what it audits
    store: Store,
    settings: BotSettings,
    forges: ForgeProvider,
    token: AdminToken,
    installation_id: int | None,
    action: str,
    target: str,
) -> Forge:
    """The forge for the installation; in App mode an installation must be named."""
    if settings.auth_mode == "app" and installation_id is None:
        refuse_invalid(
            store, token, action, target, ["`installation_id` is required: the bot runs as a GitHub App"]
        )
    return forges.for_installation(installation_id)


def github_failed(error: ForgeError) -> NoReturn:
    """GitHub failed or refused: 502 with GitHub's wait as Retry-After (audited by the caller)."""
    raise coded_problem(
        502, "github_error", str(error), "try again; asking twice is safe", headers=retry_after_header(error)
    )


def retry_after_header(error: ForgeError) -> dict[str, str]:
    """GitHub's wait (whole seconds, rounded up) as a Retry-After header; none when it named none."""
    if error.retry_after is None:
        return {}
    return {"Retry-After": str(math.ceil(error.retry_after))}


def only_repository(repositories: frozenset[str] | None) -> str | None:
    if repositories is not None and len(repositories) == 1:
        return next(iter(repositories))
    return None


def repository_needed(repositories: frozenset[str] | None) -> str:
    if repositories is None:
        return "`repository` is required (owner/name): MODBOT_REPOSITORIES is not set"
    return (
        f"`repository` is required (owner/name): MODBOT_REPOSITORIES names {len(repositories)} repositories"
    )
