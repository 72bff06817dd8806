"""Deploy an image (by digest) to an environment with its backend.

`deploy_steps` is pure: config + image -> the commands (argv lists and extra environment) to run;
`run_steps` runs them, one after the other, without a shell, stopping at the first failure.

- kubernetes: `kubectl [--context C] --namespace NS set image deployment/D CONTAINER=IMAGE`, then
  `kubectl ... rollout status deployment/D --timeout=T` (waits for the rollout, fails if it stalls).
- compose: `docker compose -f FILE [-p NAME] up -d --no-deps SERVICE` with `IMAGE=<image>` in the
  environment (the compose file says `image: ${IMAGE}`).
- host: single-host mode; `bot.host.deployer` deploys (a release is a directory, not an image).
- command: the template split once with shlex, then `{image}`, `{release_id}`, `{environment}` and
  `{service}` replaced inside the words; values are never split again and never reach a shell.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.pipeline.config import EnvironmentConfig, UiService, command_argv, duration_seconds
from bot.pipeline.release import IMAGE_REF_PATTERN

_IMAGE_RE = re.compile(IMAGE_REF_PATTERN)
SERVER_SERVICE = "server"


class DeployError(Exception):
    """The deploy cannot run or failed; the message says which step and why."""


@dataclass(frozen=True, slots=True)
class Step:
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    timeout: float | None = None
    what: str = ""


def check_image_ref(image: str) -> str | None:
    if _IMAGE_RE.fullmatch(image):
        return None
    return (
        f'image "{image}" is not pinned by digest; deploys use REGISTRY/REPOSITORY@sha256:<64 hex> '
        "(the release's image), never a tag that can move"
    )


def deploy_steps(
    env: EnvironmentConfig,
    *,
    image: str,
    release_id: str,
    ui: UiService | None = None,
) -> list[Step]:
    problem = check_image_ref(image)
    if problem is not None:
        raise DeployError(problem)
    service = ui.name if ui is not None else SERVER_SERVICE
    if env.backend == "host":
        # not a command a workflow step can run: the release's binary lives in modbot's data folder
        raise DeployError(
            f"environment {env.name} uses the host backend: modbot's single-host deployer (bot.host) "
            "switches releases/<id> and restarts the server itself; deploy with /deploy or the console"
        )
    if env.backend == "kubernetes":
        k8s = env.kubernetes
        assert k8s is not None
        deployment = (ui.deployment or ui.name) if ui is not None else k8s.deployment
        container = (ui.container or ui.name) if ui is not None else k8s.container
        base = ["kubectl"]
        if k8s.context:
            base += ["--context", k8s.context]
        base += ["--namespace", k8s.namespace]
        seconds = duration_seconds(k8s.timeout)
        return [
            Step(
                (*base, "set", "image", f"deployment/{deployment}", f"{container}={image}"),
                timeout=120,
                what=f"set the image of deployment/{deployment}",
            ),
            Step(
                (*base, "rollout", "status", f"deployment/{deployment}", f"--timeout={seconds}s"),
                timeout=seconds + 60,
                what=f"wait for the rollout of deployment/{deployment}",
            ),
        ]
    if env.backend == "compose":
        compose = env.compose
        assert compose is not None
        argv = ["docker", "compose", "-f", compose.file]
        if compose.project_name:
            argv += ["-p", compose.project_name]
        target = (ui.service or ui.name) if ui is not None else compose.service
        argv += ["up", "-d", "--no-deps", target]
        return [Step(tuple(argv), env={"IMAGE": image}, timeout=900, what=f"docker compose up {target}")]
    assert env.command is not None
    values = {"image": image, "release_id": release_id, "environment": env.name, "service": service}
    return [Step(tuple(command_argv(env.command, values)), timeout=3600, what="the deploy command")]


def run_steps(steps: Sequence[Step], *, cwd: Path) -> None:
    """Run each step (argv, no shell) with the job's environment plus the step's; the tool's output
    is copied to our stderr (stdout stays for our own report)."""
    for step in steps:
        environ = {**os.environ, **step.env}
        try:
            done = subprocess.run(  # noqa: S603 - argv list, no shell
                list(step.argv),
                cwd=cwd,
                env=environ,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=step.timeout,
                check=False,
            )
        except FileNotFoundError:
            raise DeployError(
                f"{step.argv[0]} is not installed (or not on PATH); cannot {step.what}"
            ) from None
        except PermissionError:
            raise DeployError(
                f"{step.argv[0]} cannot be run (permission denied); cannot {step.what}"
            ) from None
        except subprocess.TimeoutExpired:
            raise DeployError(f"{step.what}: no result within {step.timeout:.0f}s") from None
        if done.stdout:
            sys.stderr.write(done.stdout.decode("utf-8", "replace"))
            sys.stderr.flush()
        if done.returncode != 0:
            raise DeployError(f"{step.what} failed: {step.argv[0]} exited with {done.returncode}")
