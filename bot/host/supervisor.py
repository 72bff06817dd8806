"""modbot's own supervisor: runs one server process per environment, from the release it is given
(the resolved `releases/<id>/<binary>`, so a later switch of `current` does not change what a running
process is), on the environment's port, with its output appended to `environments/<env>/server.log`.

- Restart = stop (SIGTERM to its process group, SIGKILL after the grace) then start.
- `server.pid` (pid + start time) lets a restarted modbot stop or replace a server it started before
  (servers are in their own session: a crash of modbot does not take the sites down with it).
- A server sees a small allowlist of modbot's environment plus its own settings: modbot's secrets
  (GitHub keys, the admin token) never reach it.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.host.fsutil import write_atomic
from bot.host.layout import Layout
from bot.host.procs import ProcessId, alive, identify, stop_group

PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
PID_FILE = "server.pid"
LOG_FILE = "server.log"


class SupervisorError(Exception):
    """A server cannot be started; the message says why."""


@dataclass(frozen=True, slots=True)
class ServerSpec:
    environment: str
    binary: Path
    args: Sequence[str] = ()
    env: Mapping[str, str] | None = None
    release_id: str = ""
    cwd: Path | None = None  # default: the binary's folder


class Supervisor:
    def __init__(self, layout: Layout, *, grace: float = 10.0) -> None:
        self.layout = layout
        self.grace = grace
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    def log_path(self, environment: str) -> Path:
        return self.layout.environment_dir(environment) / LOG_FILE

    def start(self, spec: ServerSpec, *, grace: float | None = None) -> ProcessId:
        """Stop what runs for the environment, then start `spec` (a restart)."""
        with self._lock:
            self._stop(spec.environment, self.grace if grace is None else grace)
            folder = self.layout.environment_dir(spec.environment)
            folder.mkdir(parents=True, exist_ok=True)
            env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
            env.update(spec.env or {})
            with self.log_path(spec.environment).open("ab") as log:
                log.write(f"--- modbot: starting {spec.release_id or spec.binary}\n".encode())
                log.flush()
                try:
                    child = subprocess.Popen(  # noqa: S603 - argv list, no shell
                        [str(spec.binary), *spec.args],
                        cwd=spec.cwd or spec.binary.parent,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                except OSError as exc:
                    raise SupervisorError(f"cannot start {spec.binary}: {exc.strerror or exc}") from None
            process = identify(child.pid)
            if process is None:  # it exited before we could look: keep the exit code for `exit_code`
                child.wait()
                self._children[spec.environment] = child
                return ProcessId(child.pid, 0)
            self._children[spec.environment] = child
            record = {**process.to_json(), "release_id": spec.release_id}
            write_atomic(folder / PID_FILE, json.dumps(record).encode())
            return process

    def stop(self, environment: str, *, grace: float | None = None) -> None:
        with self._lock:
            self._stop(environment, self.grace if grace is None else grace)

    def stop_all(self) -> None:
        folder = self.layout.root / "environments"
        names = set(self._children)
        if folder.is_dir():
            names |= {p.name for p in folder.iterdir() if (p / PID_FILE).exists()}
        for environment in sorted(names):
            self.stop(environment)

    def running(self, environment: str) -> ProcessId | None:
        """The environment's server process when it is alive (started by this modbot or adopted from
        its pid file)."""
        child = self._children.get(environment)
        if child is not None and child.poll() is not None:
            return None
        process = self._recorded(environment)
        return process if process is not None and alive(process) else None

    def exit_code(self, environment: str) -> int | None:
        """The exit code of the server this modbot started, once it has exited (else None)."""
        child = self._children.get(environment)
        return None if child is None else child.poll()

    def _recorded(self, environment: str) -> ProcessId | None:
        try:
            data = json.loads((self.layout.environment_dir(environment) / PID_FILE).read_text())
            return ProcessId(int(data["pid"]), int(data["start_ticks"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _stop(self, environment: str, grace: float) -> None:
        child = self._children.pop(environment, None)
        process = self._recorded(environment)
        if process is not None:
            stop_group(process, grace=grace, reap=child.poll if child is not None else None)
        if child is not None and child.poll() is None:
            child.kill()
        if child is not None:
            child.wait()
        (self.layout.environment_dir(environment) / PID_FILE).unlink(missing_ok=True)
