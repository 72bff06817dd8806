"""``git push`` to a local repository, as events: the post-receive hook modbot installs, and what
modbot does with the ref updates it spools.

The hook (templates/local/post-receive.py.j2) appends git's ref-update lines to a spool file in the
repository, under a lock, then runs ``modbot local hook post-receive``; the push never fails because
of modbot (git has accepted it already). `drain_pushes` takes the spool under the same lock, turns
each update into events (``ref_pushed``; ``ref_created`` for a new branch or tag; ``change_request``
``synchronize`` for an open change request whose head moved) and empties the spool only after all were
recorded. Replaying a spool is harmless: a push event's delivery id is derived from the update itself,
so the queue keeps one per update, and a change request whose head is already recorded is not updated
again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from bot.forge.local.forge import LocalForge
from bot.forge.local.git import GitRepository, is_sha
from bot.render import render

__all__ = [
    "PROTECTED_REFS",
    "RUNNER_TOKEN_ENV",
    "SERVE_LOCK_NAME",
    "SPOOL_NAME",
    "RefUpdate",
    "catch_up",
    "drain_pushes",
    "install_post_receive",
    "install_pre_receive",
    "parse_updates",
    "runner_push_token",
]

SPOOL_NAME = "modbot-pushes.spool"
# Refs only modbot writes (with update-ref, which runs no hook): release records the pipeline trusts,
# deploy markers, and the change requests' fetched heads.
PROTECTED_REFS = ("refs/tags/release/*", "refs/tags/deploy/*", "refs/pull/*")


@dataclass(frozen=True, slots=True)
class RefUpdate:
    old: str
    new: str
    ref: str

    @property
    def delivery_id(self) -> str:
        digest = hashlib.sha256(f"{self.old} {self.new} {self.ref}".encode()).hexdigest()[:40]
        return f"local-push-{digest}"


def parse_updates(text: str) -> list[RefUpdate]:
    """git's post-receive lines (``<old> <new> <ref>``); lines that are not one are skipped."""
    updates = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and is_sha(parts[0]) and is_sha(parts[1]) and parts[2].startswith("refs/"):
            updates.append(RefUpdate(*parts))
    return updates


def install_post_receive(git: GitRepository, command: list[str]) -> Path:
    """Write the hook that runs ``command`` (an argv list: no shell ever parses it) after each push."""
    script = render("local/post-receive.py.j2", python=sys.executable, command=repr(json.dumps(command)))
    return git.install_hook("post-receive", script)


def install_pre_receive(git: GitRepository, *, protect_default_branch: bool = True) -> Path:
    """Write the hook that refuses pushes to `PROTECTED_REFS` and, unless told otherwise, updates or
    deletions of the default branch (it changes through reviewed change requests)."""
    script = render(
        "local/pre-receive.py.j2",
        python=sys.executable,
        protected=repr(json.dumps(list(PROTECTED_REFS))),
        protect_default_branch=repr(json.dumps(protect_default_branch)),
    )
    return git.install_hook("pre-receive", script)


SERVE_LOCK_NAME = "modbot-serve.lock"  # held by a running `modbot local serve` (the post-receive hook asks)
RUNNER_TOKEN_NAME = "modbot-runner.token"  # noqa: S105 - a file name
RUNNER_TOKEN_ENV = "MODBOT_RUNNER_PUSH_TOKEN"  # noqa: S105 - a variable name


def runner_push_token(git: GitRepository) -> str:
    """The token the pre-receive hook takes from modbot's local runner (made once, mode 0600): its
    pushes of release and deploy tags are the build workflow's, which only modbot may make."""
    path = git.path / RUNNER_TOKEN_NAME
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    token = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token


def _events_of(forge: LocalForge, repo: str, update: RefUpdate) -> None:
    forge.pushed(repo, update.ref, update.old, update.new, delivery_id=update.delivery_id)


def drain_pushes(forge: LocalForge, repo: str) -> int:
    """Turn every spooled update of ``repo`` into events; returns how many. The spool is emptied only
    when all were recorded (an exception leaves it whole for the next drain)."""
    spool_path = forge.repository_path(repo) / SPOOL_NAME
    if not spool_path.exists():
        return 0
    with spool_path.open("r+b") as spool:
        fcntl.flock(spool, fcntl.LOCK_EX)
        updates = parse_updates(spool.read().decode("utf-8", "replace"))
        for update in updates:
            _events_of(forge, repo, update)
        spool.seek(0)
        spool.truncate()
    return len(updates)


def catch_up(forge: LocalForge, repo: str) -> int:
    """What modbot does when it starts (or when asked): take the spooled pushes, then settle the open
    change requests with git (`LocalForge.settle`: heads that moved unheard, merges whose record a crash
    lost). Returns how many ref updates and change requests it caught up."""
    return drain_pushes(forge, repo) + forge.settle(repo)
