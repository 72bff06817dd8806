"""Who an API call acts as, and its audit entries. Writing an entry never fails the call (the store's
own failure is logged); a token the store cannot check authenticates nobody (fail closed)."""

from __future__ import annotations

import logging

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from bot.app.audit import audit_safely
from bot.store import AdminToken, Store
from bot.web.api.context import runtime_of

__all__ = ["api_actor", "audit_unreadable_request", "verify_token"]

log = logging.getLogger(__name__)


def api_actor(token: AdminToken, on_behalf_of: str | None = None) -> str:
    """The actor an admin token acts as: ``api:<token name>``. An endpoint whose body names the person
    asking (``requested_by``: the module actions' audit entries, a build's ``requested_by``) writes
    ``api:<token name> (<requested_by>)``, cut to the store's 200 characters; every other entry, and
    every chat-ops command, the bare ``api:<token name>`` (docs/admin-api.md)."""
    if on_behalf_of is None:
        return f"api:{token.name}"
    return f"api:{token.name} ({on_behalf_of})"[:200]


def verify_token(store: Store, secret: str | None) -> AdminToken | None:
    if not secret:
        return None
    try:
        return store.verify_admin_token(secret)
    except Exception:  # the store is down: nobody is authenticated (fail closed), and we say why in the log
        log.exception("admin API: cannot verify a token (store unavailable)")
        return None


async def audit_unreadable_request(request: Request, reasons: list[str]) -> bool:
    """A request FastAPI could not read (bad body, path or query). With a valid admin token: its audit
    entry (`request.invalid`) is written and True (its problems may be described). Without: False
    (answer 401), and nothing is recorded. In the thread pool: it reads and writes the store."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    secret = value.strip() if scheme.lower() == "bearer" else None
    store = (await runtime_of(request)).store

    def check_and_audit() -> bool:
        token = verify_token(store, secret)
        if token is None:
            return False
        audit_safely(
            store,
            api_actor(token),
            "request.invalid",
            None,
            details={
                "token_id": token.id,
                "method": request.method,
                "path": request.url.path[:300],
                "outcome": "refused",
                "reasons": reasons,
            },
            reason="",
        )
        return True

    return await run_in_threadpool(check_and_audit)
