"""The single-host deployer: the `host` deploy backend. A deploy switches `current` to an existing
`releases/<id>/`, restarts the server and smoke-tests it with bot.pipeline.health (RusToK's health
contract); a failed deploy or smoke goes back to the previous release by itself and says so. A
rollback is a deploy of an older release directory: nothing is ever rebuilt here.

It reports what the deploy workflow reports (docs/workflows.md, "The Deployment contract"): the same
status words, an `auto_rollback` Deployment of its own for the way back, and the failed Deployment's
final status only once the rollback is over. One deploy per environment at a time: a second one is
refused at once with who holds the environment (`DeployBusy`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bot.domain.records import DeployKind
from bot.host.fsutil import locked, write_atomic
from bot.host.layout import Layout
from bot.host.releases import Pointers, ReleaseDir, Releases
from bot.host.reporting import DeploymentState, DeployReporter, safely
from bot.host.restart import Restarter, RestartError
from bot.host.runs import utc_now
from bot.pipeline.config import EnvironmentConfig, RepositoryPolicy, duration_seconds
from bot.pipeline.contract import DeploymentPayload
from bot.pipeline.git import Git
from bot.pipeline.health import RunResult, run_smoke
from bot.pipeline.release import release_sort_key
from bot.pipeline.version import TEMPLATE_VERSION
from bot.render import render

log = logging.getLogger(__name__)
LOG_URL = "/console/environments/{environment}/log"
DEPLOY_LOG = "deploy.log"


class DeployFailed(Exception):
    """The deploy cannot start (no such release, unknown environment); nothing was changed."""


class DeployBusy(DeployFailed):
    """Another deploy holds the environment."""


class _ServerExited(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


@dataclass(slots=True)
class DeployResult:
    environment: str
    release_id: str
    ok: bool
    stage: str = ""  # "" on success, else "deploy step" or "smoke test"
    problems: list[str] = field(default_factory=list)
    rolled_back_to: str | None = None  # the release running now after an automatic rollback
    rollback_ok: bool | None = None
    deployment_id: str = ""
    rollback_deployment_id: str | None = None


def describe(stage: str, **values: str | None) -> str:
    return render("host/deployment_status.txt.j2", stage=stage, **values).strip()[:140]


class Deployer:
    def __init__(
        self,
        *,
        layout: Layout,
        releases: Releases,
        config: RepositoryPolicy,
        restarter: Callable[[EnvironmentConfig], Restarter],
        reporter: DeployReporter,
        repository: Path | None = None,
        keep_releases: int = 5,
        smoke_interval: float = 0.25,
        tag_mover: Callable[[str, str], None] | None = None,
    ) -> None:
        self.layout, self.releases, self.config = layout, releases, config
        self.restarter, self.reporter = restarter, reporter
        self.repository = repository  # where deploy/<env> is moved back after an automatic rollback
        self.keep_releases = keep_releases
        self.smoke_interval = smoke_interval
        # how deploy/<env> moves back: `git tag -f` in `repository`, or the forge's own ref update (so
        # the forge announces it, single-host mode); (tag, commit)
        self.tag_mover = tag_mover

    # --- entry points ------------------------------------------------------------------------------

    def deploy(
        self,
        environment: str,
        release_id: str,
        *,
        deployment_id: str | None = None,
        requested_by: str = "modbot",
        reason: str = "",
        kind: DeployKind = "deploy",
    ) -> DeployResult:
        """Put `release_id` on `environment`. `deployment_id`: the Deployment the caller created
        (trigger "modbot"); without it one is recorded here."""
        env = self._environment(environment)
        release = self.releases.get(release_id)
        if release is None:
            raise DeployFailed(
                f"there is no releases/{release_id} on this host (never built here, or removed by "
                "retention); a deploy never rebuilds: build the commit again or pick a kept release"
            )
        with self._hold(env, release_id, requested_by):
            before = self.releases.pointers(env.name)
            if deployment_id is None:
                deployment_id = self._create(
                    env, release, kind, requested_by=requested_by, reason=reason, previous=before.current
                )
            return self._deploy(env, release, before, deployment_id, requested_by)

    def rollback(
        self,
        environment: str,
        release_id: str | None = None,
        *,
        requested_by: str = "modbot",
        reason: str = "",
    ) -> DeployResult:
        """Deploy an older kept release (default: the environment's `previous`). Never rebuilds."""
        env = self._environment(environment)
        pointers = self.releases.pointers(env.name)
        target = release_id or pointers.previous
        if target is None:
            raise DeployFailed(f"{environment} has no previous release to roll back to")
        if pointers.current is not None and release_sort_key(target) >= release_sort_key(pointers.current):
            raise DeployFailed(
                f"{target} is not older than {pointers.current}, which {environment} runs: "
                "a rollback only goes back (deploy it instead)"
            )
        return self.deploy(environment, target, requested_by=requested_by, reason=reason, kind="rollback")

    def resume(self, environment: str) -> DeployResult | None:
        """At start-up (after a reboot or a crash): the environment's `current` release running and
        healthy again. A supervised server that is not running is started; then the smoke test. Records
        no Deployment (nothing changed); the result says whether the site is up. None: nothing deployed."""
        env = self._environment(environment)
        current = self.releases.current_dir(env.name)
        if current is None:
            return None
        with self._hold(env, current.release_id, "modbot (start-up)"):
            restarter = self.restarter(env)
            if restarter.running() is False:
                stage, problems = self._restart_and_smoke(env, current, "", "")
            else:  # running, or run by the operator's service: only check it
                self._log(env, f"resume: {current.release_id} runs; smoke testing it")
                stage, problems = self._checked(env, current, restarter)
            return DeployResult(env.name, current.release_id, ok=stage == "", stage=stage, problems=problems)

    # --- the deploy --------------------------------------------------------------------------------

    def _deploy(
        self,
        env: EnvironmentConfig,
        release: ReleaseDir,
        before: Pointers,
        deployment_id: str,
        requested_by: str,
    ) -> DeployResult:
        rel = release.release_id
        result = DeployResult(env.name, rel, ok=False, deployment_id=deployment_id)
        self._status(env, deployment_id, "in_progress", describe("deploying", release=rel))
        self.releases.switch(env.name, rel)
        stage, problems = self._restart_and_smoke(env, release, deployment_id, describe("smoke", release=rel))
        if stage == "":
            self._status(env, deployment_id, "success", describe("success", release=rel))
            result.ok = True
            self._prune()
            return result
        result.stage, result.problems = stage, problems
        previous = before.current
        if previous is None or previous == rel or release_sort_key(previous) > release_sort_key(rel):
            # nothing older to go back to (a first deploy, or this deploy went back from a newer one)
            final = describe(
                "failed_not_rolled_back",
                release=rel,
                failed_stage=stage,
                previous=previous,
                redeploy="skipped",
            )
            self._status(env, deployment_id, "failure", final)
            return result
        self._auto_rollback(env, release, before, deployment_id, requested_by=requested_by, result=result)
        self._prune()
        return result

    def _auto_rollback(
        self,
        env: EnvironmentConfig,
        failed: ReleaseDir,
        before: Pointers,
        deployment_id: str,
        *,
        requested_by: str,
        result: DeployResult,
    ) -> None:
        """The way back, as the deploy workflow goes it: an `auto_rollback` Deployment of the previous
        release, `current` restored, restart, smoke against that release's own modules; the failed
        Deployment's final status last."""
        rel, stage, previous_id = failed.release_id, result.stage, before.current
        assert previous_id is not None
        words = {"release": rel, "previous": previous_id, "failed_stage": stage}
        previous = self.releases.get(previous_id)
        redeploy, previous_smoke, move_back, rollback_id = "failure", "skipped", "skipped", ""
        if previous is not None:
            reason = render("host/automatic_rollback_reason.txt.j2", **words).strip()
            rollback_id = self._create(
                env, previous, "auto_rollback", requested_by=requested_by, reason=reason, previous=rel
            )
            result.rollback_deployment_id = rollback_id
            self._status(env, rollback_id, "in_progress", describe("rollback_deploying", **words))
            self.releases.restore(env.name, before)
            back, _ = self._restart_and_smoke(env, previous, rollback_id, describe("rollback_smoke", **words))
            redeploy = "failure" if back == "deploy step" else "success"
            if redeploy == "success":
                previous_smoke = "success" if back == "" else "failure"
                result.rolled_back_to = previous_id
            result.rollback_ok = back == ""
            if back == "":
                move_back = self._move_tag_back(env, previous)
        if redeploy == "success":
            final = describe(
                "failed_rolled_back", **words, previous_smoke=previous_smoke, move_back=move_back
            )
        else:
            final = describe("failed_not_rolled_back", **words, redeploy=redeploy)
        self._status(env, deployment_id, "failure", final)
        if not rollback_id:
            return
        if previous_smoke == "success":
            self._status(
                env, rollback_id, "success", describe("rollback_success", **words, move_back=move_back)
            )
        elif redeploy == "success":
            self._status(env, rollback_id, "failure", describe("rollback_failed_smoke", **words))
        else:
            self._status(env, rollback_id, "failure", describe("rollback_failed_deploy", **words))

    def _restart_and_smoke(
        self, env: EnvironmentConfig, release: ReleaseDir, deployment_id: str, smoke_status: str
    ) -> tuple[str, list[str]]:
        """("", []) when the server restarted and passed its smoke test, else the failed stage."""
        self._log(env, f"current is {release.release_id}; restarting")
        restarter = self.restarter(env)
        try:
            restarter.restart(release)
        except RestartError as exc:
            self._log(env, f"restart failed: {exc}")
            return "deploy step", [str(exc)]
        self._status(env, deployment_id, "in_progress", smoke_status)
        return self._checked(env, release, restarter)

    def _checked(
        self, env: EnvironmentConfig, release: ReleaseDir, restarter: Restarter
    ) -> tuple[str, list[str]]:
        result = self._smoke(env, release, restarter)
        if isinstance(result, str):
            self._log(env, f"smoke failed: {result}")
            return "smoke test", [result]
        verdict = "passed" if result.report.ok else "failed: " + "; ".join(result.report.problems)
        self._log(env, f"smoke {verdict} after {result.attempts} attempt(s), {result.seconds:.2f}s")
        return ("", []) if result.report.ok else ("smoke test", list(result.report.problems))

    def _smoke(self, env: EnvironmentConfig, release: ReleaseDir, restarter: Restarter) -> RunResult | str:
        def sleep(seconds: float) -> None:
            code = restarter.exited()
            if code is not None:
                raise _ServerExited(code)
            time.sleep(seconds)

        try:
            return run_smoke(
                env.url,
                release.record.modules,
                expected_hash=release.record.manifest_hash,
                token=restarter.token(),
                token_env=env.health_token_env,
                timeout=float(duration_seconds(env.smoke_timeout)),
                interval=self.smoke_interval,
                sleep=sleep,
            )
        except _ServerExited as exited:
            log = self.layout.environment_dir(env.name) / "server.log"
            return f"the server exited with code {exited.code} before it answered (see {log})"

    # --- bookkeeping -------------------------------------------------------------------------------

    def _environment(self, name: str) -> EnvironmentConfig:
        try:
            env = self.config.environment(name)
        except KeyError as exc:
            raise DeployFailed(str(exc.args[0])) from None
        if env.backend != "host":
            raise DeployFailed(f"environment {name} uses the {env.backend} backend, not host")
        return env

    @contextlib.contextmanager
    def _hold(self, env: EnvironmentConfig, release_id: str, requested_by: str) -> Iterator[None]:
        folder = self.layout.environment_dir(env.name)
        holder = folder / "deploying.json"
        with contextlib.ExitStack() as stack:
            # Taking the deploy lock and writing who holds it happen under one short mutex, so a deploy
            # that finds the lock taken reads a note that is complete (never a half-taken lock's).
            with locked(folder / "deploy-note.lock", blocking=True):
                held = stack.enter_context(locked(folder / "deploy.lock", blocking=False))
                if not held:
                    raise DeployBusy(
                        f"{env.name} is being deployed ({_holder(holder)}); try again when it is done"
                    )
                info = {"release_id": release_id, "requested_by": requested_by, "since": utc_now()}
                write_atomic(holder, json.dumps(info).encode(), durable=False)  # a note, not a record
            try:
                yield
            finally:
                holder.unlink(missing_ok=True)

    def _create(
        self,
        env: EnvironmentConfig,
        release: ReleaseDir,
        kind: DeployKind,
        *,
        requested_by: str,
        reason: str,
        previous: str | None,
    ) -> str:
        """A Deployment with the contract's payload. For an automatic rollback `previous` is the failed
        release, which is also what it rolls back; a `/rollback` undoes what the environment ran."""
        payload = DeploymentPayload(
            kind=kind,
            release_id=release.release_id,
            manifest_hash=release.record.manifest_hash,
            image=release.record.image,
            deploy_tag=env.deploy_tag,
            requested_by=requested_by,
            reason=reason,
            previous_release=previous,
            rollback_of=None if kind == "deploy" else previous,
            trigger="modbot",
            modbot_template_version=TEMPLATE_VERSION,
        )
        try:
            return self.reporter.create_deployment(env.name, release.record.git_sha, payload)
        except Exception:  # bookkeeping: the deploy still happens, reported under no id
            log.warning("reporter failed to record the deployment of %s", release.release_id, exc_info=True)
            return ""

    def _status(self, env: EnvironmentConfig, deployment_id: str, state: DeploymentState, text: str) -> None:
        self._log(env, f"[{state}] {text}")
        if deployment_id:
            log_url = LOG_URL.format(environment=env.name)
            safely(
                "deployment status",
                lambda: self.reporter.deployment_status(deployment_id, state, text, log_url=log_url),
            )

    def _log(self, env: EnvironmentConfig, line: str) -> None:
        path = self.layout.environment_dir(env.name) / DEPLOY_LOG
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"{utc_now()} {line}\n")

    def _move_tag_back(self, env: EnvironmentConfig, release: ReleaseDir) -> str:
        """deploy/<env> back to the release that runs again (`rollback-tag`), when the tag moved."""
        if self.repository is None:
            return "skipped"
        try:
            git = Git(self.repository)
            if git.commit_of(f"refs/tags/{env.deploy_tag}") in (None, release.record.git_sha):
                return "skipped"
            if self.tag_mover is not None:
                self.tag_mover(env.deploy_tag, release.record.git_sha)
            else:
                git.force_tag(env.deploy_tag, release.record.git_sha)
        except Exception as exc:  # GitError, or the forge's refusal: the rollback itself stands
            self._log(env, f"could not move {env.deploy_tag} back: {exc}")
            return "failure"
        return "success"

    def _prune(self) -> None:
        removed = self.releases.prune(self.keep_releases)
        if removed:
            self._log_root(f"retention removed {', '.join(removed)}")

    def _log_root(self, line: str) -> None:
        with (self.layout.root / DEPLOY_LOG).open("a", encoding="utf-8") as handle:
            handle.write(f"{utc_now()} {line}\n")


def _holder(path: Path) -> str:
    """Who holds an environment (read under the note's mutex: the holder wrote it before letting go)."""
    try:
        who = json.loads(path.read_text())
        return f"{who['release_id']} by {who['requested_by']} since {who['since']}"
    except (OSError, ValueError, KeyError, TypeError):  # a holder that crashed left no readable note
        return "another deploy"
