"""A console for the page tests: the real app (create_app) on the chat-ops world (FakeForge with the
policy, a real store), the example repository's manifest and catalog on its default branch, and people
signed in through a real session cookie (the console's own codec and key)."""

from __future__ import annotations

import re

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
from tests.corpus import MINI_MANIFEST, ROOT

SECRET = "0123456789abcdef" * 4
MINI_CATALOG = ROOT / "examples" / "rustok-mini" / ".github" / "modbot-catalog.toml"


class OneForge:
    """The forge provider: the world's FakeForge for every installation."""

    def __init__(self, forge: Forge) -> None:
        self.forge = forge

    def for_installation(self, installation_id: int | None) -> Forge:
        del installation_id
        return self.forge


def console_settings() -> BotSettings:
    return BotSettings(
        github_token=SecretStr("test-token"),
        webhook_secrets=(SecretStr("s3cret"),),
        repositories=frozenset({REPO.lower()}),
        bot_login=BOT,
        console_secret=SecretStr(SECRET),
        github_client_id="Iv1.0123456789abcdef",
        github_client_secret=SecretStr("client-secret"),
    )


def with_example_repository(world: World) -> None:
    """rustok-mini's manifest and catalog on the world's default branch."""
    world.forge.commit(
        REPO,
        "main",
        {
            "modules.toml": MINI_MANIFEST.read_bytes(),
            ".github/modbot-catalog.toml": MINI_CATALOG.read_bytes(),
        },
    )


def console_client(world: World) -> TestClient:
    app = create_app(Runtime(console_settings(), world.store, OneForge(world.forge)), workers=0)
    return TestClient(app, raise_server_exceptions=False, follow_redirects=False)


def sign_in(client: TestClient, login: str) -> str:
    """Sign ``login`` in (a GitHub session, as the OAuth flow leaves it); returns the form's CSRF token."""
    session = Session.fresh().signed_in(login, "github")
    response = Response()
    SessionCodec(SECRET).write(
        response,
        Request(
            {
                "type": "http",
                "scheme": "http",
                "path": "/console",
                "query_string": b"",
                "headers": [],
                "server": ("testserver", 80),
            }
        ),
        session,
    )
    cookie = response.headers["set-cookie"].split(";", 1)[0].split("=", 1)[1]
    client.cookies.set(SESSION_COOKIE, cookie, path="/console")
    return session.csrf


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)
