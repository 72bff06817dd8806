"""The browser harness (issue #13): the real app (create_app with a Runtime on a temporary SQLite
store and the chat-ops world's FakeForge) served by uvicorn in a thread on a free 127.0.0.1 port, so
`responses` (GitHub mocked and checked against @octokit/openapi) and the fake forge work in-process;
Playwright drives Debian's Chromium (/usr/bin/chromium, installed by `make`), never a browser of its
own. Screenshots go to artifacts/screenshots/ (git-ignored); axe-core (npm) checks accessibility."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from bot.runtime import Runtime
from bot.store import Store
from bot.web.app import create_app
from tests.chatops_world import World
from tests.console_world import PASSWORD, _Provider, console_settings
from tests.store_helpers import FakeClock, temporary_store

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class LiveConsole:
    url: str
    world: World
    store: Store

    def page_url(self, path: str) -> str:
        return self.url + path


class _Server:
    def __init__(self, app: Any, port: int) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, name="console-uvicorn", daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def serve(store: Store, clock: FakeClock, sign_in: str) -> Iterator[LiveConsole]:
    world = World.create(store, clock)
    settings = console_settings(sign_in)  # type: ignore[arg-type]
    app = create_app(Runtime(settings, store, _Provider(world.forge)), workers=0)
    port = free_port()
    with _Server(app, port):
        yield LiveConsole(url=f"http://127.0.0.1:{port}", world=world, store=store)


@pytest.fixture
def live_store(tmp_path: Path) -> Iterator[Store]:
    with temporary_store("sqlite", directory=tmp_path, clock=FakeClock()) as store:
        store.add_user("alice", PASSWORD, "write", actor="cli:root")
        store.add_user("olga", PASSWORD, "admin", actor="cli:root")
        yield store


@pytest.fixture
def live(live_store: Store) -> Iterator[LiveConsole]:
    """The console with local accounts (alice: write, olga: admin)."""
    yield from serve(live_store, FakeClock(), "local")


@pytest.fixture
def live_github(live_store: Store) -> Iterator[LiveConsole]:
    """The console with GitHub sign-in."""
    yield from serve(live_store, FakeClock(), "github")


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for tests/e2e/browser. Package scope, not session: Playwright's sync API keeps an event
    loop running in this thread while it is open, and later tests that call asyncio.run() must not see it."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: `make pytest` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    """A fresh browser profile; its locale (what Chromium sends as Accept-Language) may be given as
    the indirect parameter."""
    locale = getattr(request, "param", "en-US")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    problems: list[str] = []
    # a page's own status (404, 403) is logged as "Failed to load resource": not a problem; a static
    # file that fails to load is, and so is any other console error (a CSP violation among them)
    page.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on(
        "response",
        lambda answer: (
            problems.append(f"{answer.status} {answer.url}")
            if "/console/static/" in answer.url and answer.status >= 400
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    # a CSP violation or a script error shows up here: the pages must run under their own policy
    assert problems == [], problems


def sign_in(page: Page, live: LiveConsole, login: str = "alice") -> None:
    page.goto(live.page_url("/console/"))
    page.locator("#login").fill(login)
    page.locator("#password").fill(PASSWORD)
    page.locator("#password").press("Enter")
    page.wait_for_url(live.page_url("/console/"))


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page (run through DevTools, not a <script>
    tag: the page's own CSP would rightly refuse one)."""
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate(
        "async () => JSON.stringify(await axe.run(document, {resultTypes: ['violations']}))"
    )
    violations = json.loads(result)["violations"]
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
