"""The single-host deployer and supervisor on real processes: the operator's restart command instead
of the supervisor, a restart that fails, a first deploy that fails (nothing to go back to), two deploys
of one environment at once, retention after deploys, SIGTERM then SIGKILL, a supervisor that adopts the
servers of the modbot before it, and no token in any log."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.host.deployer import Deployer, DeployFailed
from bot.host.layout import Layout
from bot.host.procs import alive
from bot.host.supervisor import ServerSpec, Supervisor
from bot.pipeline.config import parse_pipeline_config
from tests.host_world import World, free_port, git, make_world

pytestmark = pytest.mark.slow

# What a systemd unit does, as a script: stop the old server, start environments/<env>/current/<binary>.
RESTART_SCRIPT = """
import json, os, signal, subprocess, sys
data, environment, release_id, port = sys.argv[1:5]
folder = os.path.join(data, "environments", environment)
pidfile = os.path.join(folder, "unit.pid")
if os.path.exists(pidfile):
    try:
        os.killpg(int(open(pidfile).read()), signal.SIGTERM)
    except ProcessLookupError:
        pass
with open(os.path.join(folder, "unit.calls"), "a") as calls:
    calls.write(json.dumps(sys.argv[2:]) + "\\n")
log = open(os.path.join(folder, "unit.log"), "ab")
child = subprocess.Popen([os.path.join(folder, "current", "rustok-server")], env={**os.environ, "PORT": port},
                         stdout=log, stderr=log, start_new_session=True)
open(pidfile, "w").write(str(child.pid))
sys.exit(int(os.environ.get("UNIT_EXIT", "0")))
"""


@pytest.fixture
def world(tmp_path: Path, host_cargo_cache: tuple[Path, Path]) -> Iterator[World]:
    target, checkout = host_cargo_cache
    made = make_world(tmp_path, target, checkout)
    yield made
    made.close()
    for pidfile in (made.data / "environments").glob("*/unit.pid"):  # servers the script started
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(pidfile.read_text()), signal.SIGKILL)


@pytest.fixture
def release(world: World) -> str:
    with world.runner() as runner:
        run = world.build(runner)
    assert run.conclusion == "success", world.log(run)
    assert run.release_id is not None
    return run.release_id


def with_restart_command(world: World, script: Path) -> Deployer:
    text = (world.repo / ".github" / "modbot.toml").read_text()
    port = world.ports["staging"]
    command = (
        f'restart_command = "{sys.executable} {script} {world.data} {{environment}} {{release_id}} {port}", '
    )
    text = text.replace(f"host = {{ port = {port}, ", f"host = {{ port = {port}, {command}")
    deployer = world.deployer()
    deployer.config = parse_pipeline_config(text)
    return deployer


def test_a_restart_command_instead_of_the_supervisor(
    world: World, release: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = world.base / "unit.py"
    script.write_text(RESTART_SCRIPT)
    monkeypatch.setenv("RUSTOK_OBSERVABILITY_BEARER_TOKEN", "operator-token")  # the operator's, not modbot's
    deployer = with_restart_command(world, script)
    result = deployer.deploy("staging", release)
    assert result.ok, result.problems
    calls = (world.data / "environments" / "staging" / "unit.calls").read_text().splitlines()
    assert calls == [f'["staging", "{release}", "{world.ports["staging"]}"]']
    assert world.supervisor.running("staging") is None  # modbot's supervisor stayed out of it
    (world.data / "environments" / "staging" / "health-token").write_text("operator-token")
    assert world.modules("staging")["release_id"] == release

    monkeypatch.setenv("UNIT_EXIT", "4")
    failed = deployer.deploy("staging", release)
    assert not failed.ok and failed.stage == "deploy step"
    assert "the restart command exited with 4" in failed.problems[0]


def test_a_first_deploy_that_fails_has_nothing_to_go_back_to(world: World, release: str) -> None:
    # the server runs, but the environment's url names a port nobody answers on: smoke fails
    text = (world.repo / ".github" / "modbot.toml").read_text()
    port = world.ports["staging"]
    text = text.replace(f'url = "http://127.0.0.1:{port}"', f'url = "http://127.0.0.1:{free_port()}"')
    text = text.replace('smoke_timeout = "20s"', 'smoke_timeout = "2s"')
    deployer = world.deployer()
    deployer.config = parse_pipeline_config(text)
    result = deployer.deploy("staging", release)
    assert not result.ok and result.rolled_back_to is None
    assert result.stage == "smoke test" and "cannot connect" in result.problems[0].lower()
    assert world.modules("staging")["release_id"] == release  # it runs: nothing older to go back to
    final = [e for e in world.deploy_reporter.events() if e["event"] == "status"][-1]
    assert final["state"] == "failure"
    assert final["description"] == (
        f"{release} failed: smoke test; not rolled back (previous release: none, redeploy: skipped)"
    )


def test_when_the_previous_release_fails_too_it_stays_and_the_tag_stays(world: World, release: str) -> None:
    newer = build_more(world, 1)[0]
    deployer = world.deployer()
    assert deployer.deploy("staging", release).ok
    tag_before = git(world.repo, "rev-parse", "deploy/staging^{commit}")
    # the environment itself breaks (its url now names a port nobody answers on): every release fails
    text = (world.repo / ".github" / "modbot.toml").read_text()
    text = text.replace(
        f'url = "http://127.0.0.1:{world.ports["staging"]}"', f'url = "http://127.0.0.1:{free_port()}"'
    )
    deployer.config = parse_pipeline_config(text.replace('smoke_timeout = "20s"', 'smoke_timeout = "1s"'))
    result = deployer.deploy("staging", newer)
    assert not result.ok and result.rolled_back_to == release and result.rollback_ok is False
    assert world.releases.pointers("staging").current == release  # it runs the previous release...
    assert (
        git(world.repo, "rev-parse", "deploy/staging^{commit}") == tag_before
    )  # ...and the tag did not move
    finals = [
        (e["state"], e["description"]) for e in world.deploy_reporter.events() if e["event"] == "status"
    ][-2:]
    assert finals == [
        (
            "failure",
            f"{newer} failed: smoke test; rolled back to {release} (smoke: failure, tag moved back: skipped)",
        ),
        ("failure", f"{release} failed: smoke test (automatic rollback of {newer}; the tag stays)"),
    ]


def test_resume_after_a_reboot_brings_current_back_up(world: World, release: str) -> None:
    deployer = world.deployer()
    assert deployer.deploy("staging", release).ok
    recorded = world.deploy_reporter.events()
    world.supervisor.stop_all()  # the machine rebooted: no server runs
    later = Supervisor(Layout(world.data), grace=5.0)  # a new modbot
    world.supervisor = later
    resumed = world.deployer().resume("staging")
    assert resumed is not None and resumed.ok and resumed.release_id == release
    assert world.modules("staging")["release_id"] == release
    running = later.running("staging")
    again = world.deployer().resume("staging")  # it runs: checked, not restarted
    assert again is not None and again.ok and later.running("staging") == running
    assert world.deployer().resume("production") is None  # nothing deployed there
    assert world.deploy_reporter.events() == recorded  # nothing changed, so no Deployment


def test_pass_env_and_workdir_and_a_server_that_answers_unhealthy(
    world: World, release: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir = world.base / "site"
    workdir.mkdir()
    port = world.ports["staging"]
    text = (
        (world.repo / ".github" / "modbot.toml")
        .read_text()
        .replace(
            f"host = {{ port = {port}, ",
            f'host = {{ port = {port}, workdir = "{workdir}", pass_env = ["RUSTOK_DEGRADED"], ',
        )
    )
    deployer = world.deployer()
    deployer.config = parse_pipeline_config(text.replace('smoke_timeout = "20s"', 'smoke_timeout = "1s"'))
    monkeypatch.setenv("RUSTOK_DEGRADED", "blog")  # the operator's variable, passed by name
    monkeypatch.setenv("MODBOT_SECRET_FOR_TEST", "not for the server")
    result = deployer.deploy("staging", release)
    assert not result.ok and result.problems == ["unhealthy modules: blog (degraded)"]
    running = world.supervisor.running("staging")
    assert running is not None
    assert Path(f"/proc/{running.pid}/cwd").resolve() == workdir.resolve()
    environ = Path(f"/proc/{running.pid}/environ").read_bytes().split(b"\0")
    assert b"RUSTOK_DEGRADED=blog" in environ
    assert not any(v.startswith(b"MODBOT_SECRET_FOR_TEST=") for v in environ)  # only what is named


def test_two_deploys_of_one_environment_at_once(world: World, release: str) -> None:
    deployer = world.deployer()
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def deploy() -> None:
        start.wait()
        try:
            outcomes.append(
                "ok" if deployer.deploy("staging", release, requested_by="alice").ok else "failed"
            )
        except DeployFailed as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=deploy) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes)[0] == "ok"
    assert sorted(outcomes)[1].startswith(f"staging is being deployed ({release} by alice since ")


def test_refusals_change_nothing(world: World, release: str) -> None:
    deployer = world.deployer()
    with pytest.raises(DeployFailed, match="no releases/rel_2020_01_01_001 on this host"):
        deployer.deploy("staging", "rel_2020_01_01_001")
    with pytest.raises(DeployFailed, match=r"qa"):
        deployer.deploy("qa", release)
    with pytest.raises(DeployFailed, match="no previous release"):
        deployer.rollback("staging")
    assert world.releases.pointers("staging").current is None
    assert world.deploy_reporter.events() == []


def build_more(world: World, count: int) -> list[str]:
    made = []
    with world.runner() as runner:
        for _ in range(count):
            n = len(list((world.repo / "crates" / "rustok-core" / "src").glob("extra*.rs")))
            (world.repo / "crates" / "rustok-core" / "src" / f"extra{n}.rs").write_text(f"// {n}\n")
            world.commit(f"change {n}")  # under build.key_paths: a new release each time
            run = world.build(runner)
            assert run.conclusion == "success", world.log(run)
            made.append(str(run.release_id))
    return made


def test_retention_after_deploys_keeps_what_runs_and_the_rollback_target(world: World, release: str) -> None:
    r = [release, *build_more(world, 3)]
    deployer = world.deployer(keep=1)
    assert deployer.deploy("production", r[2]).ok
    assert world.releases.ids() == [r[2], r[3]]  # the newest, and what production runs
    assert deployer.deploy("production", r[3]).ok
    assert deployer.deploy("staging", r[2]).ok
    assert deployer.rollback("production").ok  # production: r2, its previous r3
    assert world.releases.ids() == [r[2], r[3]]
    r.append(build_more(world, 1)[0])
    assert deployer.deploy("staging", r[4]).ok  # staging r4 (previous r2); production r2 (previous r3)
    assert world.releases.ids() == [r[2], r[3], r[4]]
    assert deployer.deploy("production", r[4]).ok  # both now r4, previous r2: r3 may go
    assert world.releases.ids() == [r[2], r[4]]


def test_sigterm_then_sigkill_and_adopting_servers_after_a_restart(world: World) -> None:
    layout = Layout(world.data)
    stubborn = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: print('TERM', flush=True))\n"  # noted, then ignored
        "print('up', flush=True)\n"
        "while True: time.sleep(1)\n"
    )
    first = Supervisor(layout, grace=0.5)
    process = first.start(ServerSpec("staging", Path(sys.executable), ["-c", stubborn]))
    log = first.log_path("staging")
    deadline = time.monotonic() + 30
    while "up" not in log.read_text().splitlines() and time.monotonic() < deadline:
        time.sleep(0.05)  # its SIGTERM handler is set once it printed "up"
    later = Supervisor(layout, grace=0.5)  # modbot restarted: it finds the server by its pid file
    assert later.running("staging") == process
    later.stop_all()
    assert "TERM" in log.read_text().splitlines()  # asked first...
    assert not alive(process)  # ...then killed
    assert later.running("staging") is None
    first.stop_all()  # reaps its child; nothing left to stop


def test_no_token_in_any_log(world: World, release: str) -> None:
    deployer = world.deployer()
    assert deployer.deploy("staging", release).ok
    token = world.token("staging")
    assert len(token) >= 32
    assert (world.data / "environments" / "staging" / "health-token").stat().st_mode & 0o077 == 0
    for path in world.data.rglob("*"):
        if path.is_file() and path.name != "health-token" and path.stat().st_size < 5_000_000:
            assert token.encode() not in path.read_bytes(), path
