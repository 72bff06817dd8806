"""`SingleHost`: everything single-host mode runs, built once (the composition root of the mode).

The store, the local forge over the repositories in the data folder (permissions = the local accounts'
roles), a `Runtime` whose forge provider is the local forge's and whose observers are the runner's and
deployer's triggers; the local runner reporting to the forge's workflow runs, the deployer reporting to
its Deployments and moving `deploy/<env>` back through the forge (so the forge announces it), and the
supervisor running each environment's server. `start()` catches up with git and recovers the runner and
the environments; `close()` stops what it started, the servers included.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from bot.config import BotSettings
from bot.forge.local import GitRepository, LocalForge, LocalForgeProvider
from bot.forge.local.base import repository_path
from bot.forge.local.hook import (
    RUNNER_TOKEN_ENV,
    SERVE_LOCK_NAME,
    SPOOL_NAME,
    catch_up,
    drain_pushes,
    runner_push_token,
)
from bot.host.deployer import Deployer
from bot.host.layout import Layout
from bot.host.releases import Releases
from bot.host.restart import restarter_for
from bot.host.runner import Runner, RunnerSettings
from bot.host.supervisor import Supervisor
from bot.pipeline.config import EnvironmentConfig, RepositoryPolicy, parse_pipeline_config
from bot.runtime import Runtime
from bot.singlehost.reporters import ForgeDeployReporter, ForgeRunReporter
from bot.singlehost.triggers import Triggers
from bot.store import LocalForgeStore, Store

log = logging.getLogger(__name__)

POLICY = ".github/modbot.toml"
SPOOL_POLL_SECONDS = 0.02  # a stat() of the spool: pushes reach the queue within this


@dataclass(frozen=True, slots=True)
class SingleHostOptions:
    data: Path  # the data folder: repos/, host/ (runs, releases, environments), the store
    repo: str  # owner/name of the managed repository
    web_url: str  # where the console is, for links the forge shows
    keep_releases: int = 5
    offline: bool = True  # cargo from the local registry cache only (CARGO_NET_OFFLINE)
    timeout: float = 90 * 60.0
    cargo_target: Path | None = None  # default: host/cargo-target in the data folder

    @property
    def forge_root(self) -> Path:
        return self.data / "repos"

    @property
    def host_dir(self) -> Path:
        return self.data / "host"


class SingleHost:
    def __init__(self, settings: BotSettings, store: Store, options: SingleHostOptions) -> None:
        self.options = options
        repo = options.repo
        self.repo = repo
        self.forge = LocalForge(
            options.forge_root.resolve(),
            LocalForgeStore(store.engine),
            store.role_of,  # the users aggregate's roles are the forge's permissions
            web_url=options.web_url,
        )
        self.git = GitRepository(repository_path(options.forge_root.resolve(), repo))
        policy = self.policy()
        layout = Layout(options.host_dir)
        self.layout = layout
        self.releases = Releases(layout, binary_name=policy.build.package)
        self.supervisor = Supervisor(layout)
        self.run_reporter = ForgeRunReporter(
            self.forge,
            repo,
            layout.root / "runs",
            web_url=options.web_url,
            releases=self.releases,
            keep=options.keep_releases,
        )
        self.deploy_reporter = ForgeDeployReporter(self.forge, repo, web_url=options.web_url)
        runner_settings = RunnerSettings(
            data_dir=options.host_dir,
            repository=self.git.path,
            offline=options.offline,
            timeout=options.timeout,
            cargo_target=options.cargo_target.resolve() if options.cargo_target else None,
            extra_env={RUNNER_TOKEN_ENV: runner_push_token(self.git)},  # its tag pushes pass pre-receive
        )
        self.runner = Runner(runner_settings, reporter=self.run_reporter, releases=self.releases)
        self.triggers = Triggers(
            forge=self.forge,
            repo=repo,
            runner=self.runner,
            run_reporter=self.run_reporter,
            releases=self.releases,
            policy=self.policy,
            deployer_for=self.deployer,
        )
        self.runtime = Runtime(
            settings,
            store,
            LocalForgeProvider(self.forge),
            observers=[self.triggers],
            host_dir=options.host_dir,
        )
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch_spool, name="modbot-spool", daemon=True)
        self._serve_lock: int | None = None

    def policy(self) -> RepositoryPolicy:
        """The policy on the default branch now (a merged change to it applies to the next deploy)."""
        text = self.git.read_file(self.git.default_branch(), POLICY)
        if text is None:
            raise RuntimeError(f"{self.repo} has no {POLICY} on its default branch")
        return parse_pipeline_config(text.decode("utf-8"), source=POLICY)

    def deployer(self, policy: RepositoryPolicy) -> Deployer:
        def move_tag(tag: str, commit: str) -> None:
            self.forge.update_ref(self.repo, f"tags/{tag}", commit, force=True)  # announced: the forge knows

        def restarter(env: EnvironmentConfig):  # type: ignore[no-untyped-def]
            return restarter_for(self.layout, self.supervisor, env)

        return Deployer(
            layout=self.layout,
            releases=self.releases,
            config=policy,
            restarter=restarter,
            reporter=self.deploy_reporter,
            repository=self.git.path,
            keep_releases=self.options.keep_releases,
            tag_mover=move_tag,
        )

    def start(self) -> list[str]:
        """Catch up with git (pushes spooled while modbot was down, change requests moved unheard),
        recover the runner (a build a crash interrupted fails cleanly), bring each environment's current
        release back up. Returns what it says about each environment."""
        self._hold_serve_lock()
        caught = catch_up(self.forge, self.repo)
        if caught:
            log.info("caught up %d ref update(s) and change request(s)", caught)
        self.runner.start()
        self._watcher.start()
        said = []
        policy = self.policy()
        deployer = self.deployer(policy)
        for env in policy.environments:
            if env.backend != "host":
                continue
            result = deployer.resume(env.name)
            if result is None:
                said.append(f"{env.name}: nothing deployed yet ({env.url})")
            elif result.ok:
                said.append(f"{env.name}: {result.release_id} runs at {env.url}")
            else:
                said.append(f"{env.name}: {result.release_id} is not healthy ({'; '.join(result.problems)})")
        return said

    def baseline(self) -> threading.Thread:
        """The first start of a seeded repository: build its default branch and put that release on every
        host environment, so the site runs before anyone changes anything (and `/rollback production`
        after the first change has somewhere to go back to). Staging gets it the usual way (the run's
        promote step); the others are deployed here once the build is done, by "modbot (first start)".
        In the background: the console is up meanwhile."""

        def work() -> None:
            head = self.git.resolve(f"refs/heads/{self.git.default_branch()}")
            run = self.triggers.build(head, self.git.default_branch()) if head else None
            if run is None:
                return
            done = self.runner.wait(run.id, self.options.timeout)
            release = done.release_id or done.reused_release
            if done.conclusion != "success" or release is None:
                log.warning("the first build did not make a release (%s): nothing deployed", done.reason)
                return
            policy = self.policy()
            deployer = self.deployer(policy)
            for env in policy.environments:
                if (
                    env.backend == "host"
                    and not env.auto_deploy
                    and self.releases.pointers(env.name).current is None
                ):
                    result = deployer.deploy(env.name, release, requested_by="modbot (first start)")
                    log.info(
                        "first start: %s on %s: %s", release, env.name, "ok" if result.ok else result.stage
                    )

        thread = threading.Thread(target=work, name="modbot-baseline", daemon=True)
        thread.start()
        return thread

    # --- pushes: the running modbot takes the post-receive spool itself ---------------------------

    def _hold_serve_lock(self) -> None:
        """Tell the post-receive hook a modbot runs here (it then only spools: starting a second modbot
        process per push cost about a second, twice per build, for the release and deploy tags)."""
        descriptor = os.open(self.git.path / SERVE_LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            raise RuntimeError(f"another modbot serves {self.repo} ({SERVE_LOCK_NAME} is held)") from None
        self._serve_lock = descriptor

    def _watch_spool(self) -> None:
        spool = self.git.path / SPOOL_NAME
        while not self._stopping.wait(SPOOL_POLL_SECONDS):
            try:
                if spool.exists() and spool.stat().st_size > 0 and drain_pushes(self.forge, self.repo):
                    self.runtime.wake.set()  # the worker takes the events now, not at its next poll
            except Exception:  # the spool stays whole; the next round (or the next start) takes it
                log.warning("could not take the spooled pushes of %s", self.repo, exc_info=True)

    def close(self) -> None:
        self._stopping.set()
        if self._watcher.is_alive():
            self._watcher.join()
        if self._serve_lock is not None:
            os.close(self._serve_lock)  # the kernel drops the lock; a crash drops it too
            self._serve_lock = None
        self.triggers.close()
        self.runner.close()
        self.supervisor.stop_all()
