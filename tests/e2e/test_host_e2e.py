"""Single-host mode end to end on examples/rustok-mini: real git, real cargo (offline), real server
processes, real HTTP. The local runner builds a commit with the workflow's own commands and makes
releases/<id>/; the deployer puts it on staging and production under modbot's supervisor, smoke-tests
it (RusToK's health contract), rolls back without building, and goes back by itself when a release
fails its smoke test.

One cargo target folder and one checkout for the session, so every build after the first is
incremental (as the runner keeps them between runs)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.host.deployer import DeployFailed
from bot.host.runner import Runner
from tests.host_world import World, git, make_world, modbot

pytestmark = pytest.mark.slow


@pytest.fixture
def world(tmp_path: Path, host_cargo_cache: tuple[Path, Path]) -> Iterator[World]:
    target, checkout = host_cargo_cache
    made = make_world(tmp_path, target, checkout)
    yield made
    made.close()


@pytest.fixture
def runner(world: World) -> Iterator[Runner]:
    with world.runner() as running:
        yield running


def install_forum(world: World) -> str:
    done = modbot(
        world.repo, "install", "forum", "--crate", "rustok-forum", "--source", "path", "--path",
        "crates/rustok-forum", "--depends-on", "content", "--enable", "--manifest", "modules.toml",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return world.commit("install forum")


def tag_record(world: World, release_id: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(
        git(world.repo, "tag", "-l", "--format=%(contents)", f"release/{release_id}")
    )
    return data


def test_build_release_deploy_and_roll_back_without_building(world: World, runner: Runner) -> None:
    # 1. the runner builds HEAD: plan -> features -> cargo build -> stage -> release tag -> releases/<id> -> promote
    run = world.build(runner)
    assert run.conclusion == "success", world.log(run)
    first = run.release_id
    assert first is not None and run.reused_release is None
    assert [s.key for s in run.steps] == [
        "checkout", "plan", "features", "build", "stage", "release", "finalize", "promote-staging",
    ]  # fmt: skip
    assert all(s.conclusion == "success" for s in run.steps)
    release = world.releases.get(first)
    assert release is not None
    record = tag_record(world, first)  # the annotated tag in the repository, as the workflow pushes it
    assert record == release.record.model_dump()
    assert record["git_sha"] == world.head() and record["build_id"] == f"{run.id}-1"
    assert record["modules"] == ["blog", "content", "outbox", "pages"]
    from bot.host.releases import file_digest

    assert record["image_digest"] == file_digest(release.binary)  # the binary is the artifact
    assert git(world.repo, "rev-parse", "deploy/staging^{commit}") == world.head()  # promote pushed it
    reported = world.run_reporter.events(run.id)
    events = [e["event"] for e in reported]
    assert events[0] == "run_started" and events[-1] == "run_finished"
    assert run.logs_url == f"/console/runs/{run.id}/log" == reported[-1]["logs_url"]
    assert reported[-1]["conclusion"] == "success" and reported[-1]["release_id"] == first
    assert (run.progress().status, run.progress().stage, run.progress().progress) == (
        "succeeded",
        "done",
        100,
    )
    assert "==> Build with exactly the manifest's features (success)" in world.log(run)
    assert events.count("step_started") == events.count("step_finished") == len(run.steps)
    build_log = (world.data / "runs" / run.id / "logs" / "04-build.log").read_text()
    assert "pipeline build --config .github/modbot.toml --release-id " + first in build_log

    # 2. deploy to staging: current -> restart under the supervisor -> smoke; /health/modules lists them
    deployer = world.deployer()
    result = deployer.deploy("staging", first, requested_by="alice")
    assert result.ok, result.problems
    served = world.modules("staging")
    assert [m["slug"] for m in served["modules"]] == ["blog", "content", "outbox", "pages"]
    assert served["release_id"] == first and served["manifest_hash"] == record["manifest_hash"]

    # 3. install forum -> a new release -> staging serves forum
    install_forum(world)
    second_run = world.build(runner)
    assert second_run.conclusion == "success", world.log(second_run)
    second = second_run.release_id
    assert second is not None and second > first
    assert deployer.deploy("staging", second).ok
    assert "forum" in [m["slug"] for m in world.modules("staging")["modules"]]

    # 4. production: first, then second; then roll back: no build (cargo is not even on PATH)
    assert deployer.deploy("production", first).ok
    assert deployer.deploy("production", second).ok
    assert world.modules("production")["release_id"] == second
    runs_before = sorted(p.name for p in (world.data / "runs").iterdir())
    trap = world.base / "trap"
    trap.mkdir()
    marker = world.base / "cargo-ran"
    fake = trap / "cargo"
    fake.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    old_path = os.environ["PATH"]
    os.environ["PATH"] = f"{trap}:{old_path}"
    try:
        back = deployer.rollback("production", requested_by="alice", reason="forum misbehaves")
    finally:
        os.environ["PATH"] = old_path
    assert back.ok and back.release_id == first
    assert not marker.exists()
    assert sorted(p.name for p in (world.data / "runs").iterdir()) == runs_before
    assert world.modules("production")["release_id"] == first
    assert "forum" not in [m["slug"] for m in world.modules("production")["modules"]]
    pointers = world.releases.pointers("production")
    assert (pointers.current, pointers.previous) == (first, second)
    with pytest.raises(DeployFailed, match="not older"):
        deployer.rollback("production", second)

    # the Deployment records: the rollback's payload says what it undoes
    deployments = [e for e in world.deploy_reporter.events() if e["event"] == "deployment"]
    last = deployments[-1]["payload"]
    assert last["kind"] == "rollback" and last["release_id"] == first
    assert last["rollback_of"] == second and last["previous_release"] == second
    assert last["requested_by"] == "alice" and last["reason"] == "forum misbehaves"
    statuses = [
        e["description"]
        for e in world.deploy_reporter.events()
        if e["id"] == deployments[-1]["id"] and e["event"] == "status"
    ]
    assert statuses == [
        f"deploying {first}",
        f"smoke testing {first}",
        f"deployed {first}, smoke test passed",
    ]


def test_a_release_that_fails_its_smoke_test_is_rolled_back_by_itself(world: World, runner: Runner) -> None:
    good = world.build(runner)
    assert good.conclusion == "success", world.log(good)
    deployer = world.deployer()
    assert deployer.deploy("staging", str(good.release_id)).ok
    main_rs = world.repo / "apps" / "server" / "src" / "main.rs"
    source = main_rs.read_text()
    main_rs.write_text(
        source.replace("fn main() -> ExitCode {", "fn main() -> ExitCode {\n    std::process::exit(3);", 1)
    )
    world.commit("a server that exits at once")
    bad = world.build(runner)
    assert bad.conclusion == "success", world.log(bad)
    assert git(world.repo, "rev-parse", "deploy/staging^{commit}") == world.head()  # promoted

    result = deployer.deploy("staging", str(bad.release_id), requested_by="alice")
    assert not result.ok and result.stage == "smoke test"
    assert "exited with code 3" in result.problems[0]
    assert result.rolled_back_to == good.release_id and result.rollback_ok
    assert world.modules("staging")["release_id"] == good.release_id  # the site is up on the old release
    assert world.releases.pointers("staging").current == good.release_id
    # the deploy tag went back too (rollback-tag), so the repository says what runs
    assert (
        git(world.repo, "rev-parse", "deploy/staging^{commit}")
        == tag_record(world, str(good.release_id))["git_sha"]
    )

    events = world.deploy_reporter.events()
    failed_id, rollback_id = result.deployment_id, result.rollback_deployment_id
    rollback = next(e for e in events if e["event"] == "deployment" and e["id"] == rollback_id)["payload"]
    assert rollback["kind"] == "auto_rollback" and rollback["release_id"] == good.release_id
    assert rollback["rollback_of"] == bad.release_id
    assert rollback["reason"] == f"automatic rollback: {bad.release_id} failed its smoke test"
    timeline = [
        (e["id"], e["state"], e["description"])
        for e in events
        if e["event"] == "status" and e["id"] in (failed_id, rollback_id)
    ]
    assert timeline == [
        (failed_id, "in_progress", f"deploying {bad.release_id}"),
        (failed_id, "in_progress", f"smoke testing {bad.release_id}"),
        (rollback_id, "in_progress", f"deploying {good.release_id} (automatic rollback of {bad.release_id})"),
        (rollback_id, "in_progress", f"smoke testing {good.release_id} (automatic rollback of {bad.release_id})"),
        (failed_id, "failure", f"{bad.release_id} failed: smoke test; rolled back to {good.release_id} (smoke: success, tag moved back: success)"),
        (rollback_id, "success", f"deployed {good.release_id} (automatic rollback of {bad.release_id}; tag moved back: success)"),
    ]  # fmt: skip
    server_log = (world.data / "environments" / "staging" / "server.log").read_text()
    assert f"starting {bad.release_id}" in server_log


def test_a_commit_with_the_same_build_key_reuses_the_release(world: World, runner: Runner) -> None:
    first = world.build(runner)
    assert first.conclusion == "success", world.log(first)
    (world.repo / "README.md").write_text("docs only: not in build.key_paths\n")
    world.commit("docs")
    again = world.build(runner)
    assert again.conclusion == "success", world.log(again)
    assert again.reused_release == first.release_id and again.release_id is None
    assert {s.key: s.conclusion for s in again.steps}["build"] == "skipped"
    assert again.outputs["status_description"].startswith(f"{first.release_id}: reused")
    assert world.releases.ids() == [first.release_id]


class BrokenReporter:
    """A reporter whose every call fails: bookkeeping must never fail the build it reports on."""

    calls = 0

    def _fail(self, *_args: object) -> None:
        BrokenReporter.calls += 1
        raise ConnectionError("the forge is down")

    run_started = step_started = step_finished = run_finished = _fail


def test_a_failing_reporter_never_fails_a_build(world: World) -> None:
    with Runner(world.settings, reporter=BrokenReporter(), releases=world.releases) as runner:
        run = world.build(runner)
    assert run.conclusion == "success", world.log(run)
    assert run.release_id in world.releases.ids()
    assert BrokenReporter.calls == 2 + 2 * len(run.steps)
