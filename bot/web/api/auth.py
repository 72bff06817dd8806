"""The admin API's one authentication: a bearer token made with ``modbot admin token create`` (only its
SHA-256 is stored), checked before anything else, the body included (bot/web/api/problems.py answers a
malformed request only to a valid token). No valid token: 401 with ``WWW-Authenticate: Bearer``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.store import AdminToken
from bot.web.api.auditing import verify_token
from bot.web.api.context import StoreDep
from bot.web.api.problems import dialect_of

__all__ = ["BEARER", "Caller", "authenticated"]

BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="AdminToken",
    description="A token from `modbot admin token create` (`mbt_…`), as `Authorization: Bearer mbt_…`.",
)


def authenticated(
    request: Request,
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> AdminToken:
    """The caller's admin token (a plain ``def``: FastAPI runs the store lookup in its thread pool)."""
    token = verify_token(store, credentials.credentials if credentials else None)
    if token is None:
        raise dialect_of(request).unauthorized()
    return token


Caller = Annotated[AdminToken, Depends(authenticated)]
