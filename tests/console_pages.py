"""The Modules, Builds and Releases page tests' console: C1's (tests/console_world.py: the real app on the
chat-ops world, GitHub sign-in settings) with the example repository's manifest and catalog on the
default branch, and a client signed in as a GitHub user by a session cookie signed with the console's
key, as the OAuth flow leaves it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.responses import Response

from bot.web.console.session import SESSION_COOKIE, Session, SessionCodec
from tests.chatops_world import REPO, World
from tests.console_world import CONSOLE_SECRET, Console, console_settings, csrf_of
from tests.corpus import MINI_MANIFEST, ROOT

__all__ = ["MINI_CATALOG", "console_client", "csrf_of", "sign_in", "with_example_repository"]

MINI_CATALOG = ROOT / "examples" / "rustok-mini" / ".github" / "modbot-catalog.toml"


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
    """A client of the console on ``world`` (redirects are not followed: the tests look at them)."""
    console = Console.start(world, console_settings("github"))
    console.client.follow_redirects = False
    return console.client


def sign_in(client: TestClient, login: str) -> str:
    """Sign ``login`` in (a GitHub session; their role is the world's); returns the form's CSRF token."""
    session = Session.fresh().signed_in(login, "github")
    response = Response()
    scope = {"type": "http", "scheme": "http", "path": "/", "headers": [], "server": ("testserver", 80)}
    SessionCodec(CONSOLE_SECRET).write(response, Request(scope), session)
    client.cookies.set(
        SESSION_COOKIE, response.headers["set-cookie"].split(";", 1)[0].split("=", 1)[1], path="/console"
    )
    return session.csrf
