"""The Change requests and log pages in Chromium, on a real local forge (real git, the real store and
app under uvicorn): approve and merge with the keyboard alone, the pages in English and Russian with no
serious axe violation. Screenshots in artifacts/screenshots/changes-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from bot.forge.local import LocalForgeProvider
from bot.host.layout import Layout
from bot.runtime import Runtime
from bot.store import open_store
from bot.web.app import create_app
from tests.console_world import PASSWORD, REPO, console_settings
from tests.e2e.browser.conftest import LiveConsole, _Server, axe_violations, free_port, screenshot
from tests.local_forge_world import LocalWorld
from tests.unit.test_console_changes import SCRIPT, _a_run

pytestmark = pytest.mark.browser

VALIDATION = (
    "<!-- modbot:manifest-report -->\n✅ modbot: `modules.toml` is valid\n\n"
    "**Modules delta:** +forum\n\nVerdict: valid, 1 module added."
)


@pytest.fixture
def local(tmp_path: Path) -> Iterator[tuple[LiveConsole, LocalWorld, Path]]:
    world = LocalWorld(tmp_path, REPO)
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    world.local.role_of = store.role_of
    store.add_user("alice", PASSWORD, "write", actor="cli:root")
    store.add_user("bob", PASSWORD, "write", actor="cli:root")
    host = tmp_path / "host"
    app = create_app(
        Runtime(console_settings("local"), store, LocalForgeProvider(world.local), host_dir=host), workers=0
    )
    port = free_port()
    with _Server(app, port):
        yield LiveConsole(url=f"http://127.0.0.1:{port}", world=None, store=store), world, host  # type: ignore[arg-type]


def _sign_in(page: Page, url: str, login: str) -> None:
    page.goto(url + "/console/")
    page.locator("#login").fill(login)
    page.locator("#password").fill(PASSWORD)
    page.locator("#password").press("Enter")
    page.wait_for_url(url + "/console/")


def test_approve_and_merge_with_the_keyboard_in_both_languages(
    page: Page, local: tuple[LiveConsole, LocalWorld, Path]
) -> None:
    live, world, host = local
    world.commit("modbot/install-forum", {"modules.toml": b"[modules.forum]\n"}, author="alice")
    number = world.local.open_change_request(
        REPO, head="modbot/install-forum", base="main", title="Install forum", body=f"Why: {SCRIPT}"
    ).number
    world.local.add_comment(REPO, number, VALIDATION, by="modbot")
    run_id = _a_run(host)
    deploy_log = Layout(host).environment_dir("staging") / "deploy.log"
    deploy_log.parent.mkdir(parents=True)
    deploy_log.write_text("2026-12-07T07:00:00Z [in_progress] deploying rel_2026_12_07_001\n")
    _sign_in(page, live.url, "bob")

    page.goto(f"{live.url}/console/changes")
    expect(page.get_by_role("link", name="Install forum")).to_be_visible()
    screenshot(page, "changes-list-en")
    assert axe_violations(page) == []
    page.get_by_role("link", name="Install forum").click()
    expect(page.get_by_text("Modules delta:** +forum")).to_be_visible()
    expect(page.get_by_text(f"Why: {SCRIPT}")).to_be_visible()  # shown as text, never run
    screenshot(page, "changes-detail-en")
    assert axe_violations(page) == []

    page.locator("#change-approve").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Approved.")).to_be_visible()
    page.locator("#change-merge").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Merged: the build starts now.")).to_be_visible()
    screenshot(page, "changes-merged-en")
    assert axe_violations(page) == []
    merged = world.records.get_change_request(REPO, number)
    assert merged is not None and merged.merged and merged.merged_by == "bob"

    page.goto(f"{live.url}/console/runs/{run_id}/log")
    expect(page.get_by_text("Finished release")).to_be_visible()
    screenshot(page, "run-log-en")
    assert axe_violations(page) == []

    page.get_by_role("link", name="Русский").click()
    page.goto(f"{live.url}/console/changes/{number}")
    expect(page.get_by_role("heading", name="Рецензии")).to_be_visible()
    screenshot(page, "changes-detail-ru")
    assert axe_violations(page) == []
    page.goto(f"{live.url}/console/changes")
    screenshot(page, "changes-list-ru")
    page.goto(f"{live.url}/console/runs/{run_id}/log")
    expect(page.get_by_role("heading", name="Шаги")).to_be_visible()
    screenshot(page, "run-log-ru")
    assert axe_violations(page) == []
    page.goto(f"{live.url}/console/environments/staging/log")
    expect(page.get_by_text("deploying rel_2026_12_07_001")).to_be_visible()
    screenshot(page, "environment-log-ru")
    assert axe_violations(page) == []
