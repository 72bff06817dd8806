"""The console's Modules page (bot/web/console/modules_page.py) through the real app: badges and the
manifest core's verdicts on the buttons, the catalog, and the POST that opens the pull request through
the admin API's own path (CSRF, the role asked afresh, one audit entry, requested_by = the viewer)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.app.queries import modules as modules_query
from bot.store import AuditEntry
from bot.web.console import modules_page
from tests.chatops_world import REPO, World
from tests.console_pages import console_client, csrf_of, sign_in, with_example_repository


@pytest.fixture
def client(world: World) -> TestClient:
    with_example_repository(world)
    world.role("wendy", "write")
    world.role("rita", "read")
    return console_client(world)


def _pulls(world: World) -> list[str]:
    return [pull.head_ref for pull in world.forge.repos[REPO.lower()].pulls.values()]


def _module_entries(world: World) -> list[AuditEntry]:
    return [e for e in world.store.query_audit(limit=100).entries if e.action.startswith("module.")]


def _row(html: str, row_id: str) -> str:
    start = html.index(f'id="{row_id}"')
    return html[start : html.index("</tr>", start)]


def test_the_page_shows_badges_dependents_and_why_a_button_is_disabled(client: TestClient) -> None:
    sign_in(client, "alice")
    page = client.get("/console/modules")
    assert page.status_code == 200
    html = page.text
    outbox = _row(html, "module-outbox")
    assert "required" in outbox and "`outbox` is a required module and cannot be uninstalled" in outbox
    assert "disabled" in outbox
    content = _row(html, "module-content")
    assert "enabled by default" in content and "blog, pages" in content  # what needs it
    assert "depend on `content`; uninstall them first" in content
    forum = _row(html, "catalog-forum")
    assert 'href="/console/modules/forum/install?catalog=true"' in forum


def test_a_reader_sees_the_page_with_every_button_disabled_and_why(client: TestClient) -> None:
    sign_in(client, "rita")
    html = client.get("/console/modules").text
    assert "opening a pull request needs the write role, and you have read" in html
    assert 'href="/console/modules/forum/install' not in html
    assert "Needs the write role." in html


def test_the_confirmation_page_shows_the_planned_delta_or_the_refusal(client: TestClient) -> None:
    sign_in(client, "alice")
    planned = client.get("/console/modules/forum/install?catalog=true")
    assert planned.status_code == 200
    assert "+forum" in planned.text and 'action="/console/modules/forum/install"' in planned.text
    assert 'href="/console/modules/forum/install?catalog=true&amp;enable=true"' in planned.text
    enabled = client.get("/console/modules/forum/install?catalog=true&enable=true")
    assert '<span class="delta-added">+forum</span>' in enabled.text  # default_enabled gains it
    assert '<input type="hidden" name="enable" value="true">' in enabled.text
    refused = client.get("/console/modules/outbox/uninstall")
    assert refused.status_code == 200
    assert "`outbox` is a required module and cannot be uninstalled" in refused.text
    assert 'method="post"' not in refused.text.split("<main", 1)[1]


def test_install_pressed_opens_the_pull_request_once_audited_once(client: TestClient, world: World) -> None:
    csrf = sign_in(client, "wendy")
    answer = client.post(
        "/console/modules/forum/install",
        data={"csrf_token": csrf, "catalog": "true", "reason": "tenants want a forum"},
    )
    assert answer.status_code == 200, answer.text
    assert _pulls(world) == ["modbot/install-forum"]
    pull = next(iter(world.forge.repos[REPO.lower()].pulls.values()))
    assert f"/pull/{pull.number}" in answer.text and "+forum" in answer.text
    assert "Requested by | wendy" in pull.body and "tenants want a forum" in pull.body
    entries = _module_entries(world)
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.actor, entry.action, entry.target) == (
        "wendy",
        "module.install",
        f"{REPO.lower()}#{pull.number}",
    )
    assert entry.details is not None
    assert entry.details["outcome"] == "opened" and entry.details["requested_by"] == "wendy"
    assert entry.details["source"] == "console" and entry.reason == "tenants want a forum"
    # and a build waits on the pull request, for the pipeline's events to move (the Builds page)
    [build] = world.store.builds_for_pr(REPO, pull.number)
    assert (build.requested_by, build.status, build.stage) == ("wendy", "queued", "pr")
    assert build.modules_delta["summary"] == "+forum" and f"/console/builds/{build.build_id}" in answer.text


def test_a_form_without_its_csrf_token_is_refused_audited_and_changes_nothing(
    client: TestClient, world: World
) -> None:
    sign_in(client, "alice")
    for data in ({"catalog": "true"}, {"catalog": "true", "csrf_token": "not-the-sessions"}):
        answer = client.post("/console/modules/forum/install", data=data)
        assert answer.status_code == 403
    assert _pulls(world) == []
    refusals = [e for e in world.store.query_audit(limit=100).entries if e.action == "console.csrf_refused"]
    assert len(refusals) == 2 and not _module_entries(world)


def test_another_users_token_is_refused(client: TestClient, world: World) -> None:
    other = console_client(world)
    alices_token = sign_in(other, "alice")
    sign_in(client, "wendy")
    answer = client.post(
        "/console/modules/forum/install", data={"csrf_token": alices_token, "catalog": "true"}
    )
    assert answer.status_code == 403 and _pulls(world) == []


def test_a_role_that_may_not_is_refused_audited_and_changes_nothing(client: TestClient, world: World) -> None:
    csrf = sign_in(client, "rita")
    answer = client.post("/console/modules/forum/install", data={"csrf_token": csrf, "catalog": "true"})
    assert answer.status_code == 403
    assert "needs the write role" in answer.text
    assert _pulls(world) == []
    [entry] = _module_entries(world)
    assert entry.actor == "rita" and entry.details is not None and entry.details["outcome"] == "refused"


def test_the_role_is_asked_afresh_when_pressed(client: TestClient, world: World) -> None:
    csrf = sign_in(client, "wendy")
    assert 'href="/console/modules/forum/install' in client.get("/console/modules").text
    world.role("wendy", "read")  # demoted after the page was shown
    answer = client.post("/console/modules/forum/install", data={"csrf_token": csrf, "catalog": "true"})
    assert answer.status_code == 403 and _pulls(world) == []


def test_a_refused_change_shows_the_manifest_cores_reasons(client: TestClient, world: World) -> None:
    csrf = sign_in(client, "alice")
    answer = client.post("/console/modules/outbox/uninstall", data={"csrf_token": csrf})
    assert answer.status_code == 422
    assert "`outbox` is a required module and cannot be uninstalled" in answer.text
    [entry] = _module_entries(world)
    assert entry.details is not None and entry.details["outcome"] == "refused"
    assert _pulls(world) == []


def test_install_from_crates_io_goes_through_the_same_checks(client: TestClient, world: World) -> None:
    csrf = sign_in(client, "alice")
    to_page = client.get(
        "/console/modules/install",
        params={"slug": "gallery", "source": "git", "crate": "rustok-gallery", "git": "ftp://example.com/g"},
    )
    assert to_page.status_code == 303
    checked = client.get(to_page.headers["location"])
    assert checked.status_code == 200 and "ftp" in checked.text and "would refuse" in checked.text
    bad_slug = client.get("/console/modules/install", params={"slug": "Not A Slug"})
    assert bad_slug.status_code == 422 and "is not valid" in bad_slug.text
    answer = client.post(
        "/console/modules/gallery/install",
        data={"csrf_token": csrf, "source": "crates-io", "crate": "rustok-gallery", "version": "1.2"},
    )
    assert answer.status_code == 200 and "+gallery@1.2" in answer.text
    assert _pulls(world) == ["modbot/install-gallery"]
    assert csrf_of(client.get("/console/modules").text) == csrf


def test_while_verdicts_are_planned_the_page_says_so_and_its_stream_tells_when_ready(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = world.forge.get_file(REPO, "modules.toml", "main")
    assert manifest is not None
    world.forge.commit(REPO, "main", {"modules.toml": manifest + b"# a change nobody planned yet\n"})
    monkeypatch.setattr(modules_page, "PAGE_WAIT_SECONDS", 0.0)
    planning = threading.Event()  # the planning waits for it: the page is seen while it is pending
    real_view = modules_query._view

    def slow_view(*args: Any, check: bool) -> Any:
        if check:
            planning.wait(timeout=30)
        return real_view(*args, check=check)

    monkeypatch.setattr(modules_query, "_view", slow_view)
    sign_in(client, "alice")
    pending = client.get("/console/modules").text
    assert "still checking which actions this manifest allows" in pending
    key = pending.split('data-live="/console/modules/events?key=', 1)[1].split('"', 1)[0]
    assert 'href="/console/modules/blog/uninstall"' in pending  # a link to the page that checks it
    threading.Timer(0.3, planning.set).start()  # planned while the stream waits
    with client.stream("GET", "/console/modules/events", params={"key": key}) as stream:
        body = "".join(stream.iter_text())
    assert "event: changed" in body
    ready = client.get("/console/modules").text
    assert "still checking" not in ready and "data-live" not in ready.split("<main", 1)[1]
    assert client.get("/console/modules/events", params={"key": key}).status_code == 204


def test_a_malformed_address_gets_the_consoles_page_not_json(client: TestClient) -> None:
    sign_in(client, "alice")
    for path in (
        "/console/modules/Not-A-Slug/install",
        "/console/modules/forum/explode",
        "/console/builds?status=bogus",
    ):
        answer = client.get(path)
        assert answer.status_code == 422 and answer.headers["content-type"].startswith("text/html"), path
        assert "Not a valid request" in answer.text
    assert "slug: String should match pattern" in client.get("/console/modules/Not-A-Slug/install").text
    # the admin API keeps its own answers
    assert client.post("/admin/modules/forum/explode", json={}).headers["content-type"] == "application/json"
