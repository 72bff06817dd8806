"""Where single-host mode keeps things: one data folder (docs/single-host.md, "The data folder").

<data>/
  runs/<run id>/run.json            the run record (queued, in_progress, completed), one file
  runs/<run id>/logs/<NN>-<step>.log one log per step, streamed while it runs
  runs/<run id>/events.jsonl        what the file reporter recorded
  work/<run id>/                    the checkout a run builds in (removed when it ends)
  cargo-target/                     one CARGO_TARGET_DIR for every build: incremental builds
  releases/<id>/                    the binary and release.json (complete, or absent)
  releases/.staging-<id>/           a release being written (finished or removed on restart)
  environments/<env>/current        symlink to ../../releases/<id>: what the environment runs
  environments/<env>/previous       symlink: what it ran before (the rollback target)
  environments/<env>/server.log     the supervised server's output
  environments/<env>/server.pid     the supervised server's pid and start time
  environments/<env>/health-token   the bearer token modbot gave that server (0600)
  runner.lock                       held by the one runner of this data folder
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bot.domain.ids import ENVIRONMENT_NAME_PATTERN, RELEASE_ID_PATTERN

_ENV_RE = re.compile(ENVIRONMENT_NAME_PATTERN)
_RELEASE_RE = re.compile(RELEASE_ID_PATTERN)
_RUN_ID_RE = re.compile(r"[1-9][0-9]{0,11}")


class LayoutError(ValueError):
    """A name that cannot be a path component of the data folder (never joined unchecked)."""


def checked_environment(name: str) -> str:
    if not _ENV_RE.fullmatch(name):
        raise LayoutError(f"{name!r} is not an environment name")
    return name


def checked_release(release_id: str) -> str:
    if not _RELEASE_RE.fullmatch(release_id):
        raise LayoutError(f"{release_id!r} is not a release id (rel_YYYY_MM_DD_NNN)")
    return release_id


def checked_run(run_id: str) -> str:
    if not _RUN_ID_RE.fullmatch(run_id):
        raise LayoutError(f"{run_id!r} is not a run id")
    return run_id


@dataclass(frozen=True, slots=True)
class Layout:
    root: Path

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    def run_dir(self, run_id: str) -> Path:
        return self.runs / checked_run(run_id)

    @property
    def checkout(self) -> Path:
        return self.root / "checkout"

    @property
    def cargo_target(self) -> Path:
        return self.root / "cargo-target"

    @property
    def releases(self) -> Path:
        return self.root / "releases"

    def release_dir(self, release_id: str) -> Path:
        return self.releases / checked_release(release_id)

    def staging_dir(self, release_id: str) -> Path:
        return self.releases / f".staging-{checked_release(release_id)}"

    def environment_dir(self, environment: str) -> Path:
        return self.root / "environments" / checked_environment(environment)

    @property
    def runner_lock(self) -> Path:
        return self.root / "runner.lock"
