"""What starts the local runner and the deployer, as the workflows' triggers start them on GitHub:

- a push to the default branch (a merge, usually) → a build run of that commit (the build workflow's
  `on: push: branches: [main]`: every push; the plan step reuses the release when the build key did not
  change);
- `deploy/<env>` moved (by `modbot pipeline promote` in a run, chat-ops' `/deploy` and `/rollback`, the
  console) → the deploy of the release at that commit (the deploy workflow's `on: push: tags: deploy/*`).
  The Deployment chat-ops created and left `queued` for that environment and commit is the one the
  deploy reports on (the Deployment contract's adoption); without one, the deployer records its own.
  A tag that already names what the environment runs (the automatic rollback moving it back, a replay)
  deploys nothing.
- a Deployment `queued` by chat-ops → the same deploy. Needed because `/deploy` of the commit the tag
  names already (a redeploy) moves nothing, so no tag event comes, and the Deployment would wait, the
  environment locked, until the lock expires. When the tag did move as well, whichever of the two
  comes second finds the Deployment taken and the environment running that commit: nothing happens.

Deploys run on their own thread, one at a time, so the worker keeps taking events meanwhile (the
deployer's own statuses among them).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from bot.forge.events import DeploymentStatusEvent, ForgeEvent, RefPushedEvent
from bot.forge.local import LocalForge
from bot.host.deployer import DeployBusy, DeployFailed
from bot.host.releases import Releases
from bot.host.runner import Runner, RunnerError
from bot.host.runs import Run
from bot.pipeline.config import RepositoryPolicy
from bot.pipeline.release import release_sort_key

log = logging.getLogger(__name__)

DEPLOY_TAGS = "refs/tags/deploy/"


class DeployerFactory(Protocol):
    def __call__(self, policy: RepositoryPolicy) -> Any: ...


class RunRequested(Protocol):
    def requested(self, run: Run, *, branch: str) -> None: ...


class Triggers:
    def __init__(
        self,
        *,
        forge: LocalForge,
        repo: str,
        runner: Runner,
        run_reporter: RunRequested,
        releases: Releases,
        policy: Any,
        deployer_for: DeployerFactory,
    ) -> None:
        self.forge, self.repo, self.runner = forge, repo, runner
        self.run_reporter, self.releases = run_reporter, releases
        self.policy = policy  # () -> RepositoryPolicy of the default branch, read when needed
        self.deployer_for = deployer_for
        self._deploys = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modbot-deploy")

    def close(self) -> None:
        self._deploys.shutdown(wait=True)

    def __call__(self, event: ForgeEvent) -> None:
        if event.repository.full_name.lower() != self.repo.lower():
            return
        if isinstance(event, DeploymentStatusEvent) and event.status.state == "queued":
            self._deploys.submit(self._queued_logged, event.deployment.environment, event.deployment.sha)
            return
        if not isinstance(event, RefPushedEvent) or event.deleted:
            return
        default = event.repository.default_branch or self.forge.default_branch(self.repo)
        if event.ref == f"refs/heads/{default}":
            self.build(event.after, default)
        elif event.ref.startswith(DEPLOY_TAGS):
            self._deploys.submit(self._deploy_logged, event.ref.removeprefix("refs/tags/"), event.after)

    # --- builds ------------------------------------------------------------------------------------

    def build(self, commit: str, branch: str) -> Run | None:
        waiting = [r for r in self.runner.store.all() if r.commit == commit and r.state != "completed"]
        if waiting:
            return None  # already queued or building (a replayed event)
        try:
            run = self.runner.enqueue(commit, branch, requested_by="push")
        except RunnerError as exc:
            log.warning("no build of %s: %s", commit, exc)
            return None
        try:
            self.run_reporter.requested(run, branch=branch)
        except Exception:  # bookkeeping: the build runs all the same
            log.warning("the forge was not told of run %s", run.id, exc_info=True)
        return run

    # --- deploys -----------------------------------------------------------------------------------

    def _deploy_logged(self, tag: str, commit: str) -> None:
        try:
            log.info("%s moved to %s: %s", tag, commit[:12], self.deploy(tag, commit))
        except Exception:
            log.exception("the deploy of %s at %s failed", tag, commit)

    def _queued_logged(self, environment: str, commit: str) -> None:
        try:
            env = next((e for e in self.policy().environments if e.name == environment), None)
            if env is not None:
                log.info("%s queued at %s: %s", environment, commit[:12], self.deploy(env.deploy_tag, commit))
        except Exception:
            log.exception("the queued deploy to %s at %s failed", environment, commit)

    def deploy(self, tag: str, commit: str) -> str:
        """Deploy what `tag` now names; what happened, in words (for the log and tests)."""
        policy: RepositoryPolicy = self.policy()
        env = next((e for e in policy.environments if e.deploy_tag == tag), None)
        if env is None or env.backend != "host":
            return f"ignored: {tag} is not a host environment's deploy tag"
        adopted = self._queued_deployment(env.name, commit)
        release_id = adopted[1] if adopted else self._release_at(commit)
        deployment_id = str(adopted[0]) if adopted else None
        current = self.releases.current_dir(env.name)
        if adopted is None and current is not None and current.record.git_sha == commit:
            return f"ignored: {env.name} runs {current.release_id}, which {tag} names"
        if release_id is None:
            return self._refuse(env.name, deployment_id, f"no release of {commit[:12]} on this host")
        deployer = self.deployer_for(policy)
        try:
            result = deployer.deploy(env.name, release_id, deployment_id=deployment_id, requested_by="modbot")
        except DeployBusy as exc:
            return self._refuse(env.name, deployment_id, str(exc))
        except DeployFailed as exc:
            return self._refuse(env.name, deployment_id, str(exc))
        return f"deployed {release_id} to {env.name}: {'ok' if result.ok else result.stage}"

    def _refuse(self, environment: str, deployment_id: str | None, why: str) -> str:
        log.warning("deploy to %s refused: %s", environment, why)
        if deployment_id is not None:
            self.forge.create_deployment_status(self.repo, int(deployment_id), "error", description=why[:140])
        return f"refused: {why}"

    def _queued_deployment(self, environment: str, commit: str) -> tuple[int, str] | None:
        """The newest Deployment of `commit` to `environment` still waiting for its deploy, and its
        release (chat-ops' /deploy and /rollback create it `queued`, then move the tag)."""
        for deployment in self.forge.list_deployments(
            self.repo, environment=environment, sha=commit, limit=10
        ):
            statuses = self.forge.list_deployment_statuses(self.repo, deployment.id, limit=1)
            release = deployment.payload.get("release_id")
            if isinstance(release, str) and (not statuses or statuses[0].state == "queued"):
                return deployment.id, release
        return None

    def _release_at(self, commit: str) -> str | None:
        """The newest kept release built from `commit`."""
        built = [r for r in self.releases.ids() if (d := self.releases.get(r)) and d.record.git_sha == commit]
        return max(built, key=release_sort_key) if built else None
