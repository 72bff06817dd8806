"""The single-host loop in Chromium (issue #14): a real `modbot local serve` (real git, real cargo
offline, the staging and production servers), the console driven as a person would: sign in as the
admin with the password `make run` printed → Modules → Install forum → the change request and its
validation → (merge: `modbot local merge`, the console has no merge button yet) → the build page
following the real build → the release on staging → Deploy to production → Roll back production.
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
from tests.e2e.test_single_host_e2e import built, merge, review_comment
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
    expect(page.get_by_role("link", name="Pull request #1")).to_be_visible()
    screenshot(page, "single-host-install")
    comment = review_comment(served, 1)
    assert "✅ modbot: `modules.toml` is valid" in comment.body

    page.get_by_role("link", name=re.compile("Follow build")).click()
    expect(page.locator('[data-field="stage"]')).to_have_text("pull request")
    screenshot(page, "single-host-build-queued")
    second = built(served, merge(served, 1))
    expect(page.locator('[data-field="status"]')).to_contain_text("succeeded")
    expect(page.locator('[data-field="release"]')).to_contain_text(second)
    screenshot(page, "single-host-build-succeeded")

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
