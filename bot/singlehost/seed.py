"""The first start of single-host mode: a managed repository made from an example workspace (by default
examples/rustok-mini), its environments on this host (the `host` deploy backend, staging and production
on their own ports), and a first admin account whose password is printed once and stored hashed."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bot.forge.local import GitRepository
from bot.forge.local.hook import install_post_receive, install_pre_receive
from bot.store import Store

ADMIN = "admin"
POLICY = ".github/modbot.toml"
_IDENTITY = {
    "GIT_AUTHOR_NAME": "modbot", "GIT_AUTHOR_EMAIL": "modbot@users.modbot.local",
    "GIT_COMMITTER_NAME": "modbot", "GIT_COMMITTER_EMAIL": "modbot@users.modbot.local",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Ports:
    staging: int
    production: int


def host_policy(text: str, ports: Ports) -> str:
    """The example's policy with its environments replaced by two on this host: staging follows every
    release (auto_deploy), production is deployed by `/deploy production`."""
    start = text.index("[[environments]]")
    end = text.index("[workflows]")
    envs = "".join(
        f'[[environments]]\nname = "{name}"\nurl = "http://127.0.0.1:{port}"\n'
        f"auto_deploy = {'true' if name == 'staging' else 'false'}\n"
        f'smoke_timeout = "30s"\nbackend = "host"\nhost = {{ port = {port}, stop_timeout = "5s" }}\n\n'
        for name, port in (("staging", ports.staging), ("production", ports.production))
    )
    return text[:start] + envs + text[end:]


def _git(cwd: Path, *args: str) -> None:
    argv = ["git", *args]  # the git on PATH, as the local forge's git layer uses; never a shell
    env = {**os.environ, **_IDENTITY}
    subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True, text=True)  # noqa: S603


def seed_repository(path: Path, example: Path, ports: Ports, *, hook_command: list[str]) -> bool:
    """Create the bare repository at `path` from `example`, unless it exists (then False: state is kept
    across restarts). The first commit is pushed before the hooks are installed, so it builds nothing
    until the first change is merged."""
    if (path / "HEAD").exists():
        return False
    with tempfile.TemporaryDirectory(prefix="modbot-seed-") as tmp:
        work = Path(tmp) / "work"
        shutil.copytree(example, work, ignore=shutil.ignore_patterns("target", ".git"))
        policy = work / POLICY
        policy.write_text(host_policy(policy.read_text(encoding="utf-8"), ports), encoding="utf-8")
        _git(work, "init", "--quiet", "--initial-branch=main")
        _git(work, "add", "-A")
        _git(work, "commit", "--quiet", "-m", f"{example.name}, managed by modbot on this host")
        staging = path.with_name(path.name + ".seeding")
        shutil.rmtree(staging, ignore_errors=True)
        git = GitRepository.init_bare(staging, default_branch="main")
        _git(work, "push", "--quiet", str(staging), "main")
        install_post_receive(git, hook_command)
        install_pre_receive(git)
        staging.rename(path)  # a half-made repository is never taken for a seeded one
    return True


def hook_command(root: Path, repo: str, database_url: str) -> list[str]:
    """What the post-receive hook runs (`modbot local hook post-receive`), by argv."""
    return [sys.executable, "-m", "bot", "local", "hook", "post-receive", repo, "--root", str(root),
            "--database", database_url]  # fmt: skip


def seed_admin(store: Store) -> str | None:
    """The first account, `admin`, with a generated password (returned once; only its hash is kept).
    None when any account exists already."""
    if store.list_users():
        return None
    password = secrets.token_urlsafe(15)
    store.add_user(ADMIN, password, "admin", actor="modbot (first start)")
    return password


_PORT = re.compile(r"^[0-9]{1,5}$")


def port_from(value: str, name: str) -> int:
    if not _PORT.match(value) or not 0 < int(value) < 65536:
        raise ValueError(f"{name} must be a port number (1-65535), not {value!r}")
    return int(value)


def console_secret(data: Path) -> str:
    """The console's session signing key, kept in the data folder (created once, mode 0600), so a person
    signed in stays signed in when `make run` is started again. A key set in the environment
    (MODBOT_CONSOLE_SECRET) wins; the file is never logged."""
    path = data / "console-secret"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="ascii").strip()
        if len(key) >= 32:
            return key
        raise ValueError(f"{path} holds no usable key: delete it and start again") from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        key = secrets.token_urlsafe(32)
        handle.write(key + "\n")
    return key
