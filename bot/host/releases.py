"""Releases as directories (the Capistrano layout): `releases/<id>/` holds the server binary and
`release.json` (the `release/<id>` tag's record); `environments/<env>/current` is a symlink to the
release an environment runs and `previous` to the one it ran before (the rollback target).

- A release is written under `releases/.staging-<id>/`, and renamed to `releases/<id>/` only once
  the binary and its record are both on disk and fsynced: a release directory is complete or absent.
- `current` and `previous` are switched by a new symlink under a temporary name + os.replace.
- `prune` keeps the newest N releases and never one an environment runs or its predecessor.
- Switching and pruning hold `releases/.lock`, so a prune never removes what a deploy just chose.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.host.fsutil import fsync_dir, locked, symlink_atomic, write_atomic
from bot.host.layout import Layout, checked_environment, checked_release
from bot.pipeline.release import (
    RELEASE_TAG_PREFIX,
    ReleaseError,
    ReleaseRecord,
    parse_record,
    release_sort_key,
)

RECORD_FILE = "release.json"
STAGING_PREFIX = ".staging-"
DELETING_PREFIX = ".deleting-"
_CHUNK = 1 << 20


class ReleasesError(Exception):
    """A release directory cannot be written, read or switched to; the message says why."""


def file_digest(path: Path) -> str:
    """`sha256:<hex>` of a file: a release's `image_digest` in single-host mode (the binary is the
    artifact, so its digest identifies the release the way an image digest does)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


@dataclass(frozen=True, slots=True)
class ReleaseDir:
    release_id: str
    path: Path
    binary: Path
    record: ReleaseRecord


@dataclass(frozen=True, slots=True)
class Pointers:
    """What an environment's `current` and `previous` pointed at (None: no link)."""

    current: str | None
    previous: str | None


class Releases:
    def __init__(self, layout: Layout, *, binary_name: str) -> None:
        if not binary_name or "/" in binary_name or binary_name.startswith("."):
            raise ReleasesError(f"{binary_name!r} cannot be a binary file name")
        self.layout = layout
        self.binary_name = binary_name

    # --- writing a release -----------------------------------------------------------------------

    def stage(self, release_id: str, binary: Path) -> str:
        """Copy the built binary into the release's staging folder; its digest (sha256:...)."""
        staging = self.layout.staging_dir(release_id)
        if self.layout.release_dir(release_id).exists():
            raise ReleasesError(f"releases/{release_id} exists already; a release is never rewritten")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        target = staging / self.binary_name
        shutil.copyfile(binary, target)
        os.chmod(target, 0o755)  # noqa: S103 - an executable the server runs as
        with target.open("rb") as handle:
            os.fsync(handle.fileno())
        return file_digest(target)

    def finalize(self, record: ReleaseRecord) -> ReleaseDir:
        """Write the record next to the staged binary and rename the folder into place. Refuses a
        record whose image_digest is not the staged binary's (it would describe another build)."""
        staging = self.layout.staging_dir(record.release_id)
        binary = staging / self.binary_name
        if not binary.is_file():
            raise ReleasesError(f"release {record.release_id} has no staged binary to finalize")
        digest = file_digest(binary)
        if digest != record.image_digest:
            raise ReleasesError(
                f"release {record.release_id} records {record.image_digest}, "
                f"but the staged binary is {digest}"
            )
        write_atomic(staging / RECORD_FILE, record.to_message().encode("utf-8"))
        final = self.layout.release_dir(record.release_id)
        os.rename(staging, final)  # fails (not replaces) if a non-empty folder is there
        fsync_dir(final.parent)
        return self._read(record.release_id, final)

    def discard_staging(self, release_id: str) -> None:
        shutil.rmtree(self.layout.staging_dir(release_id), ignore_errors=True)

    def recover(self, tag_record: Callable[[str], ReleaseRecord | None]) -> tuple[list[str], list[str]]:
        """After a crash: a staged release whose tag exists (and names the staged binary's digest) is
        finished; any other staging folder is removed. Returns (finished, removed)."""
        finished: list[str] = []
        removed: list[str] = []
        if not self.layout.releases.is_dir():
            return finished, removed
        for entry in sorted(self.layout.releases.iterdir()):
            if entry.name.startswith(DELETING_PREFIX):  # a prune that was interrupted
                shutil.rmtree(entry, ignore_errors=True)
                continue
            if not entry.name.startswith(STAGING_PREFIX):
                continue
            release_id = entry.name.removeprefix(STAGING_PREFIX)
            try:
                record = tag_record(checked_release(release_id))
            except ValueError:
                record = None
            if record is None:  # never tagged: nothing refers to it
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(release_id)
                continue
            try:
                self.finalize(record)
            except (ReleasesError, OSError):
                continue  # a tag names it: keep the binary for the next attempt, never delete it
            finished.append(release_id)
        return finished, removed

    # --- reading ---------------------------------------------------------------------------------

    def get(self, release_id: str) -> ReleaseDir | None:
        """The complete release directory, or None when there is none."""
        path = self.layout.release_dir(release_id)
        if not (path / RECORD_FILE).is_file():
            return None
        return self._read(release_id, path)

    def _read(self, release_id: str, path: Path) -> ReleaseDir:
        tag = RELEASE_TAG_PREFIX + release_id
        try:
            record = parse_record((path / RECORD_FILE).read_text(encoding="utf-8"), tag=tag)
        except (OSError, UnicodeDecodeError, ReleaseError) as exc:
            raise ReleasesError(f"releases/{release_id}/{RECORD_FILE} cannot be read: {exc}") from None
        return ReleaseDir(release_id, path, path / self.binary_name, record)

    def ids(self) -> list[str]:
        """Complete releases, oldest first."""
        if not self.layout.releases.is_dir():
            return []
        found = []
        for entry in self.layout.releases.iterdir():
            if entry.name.startswith("."):
                continue
            try:
                checked_release(entry.name)
            except ValueError:
                continue
            if (entry / RECORD_FILE).is_file():
                found.append(entry.name)
        return sorted(found, key=release_sort_key)

    # --- environments ----------------------------------------------------------------------------

    def pointers(self, environment: str) -> Pointers:
        folder = self.layout.environment_dir(environment)
        return Pointers(self._link(folder / "current"), self._link(folder / "previous"))

    def _link(self, link: Path) -> str | None:
        try:
            target = os.readlink(link)
        except FileNotFoundError:
            return None
        name = Path(target).name
        try:
            return checked_release(name)
        except ValueError:
            raise ReleasesError(f"{link} points at {target!r}, which is not a release folder") from None

    def current_dir(self, environment: str) -> ReleaseDir | None:
        current = self.pointers(environment).current
        return self.get(current) if current else None

    def switch(self, environment: str, release_id: str) -> Pointers:
        """Make `release_id` the environment's current release (what it ran before becomes
        `previous`); returns the pointers as they were, for `restore`."""
        checked_environment(environment)
        if self.get(release_id) is None:
            raise ReleasesError(f"there is no complete releases/{release_id} to switch {environment} to")
        with locked(self._lock):
            before = self.pointers(environment)
            if before.current != release_id:
                if before.current is not None:
                    self._point(environment, "previous", before.current)
                self._point(environment, "current", release_id)
            return before

    def restore(self, environment: str, before: Pointers) -> None:
        """Put `current` and `previous` back as `switch` found them."""
        with locked(self._lock):
            for name, release_id in (("current", before.current), ("previous", before.previous)):
                if release_id is None:
                    (self.layout.environment_dir(environment) / name).unlink(missing_ok=True)
                else:
                    self._point(environment, name, release_id)

    def _point(self, environment: str, name: str, release_id: str) -> None:
        link = self.layout.environment_dir(environment) / name
        symlink_atomic(link, f"../../releases/{checked_release(release_id)}")

    @property
    def _lock(self) -> Path:
        return self.layout.releases / ".lock"

    # --- retention -------------------------------------------------------------------------------

    def environments(self) -> list[str]:
        folder = self.layout.root / "environments"
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))

    def prune(self, keep: int) -> list[str]:
        """Remove all but the newest `keep` releases, except any environment's current or previous
        release (every environment folder on disk counts). Returns the removed ids, oldest first."""
        if keep < 1:
            raise ReleasesError("keep at least one release")
        with locked(self._lock):
            ids = self.ids()
            protected = set(ids[-keep:])
            for environment in self.environments():
                pointers = self.pointers(environment)
                protected |= {r for r in (pointers.current, pointers.previous) if r is not None}
            removed = [r for r in ids if r not in protected]
            for release_id in removed:
                path = self.layout.release_dir(release_id)
                # rename first, so a crash mid-delete never leaves a half release under its id
                doomed = path.with_name(DELETING_PREFIX + release_id)
                os.rename(path, doomed)
                shutil.rmtree(doomed, ignore_errors=True)
            return removed
