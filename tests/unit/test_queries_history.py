"""The Builds and Releases pages' read models (bot/app/queries/builds.py, releases.py) over a real store,
and the Deploy/Rollback gates asked of `authorize` (the chat-ops world: FakeForge, policy, roles)."""

from __future__ import annotations

import dataclasses

import pytest

from bot.app.queries.builds import build_detail, builds_page, stage_timeline
from bot.app.queries.releases import command_gates, releases_page
from bot.store import Store
from tests.chatops_world import REPO, World


def _build(store: Store, n: int) -> str:
    return store.create_build(
        repository=REPO,
        requested_by=f"admin{n}",
        reason=f"because {n}",
        manifest_ref=None,
        manifest_hash=None,
        modules_delta={"summary": f"+m{n}"},
        pr_number=n,
    ).build_id


def test_builds_page_filters_by_status_and_pages_without_gaps(world: World) -> None:
    ids = []
    for n in range(1, 8):
        ids.append(_build(world.store, n))
        world.later()
    for build_id in ids[::2]:
        world.store.update_build(build_id, status="running", stage="build")
    newest_first = ids[::-1]
    first = builds_page(world.store, repository=REPO, statuses=None, limit=3, before=None)
    assert [b.build_id for b in first.builds] == newest_first[:3] and first.next_before == newest_first[2]
    second = builds_page(world.store, repository=REPO, statuses=None, limit=3, before=first.next_before)
    third = builds_page(world.store, repository=REPO, statuses=None, limit=3, before=second.next_before)
    assert [b.build_id for b in second.builds + third.builds] == newest_first[3:]
    assert third.next_before is None
    running = builds_page(world.store, repository=REPO, statuses=["running"], limit=10, before=None)
    assert [b.build_id for b in running.builds] == ids[::2][::-1]
    assert {b.status for b in running.builds} == {"running"}


def test_builds_started_in_the_same_instant_page_by_id(store: Store) -> None:
    ids = sorted(_build(store, n) for n in range(1, 6))  # the fake clock did not move
    first = builds_page(store, repository=REPO, statuses=None, limit=2, before=None)
    rest = builds_page(store, repository=REPO, statuses=None, limit=10, before=first.next_before)
    assert [b.build_id for b in first.builds + rest.builds] == ids[::-1]


def test_a_build_page_has_its_timeline_and_audited_changes(world: World) -> None:
    build_id = _build(world.store, 1)
    assert [s.state for s in stage_timeline(world.store.get_build(build_id))] == [  # type: ignore[arg-type]
        "current",
        "pending",
        "pending",
        "pending",
    ]
    world.store.update_build(build_id, status="running", stage="build", actor="modbot")
    world.store.update_build(build_id, stage="release")
    world.store.update_build(build_id, status="failed", detail="the image did not build")
    detail = build_detail(world.store, build_id)
    assert detail is not None
    assert [(s.stage, s.state) for s in detail.timeline] == [
        ("pr", "done"),
        ("build", "done"),
        ("release", "failed"),
        ("done", "pending"),
    ]
    assert [e.action for e in detail.events] == ["build.create", "build.running", "build.failed"]
    assert detail.events[-1].detail == "the image did not build"
    assert build_detail(world.store, "bld_" + "0" * 26) is None


def test_a_succeeded_build_has_every_stage_done(world: World) -> None:
    build_id = _build(world.store, 1)
    done = world.store.update_build(build_id, status="succeeded")
    assert {s.state for s in stage_timeline(done)} == {"done"}


def test_releases_page_with_the_delta_from_the_one_before(world: World) -> None:
    modules = [("forum",), ("forum", "blog"), ("blog", "seo"), ("blog", "seo")]
    for mods in modules:
        info = world.release(cached=False)
        world.store.upsert_release(dataclasses.replace(info, modules=mods))
    first = releases_page(world.store, REPO, limit=2, before=None)
    newest, older = first.rows
    assert (newest.added, newest.removed) == ((), ())
    assert (older.added, older.removed) == (("seo",), ("forum",))
    assert older.before == world.releases[1].release_id
    second = releases_page(world.store, REPO, limit=2, before=first.next_before)
    assert [r.release.release_id for r in second.rows] == [
        world.releases[1].release_id,
        world.releases[0].release_id,
    ]
    assert second.rows[-1].before is None and second.rows[-1].added == ("forum",)
    assert second.next_before is None


@pytest.mark.parametrize(
    ("role", "staging", "production"),
    [("maintain", True, True), ("write", True, False), ("read", False, False)],
)
def test_gates_are_authorize_before_facts(world: World, role: str, staging: bool, production: bool) -> None:
    world.role("wendy", role)
    gates = command_gates(world.forge, REPO, login="wendy", kind="user", policy_path=".github/modbot.toml")
    assert gates.problem is None
    by_env = {g.environment: g for g in gates.environments}
    assert [by_env["staging"].deploy.enabled, by_env["production"].deploy.enabled] == [staging, production]
    assert by_env["production"].rollback.enabled == production
    if not production:
        refused = by_env["production"].deploy
        assert refused.rule == "permission"
        assert "maintain" in refused.message and refused.next_step


def test_without_a_policy_every_gate_is_closed_with_the_reason(store: Store, clock) -> None:  # type: ignore[no-untyped-def]
    world = World.create(store, clock, policy=None)
    world.role("alice", "admin")
    gates = command_gates(world.forge, REPO, login="alice", kind="user", policy_path=".github/modbot.toml")
    assert gates.environments == ()
    assert gates.problem is not None and not gates.problem.enabled and gates.problem.rule == "no_policy"
