"""The git repository on disk, through the git command line: the local forge's system of record.

Why the git CLI (and not pygit2 or dulwich): it is the git every operator already has and trusts; it
does real three-way merges without a working tree (``git merge-tree --write-tree``, git >= 2.38) with
git's own conflict rules, writes annotated tags exactly as ``git tag -a`` does, runs the repository's
hooks on pushes, and its ref updates are atomic compare-and-swap (``update-ref <ref> <new> <old>``
takes the ref's lock file), which is what makes concurrent writers safe. pygit2 needs libgit2 built
to match and has no merge-ort; dulwich is pure Python but its merge support is partial and slow on
big trees. A subprocess costs ~1-3 ms, measured in bench/local_forge_bench.py.

Every command is an argv list (never a shell); untrusted names are checked before they reach git and
objects go in on stdin, so nothing a user typed can become an option. Nothing here needs a working
tree: commits are made with plumbing (``hash-object``, a private index, ``write-tree``,
``commit-tree``) and land with ``update-ref`` against the value read before (compare-and-swap).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "ZERO_SHA",
    "CommitMeta",
    "GitError",
    "GitRepository",
    "Identity",
    "MergeConflict",
    "RefMoved",
]

ZERO_SHA = "0" * 40
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
# What may reach git as a ref or revision: no option-like start, no revision syntax but ``name:path``
# lookups done on stdin (cat-file --batch), never in argv.
_REF_NAME = re.compile(r"^refs/[A-Za-z0-9._/+@-]+$")
_TIMEOUT_SECONDS = 120.0


class GitError(RuntimeError):
    """A git command failed: the command (argv without the repository path) and git's message."""

    def __init__(self, args: Sequence[str], message: str) -> None:
        self.args_ = tuple(args)
        self.message = message.strip()
        super().__init__(f"git {' '.join(args[:2])} failed: {self.message}")


class RefMoved(GitError):
    """A compare-and-swap ref update lost: the ref no longer holds the value read before."""


class MergeConflict(GitError):
    """The merge of two commits conflicts: ``paths`` are the conflicted files."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = tuple(paths)
        super().__init__(["merge-tree"], "conflict in " + ", ".join(self.paths))


@dataclass(frozen=True, slots=True)
class Identity:
    """A git author / committer / tagger."""

    name: str
    email: str

    def env(self, role: str, when: datetime | None = None) -> dict[str, str]:
        stamp = (when or datetime.now(UTC)).astimezone(UTC)
        return {
            f"GIT_{role}_NAME": self.name,
            f"GIT_{role}_EMAIL": self.email,
            f"GIT_{role}_DATE": f"{int(stamp.timestamp())} +0000",
        }


@dataclass(frozen=True, slots=True)
class CommitMeta:
    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    committer_name: str
    committer_email: str


def is_sha(text: str) -> bool:
    return bool(_SHA.fullmatch(text))


def _rev(rev: str) -> str:
    """A revision given to git in argv: never option-like, never revision syntax beyond ``a..b``."""
    if not rev or rev.startswith("-") or any(c.isspace() or c in "\\:^~?*[" for c in rev):
        raise ValueError(f"not a revision: {rev!r}")
    return rev


def _check_ref_name(ref: str) -> str:
    if not _REF_NAME.fullmatch(ref) or ".." in ref or "//" in ref or ref.endswith(("/", ".", ".lock")):
        raise ValueError(f"not a full ref name: {ref!r}")
    return ref


def _clean_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    """The caller's environment without GIT_* (a hook runs with GIT_DIR set, which would win over -C),
    with prompts off; plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env.update(extra or {})
    return env


class GitRepository:
    """One bare repository at ``path``."""

    def __init__(self, path: Path, *, git: str = "git") -> None:
        self.path = path
        self.git = git

    # --- running git ---------------------------------------------------------------------------
    def run(
        self,
        args: Sequence[str],
        *,
        input_bytes: bytes | None = None,
        env: Mapping[str, str] | None = None,
        ok_codes: Sequence[int] = (0,),
    ) -> subprocess.CompletedProcess[bytes]:
        argv = [self.git, "-C", str(self.path), *args]
        try:
            done = subprocess.run(  # noqa: S603 (argv list, no shell; names checked above)
                argv,
                input=input_bytes,
                capture_output=True,
                env=_clean_env(env),
                timeout=_TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise GitError(args, str(exc)) from None
        if done.returncode not in ok_codes:
            raise GitError(args, done.stderr.decode("utf-8", "replace") or f"exit {done.returncode}")
        return done

    def _out(self, args: Sequence[str], **kwargs: object) -> str:
        return self.run(args, **kwargs).stdout.decode("utf-8", "replace").strip()  # type: ignore[arg-type]

    # --- the repository ------------------------------------------------------------------------
    @classmethod
    def init_bare(cls, path: Path, *, default_branch: str = "main", git: str = "git") -> GitRepository:
        """Create a bare repository (or open the one there)."""
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path, git=git)
        if not (path / "HEAD").exists():
            repo.run(["init", "--quiet", "--bare", f"--initial-branch={default_branch}", "."])
        return repo

    def exists(self) -> bool:
        return (self.path / "HEAD").is_file() and (self.path / "objects").is_dir()

    def default_branch(self) -> str:
        head = self._out(["symbolic-ref", "HEAD"])
        return head.removeprefix("refs/heads/")

    def set_default_branch(self, branch: str) -> None:
        self.run(["symbolic-ref", "HEAD", _check_ref_name(f"refs/heads/{branch}")])

    # --- reading -------------------------------------------------------------------------------
    def read_objects(self, names: Sequence[str]) -> list[tuple[str, str, bytes] | None]:
        """``git cat-file --batch``: each name (``<rev>:<path>``, a SHA, a ref) as (sha, type, bytes),
        None when missing. Names go in on stdin, one call for all."""
        if any("\n" in n for n in names):
            raise ValueError("an object name cannot hold a newline")
        out = self.run(["cat-file", "--batch"], input_bytes="".join(f"{n}\n" for n in names).encode()).stdout
        found: list[tuple[str, str, bytes] | None] = []
        pos = 0
        for _ in names:
            end = out.index(b"\n", pos)
            header = out[pos:end].decode("utf-8", "replace").split(" ")
            pos = end + 1
            if len(header) != 3:  # "<name> missing" or "<name> ambiguous"
                found.append(None)
                continue
            size = int(header[2])
            found.append((header[0], header[1], out[pos : pos + size]))
            pos += size + 1
        return found

    def read_file(self, rev: str, path: str) -> bytes | None:
        """The blob at ``path`` in ``rev``; None when there is none; GitError for a directory."""
        (got,) = self.read_objects([f"{rev}:{path}"])
        if got is None:
            return None
        if got[1] != "blob":
            raise GitError(["cat-file"], f"{path} at {rev} is a {got[1]}, not a file")
        return got[2]

    def resolve(self, rev: str) -> str | None:
        """The commit ``rev`` (branch, tag, SHA, full ref) names, peeled; None when it names none."""
        (got,) = self.read_objects([f"{rev}^{{commit}}"])
        return got[0] if got is not None else None

    def ref(self, ref: str) -> tuple[str, str] | None:
        """(sha, object type) the full ref points at, unpeeled; None when it does not exist."""
        _check_ref_name(ref)
        out = self.run(
            ["for-each-ref", "--format=%(objectname) %(objecttype) %(refname)", ref]
        ).stdout.decode()
        for line in out.splitlines():
            sha, kind, name = line.split(" ", 2)
            if name == ref:
                return sha, kind
        return None

    def refs_named(self, names: Sequence[str]) -> dict[str, str]:
        """The SHA each of these full refs points at (the ones that exist), in one call."""
        for name in names:
            _check_ref_name(name)
        out = self.run(["for-each-ref", "--format=%(refname) %(objectname)", *names]).stdout.decode()
        found = dict(line.split(" ", 1) for line in out.splitlines())
        return {name: found[name] for name in names if name in found}

    def refs(self, prefix: str) -> list[tuple[str, str, str]]:
        """(full ref, sha, object type) of every ref under ``prefix`` (``refs/tags/release/``)."""
        out = self.run(
            ["for-each-ref", "--format=%(refname) %(objectname) %(objecttype)", prefix.rstrip("/")]
        ).stdout.decode()
        rows = [tuple(line.split(" ", 2)) for line in out.splitlines()]
        return [(r[0], r[1], r[2]) for r in rows if r[0].startswith(prefix)]

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        done = self.run(["merge-base", "--is-ancestor", _rev(ancestor), _rev(descendant)], ok_codes=(0, 1))
        return done.returncode == 0

    def merge_base(self, one: str, other: str) -> str | None:
        done = self.run(["merge-base", _rev(one), _rev(other)], ok_codes=(0, 1))
        return done.stdout.decode().strip() or None

    def commits_between(self, base: str, head: str) -> list[CommitMeta]:
        """Commits on ``head`` that ``base`` lacks, oldest first."""
        fmt = "%H%x00%P%x00%an%x00%ae%x00%cn%x00%ce"
        out = self._out(["log", "--reverse", f"--format={fmt}", f"{_rev(base)}..{_rev(head)}", "--"])
        metas = []
        for line in out.splitlines():
            sha, parents, an, ae, cn, ce = line.split("\x00")
            metas.append(CommitMeta(sha, tuple(parents.split()), an, ae, cn, ce))
        return metas

    def changed_paths(self, base: str, head: str) -> list[str]:
        """Paths the change from the merge base of ``base`` and ``head`` to ``head`` touches (both
        sides of a rename)."""
        out = self.run(
            ["diff", "--name-status", "-z", "--no-renames", f"{_rev(base)}...{_rev(head)}", "--"]
        ).stdout
        fields = out.decode("utf-8", "replace").split("\x00")
        return [f for i, f in enumerate(fields) if i % 2 == 1 and f]

    def tag_object(self, sha: str) -> tuple[str, str, str, str] | None:
        """(tag name, message, object sha, object type) of an annotated tag object."""
        (got,) = self.read_objects([sha])
        if got is None or got[1] != "tag":
            return None
        head, _, message = got[2].decode("utf-8", "replace").partition("\n\n")
        fields = dict(line.split(" ", 1) for line in head.splitlines() if " " in line)
        return fields.get("tag", ""), message, fields.get("object", ""), fields.get("type", "")

    # --- writing -------------------------------------------------------------------------------
    def update_ref(self, ref: str, new: str, old: str | None, *, message: str = "modbot") -> None:
        """Move ``ref`` to ``new`` only if it still holds ``old`` (None: it must not exist)."""
        _check_ref_name(ref)
        if not is_sha(new) or (old is not None and not is_sha(old)):
            raise ValueError(f"update-ref takes object ids, not {new!r} / {old!r}")
        done = self.run(
            ["update-ref", "-m", message, ref, new, old if old is not None else ZERO_SHA],
            ok_codes=(0, 1, 128),
        )
        if done.returncode != 0:
            raise RefMoved(["update-ref", ref], done.stderr.decode("utf-8", "replace"))

    def delete_ref(self, ref: str, old: str) -> None:
        self.run(["update-ref", "-d", _check_ref_name(ref), old])

    def write_blob(self, content: bytes) -> str:
        return self._out(["hash-object", "-w", "--stdin"], input_bytes=content)

    def tree_with_file(self, parent: str, path: str, content: bytes) -> str:
        """The tree of commit ``parent`` with ``path`` set to ``content`` (mode 100644)."""
        return self.tree_with_files(parent, {path: content})

    def tree_with_files(self, parent: str | None, files: Mapping[str, bytes]) -> str:
        """The tree of commit ``parent`` (None: the empty tree) with each path set to its content (mode
        100644), written through a private index file so nothing shared is touched."""
        if any("\n" in p or "\t" in p for p in files):
            raise ValueError("a path cannot hold a newline or a tab")
        blobs = {path: self.write_blob(content) for path, content in files.items()}
        listing = "".join(f"100644 {sha}\t{path}\n" for path, sha in blobs.items())
        with tempfile.TemporaryDirectory(prefix="modbot-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if parent is not None:
                self.run(["read-tree", f"{_rev(parent)}^{{tree}}"], env=env)
            self.run(["update-index", "--add", "--index-info"], input_bytes=listing.encode(), env=env)
            return self._out(["write-tree"], env=env)

    def commit_tree(
        self,
        tree: str,
        parents: Sequence[str],
        message: str,
        *,
        author: Identity,
        committer: Identity,
        when: datetime | None = None,
    ) -> str:
        if not all(is_sha(s) for s in (tree, *parents)):
            raise ValueError("commit-tree takes object ids")
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        env = {**author.env("AUTHOR", when), **committer.env("COMMITTER", when)}
        return self._out(args, input_bytes=message.encode(), env=env)

    def merge_tree(self, ours: str, theirs: str) -> str:
        """The tree of a real three-way merge of two commits (merge-ort), without a working tree;
        MergeConflict naming the conflicted paths."""
        done = self.run(
            ["merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", _rev(ours), _rev(theirs)],
            ok_codes=(0, 1),
        )
        parts = done.stdout.decode("utf-8", "replace").split("\x00")
        if done.returncode == 1:
            raise MergeConflict(sorted({p for p in parts[1:] if p}))
        return parts[0].strip()

    def make_tag(self, name: str, target: str, message: str, tagger: Identity) -> str:
        """An annotated tag object named ``name`` on commit ``target`` (what ``git tag -a`` writes);
        the ref is not created here."""
        stamp = int(datetime.now(UTC).timestamp())
        text = (
            f"object {target}\ntype commit\ntag {name}\n"
            f"tagger {tagger.name} <{tagger.email}> {stamp} +0000\n\n{message}"
        )
        if not text.endswith("\n"):
            text += "\n"
        return self._out(["mktag"], input_bytes=text.encode())

    def install_hook(self, name: str, script: str) -> Path:
        hook = self.path / "hooks" / name
        hook.parent.mkdir(parents=True, exist_ok=True)
        hook.write_text(script, encoding="utf-8")
        hook.chmod(0o755)
        return hook
