"""GitHub authentication: PyGithub's client for a token or an App installation, and the installation
token that is refreshed ahead of its expiry, one exchange at a time, each exchange counted."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from github import Auth, Github, GithubException

from bot.forge import (
    ForgeError,
    record_call,
)
from bot.forge.github.client import PER_PAGE, USER_AGENT, ForgeStats, error_message

if TYPE_CHECKING:
    from github.InstallationAuthorization import InstallationAuthorization


log = logging.getLogger("bot.forge.github")


# --- App authentication -----------------------------------------------------------------------------
class InstallationAuth(Auth.AppInstallationAuth):
    """PyGithub's installation auth with a wider refresh margin (a token is replaced ``refresh_margin``
    before it expires, not 20 s), an injectable clock, one refresh at a time, and counting."""

    def __init__(
        self,
        app_auth: Auth.AppAuth,
        installation_id: int,
        *,
        stats: ForgeStats,
        clock: Callable[[], float],
        refresh_margin: float,
    ) -> None:
        super().__init__(app_auth, installation_id)
        self._stats = stats
        self._clock = clock
        self._margin = timedelta(seconds=refresh_margin)
        self._current: InstallationAuthorization | None = None
        self._lock = threading.Lock()

    @property
    def token(self) -> str:
        with self._lock:
            now = datetime.fromtimestamp(self._clock(), UTC)
            current = self._current
            if current is None or current.expires_at - self._margin <= now:
                current = self._current = self._exchange()
            return str(current.token)

    def invalidate(self) -> None:
        with self._lock:
            self._current = None

    def _exchange(self) -> InstallationAuthorization:
        operation = "installation_token"
        self._stats.record_call(operation)
        record_call(operation, token_exchange=True)
        try:
            authorization = self._get_installation_authorization()
        except GithubException as exc:
            self._stats.record_error(operation, exc.status)
            raise ForgeError(
                f"{operation} (installation {self.installation_id})", exc.status, error_message(exc.data)
            ) from None
        log.info(
            "GitHub installation %s: new access token, expires %s",
            self.installation_id,
            authorization.expires_at.isoformat(),
        )
        return authorization


def github_client(auth: Auth.Auth, base_url: str, timeout: float) -> Github:
    return Github(
        auth=auth,
        base_url=base_url,
        # PyGithub takes whole seconds only: round up, never down (int() made 2.5 into 2, and 0.5 into 0,
        # which requests refuses, so every call failed)
        timeout=math.ceil(timeout),
        user_agent=USER_AGENT,
        per_page=PER_PAGE,
        retry=None,  # ours: see the docstring of bot/forge/github/client.py
        seconds_between_requests=None,
        seconds_between_writes=None,
        lazy=True,
    )
