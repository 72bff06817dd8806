"""GitHub's OAuth web flow for the App's users (docs/console.md): the authorize URL with a ``state``
bound to the session, the code exchanged for a user token, the token used once to ask ``GET /user``
who signed in, then revoked at GitHub (``DELETE /applications/{client_id}/token``) and dropped: the
console keeps the login only, and no usable token of the person outlives the sign-in."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

from bot.config import BotSettings
from bot.domain.ids import is_login
from bot.web.api.views import github_web_url

__all__ = ["OAuthError", "authorize_url", "signed_in_login"]

log = logging.getLogger(__name__)


class OAuthError(Exception):
    """Sign-in with GitHub failed; ``reason`` is a key the sign-in template words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Client:
    client_id: str
    client_secret: str


def _client(settings: BotSettings) -> _Client:
    if settings.github_client_id is None or settings.github_client_secret is None:
        raise OAuthError("not_configured")
    return _Client(settings.github_client_id, settings.github_client_secret.get_secret_value())


def authorize_url(settings: BotSettings, *, state: str, redirect_uri: str) -> str:
    query = urlencode(
        {
            "client_id": _client(settings).client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "allow_signup": "false",
        }
    )
    return f"{github_web_url(settings)}/login/oauth/authorize?{query}"


def signed_in_login(settings: BotSettings, *, code: str, redirect_uri: str) -> str:
    """The login of the person who authorized ``code`` (OAuthError: the exchange or the lookup failed)."""
    client = _client(settings)
    timeout = settings.github_timeout_seconds
    try:
        answer = requests.post(
            f"{github_web_url(settings)}/login/oauth/access_token",
            data={
                "client_id": client.client_id,
                "client_secret": client.client_secret,
                "code": code,
                "redirect_uri": redirect_uri,
            },
            headers={"Accept": "application/json"},
            timeout=timeout,
        )
        body: Any = answer.json() if answer.ok else None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            # GitHub answers 200 with {"error": "bad_verification_code", …} for a used or stale code
            log.warning("console sign-in: GitHub refused the code (%s)", _error_of(body, answer.status_code))
            raise OAuthError("code_refused")
        user = requests.get(
            f"{settings.github_api_url}/user",
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
            timeout=timeout,
        )
        profile: Any = user.json() if user.ok else None
        _revoke(settings, client, token)
        del token  # used once; never stored
    except (requests.RequestException, ValueError):
        log.warning("console sign-in: GitHub could not be reached", exc_info=True)
        raise OAuthError("github_unreachable") from None
    login = profile.get("login") if isinstance(profile, dict) else None
    if not isinstance(login, str) or not is_login(login):
        log.warning("console sign-in: GET /user answered %s without a login", user.status_code)
        raise OAuthError("github_unreachable")
    return login


def _revoke(settings: BotSettings, client: _Client, token: str) -> None:
    """Best effort: a failure is logged (the token then expires on its own), the sign-in goes on."""
    try:
        answer = requests.delete(
            f"{settings.github_api_url}/applications/{client.client_id}/token",
            auth=(client.client_id, client.client_secret),
            json={"access_token": token},
            headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"},
            timeout=settings.github_timeout_seconds,
        )
    except requests.RequestException:
        log.warning("console sign-in: the user token could not be revoked (GitHub unreachable)")
        return
    if answer.status_code != 204:
        log.warning("console sign-in: revoking the user token answered HTTP %s", answer.status_code)


def _error_of(body: Any, status: int) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])[:100]
    return f"HTTP {status}"
