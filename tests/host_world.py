"""A single-host world for tests and the bench: a git repository made from examples/rustok-mini whose
environments use the host backend on free ports, a data folder, the runner and the deployer wired to
file reporters. Real git, real cargo (offline), real processes, real HTTP."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.host.deployer import Deployer
from bot.host.layout import Layout
from bot.host.releases import Releases
from bot.host.reporting import FileDeployReporter, FileRunReporter
from bot.host.restart import Restarter, restarter_for
from bot.host.runner import Runner, RunnerSettings
from bot.host.runs import Run
from bot.host.supervisor import Supervisor
from bot.pipeline.config import EnvironmentConfig, load_pipeline_config
from tests.corpus import ROOT

MINI = ROOT / "examples" / "rustok-mini"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "alice", "GIT_AUTHOR_EMAIL": "alice@example.com",
    "GIT_COMMITTER_NAME": "alice", "GIT_COMMITTER_EMAIL": "alice@example.com",
}  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def host_config(ports: dict[str, int], *, smoke_timeout: str = "20s") -> str:
    """rustok-mini's own config with its environments on this host."""
    text = (MINI / ".github" / "modbot.toml").read_text()
    head = text[: text.index("[[environments]]")]
    tail = text[text.index("[workflows]") :]
    envs = "".join(
        f'[[environments]]\nname = "{name}"\nurl = "http://127.0.0.1:{port}"\n'
        f'auto_deploy = {"true" if name == "staging" else "false"}\nsmoke_timeout = "{smoke_timeout}"\n'
        f'backend = "host"\nhost = {{ port = {port}, stop_timeout = "5s" }}\n\n'
        for name, port in ports.items()
    )
    return head + envs + tail


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def modbot(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=repo, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@dataclass
class World:
    base: Path
    repo: Path
    data: Path
    ports: dict[str, int]
    cargo_target: Path
    checkout: Path
    timeout: float = 600.0
    supervisor: Supervisor = field(init=False)
    releases: Releases = field(init=False)
    run_reporter: FileRunReporter = field(init=False)
    deploy_reporter: FileDeployReporter = field(init=False)

    def __post_init__(self) -> None:
        layout = Layout(self.data)
        self.supervisor = Supervisor(layout, grace=5.0)
        self.releases = Releases(layout, binary_name="rustok-server")
        self.run_reporter = FileRunReporter(self.data / "reports" / "runs")
        self.deploy_reporter = FileDeployReporter(self.data / "reports" / "deployments.jsonl")

    @property
    def settings(self) -> RunnerSettings:
        return RunnerSettings(
            data_dir=self.data, repository=self.repo, offline=True, timeout=self.timeout, grace=3.0,
            cargo_target=self.cargo_target, checkout=self.checkout,
        )  # fmt: skip

    def runner(self) -> Runner:
        return Runner(self.settings, reporter=self.run_reporter, releases=self.releases)

    def restarter(self, env: EnvironmentConfig) -> Restarter:
        return restarter_for(Layout(self.data), self.supervisor, env)

    def deployer(self, keep: int = 5) -> Deployer:
        config = load_pipeline_config(self.repo / ".github" / "modbot.toml")
        return Deployer(
            layout=Layout(self.data), releases=self.releases, config=config, restarter=self.restarter,
            reporter=self.deploy_reporter, repository=self.repo, keep_releases=keep, smoke_interval=0.1,
        )  # fmt: skip

    def head(self) -> str:
        return git(self.repo, "rev-parse", "HEAD")

    def commit(self, message: str) -> str:
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "--quiet", "-m", message)
        return self.head()

    def build(self, runner: Runner, commit: str | None = None) -> Run:
        run = runner.enqueue(commit or self.head(), "main", requested_by="alice")
        done = runner.wait(run.id, self.timeout)
        assert done.state == "completed", f"run {run.id} did not finish"
        return done

    def log(self, run: Run) -> str:
        return Runner(self.settings, reporter=self.run_reporter, releases=self.releases).store.combined_log(
            run.id
        )

    def token(self, environment: str) -> str:
        return (self.data / "environments" / environment / "health-token").read_text().strip()

    def modules(self, environment: str) -> dict[str, Any]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.ports[environment]}/health/modules",
            headers={"Authorization": f"Bearer {self.token(environment)}"},
        )
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - a local http URL
            data: dict[str, Any] = json.loads(answer.read())
            return data

    def served(self, environment: str) -> list[str]:
        return sorted(
            m["slug"] if isinstance(m, dict) else m for m in _module_list(self.modules(environment))
        )

    def close(self) -> None:
        self.supervisor.stop_all()


def _module_list(body: dict[str, Any]) -> list[Any]:
    modules = body.get("modules", [])
    return list(modules.keys()) if isinstance(modules, dict) else list(modules)


def make_world(base: Path, cargo_target: Path, checkout: Path, *, timeout: float = 600.0) -> World:
    repo = base / "repo"
    shutil.copytree(MINI, repo, ignore=shutil.ignore_patterns("target"))
    ports = {"staging": free_port(), "production": free_port()}
    (repo / ".github" / "modbot.toml").write_text(host_config(ports))
    git(repo, "init", "--quiet", "--initial-branch=main")
    world = World(base, repo, base / "data", ports, cargo_target, checkout, timeout)
    world.commit("rustok-mini on this host")
    return world


@pytest.fixture(scope="session")
def host_cargo_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One cargo target folder and one checkout for every single-host test of the session: each build
    after the first is incremental (the runner keeps both between runs the same way)."""
    if shutil.which("cargo") is None:
        pytest.skip("cargo is not installed")
    base = tmp_path_factory.mktemp("host-cargo")
    return base / "target", base / "checkout"
