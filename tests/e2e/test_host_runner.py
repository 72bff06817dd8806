"""The local runner's queue under stress, on real cargo builds of examples/rustok-mini: modbot killed
mid-build and started again, a timeout, cancellation (queued and running), one runner per data folder.
Each test builds from an empty cargo target folder, so the build step runs long enough to be caught."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.host.procs import ProcessId, alive
from bot.host.runner import RunnerError
from bot.host.runs import RunStore
from tests.corpus import ROOT
from tests.host_world import World, git, make_world

pytestmark = pytest.mark.slow


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = make_world(tmp_path, tmp_path / "target", tmp_path / "checkout")
    yield made
    made.close()


def wait_for(what: str, check: object, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def building(store: RunStore, run_id: str) -> ProcessId | None:
    """The build step's process while cargo runs (None before and after)."""
    try:
        run = store.load(run_id)
    except Exception:
        return None
    step = next((s for s in run.steps if s.key == "build"), None)
    if step is None or step.state != "in_progress" or run.process is None:
        return None
    return ProcessId(run.process.pid, run.process.start_ticks)


def leftovers(world: World) -> list[str]:
    releases = world.data / "releases"
    return sorted(p.name for p in releases.iterdir()) if releases.is_dir() else []


def test_modbot_killed_mid_build_fails_the_run_cleanly_and_the_queue_goes_on(world: World) -> None:
    first = world.head()
    (world.repo / "README.md").write_text("second commit\n")
    second = world.commit("second")
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.host_runner_main", str(world.data), str(world.repo),
         str(world.cargo_target), str(world.checkout), first, second],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    store = RunStore(world.runner().layout)
    try:
        wait_for("cargo to start", lambda: building(store, "1") is not None)
        cargo = building(store, "1")
        assert cargo is not None
        child.send_signal(signal.SIGKILL)  # no cleanup at all: as a crash or an OOM kill
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    assert alive(cargo)  # the build outlived modbot (its own process group)
    during = store.load("1").progress()
    assert (during.status, during.stage) == ("running", "build") and 0 < during.progress < 100
    assert store.load("2").progress().status == "queued"
    assert store.load("1").state == "in_progress" and store.load("2").state == "queued"

    with world.runner() as runner:  # the next start recovers before it takes the queue
        interrupted = store.load("1")
        assert interrupted.state == "completed" and interrupted.conclusion == "failure"
        assert interrupted.progress().status == "failed"
        assert interrupted.reason.startswith(
            "interrupted: modbot stopped during the step “Build with exactly"
        )
        assert {s.key: s.conclusion for s in interrupted.steps}["build"] == "failure"
        assert {s.key: s.conclusion for s in interrupted.steps}["release"] == "skipped"
        assert not alive(cargo)  # its leftover build was stopped
        assert git(world.repo, "tag", "-l", "release/*") == ""  # no half release: no tag...
        assert [n for n in leftovers(world) if not n.startswith(".lock")] == []  # ...and no folder
        assert [e["event"] for e in world.run_reporter.events("1")][-1] == "run_finished"
        resumed = runner.wait("2", 600)  # the queued run survived the crash and runs now
    assert resumed.conclusion == "success", world.log(resumed)
    assert resumed.release_id is not None
    assert world.releases.ids() == [resumed.release_id]


def test_a_run_past_its_timeout_is_stopped(world: World) -> None:
    world.timeout = 3.5  # a full build of rustok-mini takes 4 s or more on this machine
    with world.runner() as runner:
        run = runner.enqueue(world.head(), "main")
        seen: list[ProcessId] = []

        def cargo_seen() -> bool:
            process = building(runner.store, run.id)
            if process is not None:
                seen.append(process)
            return runner.store.load(run.id).state == "completed"

        wait_for("the timeout", cargo_seen, 120)
        done = runner.store.load(run.id)
    assert done.conclusion == "timed_out", world.log(done)
    assert done.reason.startswith("timed out after 3.5 s in the step")
    assert not any(alive(p) for p in seen)  # cargo and its rustc children stopped with the step
    assert git(world.repo, "tag", "-l", "release/*") == ""
    assert [n for n in leftovers(world) if not n.startswith(".lock")] == []


def test_cancel_a_queued_run_and_a_running_one(world: World) -> None:
    with world.runner() as runner:
        running = runner.enqueue(world.head(), "main")
        queued = runner.enqueue(world.head(), "main")
        wait_for("cargo to start", lambda: building(runner.store, running.id) is not None)
        cargo = building(runner.store, running.id)
        assert cargo is not None
        assert runner.cancel(queued.id).conclusion == "cancelled"
        runner.cancel(running.id)
        done = runner.wait(running.id, 60)
    assert done.conclusion == "cancelled" and done.reason == "cancelled"
    assert {s.key: s.conclusion for s in done.steps}["build"] == "cancelled"
    assert not alive(cargo)
    later = RunStore(runner.layout).load(queued.id)
    assert later.conclusion == "cancelled" and later.started_at is None
    assert git(world.repo, "tag", "-l", "release/*") == ""


def test_one_runner_per_data_folder(world: World) -> None:
    with world.runner(), pytest.raises(RunnerError, match=r"runner\.lock is held"):
        world.runner().start()


def test_bad_requests_are_refused(world: World) -> None:
    runner = world.runner()
    with pytest.raises(RunnerError, match="not a full commit SHA"):
        runner.enqueue("HEAD", "main")
    with pytest.raises(RunnerError, match="not a branch or tag name"):
        runner.enqueue(world.head(), "--upload-pack=evil")


def test_a_run_of_a_commit_that_is_not_there_fails_at_checkout(world: World) -> None:
    with world.runner() as runner:
        done = runner.wait(runner.enqueue("0" * 40, "main").id, 60)
    assert done.conclusion == "failure" and "Check out" in done.reason
    assert [s.conclusion for s in done.steps][:2] == ["failure", "skipped"]
    assert json.loads((world.data / "runs" / done.id / "run.json").read_text())["conclusion"] == "failure"


def test_stopping_modbot_cancels_the_running_build_and_keeps_the_queue(world: World) -> None:
    runner = world.runner()
    runner.start()
    running = runner.enqueue(world.head(), "main")
    queued = runner.enqueue(world.head(), "main")
    wait_for("cargo to start", lambda: building(runner.store, running.id) is not None)
    cargo = building(runner.store, running.id)
    assert cargo is not None
    runner.close()  # Ctrl-C
    stopped = runner.store.load(running.id)
    assert (stopped.conclusion, stopped.reason) == ("cancelled", "modbot stopped")
    assert not alive(cargo)
    assert runner.store.load(queued.id).state == "queued"  # runs at the next start
