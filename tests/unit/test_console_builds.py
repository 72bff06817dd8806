"""The console's Builds pages (bot/web/console/builds_page.py): the list (filter, pages), a build with
its stage timeline and history, and its server-sent events."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bot.store import Store
from bot.web.console import builds_page
from tests.chatops_world import REPO, World
from tests.console_pages import console_client, sign_in


def _build(store: Store, n: int) -> str:
    return store.create_build(
        repository=REPO,
        requested_by=f"admin{n}",
        reason=f"reason number {n}",
        manifest_ref=None,
        manifest_hash=None,
        modules_delta={"summary": f"+mod{n}", "added": [{"slug": f"mod{n}", "crate": "c", "source": "path"}]},
        pr_number=n,
    ).build_id


@pytest.fixture
def client(world: World) -> TestClient:
    client = console_client(world)
    sign_in(client, "alice")
    return client


def test_the_list_filters_by_status_and_pages(client: TestClient, world: World) -> None:
    ids = []
    for n in range(1, 31):
        ids.append(_build(world.store, n))
        world.later()
    world.store.update_build(ids[0], status="running", stage="build")
    first = client.get("/console/builds")
    assert first.status_code == 200
    assert 'id="builds-live" data-live="/console/events"' in first.text  # the list follows the audit log
    assert ids[-1] in first.text and ids[5] in first.text and ids[4] not in first.text  # 25 a page
    assert f"/console/builds?before={ids[5]}" in first.text
    older = client.get(f"/console/builds?before={ids[5]}")
    assert ids[4] in older.text and ids[0] in older.text and ids[5] not in older.text
    assert "Older builds" not in older.text
    running = client.get("/console/builds?status=running")
    assert ids[0] in running.text and ids[1] not in running.text
    assert 'value="running" checked' in running.text


def test_a_build_page_has_its_timeline_delta_and_who_asked(client: TestClient, world: World) -> None:
    build_id = _build(world.store, 7)
    world.store.update_build(
        build_id, status="running", stage="build", logs_url="https://github.com/acme/shop/actions/runs/9"
    )
    page = client.get(f"/console/builds/{build_id}")
    assert page.status_code == 200
    html = page.text
    assert "admin7" in html and "reason number 7" in html and "+mod7" in html
    assert 'href="https://github.com/acme/shop/actions/runs/9"' in html
    assert 'data-stage="pr"' in html and "in progress" in html
    assert f'data-live="/console/builds/{build_id}/events?since=' in html
    assert "build.running" in html  # its history
    assert client.get("/console/builds/bld_" + "0" * 26).status_code == 404


def test_the_event_stream_says_what_changed_and_a_finished_build_has_none(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_id = _build(world.store, 1)
    world.store.update_build(build_id, status="running", stage="release", progress=70)
    monkeypatch.setattr(builds_page, "EVENTS_STREAM_SECONDS", 0.0)  # one look, then the stream ends
    with client.stream("GET", f"/console/builds/{build_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        body = "".join(stream.iter_text())
    assert "event: changed" in body and '"stage": "release"' in body and '"progress": 70' in body
    page = client.get(f"/console/builds/{build_id}").text
    since = page.split(f"/console/builds/{build_id}/events?since=", 1)[1].split('"', 1)[0]
    with client.stream("GET", f"/console/builds/{build_id}/events", params={"since": since}) as stream:
        assert "event: changed" not in "".join(stream.iter_text())  # nothing new since the page
    world.store.update_build(build_id, progress=75)  # within the same clock tick: still a change
    with client.stream("GET", f"/console/builds/{build_id}/events", params={"since": since}) as stream:
        body = "".join(stream.iter_text())
    assert '"progress": 75' in body
    seen = body.split("\nid: ", 1)[1].split("\n", 1)[0]
    # the browser reconnects with the id it saw last: nothing new, no event (the page is not fetched again)
    with client.stream(
        "GET", f"/console/builds/{build_id}/events", params={"since": since}, headers={"Last-Event-ID": seen}
    ) as stream:
        assert "event: changed" not in "".join(stream.iter_text())
    world.store.update_build(build_id, status="succeeded")
    assert client.get(f"/console/builds/{build_id}/events").status_code == 204
    finished = client.get(f"/console/builds/{build_id}").text
    assert "data-live" not in finished and "This build has finished." in finished
