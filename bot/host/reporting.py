"""How single-host mode tells the rest of modbot what happens: two small protocols the lead
connects to the forge (check runs / builds API and Deployment statuses), and file-backed
implementations that record every call as a JSON line (testable alone, and a log for people).

A reporter is bookkeeping: `safely` swallows and logs its failures, so a broken reporter never
fails a build or a deploy (the workflows' `continue-on-error: true` on their status steps).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Protocol

from bot.host.runs import Run, StepRecord, utc_now
from bot.pipeline.contract import DeploymentPayload

log = logging.getLogger(__name__)

DeploymentState = Literal["queued", "in_progress", "success", "failure", "error"]


class RunReporter(Protocol):
    def run_started(self, run: Run) -> None: ...
    def step_started(self, run: Run, step: StepRecord) -> None: ...
    def step_finished(self, run: Run, step: StepRecord) -> None: ...
    def run_finished(self, run: Run) -> None: ...


class DeployReporter(Protocol):
    def create_deployment(self, environment: str, commit: str, payload: DeploymentPayload) -> str:
        """Record a new Deployment (an automatic rollback is one of its own); its id."""
        ...

    def deployment_status(
        self, deployment_id: str, state: DeploymentState, description: str, *, log_url: str
    ) -> None: ...


def safely(what: str, call: Callable[[], object]) -> None:
    try:
        call()
    except Exception:  # bookkeeping never fails the work it reports on
        log.warning("reporter failed to record %s", what, exc_info=True)


class JsonLines:
    """Appends one JSON object per event to a file (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, event: str, **fields: Any) -> None:
        line = json.dumps({"at": utc_now(), "event": event, **fields}, sort_keys=True)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")

    def read(self) -> list[dict[str, Any]]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]


class FileRunReporter:
    """Records run progress in `<folder>/<run id>/events.jsonl`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def events(self, run_id: str) -> list[dict[str, Any]]:
        return JsonLines(self.folder / run_id / "events.jsonl").read()

    def _out(self, run: Run) -> JsonLines:
        return JsonLines(self.folder / run.id / "events.jsonl")

    def run_started(self, run: Run) -> None:
        self._out(run).write("run_started", run=run.id, commit=run.commit, logs_url=run.logs_url)

    def step_started(self, run: Run, step: StepRecord) -> None:
        self._out(run).write("step_started", run=run.id, step=step.key)

    def step_finished(self, run: Run, step: StepRecord) -> None:
        self._out(run).write("step_finished", run=run.id, step=step.key, conclusion=step.conclusion)

    def run_finished(self, run: Run) -> None:
        self._out(run).write(
            "run_finished",
            run=run.id,
            conclusion=run.conclusion,
            reason=run.reason,
            logs_url=run.logs_url,
            release_id=run.release_id,
            reused_release=run.reused_release,
        )


class FileDeployReporter:
    """Records Deployments and their statuses in one JSON-lines file."""

    def __init__(self, path: Path) -> None:
        self.out = JsonLines(path)
        self._lock = threading.Lock()
        self._next = len([e for e in self.out.read() if e["event"] == "deployment"]) + 1

    def create_deployment(self, environment: str, commit: str, payload: DeploymentPayload) -> str:
        with self._lock:
            deployment_id = str(self._next)
            self._next += 1
        self.out.write(
            "deployment", id=deployment_id, environment=environment, ref=commit, payload=payload.to_json()
        )
        return deployment_id

    def deployment_status(
        self, deployment_id: str, state: DeploymentState, description: str, *, log_url: str
    ) -> None:
        self.out.write("status", id=deployment_id, state=state, description=description, log_url=log_url)

    def events(self) -> list[dict[str, Any]]:
        return self.out.read()
