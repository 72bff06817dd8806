"""The web console under test: the real app (create_app) on a real store, the chat-ops world's
FakeForge as the installation's forge, console settings for GitHub sign-in or local accounts, and
helpers to sign in as the browser would (a local account's password form, or a session cookie signed
with the console's key for a GitHub login: the OAuth dance itself is tested in test_console_signin)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import Response

from bot.config import BotSettings
from bot.forge import Forge
from bot.runtime import Runtime
from bot.web.app import create_app
from bot.web.console.session import SESSION_COOKIE, Session, SessionCodec
from tests.chatops_world import BOT, REPO, World

CONSOLE_SECRET = "console-secret-for-tests-0123456789abcdef"
CLIENT_ID = "Iv1.0123456789abcdef"
CLIENT_SECRET = "oauth-client-secret-for-tests"
PASSWORD = "correct horse battery staple"

__all__ = [
    "CLIENT_ID",
    "CLIENT_SECRET",
    "CONSOLE_SECRET",
    "PASSWORD",
    "REPO",
    "Console",
    "console_settings",
    "csrf_of",
]


def console_settings(sign_in: Literal["github", "local"] = "github", **more: object) -> BotSettings:
    values: dict[str, object] = {
        "github_token": SecretStr("test-token"),
        "webhook_secrets": (SecretStr("s3cret"),),
        "repositories": frozenset({REPO}),
        "bot_login": BOT,
        "console_secret": SecretStr(CONSOLE_SECRET),
        "console_sign_in": sign_in,
    }
    if sign_in == "github":
        values |= {"github_client_id": CLIENT_ID, "github_client_secret": SecretStr(CLIENT_SECRET)}
    return BotSettings.model_validate(values | more)


class _Provider:
    def __init__(self, forge: Forge) -> None:
        self.forge = forge

    def for_installation(self, installation_id: int | None) -> Forge:
        del installation_id
        return self.forge


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None, "the page has no CSRF field"
    return match.group(1)


@dataclass
class Console:
    world: World
    settings: BotSettings
    client: TestClient

    @classmethod
    def start(cls, world: World, settings: BotSettings | None = None) -> Console:
        settings = settings or console_settings()
        app = create_app(Runtime(settings, world.store, _Provider(world.forge)), workers=0)
        return cls(
            world, settings, TestClient(app, raise_server_exceptions=True, base_url="http://testserver")
        )

    def session_cookie(self, session: Session) -> str:
        """The cookie the console would set for ``session`` (signed with its key)."""
        response = Response()
        scope = {"type": "http", "scheme": "http", "path": "/", "headers": [], "server": ("testserver", 80)}
        SessionCodec(CONSOLE_SECRET).write(response, Request(scope), session)
        cookie = response.headers["set-cookie"]
        return cookie.split(";", 1)[0].split("=", 1)[1]

    def sign_in_github(self, login: str, role: str | None = "write") -> Session:
        """``login`` signed in with GitHub (``role``: their role on the repository, None: no grant)."""
        if role is not None:
            self.world.role(login, role)
        session = Session.fresh().signed_in(login, "github")
        self.client.cookies.set(SESSION_COOKIE, self.session_cookie(session), path="/console")
        return session

    def sign_in_local(self, login: str, password: str = PASSWORD) -> int:
        """The password form, as a browser fills it; the answer's status."""
        page = self.client.get("/console/login")
        answer = self.client.post(
            "/console/login",
            data={"login": login, "password": password, "csrf_token": csrf_of(page.text)},
            follow_redirects=False,
        )
        return answer.status_code

    def csrf(self, path: str = "/console/") -> str:
        return csrf_of(self.client.get(path).text)
