"""A `LocalForge` on real git in a temporary directory, with its records in a real SQLite store: what
the contract suite and the local forge's own tests seed and drive."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.engine import URL

from bot.forge import Annotation, Forge, PullRequest
from bot.forge.events import ForgeEvent, event_from_json
from bot.forge.local import GitRepository, LocalForge
from bot.forge.values import Permission
from bot.store import LocalForgeStore, make_engine, upgrade_to_head
from bot.store.models import DELIVERIES


class Events:
    """The events the forge queued (the deliveries table, oldest first), read back as the worker does."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _rows(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(DELIVERIES).order_by(DELIVERIES.c.id)))

    @property
    def events(self) -> list[ForgeEvent]:
        return [event_from_json(row.payload) for row in self._rows()]

    @property
    def delivery_ids(self) -> list[str]:
        return [row.delivery_id for row in self._rows()]

    def kinds(self) -> list[tuple[str, str]]:
        """(kind, action) of each event; "" for kinds that have no action."""
        return [(e.kind, getattr(e, "action", "")) for e in self.events]


class LocalWorld:
    """One local forge hosting ``repo`` with a first commit on ``main`` by alice."""

    def __init__(
        self, tmp_path: Path, repo: str, *, bot_login: str = "modbot", store_url: str | URL | None = None
    ) -> None:
        engine = make_engine(store_url or f"sqlite:///{tmp_path / 'store.sqlite3'}")
        upgrade_to_head(engine)
        self.records = LocalForgeStore(engine)
        self.roles: dict[str, Permission] = {"alice": "write", "bob": "write", "carol": "read"}
        self.events = Events(engine)
        self.local = LocalForge(tmp_path / "repos", self.records, self.roles.get, bot_login=bot_login)
        self.repo = repo
        self.git = self.local.create_repository(repo)
        self.commit("main", {"README.md": b"hello\n"}, author="alice")

    def git_of(self, repo: str) -> GitRepository:
        return GitRepository(self.local.repository_path(repo))

    def fork(self, repo: str) -> GitRepository:
        """Another repository hosted here whose main is this one's (a fork)."""
        fork = self.local.create_repository(repo)
        fork.run(["fetch", "--quiet", str(self.git.path), "refs/heads/main:refs/heads/main"])
        return fork

    def commit(
        self,
        branch: str,
        files: Mapping[str, bytes],
        *,
        author: str = "alice",
        repo: str | None = None,
        start: str = "main",
    ) -> str:
        """A commit by ``author`` (as plain git would make it) on ``branch`` (made from ``start`` if
        new), moved with compare-and-swap."""
        git = self.git_of(repo or self.repo)
        current = git.ref(f"refs/heads/{branch}")
        parent = current[0] if current else (git.resolve(start) if branch != start else None)
        tree = git.tree_with_files(parent, files)
        who = self.local.identity(author)
        sha = git.commit_tree(
            tree, [parent] if parent else [], f"change by {author}\n", author=who, committer=who
        )
        git.update_ref(f"refs/heads/{branch}", sha, current[0] if current else None)
        return sha


class LocalBackend:
    """The contract suite's backend for `LocalForge` (tests/contract/test_forge_contract.py)."""

    def __init__(self, tmp_path: Path, repo: str, bot: str) -> None:
        self.world = LocalWorld(tmp_path, repo, bot_login=bot)
        self.local = self.world.local
        self.forge: Forge = self.local
        self.repo = repo
        self.bot = bot

    @staticmethod
    def calls_for(github_calls: int) -> int:
        """Every local forge method is one call: no pages, no size limits, no retries."""
        return 1

    def file(self, path: str, ref: str, content: bytes | None) -> None:
        if content is not None:
            self.world.commit(ref, {path: content})

    def pull(self, number: int, *, head_ref: str, author: str, fork: bool) -> PullRequest:
        head = head_ref
        if fork:
            fork_repo = "mallory/modules"
            self.world.fork(fork_repo)
            self.world.commit(head_ref, {"modules.toml": b"x = 1\n"}, repo=fork_repo, author=author)
            head = f"{fork_repo}:{head_ref}"
        else:
            self.world.commit(head_ref, {"modules.toml": b"x = 1\n"}, author=author)
        return self.local.open_change_request(
            self.repo, head=head, base="main", title="Change modules", body="", author=author
        )

    def no_pull(self, number: int) -> None:
        pass

    def pull_files(self, number: int, names: Sequence[str]) -> int:
        branch = f"pr-{number}"
        self.world.commit(branch, dict.fromkeys(names, b"x"))
        return self.local.open_change_request(self.repo, head=branch, base="main", title="t", body="").number

    def _numbered(self, number: int) -> int:
        branch = f"topic-{number}"
        self.world.commit(branch, {f"t{number}": b"t"})
        return self.local.open_change_request(self.repo, head=branch, base="main", title="t", body="").number

    def comments(self, number: int, comments: Sequence[tuple[str, str, str]]) -> int:
        local_number = self._numbered(number)
        for login, _kind, body in comments:
            self.world.roles.setdefault(login, "read")
            self.local.add_comment(self.repo, local_number, body, by=login)
        return local_number

    def expect_comment(self, number: int, body: str) -> int:
        return self._numbered(number)

    def expect_comment_update(self, body: str) -> None:
        pass

    def permission(self, user: str, permission: str | None, role: str | None) -> None:
        if permission is not None:
            self.world.roles[user] = role or permission  # type: ignore[assignment]

    def default_branch(self, name: str) -> None:
        self.world.commit(name, {"trunk": b"t"})
        self.world.git.set_default_branch(name)

    def branch(self, name: str) -> str:
        return self.world.commit(name, {"b": name.encode()})

    def tag(self, name: str, exists: bool) -> None:
        if exists:
            main = self.world.git.resolve("main")
            assert main is not None
            self.world.git.update_ref(f"refs/tags/{name}", main, None)

    def expect_check_run(self, annotations: int) -> None:
        pass

    def commits(self, base: str, head: str, authors: Sequence[str]) -> None:
        for n, author in enumerate(authors):
            if author == self.bot:
                parent = self.world.git.resolve(head) or self.world.git.resolve(base)
                assert parent is not None
                if self.world.git.ref(f"refs/heads/{head}") is None:
                    self.world.git.update_ref(f"refs/heads/{head}", parent, None)
                self.local.commit_file(self.repo, head, f"by-bot-{n}", b"x", message="m", parent_sha=parent)
            else:
                self.world.commit(head, {f"by-{author}-{n}": b"x"}, author=author, start=base)

    def open_pulls(self, head_branch: str, exists: bool) -> None:
        if exists:
            self.world.commit(head_branch, {"y": b"y"})
            self.local.open_change_request(self.repo, head=head_branch, base="main", title="t", body="")

    def expect_commit_file(self, branch: str, parent: str) -> None:
        pass

    def commit_sha(self, fill: str) -> str:
        """A commit the forge knows (GitHub's mocks take any SHA, git only real ones)."""
        return self.world.commit(f"commit-{fill}", {fill: fill.encode()})

    def commit_statuses(self, sha: str, statuses: Sequence[tuple[str, str, str]]) -> None:
        for context, state, description in statuses:
            self.local.set_commit_status(self.repo, sha, state, context=context, description=description)

    def status_answer_lost(self, sha: str, status: tuple[str, str, str]) -> None:
        pass  # a status is one insert in one transaction: no answer to lose after the write

    def check_runs(self, sha: str, runs: Sequence[tuple[int, str, int]]) -> list[int]:
        ids = []
        for _run_id, name, count in runs:
            notes = [Annotation("modules.toml", 1, 1, "warning", "w")] * count
            run = self.local.create_check_run(
                self.repo,
                sha,
                name,
                conclusion="success",
                title="t" if count else "",
                summary="s" if count else "",
                annotations=notes,
            )
            ids.append(run.id)
        return ids

    def moved_forward(self, ref: str) -> str:
        """``ref`` (a tag) moved forward from an older commit; the older commit's SHA."""
        old = self.world.git.resolve("main")
        assert old is not None
        new = self.world.commit("main", {"z": b"z"})
        self.local.create_ref(self.repo, ref, new)
        return old

    @property
    def api_calls(self) -> int:
        return self.local.operations
