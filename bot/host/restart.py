"""Restarting an environment's server after `current` moved: modbot's supervisor, or the operator's
restart command (`host.restart_command`, e.g. `systemctl restart rustok@{environment}`, run as an
argv without a shell), chosen by the environment's config.

The bearer token of `/health/modules` (RUSTOK_OBSERVABILITY_BEARER_TOKEN): a supervised server gets
the value of the environment's `health_token_env` variable when modbot has it, else a token modbot
made for that environment (`environments/<env>/health-token`, mode 0600); smoke sends the same. With a
restart command the operator configures the server, so modbot needs the variable.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path
from typing import Protocol

from bot.domain.text import redact_text
from bot.host.fsutil import write_atomic
from bot.host.layout import Layout
from bot.host.releases import ReleaseDir
from bot.host.supervisor import ServerSpec, Supervisor, SupervisorError
from bot.pipeline.config import EnvironmentConfig, HostBackend, command_argv, duration_seconds
from bot.pipeline.health import SERVER_TOKEN_ENV

TOKEN_FILE = "health-token"  # noqa: S105 - a file name
RESTART_TIMEOUT = 300.0


class RestartError(Exception):
    """The server could not be restarted; the message says why (never a token)."""


class Restarter(Protocol):
    def restart(self, release: ReleaseDir) -> None: ...

    def exited(self) -> int | None:
        """The server's exit code when it is known to have exited (a crash during smoke)."""
        ...

    def token(self) -> str | None: ...

    def running(self) -> bool | None:
        """Whether the server runs; None when modbot cannot know (the operator's service)."""
        ...


def host_settings(env: EnvironmentConfig) -> HostBackend:
    if env.backend != "host" or env.host is None:
        raise RestartError(f"environment {env.name} does not use the host backend (backend = {env.backend})")
    return env.host


def health_token(layout: Layout, env: EnvironmentConfig, *, generate: bool) -> str | None:
    name = env.health_token_env
    if name and os.environ.get(name):
        return os.environ[name]
    if not generate:
        return None
    path = layout.environment_dir(env.name) / TOKEN_FILE
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        value = ""
    if not value:
        value = secrets.token_urlsafe(32)
        write_atomic(path, value.encode(), mode=0o600)
    return value


class SupervisedRestart:
    """modbot's supervisor runs the release's binary with PORT/HOST (what RusToK-shaped servers read)
    and the health token."""

    def __init__(self, layout: Layout, supervisor: Supervisor, env: EnvironmentConfig) -> None:
        self.layout, self.supervisor, self.env = layout, supervisor, env
        self.settings = host_settings(env)
        self._token = health_token(layout, env, generate=True)

    def token(self) -> str | None:
        return self._token

    def restart(self, release: ReleaseDir) -> None:
        values = {"port": str(self.settings.port), "bind": self.settings.bind}
        args = [
            word.replace("{port}", values["port"]).replace("{bind}", values["bind"])
            for word in self.settings.args
        ]
        server_env = {name: os.environ[name] for name in self.settings.pass_env if name in os.environ}
        server_env.update({"PORT": values["port"], "HOST": values["bind"]})
        if self._token:
            server_env[SERVER_TOKEN_ENV] = self._token
        workdir = Path(self.settings.workdir) if self.settings.workdir else None
        spec = ServerSpec(
            self.env.name, release.binary.resolve(), args, server_env, release.release_id, workdir
        )
        try:
            self.supervisor.start(spec, grace=float(duration_seconds(self.settings.stop_timeout)))
        except SupervisorError as exc:
            raise RestartError(str(exc)) from None

    def exited(self) -> int | None:
        return self.supervisor.exit_code(self.env.name)

    def running(self) -> bool | None:
        return self.supervisor.running(self.env.name) is not None


class CommandRestart:
    """The operator's restart command; the server runs `environments/<env>/current/<binary>`."""

    def __init__(self, layout: Layout, env: EnvironmentConfig) -> None:
        self.layout, self.env = layout, env
        settings = host_settings(env)
        assert settings.restart_command is not None
        self.template = settings.restart_command
        self._token = health_token(layout, env, generate=False)

    def token(self) -> str | None:
        return self._token

    def argv(self, release: ReleaseDir) -> list[str]:
        values = {
            "image": release.record.image,
            "release_id": release.release_id,
            "environment": self.env.name,
            "service": "server",
        }
        return command_argv(self.template, values)

    def restart(self, release: ReleaseDir) -> None:
        argv = self.argv(release)
        try:
            done = subprocess.run(  # noqa: S603 - argv from the checked template, no shell
                argv, capture_output=True, text=True, timeout=RESTART_TIMEOUT, check=False
            )
        except FileNotFoundError:
            raise RestartError(f"the restart command {argv[0]} is not installed (or not on PATH)") from None
        except subprocess.TimeoutExpired:
            raise RestartError(f"the restart command gave no result within {RESTART_TIMEOUT:.0f}s") from None
        if done.returncode != 0:
            tail = redact_text(" / ".join((done.stderr or done.stdout).strip().splitlines()[-3:]))
            raise RestartError(f"the restart command exited with {done.returncode}: {tail}")

    def exited(self) -> int | None:
        return None

    def running(self) -> bool | None:
        return None


def restarter_for(layout: Layout, supervisor: Supervisor, env: EnvironmentConfig) -> Restarter:
    if host_settings(env).restart_command is not None:
        return CommandRestart(layout, env)
    return SupervisedRestart(layout, supervisor, env)
