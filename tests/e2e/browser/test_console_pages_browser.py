"""The Modules, Builds and Releases pages in Chromium: the seed's whole flow (install a module from the
catalog → its pull request → the build page following the pipeline's webhook events live → deploy to
staging → production refused for a `write` user with chat-ops' reason → allowed for `maintain` →
rollback), and every page in English and Russian (screenshots, axe-core: no serious or critical
violation). GitHub is the chat-ops world's FakeForge; the webhook payloads are GitHub's examples checked
against @octokit/openapi-webhooks (tests/chatops_world.py) and handled by the pipeline's own handlers,
as the worker would."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from bot.store import ReleaseInfo
from bot.web.console.session import SESSION_COOKIE, Session, SessionCodec
from tests.chatops_world import BUILD_WORKFLOW, REPO, World, settings, tag_sha
from tests.console_pages import with_example_repository
from tests.console_world import CONSOLE_SECRET
from tests.e2e.browser.conftest import LiveConsole, axe_violations, screenshot
from tests.webhook_handlers import (
    handle_create,
    handle_deployment_status,
    handle_pull_request_closed,
    handle_workflow_run,
)

pytestmark = pytest.mark.browser

RECEIVED = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def become(page: Page, live: LiveConsole, login: str) -> None:
    """``login`` signed in with GitHub (the session cookie the OAuth flow leaves; the flow itself is
    tested in test_console_browser): their rights are their repository role in the world."""
    from starlette.requests import Request
    from starlette.responses import Response

    response = Response()
    scope = {"type": "http", "scheme": "http", "path": "/", "headers": [], "server": ("127.0.0.1", 80)}
    SessionCodec(CONSOLE_SECRET).write(response, Request(scope), Session.fresh().signed_in(login, "github"))
    value = response.headers["set-cookie"].split(";", 1)[0].split("=", 1)[1]
    page.context.clear_cookies()
    page.context.add_cookies(
        [
            {
                "name": SESSION_COOKIE,
                "value": value,
                "domain": "127.0.0.1",
                "path": "/console",
                "httpOnly": True,
            }
        ]
    )


def deliver(world: World, handler: Any, payload: dict[str, Any]) -> str:
    """A webhook delivery handled as the worker handles it."""
    outcome: str = handler(payload, RECEIVED, forge=world.forge, store=world.store, settings=settings())
    return outcome


def seed(live: LiveConsole) -> ReleaseInfo:
    """The example repository; wendy may write, mona maintain; staging and production ran an earlier
    release (so a rollback has somewhere to return to)."""
    world = live.world
    with_example_repository(world)
    world.role("wendy", "write")
    world.role("mona", "maintain")
    earlier = world.release()
    for environment in ("staging", "production"):
        world.store.record_deployment(
            repository=REPO,
            environment=environment,
            release_id=earlier.release_id,
            commit_sha=earlier.commit_sha,
            kind="deploy",
            requested_by="mona",
            reason=None,
            source="comment",
            status="success",
        )
    return earlier


def checked(page: Page, name: str) -> None:
    screenshot(page, name)
    assert axe_violations(page) == [], name


def test_install_build_deploy_refused_allowed_and_rollback(page: Page, live_github: LiveConsole) -> None:
    live, world = live_github, live_github.world
    earlier = seed(live)
    become(page, live, "wendy")

    # the catalog's forum module: Install → what the PR will change → open it
    page.goto(live.page_url("/console/modules"))
    page.locator("#catalog-forum").get_by_role("link", name="Install").click()
    expect(
        page.get_by_text("Valid: the manifest after this change passes modbot's validation.")
    ).to_be_visible()
    page.get_by_label("Why (shown in the pull request and the audit log)").fill("tenants want a forum")
    page.get_by_role("button", name="Open the pull request").click()
    expect(page.get_by_text("A pull request was opened.")).to_be_visible()
    [pull] = world.forge.repos[REPO.lower()].pulls.values()
    expect(page.get_by_role("link", name=f"Pull request #{pull.number}")).to_be_visible()
    assert pull.head_ref == "modbot/install-forum" and "tenants want a forum" in pull.body
    checked(page, "module-result-en")

    # the build page follows the pipeline's events without being reloaded
    page.get_by_role("link", name=re.compile("Follow build")).click()
    stage = page.locator('[data-field="stage"]')
    status = page.locator('[data-field="status"]')
    expect(stage).to_have_text("pull request")
    expect(status).to_contain_text("queued")
    checked(page, "build-queued-en")
    merged = world.forge.merge_pull(REPO, pull.number)
    sha = merged.merge_commit_sha
    assert sha is not None
    assert deliver(world, handle_pull_request_closed, world.pull_closed_payload(merged)).startswith(
        "1 build(s)"
    )
    expect(stage).to_have_text("build")
    running = world.workflow_run_payload(
        path=BUILD_WORKFLOW, head_sha=sha, head_branch="main", action="in_progress"
    )
    deliver(world, handle_workflow_run, running)
    expect(status).to_contain_text("running")
    done = world.workflow_run_payload(
        path=BUILD_WORKFLOW, head_sha=sha, head_branch="main", conclusion="success"
    )
    deliver(world, handle_workflow_run, done)
    expect(stage).to_have_text("release")
    release = world.release(commit_sha=sha, cached=False)
    deliver(world, handle_create, world.create_payload(f"release/{release.release_id}"))
    expect(status).to_contain_text("succeeded")
    expect(page.locator('[data-field="release"]')).to_contain_text(release.release_id)
    checked(page, "build-succeeded-en")

    # deploy the new release to staging
    page.goto(live.page_url("/console/releases"))
    row = page.locator(f'[id="{release.release_id}"]')
    expect(row).to_contain_text(release.commit_sha[:7])
    checked(page, "releases-write-en")
    row.get_by_role("button", name="Deploy to staging").click()
    expect(page.get_by_text("Started.")).to_be_visible()
    assert tag_sha(world.forge, "staging") == release.commit_sha
    checked(page, "deploy-started-en")
    [deployment] = [d for d in world.store.deployments(REPO, environment="staging") if d.source == "console"]
    assert deployment.github_deployment_id is not None
    for state, description in (
        ("in_progress", f"deploying {release.release_id}"),
        ("success", f"deployed {release.release_id}, smoke test passed"),
    ):
        deliver(
            world,
            handle_deployment_status,
            world.post_status(deployment.github_deployment_id, state, description),
        )

    # production: wendy's button is disabled with authorize's words; forced through, the server refuses
    page.goto(live.page_url("/console/releases"))
    production = page.locator(f'[id="{release.release_id}"]').get_by_role(
        "button", name="Deploy to production"
    )
    expect(production).to_be_disabled()
    reason = page.locator("#why-deploy-production")
    expect(reason).to_contain_text("permission")
    expect(reason).to_contain_text("maintain")
    production.evaluate("button => { button.disabled = false; button.type = 'submit' }")
    production.click()
    expect(page.locator("main")).to_contain_text("Refused")
    expect(page.locator("main")).to_contain_text("permission")
    checked(page, "deploy-refused-en")
    assert tag_sha(world.forge, "production") != release.commit_sha

    # mona (maintain) may
    become(page, live, "mona")
    page.goto(live.page_url("/console/releases"))
    page.locator(f'[id="{release.release_id}"]').get_by_role("button", name="Deploy to production").click()
    expect(page.get_by_text("Started.")).to_be_visible()
    assert tag_sha(world.forge, "production") == release.commit_sha

    # and rolls staging back to the release it ran before
    page.goto(live.page_url("/console/releases"))
    staging = page.locator("#env-staging")
    expect(staging).to_contain_text(earlier.release_id)
    staging.get_by_label("Why").fill("the forum is slow")
    staging.get_by_role("button", name="Roll back staging").click()
    expect(page.get_by_text("Started.")).to_be_visible()
    assert tag_sha(world.forge, "staging") == earlier.commit_sha
    rollback = world.store.deployments(REPO, environment="staging")[0]
    assert (rollback.kind, rollback.release_id, rollback.requested_by) == (
        "rollback",
        earlier.release_id,
        "mona",
    )


@pytest.mark.parametrize("context", ["en-US", "ru-RU"], indirect=True)  # the browser's language
def test_every_page_in_both_languages(page: Page, live_github: LiveConsole) -> None:
    live, world = live_github, live_github.world
    lang = "ru" if page.evaluate("navigator.language").startswith("ru") else "en"
    seed(live)
    second = world.release()
    build_id = world.store.create_build(
        repository=REPO,
        requested_by="wendy",
        reason="tenants want a forum",
        manifest_ref=None,
        manifest_hash=None,
        modules_delta={
            "summary": "+forum",
            "added": [{"slug": "forum", "crate": "rustok-forum", "source": "path"}],
        },
        pr_number=7,
    ).build_id
    world.store.update_build(build_id, status="running", stage="build", progress=60)
    for login in ("wendy", "mona"):
        become(page, live, login)
        for name, path in (
            ("modules", "/console/modules"),
            ("module-install", "/console/modules/forum/install?catalog=true"),
            ("module-refused", "/console/modules/outbox/uninstall"),
            ("builds", "/console/builds"),
            ("build", f"/console/builds/{build_id}"),
            ("releases", "/console/releases"),
        ):
            page.goto(live.page_url(path))
            expect(page.locator("html")).to_have_attribute("lang", lang)
            checked(page, f"{name}-{login}-{lang}")
    # a refusal's page, in chat-ops' words (here: production needs maintain; wendy has write)
    become(page, live, "wendy")
    page.goto(live.page_url("/console/releases"))
    button = page.locator(f'[id="{second.release_id}"] form').nth(1).locator("button")
    button.evaluate("button => { button.disabled = false; button.type = 'submit' }")
    button.click()
    expect(page.locator("main .notice-bad code").first).to_have_text("permission")
    checked(page, f"deploy-refused-{lang}")
