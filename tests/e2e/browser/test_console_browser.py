"""The console in Chromium: sign-in, every page in English and Russian (screenshots, axe-core with no
serious or critical violation), keyboard reach and labels, the pages with JavaScript off, GitHub's
OAuth flow with GitHub mocked server-side, and a live update arriving over server-sent events."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from playwright.sync_api import Browser, Page, Route, expect

from bot.web.console import live as live_module
from tests.chatops_world import REPO
from tests.e2e.browser.conftest import LiveConsole, axe_violations, screenshot, sign_in
from tests.github_conformance import GitHubMock

pytestmark = pytest.mark.browser


def seed(live: LiveConsole) -> None:
    """Two releases, staging on the second, production on the first with a deploy in flight and a lock."""
    world, store = live.world, live.store
    first, second = world.release(), world.release()
    for environment, release, status, stage, by in (
        ("staging", first, "success", "done", "alice"),
        ("staging", second, "success", "done", "rachel"),
        ("production", first, "success", "done", "olga"),
        ("production", second, "in_progress", "deploy", "olga"),
    ):
        world.clock.advance(600)
        store.record_deployment(
            repository=REPO, environment=environment, release_id=release.release_id, commit_sha="a" * 40,
            kind="deploy", requested_by=by, reason=None, source="console", status=status, stage=stage,  # type: ignore[arg-type]
        )  # fmt: skip
    store.acquire_lock(REPO, "production", holder="olga", purpose="deploy", ttl=timedelta(hours=1))
    store.append_audit(
        "bob", "command.deploy", f"{REPO}:production", {"allowed": False, "rule": "permission"}
    )


PAGES = {
    "overview": "/console/",
    "audit": "/console/audit",
    "audit-filtered": "/console/audit?outcome=refused",
    "not-found": "/console/no-such-page",
}


@pytest.mark.parametrize("context", ["en-US", "ru-RU"], indirect=True)
def test_every_page_in_both_languages_is_accessible(page: Page, live: LiveConsole) -> None:
    seed(live)
    lang = page.evaluate("navigator.language").split("-")[0]
    page.goto(live.page_url("/console/"))
    expect(page.locator("html")).to_have_attribute("lang", lang)
    screenshot(page, f"signin-{lang}")
    assert axe_violations(page) == []
    sign_in(page, live)
    for name, path in PAGES.items():
        page.goto(live.page_url(path))
        expect(page.locator("html")).to_have_attribute("lang", lang)
        screenshot(page, f"{name}-{lang}")
        assert axe_violations(page) == [], name
    # the 403 page: a form whose token was tampered with
    page.goto(live.page_url("/console/"))
    page.locator('form[action="/console/logout"] input[name="csrf_token"]').evaluate(
        "input => { input.value = 'forged' }"
    )
    page.locator('form[action="/console/logout"] button').click()
    expect(page.locator("h1")).to_have_text("Not allowed" if lang == "en" else "Нет доступа")
    screenshot(page, f"forbidden-{lang}")
    assert axe_violations(page) == []


def test_a_phone_sized_screen(page: Page, live: LiveConsole) -> None:
    seed(live)
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live)
    screenshot(page, "overview-phone-en")
    page.goto(live.page_url("/console/audit"))
    screenshot(page, "audit-phone-en")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing forces sideways scrolling (the table scrolls in its own box)


def tab_through(page: Page, stops: int) -> list[dict[str, str]]:
    reached = []
    for _ in range(stops):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate(
                """() => { const e = document.activeElement; const style = getComputedStyle(e);
                return {tag: e.tagName, name: (e.labels && e.labels[0] ? e.labels[0].innerText : '') || e.getAttribute('aria-label') || e.innerText || e.value || '',
                        key: e.id || e.getAttribute('href') || e.getAttribute('name') || e.innerText,
                        outline: style.outlineStyle + ' ' + style.outlineWidth}; }"""
            )
        )
    return reached


def test_every_control_is_reachable_by_keyboard_labelled_and_shows_focus(
    page: Page, live: LiveConsole
) -> None:
    seed(live)
    sign_in(page, live)
    for path in ("/console/", "/console/audit"):
        page.goto(live.page_url(path))
        controls = page.evaluate(
            """() => Array.from(document.querySelectorAll('a[href], button, input:not([type=hidden]), select'))
                 .filter(e => e.offsetParent !== null).map(e => e.id || e.getAttribute('href') || e.getAttribute('name') || e.innerText)"""
        )
        reached = tab_through(page, len(controls) * 3 + 10)  # a datetime field has a stop per part
        keys = [stop["key"] for stop in reached]
        missing = [control for control in controls if control not in keys]
        assert missing == [], f"{path}: not reachable by Tab: {missing}"
        for stop in reached:
            if stop["tag"] in ("A", "BUTTON", "INPUT", "SELECT"):
                assert stop["name"].strip(), f"{path}: an unlabelled control: {stop}"
                assert not stop["outline"].startswith("none"), f"{path}: no visible focus on {stop}"


def test_the_console_works_with_javascript_off(browser: Browser, live: LiveConsole) -> None:
    seed(live)
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, live)
        expect(page.locator("#env-1")).to_have_text("staging")
        page.goto(live.page_url("/console/audit"))
        page.select_option("#f-outcome", "refused")
        page.get_by_role("button", name="Filter").click()
        expect(page).to_have_url(re.compile(r"outcome=refused"))
        expect(page.locator("tbody tr")).to_have_count(1)
        page.get_by_role("link", name="Русский").click()
        expect(page.locator("h1")).to_have_text("Аудит")
        page.get_by_role("button", name="Выйти").click()
        expect(page.locator("[role=status]")).to_have_text("Вы вышли из консоли.")
    finally:
        context.close()


def test_a_live_update_arrives_without_reloading(
    page: Page, live: LiveConsole, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_module, "POLL_SECONDS", 0.2)
    seed(live)
    sign_in(page, live)
    staging = page.locator("section", has=page.locator("#env-1"))
    expect(staging).not_to_contain_text("rel_2026_01_03_001")
    page.evaluate("window.__marker = 'still the same page'")
    release = live.world.release()
    live.store.record_deployment(
        repository=REPO, environment="staging", release_id=release.release_id, commit_sha="b" * 40,
        kind="deploy", requested_by="olga", reason=None, source="console", status="success",
    )  # fmt: skip
    expect(page.locator("#environments")).to_contain_text(release.release_id, timeout=15_000)
    assert page.evaluate("window.__marker") == "still the same page"


def test_github_sign_in_in_the_browser(page: Page, live_github: LiveConsole, github_api: GitHubMock) -> None:
    live = live_github
    live.world.role("rachel", "maintain")
    github_api.responses.add(
        responses.POST,
        "https://github.com/login/oauth/access_token",
        json={
            "access_token": "gho_browserflow0123456789abcdefghijklmno",
            "token_type": "bearer",
            "scope": "",
        },
    )
    user = github_api.example("GET", "/user")
    user["login"] = "rachel"
    github_api.add("GET", "/user", json=user)
    github_api.add("DELETE", "/applications/Iv1.0123456789abcdef/token", status=204)

    def github_authorizes(route: Route) -> None:
        query = parse_qs(urlsplit(route.request.url).query)
        back = f"{query['redirect_uri'][0]}?code=browser-code&state={query['state'][0]}"
        route.fulfill(status=302, headers={"Location": back})

    page.route("https://github.com/login/oauth/authorize*", github_authorizes)
    page.goto(live.page_url("/console/audit"))
    screenshot(page, "signin-github-en")
    page.get_by_role("link", name="Sign in with GitHub").click()
    page.wait_for_url(live.page_url("/console/audit"))
    expect(page.locator(".whoami .login")).to_have_text("rachel")
    expect(page.locator(".whoami .badge-role")).to_have_text("role: maintain")
    assert [c.path for c in github_api.calls_to("GET", "/user")] == ["/user"]
    assert len(github_api.calls_to("DELETE", "/applications/Iv1.0123456789abcdef/token")) == 1
