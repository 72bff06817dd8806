"""The local runner's and the deployer's progress, told to the local forge: a build is a workflow run
(`start_run` / `report_run`, so the `run` events reach the builds' follow-ups as GitHub's `workflow_run`
does), a deploy is a Deployment with its statuses (so chat-ops' replies, locks and the console follow it
as they follow the deploy workflow's)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from bot.forge.local import LocalForge
from bot.host.releases import Releases
from bot.host.reporting import DeploymentState
from bot.host.runs import Run, StepRecord
from bot.pipeline.contract import DeploymentPayload

log = logging.getLogger(__name__)

BUILD_WORKFLOW = "modbot-build.yml"
FORGE_RUN_FILE = "forge-run-id"  # in runs/<id>/: the forge's run id of the runner's run
# the runner's conclusions are GitHub's already; anything else is a failure
CONCLUSIONS = frozenset({"success", "failure", "cancelled", "timed_out", "skipped", "neutral"})


class ForgeRunReporter:
    """`bot.host.reporting.RunReporter` onto the forge's workflow runs. After each run, retention: the
    releases beyond the newest ``keep`` go (never one an environment runs or would roll back to)."""

    def __init__(
        self, forge: LocalForge, repo: str, runs_dir: Path, *, web_url: str, releases: Releases, keep: int
    ) -> None:
        self.forge, self.repo, self.runs_dir = forge, repo, runs_dir
        self.web_url = web_url.rstrip("/")
        self.releases, self.keep = releases, keep
        self._lock = threading.Lock()

    def requested(self, run: Run, *, branch: str) -> None:
        """The run is queued: the forge shows it (and says so with a `run` `requested` event)."""
        self._forge_id(run, branch=branch)

    def _forge_id(self, run: Run, *, branch: str | None = None) -> int:
        """The forge's run of the runner's `run`, made the first time either side asks (the runner may
        start the run before `requested` is through); kept next to the run, so a restart finds it."""
        path = self.runs_dir / run.id / FORGE_RUN_FILE
        with self._lock:
            try:
                return int(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                pass
            made = self.forge.start_run(
                self.repo,
                workflow=BUILD_WORKFLOW,
                head_sha=run.commit,
                head_branch=branch or run.ref.removeprefix("refs/heads/"),
                event="push",
                # the build follows the run from its first event: link it to the console's log at once
                logs_url=f"{self.web_url}{run.logs_url}" if run.logs_url else None,
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{made.id}\n", encoding="utf-8")
            return made.id

    def _report(self, run: Run, status: str, conclusion: str | None = None) -> None:
        forge_id = self._forge_id(run)
        logs_url = f"{self.web_url}{run.logs_url}" if run.logs_url else None
        self.forge.report_run(self.repo, forge_id, status=status, conclusion=conclusion, logs_url=logs_url)

    def run_started(self, run: Run) -> None:
        self._report(run, "in_progress")

    def step_started(self, run: Run, step: StepRecord) -> None:
        return None  # the forge's runs have no steps; the run's log shows them

    def step_finished(self, run: Run, step: StepRecord) -> None:
        return None

    def run_finished(self, run: Run) -> None:
        conclusion = run.conclusion if run.conclusion in CONCLUSIONS else "failure"
        self._report(run, "completed", conclusion)
        removed = self.releases.prune(self.keep)  # retention after builds too, not only after deploys
        if removed:
            log.info("retention removed %s", ", ".join(removed))


class ForgeDeployReporter:
    """`bot.host.reporting.DeployReporter` onto the forge's Deployments."""

    def __init__(self, forge: LocalForge, repo: str, *, web_url: str) -> None:
        self.forge, self.repo = forge, repo
        self.web_url = web_url.rstrip("/")

    def create_deployment(self, environment: str, commit: str, payload: DeploymentPayload) -> str:
        made = self.forge.create_deployment(
            self.repo,
            ref=commit,
            environment=environment,
            description=f"modbot: {payload.release_id}",
            payload=payload.to_json(),
            task="deploy",
        )
        return str(made.id)

    def deployment_status(
        self, deployment_id: str, state: DeploymentState, description: str, *, log_url: str
    ) -> None:
        self.forge.create_deployment_status(
            self.repo, int(deployment_id), state, description=description, log_url=f"{self.web_url}{log_url}"
        )
