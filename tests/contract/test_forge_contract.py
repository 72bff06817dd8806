"""One contract, three forges: every check here runs against `FakeForge`, against `GitHubForge` behind
GitHub's published API description, and against `LocalForge` on real git (single-host mode; its call
counts are one per operation: it has no pages or size limits, ``calls_for``). The fake is what handler tests trust, so it must answer what GitHub
answers, refuse what GitHub refuses, and cost the same number of API calls.

A backend seeds the same world into either forge. The GitHub side serves mocks per endpoint in the
order they are added (queries do not select a mock), so each test seeds in the order it calls.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest

from bot.forge import (
    Annotation,
    Comment,
    CommitStatus,
    Forge,
    ForgeError,
    PullRequest,
    count_calls,
    write_fence,
)
from bot.forge.github import GitHubForge
from tests.fakes import FakeCheckRun, FakeForge
from tests.github_conformance import GitHubMock
from tests.local_forge_world import LocalBackend
from tests.unit.test_forge_github import (
    BOT,
    REPO,
    TOKEN,
    check_run_json,
    comment_json,
    commit_entry,
    content_json,
    error_json,
    file_entry,
    inject_fault,
    link_next,
    pull_json,
    ref_json,
)

R = f"/repos/{REPO}"
MARKER = "<!-- modbot:sticky -->"


class Backend(Protocol):
    forge: Forge

    def file(self, path: str, ref: str, content: bytes | None) -> None: ...
    def pull(self, number: int, *, head_ref: str, author: str, fork: bool) -> PullRequest: ...
    def no_pull(self, number: int) -> None: ...
    def pull_files(self, number: int, names: Sequence[str]) -> int: ...
    def comments(self, number: int, comments: Sequence[tuple[str, str, str]]) -> int: ...
    def expect_comment(self, number: int, body: str) -> int: ...
    def expect_comment_update(self, body: str) -> None: ...
    def permission(self, user: str, permission: str | None, role: str | None) -> None: ...
    def default_branch(self, name: str) -> None: ...
    def branch(self, name: str) -> str: ...
    def tag(self, name: str, exists: bool) -> None: ...
    def expect_check_run(self, annotations: int) -> None: ...
    def commits(self, base: str, head: str, authors: Sequence[str]) -> None: ...
    def open_pulls(self, head_branch: str, exists: bool) -> None: ...
    def expect_commit_file(self, branch: str, parent: str) -> None: ...
    def commit_statuses(self, sha: str, statuses: Sequence[tuple[str, str, str]]) -> None: ...
    def status_answer_lost(self, sha: str, status: tuple[str, str, str]) -> None: ...
    def check_runs(self, sha: str, runs: Sequence[tuple[int, str, int]]) -> list[int]: ...
    def commit_sha(self, fill: str) -> str: ...
    def moved_forward(self, ref: str) -> str: ...
    def calls_for(self, github_calls: int) -> int: ...


class FakeBackend:
    def __init__(self) -> None:
        self.fake = FakeForge(bot_login=BOT)
        self.fake.add_repo(REPO)
        self.forge: Forge = self.fake

    def file(self, path: str, ref: str, content: bytes | None) -> None:
        if content is not None:
            self.fake.put_file(REPO, ref, path, content)

    def pull(self, number: int, *, head_ref: str, author: str, fork: bool) -> PullRequest:
        self.fake.commit(REPO, head_ref, {"modules.toml": b"x = 1\n"})
        return self.fake.add_pull(
            REPO, head_ref, number=number, author=author, head_repo="mallory/modules" if fork else ""
        )

    def no_pull(self, number: int) -> None:
        pass

    @staticmethod
    def calls_for(github_calls: int) -> int:
        return github_calls  # the fake counts calls as GitHubForge makes them

    def pull_files(self, number: int, names: Sequence[str]) -> int:
        self.fake.commit(REPO, f"pr-{number}", {"x": b"x"})
        self.fake.add_pull(REPO, f"pr-{number}", number=number, files=names)
        return number

    def comments(self, number: int, comments: Sequence[tuple[str, str, str]]) -> int:
        self.fake.repos[REPO.lower()].comments.setdefault(number, [])
        for login, kind, body in comments:
            self.fake.add_comment(REPO, number, body, author=login, author_type=kind)
        return number

    def expect_comment(self, number: int, body: str) -> int:
        self.fake.repos[REPO.lower()].comments.setdefault(number, [])
        return number

    def expect_comment_update(self, body: str) -> None:
        pass

    def permission(self, user: str, permission: str | None, role: str | None) -> None:
        if permission is not None:
            self.fake.set_permission(REPO, user, permission, role)

    def default_branch(self, name: str) -> None:
        self.fake.set_default_branch(REPO, name)

    def branch(self, name: str) -> str:
        return self.fake.commit(REPO, name, {"b": name.encode()})

    def tag(self, name: str, exists: bool) -> None:
        if exists:
            state = self.fake.repos[REPO.lower()]
            state.refs[f"tags/{name}"] = state.refs["heads/main"]

    def expect_check_run(self, annotations: int) -> None:
        pass

    def commits(self, base: str, head: str, authors: Sequence[str]) -> None:
        for author in authors:
            self.fake.commit(REPO, head, {f"by-{author}": b"x"}, author=author)

    def open_pulls(self, head_branch: str, exists: bool) -> None:
        if exists:
            self.fake.commit(REPO, head_branch, {"y": b"y"})
            self.fake.add_pull(REPO, head_branch)

    def expect_commit_file(self, branch: str, parent: str) -> None:
        pass

    def commit_statuses(self, sha: str, statuses: Sequence[tuple[str, str, str]]) -> None:
        state = self.fake.repos[REPO.lower()]
        state.commits.setdefault(sha, state.commits[state.refs["heads/main"]])  # a commit known by `sha`
        for context, status, description in statuses:  # oldest first: the last of a context is its latest
            self.fake.set_commit_status(REPO, sha, status, context=context, description=description)

    def status_answer_lost(self, sha: str, status: tuple[str, str, str]) -> None:
        state = self.fake.repos[REPO.lower()]
        state.commits.setdefault(sha, state.commits[state.refs["heads/main"]])
        self.fake.fail_after_next("set_commit_status", ForgeError("set_commit_status", 502, "Bad Gateway"))

    def check_runs(self, sha: str, runs: Sequence[tuple[int, str, int]]) -> list[int]:
        state = self.fake.repos[REPO.lower()]
        for run_id, name, count in runs:
            notes = [Annotation("modules.toml", 1, 1, "warning", "w")] * count
            state.check_runs[run_id] = FakeCheckRun(
                run_id, name, sha, "completed", "success", annotations=notes
            )
        return [run_id for run_id, _, _ in runs]

    @staticmethod
    def commit_sha(fill: str) -> str:
        return fill * 40

    def moved_forward(self, ref: str) -> str:
        old = self.fake.branch_head(REPO, "main")
        new = self.fake.commit(REPO, "main", {"z": b"z"})
        self.fake.create_ref(REPO, ref, new)
        return old

    @property
    def api_calls(self) -> int:
        return self.fake.api_calls


class GitHubBackend:
    def __init__(self, api: GitHubMock) -> None:
        self.api = api
        self.forge: Forge = GitHubForge.with_token(TOKEN, bot_login=BOT, sleep=lambda _: None)
        self._shas = iter(f"{n:040x}" for n in range(1, 10_000))

    def file(self, path: str, ref: str, content: bytes | None) -> None:
        url = f"{R}/contents/{path}"
        if content is None:
            self.api.add("GET", url, json=error_json("Not Found"), status=404)
        elif len(content) > 1024 * 1024:
            sha = next(self._shas)
            listing = content_json(self.api, path, b"", sha=sha)
            listing.update(encoding="none", content="", size=len(content))
            blob = self.api.example("GET", f"{R}/git/blobs/{sha}")
            blob.update(
                sha=sha, content=base64.b64encode(content).decode(), encoding="base64", size=len(content)
            )
            self.api.add("GET", url, json=listing)
            self.api.add("GET", f"{R}/git/blobs/{sha}", json=blob)
        else:
            self.api.add("GET", url, json=content_json(self.api, path, content))

    def pull(self, number: int, *, head_ref: str, author: str, fork: bool) -> PullRequest:
        head, base = next(self._shas), next(self._shas)
        data = pull_json(
            self.api,
            number,
            head_sha=head,
            base_sha=base,
            head_ref=head_ref,
            author=author,
            head_repo="mallory/modules" if fork else REPO,
            title="Change modules",
            body="",
        )
        self.api.add("GET", f"{R}/pulls/{number}", json=data)
        return PullRequest(
            repo=REPO,
            number=number,
            state="open",
            merged=False,
            draft=False,
            title="Change modules",
            body="",
            author=author,
            html_url=data["html_url"],
            head_sha=head,
            head_ref=head_ref,
            head_repo="mallory/modules" if fork else REPO,
            base_sha=base,
            base_ref="main",
        )

    def no_pull(self, number: int) -> None:
        self.api.add("GET", f"{R}/pulls/{number}", json=error_json("Not Found"), status=404)

    @staticmethod
    def calls_for(github_calls: int) -> int:
        return github_calls

    def pull_files(self, number: int, names: Sequence[str]) -> int:
        path = f"{R}/pulls/{number}/files"
        pages = [names[i : i + 100] for i in range(0, len(names), 100)] or [[]]
        for i, page in enumerate(pages, 1):
            headers = link_next(path, i + 1) if i < len(pages) else None
            self.api.add("GET", path, json=[file_entry(self.api, n) for n in page], headers=headers)
        return number

    def comments(self, number: int, comments: Sequence[tuple[str, str, str]]) -> int:
        path = f"{R}/issues/{number}/comments"
        pages = [comments[i : i + 100] for i in range(0, len(comments), 100)] or [[]]
        for i, page in enumerate(pages, 1):
            headers = link_next(path, i + 1) if i < len(pages) else None
            items = [
                comment_json(self.api, i * 1000 + j, body, login, kind)
                for j, (login, kind, body) in enumerate(page)
            ]
            self.api.add("GET", path, json=items, headers=headers)
        return number

    def expect_comment(self, number: int, body: str) -> int:
        self.api.add(
            "POST", f"{R}/issues/{number}/comments", json=comment_json(self.api, 77, body, BOT, "Bot")
        )
        return number

    def expect_comment_update(self, body: str) -> None:
        self.api.add("PATCH", f"{R}/issues/comments/77", json=comment_json(self.api, 77, body, BOT, "Bot"))

    def permission(self, user: str, permission: str | None, role: str | None) -> None:
        url = f"{R}/collaborators/{user}/permission"
        if permission is None:
            self.api.add("GET", url, json=error_json("Not Found"), status=404)
            return
        data = self.api.example("GET", url)
        data.update(permission=permission, role_name=role or permission)
        self.api.add("GET", url, json=data)

    def default_branch(self, name: str) -> None:
        data = self.api.example("GET", R)
        data["default_branch"] = name
        self.api.add("GET", R, json=data)

    def branch(self, name: str) -> str:
        sha = next(self._shas)
        self.api.add("GET", f"{R}/git/ref/heads/{name}", json=ref_json(self.api, f"refs/heads/{name}", sha))
        return sha

    def tag(self, name: str, exists: bool) -> None:
        url = f"{R}/git/ref/tags/{name}"
        if exists:
            self.api.add(
                "POST",
                f"{R}/git/refs",
                status=422,
                json={**error_json("Reference already exists"), "errors": []},
            )
        else:
            self.api.add("GET", url, json=error_json("Not Found"), status=404)

    def expect_check_run(self, annotations: int) -> None:
        self.api.add("POST", f"{R}/check-runs", json=check_run_json(self.api, 4, conclusion="failure"))
        for _ in range(1, -(-annotations // 50)):
            self.api.add("PATCH", f"{R}/check-runs/4", json=check_run_json(self.api, 4, conclusion="failure"))

    def commits(self, base: str, head: str, authors: Sequence[str]) -> None:
        path = f"{R}/compare/{base}...{head}"
        data = self.api.example("GET", path)
        data["commits"] = [commit_entry(self.api, next(self._shas), a, a) for a in authors]
        self.api.add("GET", path, json=data)

    def open_pulls(self, head_branch: str, exists: bool) -> None:
        items = [pull_json(self.api, 3, head_ref=head_branch, listed=True)] if exists else []
        self.api.add("GET", f"{R}/pulls", json=items)

    def expect_commit_file(self, branch: str, parent: str) -> None:
        commit = self.api.example("GET", f"{R}/git/commits/{parent}")
        self.api.add("GET", f"{R}/git/commits/{parent}", json=commit)
        self.api.add("POST", f"{R}/git/blobs", json=self.api.example("POST", f"{R}/git/blobs"))
        self.api.add("POST", f"{R}/git/trees", json=self.api.example("POST", f"{R}/git/trees"))
        self.api.add("POST", f"{R}/git/commits", json=self.api.example("POST", f"{R}/git/commits"))
        self.api.add(
            "PATCH", f"{R}/git/refs/heads/{branch}", json=ref_json(self.api, f"refs/heads/{branch}", "7" * 40)
        )

    def commit_statuses(self, sha: str, statuses: Sequence[tuple[str, str, str]]) -> None:
        url = f"{R}/commits/{sha}/status"
        combined = self.api.example("GET", url)
        example = combined["statuses"][0]
        latest: dict[str, dict[str, Any]] = {}
        for context, state, description in statuses:  # GitHub keeps the latest of each context
            latest[context] = {
                **example,
                "context": context,
                "state": state,
                "description": description,
                "target_url": None,
            }
        combined.update(sha=sha, total_count=len(latest), statuses=list(latest.values()))
        self.api.add("GET", url, json=combined)

    def status_answer_lost(self, sha: str, status: tuple[str, str, str]) -> None:
        inject_fault(self.api, "POST", f"{R}/statuses/{sha}", 502)  # GitHub set it, then its edge failed
        self.commit_statuses(sha, [status])

    @staticmethod
    def commit_sha(fill: str) -> str:
        return fill * 40

    def moved_forward(self, ref: str) -> str:
        old = "1" * 40
        answer = {**error_json("Update is not a fast forward"), "errors": []}
        self.api.add("PATCH", f"{R}/git/refs/{ref}", status=422, json=answer)
        self.api.add("PATCH", f"{R}/git/refs/{ref}", json=ref_json(self.api, f"refs/{ref}", old))
        return old

    def check_runs(self, sha: str, runs: Sequence[tuple[int, str, int]]) -> list[int]:
        items = []
        for run_id, name, count in runs:
            data = check_run_json(self.api, run_id)
            data.update(name=name, head_sha=sha)
            data["app"]["slug"] = BOT.removesuffix("[bot]")
            data["output"]["annotations_count"] = count
            items.append(data)
        body = {"total_count": len(items), "check_runs": items}
        self.api.add("GET", f"{R}/commits/{sha}/check-runs", json=body)
        return [run_id for run_id, _, _ in runs]

    @property
    def api_calls(self) -> int:
        return len(self.api.calls)


@pytest.fixture(params=["fake", "github", "local"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "fake":
        yield FakeBackend()
    elif request.param == "local":
        yield LocalBackend(tmp_path, REPO, BOT)
    else:
        yield GitHubBackend(request.getfixturevalue("github_api"))


def calls_of(backend: Any, action: Any) -> tuple[Any, int]:
    """The action's result and how many API calls it cost (the forge's own count and the backend's must
    agree: the fake's bookkeeping, the requests the GitHub mock saw, the local forge's operations)."""
    before = backend.api_calls
    with count_calls() as counter:
        result = action()
    assert counter.calls == backend.api_calls - before
    return result, counter.calls


# --- the contract ---------------------------------------------------------------------------------------
def test_get_file(backend: Any) -> None:
    raw = b"schema = 1\r\n\xff\x00tail"
    backend.file("modules.toml", "main", raw)
    backend.file("missing.toml", "main", None)
    assert calls_of(backend, lambda: backend.forge.get_file(REPO, "modules.toml", "main")) == (raw, 1)
    assert calls_of(backend, lambda: backend.forge.get_file(REPO, "missing.toml", "main")) == (None, 1)


def test_get_file_large(backend: Any) -> None:
    big = b"0123456789abcdef" * 70_000  # 1.1 MB
    backend.file("big.toml", "main", big)
    assert calls_of(backend, lambda: backend.forge.get_file(REPO, "big.toml", "main")) == (
        big,
        backend.calls_for(2),
    )


def test_get_pull(backend: Any) -> None:
    own = backend.pull(5, head_ref="feature", author="alice", fork=False)
    fork = backend.pull(6, head_ref="patch-1", author="mallory", fork=True)
    backend.no_pull(99)
    assert calls_of(backend, lambda: backend.forge.get_pull(REPO, own.number)) == (own, 1)
    got = backend.forge.get_pull(REPO, fork.number)
    assert got == fork and got.from_fork
    with pytest.raises(ForgeError) as info:
        backend.forge.get_pull(REPO, 99)
    assert info.value.status == 404


@pytest.mark.parametrize(("target_at", "expected", "calls"), [(120, True, 2), (None, False, 2), (5, True, 1)])
def test_pull_touches(backend: Any, target_at: int | None, expected: bool, calls: int) -> None:
    names = [f"src/f{i:03}.rs" for i in range(150)]
    if target_at is not None:
        names[target_at] = "modules.toml"
    number = backend.pull_files(8, names)
    assert calls_of(backend, lambda: backend.forge.pull_touches(REPO, number, "modules.toml")) == (
        expected,
        backend.calls_for(calls),
    )


def test_find_comment_counts_only_ours(backend: Any) -> None:
    comments = [("alice", "User", f"c{i}") for i in range(250)]
    comments[10] = ("mallory", "User", f"fake {MARKER}")
    comments[230] = (BOT, "Bot", f"{MARKER}\nreal")
    number = backend.comments(9, comments)
    found, calls = calls_of(backend, lambda: backend.forge.find_comment(REPO, number, MARKER))
    assert isinstance(found, Comment)
    assert (found.author, found.body, calls) == (BOT, f"{MARKER}\nreal", backend.calls_for(3))


def test_find_comment_none(backend: Any) -> None:
    number = backend.comments(9, [("alice", "User", MARKER)] * 120)
    assert calls_of(backend, lambda: backend.forge.find_comment(REPO, number, MARKER)) == (
        None,
        backend.calls_for(2),
    )


def test_create_then_update_comment(backend: Any) -> None:
    number = backend.expect_comment(4, f"{MARKER} v1")
    backend.expect_comment_update(f"{MARKER} v2")
    created, calls = calls_of(backend, lambda: backend.forge.create_comment(REPO, number, f"{MARKER} v1"))
    assert (created.body, created.author, created.author_type, calls) == (f"{MARKER} v1", BOT, "Bot", 1)
    updated, calls = calls_of(backend, lambda: backend.forge.update_comment(REPO, created.id, f"{MARKER} v2"))
    assert (updated.id, updated.body, calls) == (created.id, f"{MARKER} v2", 1)


def test_permissions(backend: Any) -> None:
    backend.permission("bob", "write", "maintain")
    backend.permission("eve", None, None)
    assert calls_of(backend, lambda: backend.forge.get_permission(REPO, "bob")) == ("maintain", 1)
    assert calls_of(backend, lambda: backend.forge.get_permission(REPO, "eve")) == ("none", 1)


def test_branches(backend: Any) -> None:
    backend.default_branch("trunk")
    sha = backend.branch("modbot/install-forum")
    assert calls_of(backend, lambda: backend.forge.default_branch(REPO)) == ("trunk", 1)
    assert calls_of(backend, lambda: backend.forge.branch_head(REPO, "modbot/install-forum")) == (sha, 1)


def test_check_run_annotations_cost_one_call_per_fifty(backend: Any) -> None:
    sha = backend.commit_sha("a")
    backend.expect_check_run(120)
    notes = [Annotation("modules.toml", i, i, "failure", "bad") for i in range(1, 121)]
    run, calls = calls_of(
        backend,
        lambda: backend.forge.create_check_run(
            REPO, sha, "modbot/manifest", conclusion="failure", title="t", summary="s", annotations=notes
        ),
    )
    assert (run.conclusion, calls) == ("failure", backend.calls_for(3))


def test_tags(backend: Any) -> None:
    backend.tag("deploy/prod", exists=False)
    assert calls_of(backend, lambda: backend.forge.get_ref(REPO, "tags/deploy/prod")) == (None, 1)
    backend.tag("v1", exists=True)
    with pytest.raises(ForgeError) as info:
        backend.forge.create_ref(REPO, "tags/v1", "b" * 40)
    assert info.value.status == 422 and "already exists" in info.value.message


def test_branch_commits_authors(backend: Any) -> None:
    backend.commits("main", "modbot/install-forum", [BOT, "alice"])
    commits, calls = calls_of(
        backend, lambda: backend.forge.branch_commits_authors(REPO, "main", "modbot/install-forum")
    )
    assert calls == 1
    assert [(c.author_login, c.made_by(BOT)) for c in commits] == [(BOT, True), ("alice", False)]


def test_find_open_pull_by_branch(backend: Any) -> None:
    backend.open_pulls("modbot/a", exists=False)
    backend.open_pulls("modbot/b", exists=True)
    assert calls_of(backend, lambda: backend.forge.find_open_pull_by_branch(REPO, "modbot/a")) == (None, 1)
    found, calls = calls_of(backend, lambda: backend.forge.find_open_pull_by_branch(REPO, "modbot/b"))
    assert isinstance(found, PullRequest) and found.head_ref == "modbot/b" and calls == 1


def test_commit_file_costs_five_calls(backend: Any) -> None:
    parent = backend.branch("modbot/install-forum")
    backend.expect_commit_file("modbot/install-forum", parent)
    sha, calls = calls_of(
        backend,
        lambda: backend.forge.commit_file(
            REPO, "modbot/install-forum", "modules.toml", b"new\n", message="m", parent_sha=parent, force=True
        ),
    )
    assert len(sha) == 40 and calls == backend.calls_for(5)


def test_commit_status_is_the_latest_of_its_context(backend: Any) -> None:
    sha = backend.commit_sha("9")
    backend.commit_statuses(
        sha,
        [
            ("modbot/release", "pending", "first"),
            ("ci/test", "failure", "red"),
            ("modbot/release", "success", "rel_2026_01_02_001: reused"),
        ],
    )
    status, calls = calls_of(backend, lambda: backend.forge.latest_commit_status(REPO, sha, "modbot/release"))
    assert calls == 1
    assert status is not None
    assert (status.context, status.state, status.description) == (
        "modbot/release",
        "success",
        "rel_2026_01_02_001: reused",
    )
    other = backend.commit_sha("8")
    backend.commit_statuses(other, [("ci/test", "success", "green")])
    assert calls_of(backend, lambda: backend.forge.latest_commit_status(REPO, other, "modbot/release")) == (
        None,
        1,
    )


def test_refusals_before_any_call(backend: Any) -> None:
    forge = backend.forge
    for action in (
        lambda: forge.add_reaction(REPO, 1, "thumbsup"),
        lambda: forge.create_comment(REPO, 1, "x" * 70_000),
        lambda: forge.create_check_run(REPO, "a" * 40, "n"),
        lambda: forge.set_commit_status(REPO, "a" * 40, "green", context="c", description="d"),
        lambda: forge.get_ref(REPO, "refs/remotes/origin/main"),
        lambda: forge.get_file(REPO, "../x", "main"),
        lambda: forge.find_comment(REPO, 1, ""),
        lambda: forge.get_pull("not-a-repo", 1),
    ):
        with pytest.raises(ValueError):
            action()
    assert backend.api_calls == 0


def test_moving_a_ref_backwards_needs_force(backend: Any) -> None:
    old = backend.moved_forward("tags/deploy/prod")
    with pytest.raises(ForgeError) as info:
        backend.forge.update_ref(REPO, "tags/deploy/prod", old)
    assert info.value.status == 422 and "not a fast forward" in info.value.message
    moved, calls = calls_of(
        backend, lambda: backend.forge.update_ref(REPO, "tags/deploy/prod", old, force=True)
    )
    assert (moved.ref, moved.sha, calls) == ("refs/tags/deploy/prod", old, 1)


def test_find_check_run_by_name_and_head(backend: Any) -> None:
    sha = backend.commit_sha("d")
    ids = backend.check_runs(
        sha, [(11, "modbot/manifest", 2), (12, "other/check", 0), (13, "modbot/manifest", 3)]
    )
    run, calls = calls_of(backend, lambda: backend.forge.find_check_run(REPO, sha, "modbot/manifest"))
    assert (run.id, run.name, run.head_sha, run.annotations_count, calls) == (
        ids[2],
        "modbot/manifest",
        sha,
        3,
        1,
    )
    other = backend.commit_sha("e")
    backend.check_runs(other, [])
    assert calls_of(backend, lambda: backend.forge.find_check_run(REPO, other, "modbot/manifest")) == (
        None,
        1,
    )


def test_latest_commit_status_of_a_context(backend: Any) -> None:
    sha = backend.commit_sha("d")
    backend.commit_statuses(
        sha,
        [
            ("modbot/manifest", "failure", "old"),
            ("ci", "success", "x"),
            ("modbot/manifest", "success", "new"),
        ],
    )
    status, calls = calls_of(
        backend, lambda: backend.forge.latest_commit_status(REPO, sha, "modbot/manifest")
    )
    assert (status, calls) == (CommitStatus("success", "modbot/manifest", "new", None), 1)
    other = backend.commit_sha("e")
    backend.commit_statuses(other, [("ci", "success", "x")])
    assert calls_of(backend, lambda: backend.forge.latest_commit_status(REPO, other, "modbot/manifest")) == (
        None,
        1,
    )


def test_a_commit_status_whose_answer_is_lost_is_read_back_not_sent_again(backend: Any) -> None:
    """Each POST adds a status: one set before its answer was lost (502) is read back and, found, not sent
    again; the call returns as if answered (the fake's fail_after_next must not raise what GitHubForge
    does not)."""
    sha = backend.commit_sha("7")
    backend.status_answer_lost(sha, ("modbot/manifest", "success", "ok"))

    def set_status() -> None:
        backend.forge.set_commit_status(REPO, sha, "success", context="modbot/manifest", description="ok")

    # GitHub: the POST and the read of the combined status; the local forge: one insert
    assert calls_of(backend, set_status) == (None, backend.calls_for(2))
    assert backend.forge.latest_commit_status(REPO, sha, "modbot/manifest") == CommitStatus(
        "success", "modbot/manifest", "ok", None
    )


class LeaseLost(Exception):
    pass


def test_the_write_fence_refuses_writes_before_they_are_sent(backend: Any) -> None:
    """The hook for leases: inside a fence that refuses, no write request goes out; reads still do."""
    refused: list[str] = []

    def lost(operation: str) -> None:
        refused.append(operation)
        raise LeaseLost(f"the lease was lost before {operation}")

    number = backend.comments(7, [])
    with write_fence(lost):
        assert calls_of(backend, lambda: backend.forge.find_comment(REPO, number, MARKER)) == (None, 1)
        with count_calls() as counter, pytest.raises(LeaseLost):
            backend.forge.create_comment(REPO, number, "hello")
    assert refused == ["create_comment"] and counter.calls == 0
