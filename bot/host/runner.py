"""The local runner: GitHub Actions' part in single-host mode. It runs the build workflow's steps
(`bot.host.steps`) for one commit of the local repository at a time, from a durable queue.

- Runs build in one checkout of the repository, reused (`origin` = the repository, so the steps'
  `--push` push the release and deploy tags into it, as the workflow pushes them to GitHub): fetch,
  `checkout --force` of the commit, `clean -ffdx`. One path and untouched mtimes keep cargo's
  builds incremental, as a runner's work folder and the cargo cache do in the workflow.
- Steps are subprocesses (argv, no shell) in their own process group, logs streamed to
  `runs/<id>/logs/`; the build steps see only a small allowlist of the environment: the crates'
  build scripts run there, so modbot's own secrets never reach them (the workflow's build job has
  no secret either).
- One cargo target folder for all runs (`cargo-target/`): builds are incremental.
- Cancellation and a timeout stop the running step's whole process group (SIGTERM, then SIGKILL).
- A crash (modbot killed mid-build): on the next start the interrupted run is marked failed with
  the step it was in, its leftover processes are stopped, and a release it had half written is
  finished (tag made) or removed (no tag). It is not re-queued: a build that brings modbot down
  would otherwise do it again at every start; a person re-runs it (docs/single-host.md).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.host.fsutil import locked
from bot.host.layout import Layout
from bot.host.procs import Finished, Outcome, ProcessId, run_logged, stop_group
from bot.host.releases import Releases, ReleasesError
from bot.host.reporting import RunReporter, safely
from bot.host.runs import ProcessRecord, Run, RunStore, StepRecord, utc_now
from bot.host.steps import BUILD_STEPS, StepSpec, checkout_commands
from bot.pipeline.git import Git, GitError
from bot.pipeline.outputs import parse_github_outputs
from bot.pipeline.release import ReleaseRecord
from bot.pipeline.version import TEMPLATE_VERSION

_SHA_RE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_REF_RE = re.compile(r"[A-Za-z0-9._/-]{1,255}")
# what a step may see of modbot's environment (plus the runner's own values)
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "CARGO_HOME", "RUSTUP_HOME", "TZ")
log = logging.getLogger(__name__)
_BOT_PARENT = str(Path(__file__).resolve().parents[2])


class RunnerError(Exception):
    """The runner cannot start or take a request; the message says why."""


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    data_dir: Path
    repository: Path  # the local repository: the system of record
    config_path: str = ".github/modbot.toml"
    timeout: float = 90 * 60.0  # the build job's timeout-minutes
    grace: float = 10.0
    offline: bool = False  # CARGO_NET_OFFLINE: build from the local registry cache only
    modbot: tuple[str, ...] = (sys.executable, "-m", "bot")
    cargo_target: Path | None = None  # default: <data>/cargo-target
    checkout: Path | None = None  # default: <data>/checkout
    extra_env: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Job:
    run: Run
    work: Path
    deadline: float  # time.monotonic()
    values: dict[str, str]  # the variables the steps' words and environment read


class _Stop(Exception):
    def __init__(self, finished: Finished, step: StepRecord, reason: str) -> None:
        self.finished, self.step, self.reason = finished, step, reason


class Runner:
    def __init__(self, settings: RunnerSettings, *, reporter: RunReporter, releases: Releases) -> None:
        self.settings = settings
        self.layout = Layout(settings.data_dir)
        self.store = RunStore(self.layout)
        self.reporter = reporter
        self.releases = releases
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._cancel = threading.Event()
        self._stopping = threading.Event()
        self._current: Run | None = None
        self._thread: threading.Thread | None = None
        self._held: contextlib.ExitStack | None = None

    # --- life cycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Take the data folder's runner lock, recover from a crash, start the worker thread."""
        stack = contextlib.ExitStack()
        if not stack.enter_context(locked(self.layout.runner_lock, blocking=False)):
            stack.close()
            raise RunnerError(f"another modbot runs the builds of {self.layout.root} (runner.lock is held)")
        self._held = stack
        self.recover()
        self._thread = threading.Thread(target=self._work, name="modbot-runner", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop: the running build is cancelled ("modbot stopped"), queued ones stay queued."""
        self._stopping.set()
        self._cancel.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        if self._held is not None:
            self._held.close()
            self._held = None

    def __enter__(self) -> Runner:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- requests ----------------------------------------------------------------------------------

    def enqueue(self, commit: str, ref: str, *, requested_by: str = "") -> Run:
        if not _SHA_RE.fullmatch(commit):
            raise RunnerError(f"{commit!r} is not a full commit SHA")
        if not _REF_RE.fullmatch(ref) or ".." in ref or ref.startswith(("-", "/")):
            raise RunnerError(f"{ref!r} is not a branch or tag name")
        run = self.store.create(commit=commit, ref=ref, requested_by=requested_by)
        self._wake.set()
        return run

    def cancel(self, run_id: str) -> Run:
        """Cancel a queued run at once, or the running one at its next poll (its step is stopped)."""
        with self._lock:
            if self._current is not None and self._current.id == run_id:
                self._current.cancel_requested = True
                self.store.save(self._current)
                self._cancel.set()
                return self._current
            run = self.store.load(run_id)
            if run.state == "queued":
                self._complete(run, "cancelled", "cancelled before it started")
            return run

    def wait(self, run_id: str, timeout: float) -> Run:
        """The run once completed (for callers that must wait; the console polls instead)."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.store.load(run_id)
            if run.state == "completed" or time.monotonic() >= deadline:
                return run
            time.sleep(0.1)

    # --- recovery ----------------------------------------------------------------------------------

    def recover(self) -> list[Run]:
        """Fail the runs a crash interrupted (stopping their leftover processes) and finish or remove
        the release they were writing. Returns the runs marked failed."""
        failed = []
        for run in self.store.all():
            if run.state != "in_progress":
                continue
            if run.process is not None:
                stop_group(ProcessId(run.process.pid, run.process.start_ticks), grace=self.settings.grace)
            step = next((s for s in run.steps if s.state == "in_progress"), None)
            where = f"during the step “{step.title}”" if step else "between steps"
            for open_step in run.steps:
                if open_step.state != "completed":
                    open_step.state, open_step.completed_at = "completed", utc_now()
                    open_step.conclusion = "failure" if open_step is step else "skipped"
            self._complete(
                run, "failure", f"interrupted: modbot stopped {where}; the run was not resumed, run it again"
            )
            failed.append(run)
        self.releases.recover(self._tag_record)
        return failed

    def _tag_record(self, release_id: str) -> ReleaseRecord | None:
        try:
            tags = Git(self.settings.repository).release_tags(release_id)
        except GitError:
            return None
        return tags[0].record if tags else None

    # --- the worker --------------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                queued = self.store.queued()
                run = queued[0] if queued else None
                self._current = run
                self._cancel.clear()
            if run is None:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            try:
                self._execute(run)
            except Exception as exc:  # a bug or a broken data folder: fail this run, keep the queue going
                log.exception("run %s failed inside the runner", run.id)
                with self._lock:
                    self._complete(run, "failure", f"modbot's runner failed: {type(exc).__name__}: {exc}")
            finally:
                with self._lock:
                    self._current = None

    def _execute(self, run: Run) -> None:
        with self._lock:
            run.state, run.started_at = "in_progress", utc_now()
            run.steps = [StepRecord(key=s.key, title=s.title) for s in BUILD_STEPS if not s.per_environment]
            self.store.save(run)
        safely("run started", lambda: self.reporter.run_started(run))
        work = self.settings.checkout or self.layout.checkout
        job = _Job(run, work, time.monotonic() + self.settings.timeout, self._values(run))
        conclusion, reason = "success", ""
        try:
            for spec in BUILD_STEPS:
                for step in self._instances(job, spec):
                    if spec.needs_build and run.reused_release:
                        self._skip(run, step)
                        continue
                    self._step(job, spec, step)
            if run.reused_release:
                reason = f"reused {run.reused_release}: the same build key, no build"
            else:
                reason = f"released {run.release_id}"
        except _Stop as stop:
            conclusion, reason = stop.finished.outcome.value, stop.reason
            for step in run.steps:
                if step.state != "completed":
                    self._skip(run, step)
            if run.release_id:  # finish the release if its tag was made, else remove what was staged
                self.releases.recover(self._tag_record)
        with self._lock:
            self._complete(run, conclusion, reason)

    def _instances(self, job: _Job, spec: StepSpec) -> Iterator[StepRecord]:
        if not spec.per_environment:
            yield job.run.step(spec.key)
            return
        raw = job.run.outputs.get("auto_deploy_environments", "")
        for environment in [str(name) for name in (json.loads(raw) if raw else [])]:
            step = StepRecord(key=f"{spec.key}-{environment}", title=f"Move deploy/{environment}")
            with self._lock:
                job.run.steps.append(step)
                self.store.save(job.run)
            job.values["ENVIRONMENT"] = environment
            yield step

    def _values(self, run: Run) -> dict[str, str]:
        """The workflow's variables the steps read (env: of the workflow and of each step)."""
        return {
            "MODBOT_CONFIG": self.settings.config_path,
            "MODBOT_TEMPLATE_VERSION": TEMPLATE_VERSION,
            "GITHUB_SHA": run.commit,
            "BUILD_ID": f"{run.id}-1",  # as the workflow's <run id>-<attempt>
            "CARGO_TARGET_DIR": str((self.settings.cargo_target or self.layout.cargo_target).resolve()),
            "CARGO_TERM_COLOR": "never",
        }

    def _step(self, job: _Job, spec: StepSpec, step: StepRecord) -> None:
        run = job.run
        if self._cancel.is_set():
            raise _Stop(Finished(Outcome.CANCELLED, None), step, self._cancel_reason())
        number = len([s for s in run.steps if s.log is not None]) + 1
        with self._lock:
            step.state, step.started_at = "in_progress", utc_now()
            step.log = f"logs/{number:02d}-{step.key}.log"
            self.store.save(run)
        safely("step started", lambda: self.reporter.step_started(run, step))
        finished = self._dispatch(job, spec, step, self.store.log_path(run, step))
        with self._lock:
            step.state, step.completed_at = "completed", utc_now()
            step.exit_code = finished.exit_code
            step.conclusion = finished.outcome.value
            run.process = None
            self.store.save(run)
        safely("step finished", lambda: self.reporter.step_finished(run, step))
        if finished.outcome is Outcome.SUCCESS:
            return
        if finished.outcome is Outcome.CANCELLED:
            raise _Stop(finished, step, self._cancel_reason())
        if finished.outcome is Outcome.TIMED_OUT:
            seconds = self.settings.timeout
            limit = f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"
            raise _Stop(finished, step, f"timed out after {limit} in the step “{step.title}”")
        code = f" (exit code {finished.exit_code})" if finished.exit_code is not None else ""
        raise _Stop(finished, step, f"the step “{step.title}” failed{code}; see its log")

    def _cancel_reason(self) -> str:
        return "modbot stopped" if self._stopping.is_set() else "cancelled"

    def _dispatch(self, job: _Job, spec: StepSpec, step: StepRecord, log: Path) -> Finished:
        if spec.key == "checkout":
            return self._checkout(job, log)
        if spec.kind == "internal":
            return self._internal(job, spec, log)
        outputs = log.with_suffix(".outputs")
        job.values["GITHUB_OUTPUT"] = str(outputs)
        argv = [*self.settings.modbot, *spec.argv(job.values)[1:]]  # `modbot` is this modbot
        with self._lock:
            step.argv = argv
        done = self._command(job, argv, cwd=job.work, log=log)
        if done.outcome is Outcome.SUCCESS and outputs.exists():
            self._take_outputs(job, spec, parse_github_outputs(outputs.read_text("utf-8")))
        return done

    def _checkout(self, job: _Job, log: Path) -> Finished:
        """The commit in the reused checkout; a checkout that is not a git folder is cloned again."""
        fresh = not (job.work / ".git").is_dir()
        if fresh:
            shutil.rmtree(job.work, ignore_errors=True)
            job.work.parent.mkdir(parents=True, exist_ok=True)
        done = Finished(Outcome.SUCCESS, 0)
        for argv in checkout_commands(
            self.settings.repository.resolve(), job.work, job.run.commit, fresh=fresh
        ):
            cwd = job.work if (job.work / ".git").is_dir() else job.work.parent
            done = self._command(job, argv, cwd=cwd, log=log)
            if done.outcome is not Outcome.SUCCESS:
                break
        return done

    def _internal(self, job: _Job, spec: StepSpec, log: Path) -> Finished:
        release_id = job.run.release_id
        assert release_id is not None
        try:
            if spec.key == "stage":
                built = job.run.outputs.get("binary", "")
                if not built or not Path(built).is_file():
                    raise ReleasesError("cargo built no executable of the server package")
                job.values["IMAGE_DIGEST"] = self.releases.stage(release_id, Path(built))
                message = f"staged {built} as releases/.staging-{release_id} ({job.values['IMAGE_DIGEST']})"
            else:
                tags = Git(job.work).release_tags(release_id)
                record = tags[0].record if tags else None
                if record is None:
                    raise ReleasesError(f"release/{release_id} is not a readable release tag")
                message = f"wrote {self.releases.finalize(record).path}"
        except (ReleasesError, GitError, OSError) as exc:
            _append(log, f"modbot: {exc}\n")
            return Finished(Outcome.FAILURE, None)
        _append(log, message + "\n")
        return Finished(Outcome.SUCCESS, 0)

    def _take_outputs(self, job: _Job, spec: StepSpec, outputs: dict[str, str]) -> None:
        run = job.run
        with self._lock:
            run.outputs.update(outputs)
            if spec.key == "plan":
                job.values["RELEASE_ID"] = outputs.get("release_id", "")
                job.values["MANIFEST_HASH"] = outputs.get("manifest_hash", "")
                run.reused_release = outputs.get("existing_release") or None
                run.release_id = None if run.reused_release else job.values["RELEASE_ID"]
            self.store.save(run)

    def _command(self, job: _Job, argv: list[str], *, cwd: Path, log: Path) -> Finished:
        env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
        env.update(self.settings.extra_env)
        env.update(job.values)
        env["PYTHONPATH"] = _BOT_PARENT  # `python -m bot` is this modbot, whatever the cwd
        if self.settings.offline:
            env["CARGO_NET_OFFLINE"] = "true"

        def started(process: ProcessId) -> None:
            with self._lock:
                job.run.process = ProcessRecord(pid=process.pid, start_ticks=process.start_ticks)
                self.store.save(job.run)

        _append(log, f"$ {' '.join(argv)}\n")
        return run_logged(
            argv,
            cwd=cwd,
            env=env,
            log=log,
            deadline=job.deadline,
            cancelled=self._cancel,
            grace=self.settings.grace,
            on_start=started,
        )

    def _skip(self, run: Run, step: StepRecord) -> None:
        with self._lock:
            step.state, step.conclusion = "completed", "skipped"
            self.store.save(run)

    def _complete(self, run: Run, conclusion: str, reason: str) -> None:
        run.state, run.completed_at, run.reason, run.process = "completed", utc_now(), reason, None
        run.conclusion = conclusion  # type: ignore[assignment]
        self.store.save(run)
        safely("run finished", lambda: self.reporter.run_finished(run))


def _append(log: Path, text: str) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as handle:
        handle.write(text)
