"""Build runs, kept as files: `runs/<id>/run.json`, rewritten atomically at every change, so the
queue survives a restart (docs/single-host.md, "The run queue").

States follow GitHub's check runs: `queued` -> `in_progress` -> `completed`, with a conclusion
`success`, `failure`, `cancelled` or `timed_out`, and a `reason` a person can read.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.host.fsutil import locked, write_atomic
from bot.host.layout import Layout, checked_run

RunState = Literal["queued", "in_progress", "completed"]
Conclusion = Literal["success", "failure", "cancelled", "timed_out", "skipped"]
RUN_FILE = "run.json"
LOGS_URL = "/console/runs/{run_id}/log"


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class RunsError(Exception):
    """A run record cannot be read or written; the message says which and why."""


class StepRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str
    title: str
    state: RunState = "queued"
    conclusion: Conclusion | None = None
    exit_code: int | None = None
    started_at: str | None = None
    completed_at: str | None = None
    log: str | None = None  # relative to the run's folder
    argv: list[str] = Field(default_factory=list)


class ProcessRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pid: int
    start_ticks: int


@dataclass(frozen=True, slots=True)
class Progress:
    status: str  # queued | running | succeeded | failed | cancelled
    stage: str  # build | release | done
    progress: int  # 0..100


class Run(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    commit: str
    ref: str
    requested_by: str = ""
    state: RunState = "queued"
    conclusion: Conclusion | None = None
    reason: str = ""
    created_at: str = Field(default_factory=utc_now)
    started_at: str | None = None
    completed_at: str | None = None
    cancel_requested: bool = False
    steps: list[StepRecord] = Field(default_factory=list)
    process: ProcessRecord | None = None  # the step process running now (for recovery)
    outputs: dict[str, str] = Field(default_factory=dict)  # the plan's and the build's outputs
    logs_url: str = ""  # where the console shows the run's log (LOGS_URL)
    release_id: str | None = None  # the release this run made
    reused_release: str | None = None  # the release the plan reused (no build)

    def progress(self) -> Progress:
        """The run in the builds API's words (bot.store.builds: status, stage, progress 0-100)."""
        if self.state == "queued":
            return Progress("queued", "build", 0)
        if self.state == "completed":
            status = {"success": "succeeded", "cancelled": "cancelled"}.get(self.conclusion or "", "failed")
            return Progress(status, "done", 100)
        done = sum(1 for step in self.steps if step.state == "completed")
        releasing = any(s.key == "release" and s.state != "queued" for s in self.steps)
        return Progress(
            "running", "release" if releasing else "build", min(99, 100 * done // len(self.steps))
        )

    def step(self, key: str) -> StepRecord:
        for step in self.steps:
            if step.key == key:
                return step
        raise KeyError(key)


class RunStore:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def create(self, *, commit: str, ref: str, requested_by: str = "") -> Run:
        with locked(self.layout.runs / ".lock"):
            run_id = str(self._highest() + 1)
            logs_url = LOGS_URL.format(run_id=run_id)
            run = Run(id=run_id, commit=commit, ref=ref, requested_by=requested_by, logs_url=logs_url)
            self.layout.run_dir(run.id).mkdir(parents=True)
            self.save(run)
        return run

    def _highest(self) -> int:
        if not self.layout.runs.is_dir():
            return 0
        return max((int(p.name) for p in self.layout.runs.iterdir() if p.name.isdigit()), default=0)

    def save(self, run: Run) -> None:
        data = json.dumps(run.model_dump(mode="json"), indent=2) + "\n"
        write_atomic(self.layout.run_dir(run.id) / RUN_FILE, data.encode("utf-8"))

    def load(self, run_id: str) -> Run:
        path = self.layout.run_dir(checked_run(run_id)) / RUN_FILE
        try:
            return Run.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            raise RunsError(f"there is no run {run_id}") from None
        except (OSError, ValidationError) as exc:
            raise RunsError(f"run {run_id}: {path} cannot be read: {exc}") from None

    def all(self) -> list[Run]:
        """Every readable run, oldest first (an unreadable record is skipped, never fatal)."""
        if not self.layout.runs.is_dir():
            return []
        ids = sorted(int(p.name) for p in self.layout.runs.iterdir() if p.name.isdigit())
        runs = []
        for run_id in ids:
            try:
                runs.append(self.load(str(run_id)))
            except RunsError:
                continue
        return runs

    def queued(self) -> list[Run]:
        return [run for run in self.all() if run.state == "queued"]

    def log_path(self, run: Run, step: StepRecord) -> Path:
        assert step.log is not None
        return self.layout.run_dir(run.id) / step.log

    def combined_log(self, run_id: str) -> str:
        """Every step's log in order, each under a heading (what the console shows at logs_url)."""
        run = self.load(run_id)
        parts = []
        for step in run.steps:
            if step.log is None:
                continue
            try:
                text = self.log_path(run, step).read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                text = ""
            parts.append(f"==> {step.title} ({step.conclusion or step.state})\n{text}")
        return "\n".join(parts)
