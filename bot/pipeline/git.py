"""git, run as argv lists (never a shell): release tags, deploy tags, tree ids for the build key."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.pipeline.release import RELEASE_TAG_PREFIX, ReleaseError, ReleaseTag, parse_record

GIT_TIMEOUT = 120.0
_NO_COMMIT = frozenset({"0" * 40, "0" * 64})


class GitError(Exception):
    """git failed or is missing; the message says which command and why (never a traceback)."""


@dataclass(frozen=True, slots=True)
class Git:
    """git in one working folder (`-C` is not used: the folder is the subprocess cwd)."""

    cwd: Path

    def run(self, args: Sequence[str], *, input_text: str | None = None, check: bool = True) -> str:
        argv = ["git", *args]
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
        try:
            done = subprocess.run(  # noqa: S603 - argv list, no shell
                argv,
                cwd=self.cwd,
                input=input_text,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=env,
                timeout=GIT_TIMEOUT,
                check=False,
            )
        except FileNotFoundError:
            raise GitError("git is not installed (or not on PATH)") from None
        except subprocess.TimeoutExpired:
            raise GitError(f"git {args[0]} did not finish in {GIT_TIMEOUT:.0f}s") from None
        if check and done.returncode != 0:
            detail = done.stderr.strip().splitlines()
            reason = detail[-1] if detail else f"exit code {done.returncode}"
            raise GitError(f"git {' '.join(args[:2])} failed: {reason}")
        return done.stdout

    # --- reading ------------------------------------------------------------------------------

    def commit_of(self, ref: str) -> str | None:
        """The commit `ref` (a name or a SHA) points at, peeled through tags; None if there is none."""
        if ref in _NO_COMMIT:
            return None
        out = self.run(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"], check=False
        )
        sha = out.strip()
        return sha or None

    def tag_exists(self, tag: str) -> bool:
        out = self.run(["rev-parse", "--verify", "--quiet", f"refs/tags/{tag}"], check=False)
        return bool(out.strip())

    def release_tags(self, release_id: str | None = None) -> list[ReleaseTag]:
        """Every `release/*` tag (or just `release/<release_id>`) with its parsed message."""
        pattern = f"refs/tags/{RELEASE_TAG_PREFIX}{release_id or ''}"
        fmt = "%(refname)%00%(objecttype)%00%(*objectname)%00%(objectname)%00%(contents)%00"
        out = self.run(["for-each-ref", f"--format={fmt}", pattern])
        fields = out.split("\0")
        tags: list[ReleaseTag] = []
        for i in range(0, len(fields) - 4, 5):
            refname, objtype, peeled, objname, contents = fields[i : i + 5]
            tag = refname.lstrip("\n").removeprefix("refs/tags/")
            if release_id is not None and tag != RELEASE_TAG_PREFIX + release_id:
                continue  # for-each-ref patterns match prefixes by path component only; be exact
            if objtype != "tag":
                problem = f"{tag} is a lightweight tag, not an annotated modbot release"
                tags.append(ReleaseTag(tag, objname, None, problem))
                continue
            try:
                tags.append(ReleaseTag(tag, peeled, parse_record(contents, tag=tag)))
            except ReleaseError as exc:
                tags.append(ReleaseTag(tag, peeled, None, str(exc)))
        return tags

    def tree_id(self, path: str, *, rev: str = "HEAD") -> str:
        """The git object id of `path` (relative to cwd) at `rev`: a tree for a folder, a blob for a file."""
        spec = f"{rev}:./" if path in (".", "") else f"{rev}:./{path}"
        out = self.run(["rev-parse", "--verify", "--quiet", "--end-of-options", spec], check=False).strip()
        if not out:
            raise GitError(f"{path} is not committed at {rev} (build.key_paths names it)")
        return out

    def dirty(self, paths: Sequence[str]) -> list[str]:
        """Uncommitted changes under `paths` (porcelain lines)."""
        out = self.run(["status", "--porcelain", "--untracked-files=no", "--", *paths])
        return [line for line in out.splitlines() if line.strip()]

    # --- writing ------------------------------------------------------------------------------

    def _identity_env(self) -> dict[str, str]:
        """A committer identity for tags when the runner has none configured."""
        if self.run(["config", "user.email"], check=False).strip():
            return {}
        return {
            "GIT_COMMITTER_NAME": "modbot",
            "GIT_COMMITTER_EMAIL": "modbot@users.noreply.github.com",
        }

    def create_annotated_tag(self, tag: str, commit: str, message: str) -> None:
        env_extra = self._identity_env()
        args = ["tag", "--annotate", "--cleanup=verbatim", "--file=-", "--no-sign", tag, commit]
        if env_extra:
            args = ["-c", f"user.name={env_extra['GIT_COMMITTER_NAME']}",
                    "-c", f"user.email={env_extra['GIT_COMMITTER_EMAIL']}", *args]  # fmt: skip
        self.run(args, input_text=message)

    def delete_tag(self, tag: str) -> None:
        self.run(["tag", "--delete", tag], check=False)

    def force_tag(self, tag: str, commit: str) -> str | None:
        """Point the lightweight tag `tag` at `commit`; returns the commit it pointed at before."""
        before = self.commit_of(f"refs/tags/{tag}")
        self.run(["tag", "--force", "--no-sign", tag, commit])
        return before

    def push(self, remote: str, refspec: str) -> None:
        self.run(["push", "--porcelain", remote, refspec])

    def toplevel(self) -> Path | None:
        out = self.run(["rev-parse", "--show-toplevel"], check=False).strip()
        return Path(out) if out else None
