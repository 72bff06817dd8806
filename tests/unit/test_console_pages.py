"""The console's Overview and Audit pages (issue #13) on a real store and the chat-ops world's forge."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from bot.store import Store
from bot.web.console import live
from tests.chatops_world import REPO, World
from tests.console_world import Console
from tests.store_helpers import FakeClock


@pytest.fixture
def console(store: Store, clock: FakeClock) -> Console:
    world = World.create(store, clock)
    console = Console.start(world)
    console.sign_in_github("alice", "write")
    return console


def deploy(
    world: World,
    environment: str,
    release_id: str,
    *,
    by: str = "alice",
    status: str = "success",
    stage: str = "done",
) -> None:
    world.store.record_deployment(
        repository=REPO,
        environment=environment,
        release_id=release_id,
        commit_sha="a" * 40,
        kind="deploy",
        requested_by=by,
        reason=None,
        source="comment",
        status=status,  # type: ignore[arg-type]
        stage=stage,  # type: ignore[arg-type]
    )


def test_the_overview_shows_what_runs_where(console: Console) -> None:
    world = console.world
    first, second = world.release(), world.release()
    deploy(world, "staging", first.release_id)
    world.clock.advance(5 * 60)
    deploy(world, "staging", second.release_id, by="rachel")
    deploy(world, "production", first.release_id)
    deploy(world, "production", second.release_id, by="bob", status="in_progress", stage="deploy")
    world.store.acquire_lock(
        REPO,
        "production",
        holder="bob",
        purpose="deploy",
        ttl=timedelta(minutes=30),
        release_id=second.release_id,
    )
    page = console.client.get("/console/")
    assert page.status_code == 200
    staging, production = page.text.split('id="env-1"')[1].split('id="env-2"')
    assert second.release_id in staging and "rachel" in staging and "forum" in staging
    assert "healthy" in staging
    assert f"Rollback goes to</dt>\n    <dd><code>{first.release_id}</code>" in staging
    assert "In flight" in production and "bob" in production and "stage: deploy" in production
    assert "locked" in production and "held by bob" in production
    assert "no earlier release ran here" in production


def test_the_overview_says_when_nothing_ran_and_the_policy_is_missing(store: Store, clock: FakeClock) -> None:
    console = Console.start(World.create(store, clock, policy=None))
    console.sign_in_github("alice", "read")
    page = console.client.get("/console/")
    assert page.status_code == 200
    assert "policy could not be read" in page.text
    assert "No environment yet" in page.text


def test_a_failed_smoke_shows_as_unhealthy(console: Console) -> None:
    world = console.world
    release = world.release()
    deploy(world, "staging", release.release_id)
    deploy(world, "staging", world.release().release_id, status="failure", stage="smoke")
    staging = console.client.get("/console/").text.split('id="env-1"')[1].split('id="env-2"')[0]
    assert "smoke failed" in staging and release.release_id in staging


def seed_audit(store: Store, clock: FakeClock, count: int) -> None:
    for index in range(count):
        clock.advance(1 * 60)
        if index % 3 == 0:
            store.append_audit(
                "bob", "command.deploy", f"{REPO}:production", {"allowed": False, "rule": "permission"}
            )
        elif index % 3 == 1:
            store.append_audit("alice", "deploy.failed", f"{REPO}:staging", {"outcome": "failed"})
        else:
            store.append_audit("carol", "module.install", REPO, {"module": f"m{index}"}, "tenants asked")


def test_the_audit_log_pages_by_fifty_newest_first(console: Console) -> None:
    seed_audit(console.world.store, console.world.clock, 120)
    first = console.client.get("/console/audit")
    assert first.status_code == 200
    assert first.text.count("<tr>") == 1 + 50
    assert "Older entries" in first.text
    seen = []
    href = "/console/audit"
    while href:
        page = console.client.get(href).text
        seen.append(page.count("<tr>") - 1)
        marker = 'rel="next"'
        href = (
            page.split(marker)[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
            if marker in page
            else ""
        )
    assert sum(seen) == console.world.store.query_audit(limit=1000).entries.__len__()
    assert seen[0] == 50


def test_the_audit_filters_narrow_the_log(console: Console) -> None:
    store, clock = console.world.store, console.world.clock
    seed_audit(store, clock, 30)
    by_bob = console.client.get("/console/audit?actor=bob").text
    assert by_bob.count("<td>bob</td>") == 10 and "<td>carol</td>" not in by_bob
    refused = console.client.get("/console/audit?outcome=refused").text
    assert refused.count("command.deploy</code>") == 10 and "deploy.failed</code>" not in refused
    failed = console.client.get("/console/audit?outcome=failed&environment=staging").text
    assert failed.count("deploy.failed</code>") == 10
    action = console.client.get("/console/audit?action=module.install").text
    assert action.count("module.install</code>") == 10 and "tenants asked" in action
    start = store.query_audit(limit=1000).entries[-1].at
    window = console.client.get(
        f"/console/audit?since={(start + timedelta(minutes=5)).strftime('%Y-%m-%dT%H:%M')}"
        f"&until={(start + timedelta(minutes=8)).strftime('%Y-%m-%dT%H:%M')}"
    ).text
    assert window.count("<tr>") - 1 == 3
    odd = console.client.get("/console/audit?since=yesterday&environment=..%2Fetc&outcome=maybe")
    assert odd.status_code == 200
    assert "not a time: ignored" in odd.text and "not an environment name: ignored" in odd.text


def test_the_export_is_the_filtered_set_in_csv_and_json_and_is_audited(console: Console) -> None:
    store, clock = console.world.store, console.world.clock
    seed_audit(store, clock, 30)
    store.append_audit("=cmd|' /C calc'!A0", "module.install", REPO, {"module": "x"}, "=HYPERLINK(1)")
    as_json = console.client.get("/console/audit/export.json?action=module.install")
    assert as_json.status_code == 200 and as_json.headers["content-type"] == "application/json"
    assert "attachment" in as_json.headers["content-disposition"]
    entries = json.loads(as_json.text)
    assert len(entries) == 11 and {e["action"] for e in entries} == {"module.install"}
    as_csv = console.client.get("/console/audit/export.csv?action=module.install")
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert rows[0] == ["id", "at", "actor", "action", "target", "details", "reason"]
    assert len(rows) == 12
    formula = next(row for row in rows[1:] if "calc" in row[2])
    assert formula[2].startswith("'=") and formula[6].startswith("'=")
    exports = store.query_audit(action="audit.export").entries
    assert [(e.actor, e.details["format"]) for e in exports] == [("alice", "csv"), ("alice", "json")]
    assert console.client.get("/console/audit/export.xml").status_code == 404


def test_the_export_streams_a_log_longer_than_one_batch(console: Console) -> None:
    store = console.world.store
    for index in range(2100):
        store.append_audit("bob", "command.status", None, {"n": index})
    entries = json.loads(console.client.get("/console/audit/export.json?actor=bob").text)
    assert len(entries) == 2100
    assert [e["details"]["n"] for e in entries[:2]] == [2099, 2098]


def test_live_updates_need_a_session(store: Store, clock: FakeClock) -> None:
    console = Console.start(World.create(store, clock))
    answer = console.client.get("/console/events", follow_redirects=False)
    assert answer.status_code == 303


def test_live_updates_say_changed_when_the_log_grows(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(live, "STREAM_SECONDS", 1.0)
    store = console.world.store
    lines = []
    with console.client.stream("GET", "/console/events") as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        for line in answer.iter_lines():
            lines.append(line)
            if line == "retry: 3000":
                store.append_audit("bob", "command.status", None, None)
            if line.startswith("data:"):
                break
    newest = store.query_audit(limit=1).entries[0].id
    assert lines[-2:] == ["event: changed", f"data: {newest}"]


def test_the_action_button_macro_disables_with_the_reason_and_carries_the_token() -> None:
    from markupsafe import Markup

    from bot.web.console.state import make_environments
    from bot.web.console.viewer import Viewer

    env = make_environments()["en"]
    page = env.from_string(
        '{% from "console/_macros.html.j2" import action_button with context %}'
        "{{ action_button('/console/x', 'Deploy', 'deploy-prod', {'environment': 'production'}, why_not=why) }}"
    )
    token = lambda: Markup('<input type="hidden" name="csrf_token" value="t0k">')  # noqa: E731
    allowed = page.render(csrf_input=token, why=None)
    assert 'name="csrf_token" value="t0k"' in allowed and 'value="production"' in allowed
    assert "disabled" not in allowed
    refused = page.render(csrf_input=token, why="needs maintain <b>")
    assert 'disabled aria-describedby="deploy-prod-why"' in refused
    assert '<span id="deploy-prod-why" class="why-not">needs maintain &lt;b&gt;</span>' in refused
    writer = Viewer("alice", "github", "write")
    assert writer.at_least("read") and writer.at_least("write") and not writer.at_least("maintain")
    assert not Viewer("bob", "github", None).at_least("read")


def test_the_installation_of_a_repository_is_its_newest_deliverys(store: Store) -> None:
    assert store.installation_of(REPO) is None
    store.record_delivery("d-1", "push", None, "Acme/Shop", 11, {"ref": "refs/heads/main"})
    store.record_delivery("d-2", "ping", None, "acme/shop", None, {})
    store.record_delivery("d-3", "push", None, "other/repo", 99, {"ref": "refs/heads/main"})
    assert store.installation_of(REPO) == 11
    store.record_delivery("d-4", "push", None, "acme/shop", 12, {"ref": "refs/heads/main"})
    assert store.installation_of("ACME/shop") == 12
