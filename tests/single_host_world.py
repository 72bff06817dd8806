"""Single-host mode as people run it: a real `modbot local serve` process on a data folder seeded from
examples/rustok-mini, the console over real HTTP, the forge's records read from the same store, git
pushes to the managed repository, the `modbot local …` commands, the staging and production servers on
their own ports. Shared by tests/e2e/test_single_host_e2e.py and bench/single_host_bench.py."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bot.domain.forge_records import CommentRecord, RunRecord
from bot.forge.local import LocalForge
from bot.store import LocalForgeStore, Store, open_store
from tests.corpus import ROOT
from tests.host_world import GIT_ENV, free_port

REPO = "local/rustok-mini"
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], *, deadline: float = 600.0, every: float = 0.1) -> T:
    """`probe()` until it gives something; a deadline so a broken loop fails instead of hanging (the
    time it took is not asserted: timings are bench/'s)."""
    end = time.monotonic() + deadline
    while True:
        got = probe()
        if got is not None and got is not False:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(every)


@dataclass
class Served:
    """One `modbot local serve` process and everything around it."""

    data: Path
    cargo_target: Path
    port: int = field(default_factory=free_port)
    ports: dict[str, int] = field(default_factory=lambda: {"staging": free_port(), "production": free_port()})
    process: subprocess.Popen[bytes] | None = None
    output: Path = field(init=False)
    password: str | None = None
    baseline: bool = False  # `make run` builds and deploys the seed at first start; most tests start empty
    _store: Store | None = None

    def __post_init__(self) -> None:
        self.output = self.data.parent / f"{self.data.name}-serve.log"

    # --- the process ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "MODBOT_DATABASE_URL": f"sqlite:///{self.data / 'modbot.db'}",
            "MODBOT_LOCAL_ROOT": str(self.data / "repos"),
        }

    def start(self) -> str:
        """Start (or resume) modbot; what it printed before serving."""
        offset = self.output.stat().st_size if self.output.exists() else 0
        argv = [sys.executable, "-m", "bot", "local", "serve", "--data", str(self.data),
                "--seed", str(ROOT / "examples" / "rustok-mini"), "--port", str(self.port),
                "--staging-port", str(self.ports["staging"]), "--production-port", str(self.ports["production"]),
                "--cargo-target", str(self.cargo_target), *([] if self.baseline else ["--no-baseline"])]  # fmt: skip
        with self.output.open("ab") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=self.env())
        wait_for("modbot to serve", self._serving, deadline=120)
        said = self.output.read_bytes()[offset:].decode("utf-8", "replace")
        found = re.search(r"sign in as admin with the password (\S+)", said)
        if found:
            self.password = found.group(1)
        return said

    def _serving(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"modbot exited ({self.process.returncode}):\n{self.log()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:  # noqa: S310 - local
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, how: int = signal.SIGINT) -> int:
        """Ctrl-C (SIGINT) by default; SIGKILL is a crash."""
        assert self.process is not None
        self.process.send_signal(how)
        code = self.process.wait(timeout=60)
        self.process = None
        return code

    def log(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def close(self) -> None:
        if self.process is not None:
            self.stop()
        if self._store is not None:
            self._store.engine.dispose()

    # --- the CLI, git, the store -------------------------------------------------------------------

    def modbot(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args], env=self.env(), input=stdin, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip

    def ok(self, *args: str, stdin: str | None = None) -> str:
        done = self.modbot(*args, stdin=stdin)
        assert done.returncode == 0, f"modbot {' '.join(args)}: {done.stderr}"
        return done.stdout

    @property
    def bare(self) -> Path:
        return self.data / "repos" / "local" / "rustok-mini.git"

    def git(self, cwd: Path, *args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True, check=False
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def tag(self, name: str) -> str:
        return self.git(self.bare, "rev-parse", f"refs/tags/{name}^{{commit}}")

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(f"sqlite:///{self.data / 'modbot.db'}", migrate=False)
        return self._store

    @property
    def records(self) -> LocalForgeStore:
        return LocalForgeStore(self.store.engine)

    def forge(self) -> LocalForge:
        """The same forge the server runs (its records in the same store), in this process."""
        return LocalForge(self.data / "repos", self.records, self.store.role_of, web_url=self.url)

    def comments(self, number: int) -> list[CommentRecord]:
        return self.records.list_comments(REPO, number)

    def runs(self) -> list[RunRecord]:
        return self.records.list_runs(REPO, filters={}, limit=100)

    def deployments(self, environment: str) -> list[tuple[Any, list[Any]]]:
        """Each Deployment of `environment`, newest first, with its statuses (newest first)."""
        found = self.records.list_deployments(REPO, filters={"environment": environment}, limit=50)
        return [(d, self.records.list_deployment_statuses(d.id, limit=50)) for d in found]

    # --- the servers -------------------------------------------------------------------------------

    def served_modules(self, environment: str) -> list[str] | None:
        token_file = self.data / "host" / "environments" / environment / "health-token"
        try:
            request = urllib.request.Request(
                f"http://127.0.0.1:{self.ports[environment]}/health/modules",
                headers={"Authorization": f"Bearer {token_file.read_text().strip()}"},
            )
            with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - a local http URL
                body: dict[str, Any] = json.loads(answer.read())
        except (OSError, ValueError):
            return None
        return sorted(m["slug"] for m in body.get("modules", []))

    def recorded_on(self, environment: str) -> str | None:
        """The release the store says `environment` runs (what the console shows): the newest finished
        deployment's, once the deployer's statuses have been through the queue."""
        for record in self.store.deployments(REPO, environment=environment):
            if record.status == "success":
                return record.release_id
        return None

    def release_on(self, environment: str) -> str | None:
        current = self.data / "host" / "environments" / environment / "current"
        return Path(os.readlink(current)).name if current.is_symlink() else None


class Console:
    """The web console over HTTP, signed in as a local account."""

    def __init__(self, served: Served, login: str, password: str) -> None:
        self.client = httpx.Client(base_url=served.url, timeout=30)
        page = self.client.get("/console/login")
        answer = self.client.post(
            "/console/login", data={"login": login, "password": password, "csrf_token": csrf(page.text)}
        )
        assert answer.status_code == 303, answer.text

    def install(self, slug: str) -> str:
        """Press Install on the Modules page (from the catalog, enabled): the result page's text."""
        return self.change("install", slug, {"catalog": "true", "enable": "true"})

    def change(self, action: str, slug: str, fields: dict[str, str]) -> str:
        """Confirm `action` of `slug` on its form page: the result page's text."""
        form = self.client.get(f"/console/modules/{slug}/{action}", params=fields)
        assert form.status_code == 200, form.text
        data = {"csrf_token": csrf(form.text), "reason": "try it", **fields}
        answer = self.client.post(f"/console/modules/{slug}/{action}", data=data)
        assert answer.status_code == 200, answer.text
        return answer.text

    def close(self) -> None:
        self.client.close()


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)
