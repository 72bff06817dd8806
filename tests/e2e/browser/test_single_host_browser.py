"""The single-host loop in Chromium (issue #14): a real `modbot local serve` (real git, real cargo
offline, the staging and production servers), the console driven as a person would: sign in as the
admin with the password `make run` printed → Modules → Install forum → the change request and its
validation → the change request's page: Approve, Merge (as the admin) → the build page following the
real build and its run's log → the release on staging → Deploy to production → Roll back production.
It starts as `make run` does: the seeded repository built and deployed to both environments at the
first start. Screenshots in artifacts/screenshots/single-host-*.png."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser.conftest import screenshot
from tests.e2e.test_single_host_e2e import built, review_comment
from tests.single_host_world import REPO, Served, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    if shutil.which("cargo") is None:
        pytest.skip("cargo is not installed")
    world = Served(tmp_path / "data", tmp_path / "target", baseline=True)  # as `make run` starts
    said = world.start()
    assert "building the seeded repository for staging and production" in said
    yield world
    world.close()


def test_install_forum_build_deploy_and_roll_back_in_the_browser(page: Page, served: Served) -> None:
    # the first start builds the seeded repository and runs it on staging and production
    earlier = wait_for("production to run the seeded release", lambda: served.release_on("production"))
    assert served.release_on("staging") == earlier
    assert "forum" not in (served.served_modules("production") or [])

    page.set_default_timeout(120_000)
    page.goto(f"{served.url}/console/")
    page.locator("#login").fill("admin")
    page.locator("#password").fill(str(served.password))
    page.locator("#password").press("Enter")
    page.wait_for_url(f"{served.url}/console/")
    screenshot(page, "single-host-overview")

    page.goto(f"{served.url}/console/modules")
    page.locator("#catalog-forum").get_by_role("link", name="Install").click()
    expect(
        page.get_by_text("Valid: the manifest after this change passes modbot's validation.")
    ).to_be_visible()
    page.get_by_label("Why (shown in the pull request and the audit log)").fill("tenants want a forum")
    page.get_by_role("button", name="Open the pull request").click()
    expect(page.get_by_text("A pull request was opened.")).to_be_visible()
    screenshot(page, "single-host-install")
    build_page = page.get_by_role("link", name=re.compile("Follow build")).get_attribute("href")
    assert build_page is not None
    comment = review_comment(served, 1)
    assert "✅ modbot: `modules.toml` is valid" in comment.body

    # the change request in the console: the validation comment, then Approve and Merge
    page.get_by_role("link", name="Change request #1: review and merge it").click()
    expect(page.get_by_text("modules.toml` is valid")).to_be_visible()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Approved.")).to_be_visible()
    page.get_by_role("button", name="Merge").click()
    expect(page.get_by_text("Merged: the build starts now.")).to_be_visible()
    screenshot(page, "single-host-change-merged")
    merged = served.records.get_change_request(REPO, 1)
    assert merged is not None and merged.merged and merged.merge_commit_sha is not None
    assert merged.merged_by == "admin"

    page.goto(f"{served.url}{build_page}")
    screenshot(page, "single-host-build-running")
    second = built(served, merged.merge_commit_sha)
    expect(page.locator('[data-field="status"]')).to_contain_text("succeeded")
    expect(page.locator('[data-field="release"]')).to_contain_text(second)
    screenshot(page, "single-host-build-succeeded")
    page.locator('[data-field="logs"]').get_by_role("link").click()  # the run's log, in the console
    expect(page.get_by_role("heading", name="Steps")).to_be_visible()
    expect(page.get_by_text("This run has finished.")).to_be_visible()
    screenshot(page, "single-host-run-log")

    wait_for("staging to serve forum", lambda: "forum" in (served.served_modules("staging") or []))
    wait_for("the staging deploy to be recorded", lambda: served.recorded_on("staging") == second)
    page.goto(f"{served.url}/console/releases")
    expect(page.locator("#env-staging")).to_contain_text(second)
    page.locator(f'[id="{second}"]').get_by_role("button", name="Deploy to production").click()
    expect(page.get_by_text("Started.")).to_be_visible()
    wait_for("production to serve forum", lambda: "forum" in (served.served_modules("production") or []))
    wait_for(
        "the deploy to end (its lock released)", lambda: served.store.get_lock(REPO, "production") is None
    )
    page.goto(f"{served.url}/console/releases")
    expect(page.locator("#env-production")).to_contain_text(second)
    screenshot(page, "single-host-deployed")

    production = page.locator("#env-production")
    production.get_by_label("Why").fill("the forum is slow")
    production.get_by_role("button", name="Roll back production").click()
    expect(page.get_by_text("Started.")).to_be_visible()
    wait_for("production to run the earlier release", lambda: served.release_on("production") == earlier)
    assert "forum" not in (served.served_modules("production") or [])
    wait_for(
        "the rollback to end (its lock released)", lambda: served.store.get_lock(REPO, "production") is None
    )
    page.goto(f"{served.url}/console/releases")
    expect(page.locator("#env-production")).to_contain_text(earlier)
    screenshot(page, "single-host-rolled-back")
