"""`GitHubForge` against GitHub's published REST description (the `github_api` fixture checks every
request we send and every response we mock): request shapes, call counts, pagination, retries, App auth.

GitHub's description documents 500/503 for some endpoints but 502 and 429 almost nowhere, although its
edge answers them for any endpoint; `inject_fault` serves such answers on a real endpoint (the request is
still checked), everything else is served with `github_api.add`, which validates the mocked body.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.forge import Annotation, Forge, ForgeError, count_calls
from bot.forge.github import ForgeStats, GitHubForge, GitHubForgeProvider, RetryPolicy, redact
from bot.forge.github.conversions import pull_from_json
from tests.github_conformance import GitHubMock, Route

REPO = "octo/modules"
R = f"/repos/{REPO}"
BOT = "modbot[bot]"
TOKEN = "ghp_" + "S3cr3tT0k3n" * 3
NOW = 1_750_000_000.0
SHA_BASE = "b" * 40
SHA_HEAD = "a" * 40
GHES = "https://ghe.example.com/api/v3"


# --- JSON in GitHub's shapes, built from its documented examples ---------------------------------------
def content_json(api: GitHubMock, path: str, content: bytes, *, sha: str = "c" * 40) -> dict[str, Any]:
    data = api.example("GET", f"{R}/contents/{path}")
    encoded = base64.b64encode(content).decode()
    data.update(
        type="file",
        encoding="base64",
        size=len(content),
        name=path.rsplit("/", 1)[-1],
        path=path,
        sha=sha,
        content="\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60)) + "\n",
    )
    return data


def user_json(api: GitHubMock, login: str, kind: str = "User") -> dict[str, Any]:
    user = api.example("GET", f"{R}/issues/1/comments")[0]["user"]
    user.update(login=login, type=kind)
    return user


def pull_json(
    api: GitHubMock,
    number: int = 7,
    *,
    head_sha: str = SHA_HEAD,
    base_sha: str = SHA_BASE,
    head_ref: str = "feature",
    base_ref: str = "main",
    head_repo: str | None = REPO,
    author: str = "alice",
    state: str = "open",
    merged: bool = False,
    draft: bool = False,
    title: str = "Install forum",
    body: str | None = "Please",
    listed: bool = False,
    merge_commit_sha: str | None = None,
) -> dict[str, Any]:
    """A pull request as ``GET /pulls/{n}`` answers it (``listed``: as an item of ``GET /pulls``)."""
    data = api.example("GET", f"{R}/pulls")[0] if listed else api.example("GET", f"{R}/pulls/{number}")
    if not listed:
        data["merged"] = merged
    data.update(
        number=number,
        state=state,
        merged_at="2026-01-02T03:04:05Z" if merged else None,
        draft=draft,
        title=title,
        body=body,
        html_url=f"https://github.com/{REPO}/pull/{number}",
        merge_commit_sha=merge_commit_sha,
    )
    data["user"]["login"] = author
    data["head"].update(sha=head_sha, ref=head_ref)
    data["base"].update(sha=base_sha, ref=base_ref)
    data["base"]["repo"]["full_name"] = REPO
    if head_repo is None:
        data["head"]["repo"] = None
    else:
        data["head"]["repo"]["full_name"] = head_repo
    return data


def comment_json(
    api: GitHubMock, comment_id: int, body: str, login: str, kind: str = "User"
) -> dict[str, Any]:
    data = api.example("GET", f"{R}/issues/1/comments")[0]
    data.update(
        id=comment_id, body=body, html_url=f"https://github.com/{REPO}/pull/7#issuecomment-{comment_id}"
    )
    data["user"] = user_json(api, login, kind)
    return data


def file_entry(api: GitHubMock, filename: str, previous: str | None = None) -> dict[str, Any]:
    data = api.example("GET", f"{R}/pulls/1/files")[0]
    data.update(filename=filename, status="renamed" if previous else "modified")
    if previous:
        data["previous_filename"] = previous
    return data


def ref_json(api: GitHubMock, ref: str, sha: str, kind: str = "commit") -> dict[str, Any]:
    data = api.example("GET", f"{R}/git/ref/heads/x")
    data.update(ref=ref)
    data["object"].update(sha=sha, type=kind)
    return data


def check_run_json(api: GitHubMock, run_id: int = 4, *, conclusion: str | None = "success") -> dict[str, Any]:
    data = api.example("POST", f"{R}/check-runs")
    data.update(
        id=run_id, name="modbot/manifest", head_sha=SHA_HEAD, status="completed", conclusion=conclusion
    )
    return data


def commit_entry(api: GitHubMock, sha: str, author: str | None, committer: str | None) -> dict[str, Any]:
    data = api.example("GET", f"{R}/compare/a...b")["commits"][0]
    data["sha"] = sha
    data["author"] = (
        user_json(api, author, "Bot" if author and author.endswith("[bot]") else "User") if author else None
    )
    data["committer"] = user_json(api, committer) if committer else None
    data["commit"]["author"]["email"] = f"{author or 'someone'}@example.com"
    data["commit"]["committer"]["email"] = f"{committer or 'someone'}@example.com"
    return data


def link_next(path: str, page: int) -> dict[str, str]:
    return {
        "Link": f'<https://api.github.com{path}?per_page=100&page={page}>; rel="next", '
        f'<https://api.github.com{path}?per_page=100&page={page + 5}>; rel="last"'
    }


def error_json(message: str) -> dict[str, Any]:
    return {"message": message, "documentation_url": "https://docs.github.com/rest"}


def inject_fault(
    api: GitHubMock,
    method: str,
    path: str,
    status: int,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Route:
    """Serve an answer GitHub's edge gives on any endpoint (502, 429) though the description does not list
    it; the endpoint itself must exist and the request is still validated."""
    import json

    match = api.api.resolve(method, path, base_url=api.base_url)
    route = Route(
        method=method,
        path=match.path,
        operation=match.operation,
        status=status,
        body=json.dumps(body if body is not None else error_json("Server Error")).encode(),
        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
    )
    api.routes.append(route)
    return route


# --- fixtures -------------------------------------------------------------------------------------------
class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def forge(github_api: GitHubMock, sleeps: Sleeps) -> Iterator[GitHubForge]:
    forge = GitHubForge.with_token(
        TOKEN, base_url=github_api.base_url, bot_login=BOT, sleep=sleeps, rand=lambda: 0.5, clock=lambda: NOW
    )
    yield forge
    forge.close()


def test_github_forge_is_a_forge(forge: GitHubForge) -> None:
    assert isinstance(forge, Forge)


# --- reading --------------------------------------------------------------------------------------------
def test_get_file_is_one_call_with_exact_bytes(github_api: GitHubMock, forge: GitHubForge) -> None:
    raw = b'# modules\r\n[modules.forum]\ncrate = "rustok-forum"\n\xef\xbb\xbf' + bytes(range(256))
    github_api.add(
        "GET", f"{R}/contents/config/modules.toml", json=content_json(github_api, "config/modules.toml", raw)
    )
    with count_calls() as counter:
        assert forge.get_file(REPO, "config/modules.toml", SHA_HEAD) == raw
    assert counter.calls == 1
    [call] = github_api.calls
    assert call.url == f"https://api.github.com:443{R}/contents/config/modules.toml?ref={SHA_HEAD}"
    assert call.headers["Authorization"] == f"token {TOKEN}"
    assert call.headers["User-Agent"].startswith("modbot/")


def test_get_file_missing_is_none_and_no_error(github_api: GitHubMock, forge: GitHubForge) -> None:
    github_api.add("GET", f"{R}/contents/modules.toml", json=error_json("Not Found"), status=404)
    assert forge.get_file(REPO, "modules.toml", "main") is None
    assert len(github_api.calls) == 1
    assert forge.stats.snapshot()["errors"] == {}


def test_get_file_large_file_goes_through_the_blob_api(github_api: GitHubMock, forge: GitHubForge) -> None:
    raw = b"x" * 10 + b"\x00\xff"
    listing = content_json(github_api, "modules.toml", b"", sha="d" * 40)
    listing.update(encoding="none", content="", size=2_000_000)
    blob = github_api.example("GET", f"{R}/git/blobs/{'d' * 40}")
    blob.update(sha="d" * 40, content=base64.b64encode(raw).decode(), encoding="base64", size=len(raw))
    github_api.add("GET", f"{R}/contents/modules.toml", json=listing)
    github_api.add("GET", f"{R}/git/blobs/{'d' * 40}", json=blob)
    with count_calls() as counter:
        assert forge.get_file(REPO, "modules.toml", "main") == raw
    assert counter.calls == 2
    assert [c.operation_id for c in github_api.calls] == ["repos/get-content", "git/get-blob"]


def test_get_file_refuses_a_directory_and_bad_paths(github_api: GitHubMock, forge: GitHubForge) -> None:
    listing = [content_json(github_api, "a.toml", b"a")]
    listing[0]["type"] = "file"
    github_api.add("GET", f"{R}/contents/config", json=listing)
    with pytest.raises(ForgeError, match="is a directory"):
        forge.get_file(REPO, "config", "main")
    for bad in ("../etc/passwd", "/modules.toml", "a//b", ""):
        with pytest.raises(ValueError, match="relative file path"):
            forge.get_file(REPO, bad, "main")
    with pytest.raises(ValueError, match="owner/name"):
        forge.get_file("octo/../x", "modules.toml", "main")
    assert len(github_api.calls) == 1


def test_get_pull_maps_fields_and_detects_forks(github_api: GitHubMock, forge: GitHubForge) -> None:
    github_api.add("GET", f"{R}/pulls/7", json=pull_json(github_api, draft=True, body=None))
    github_api.add("GET", f"{R}/pulls/8", json=pull_json(github_api, 8, head_repo="mallory/modules"))
    github_api.add(
        "GET",
        f"{R}/pulls/9",
        json=pull_json(github_api, 9, state="closed", merged=True, merge_commit_sha="e" * 40),
    )
    pull = forge.get_pull(REPO, 7)
    assert (pull.number, pull.state, pull.merged, pull.draft, pull.author) == (
        7,
        "open",
        False,
        True,
        "alice",
    )
    assert (pull.head_sha, pull.head_ref, pull.head_repo) == (SHA_HEAD, "feature", REPO)
    assert (pull.base_sha, pull.base_ref, pull.body) == (SHA_BASE, "main", "")
    assert pull.html_url == f"https://github.com/{REPO}/pull/7"
    assert not pull.from_fork
    assert forge.get_pull(REPO, 8).from_fork
    assert pull.merge_commit_sha is None  # not computed yet
    closed = forge.get_pull(REPO, 9)
    assert (closed.state, closed.merged, closed.merge_commit_sha) == ("closed", True, "e" * 40)
    assert len(github_api.calls) == 3  # one GET each, nothing completed lazily


def test_a_deleted_fork_counts_as_a_fork(github_api: GitHubMock) -> None:
    # GitHub sends "head": {"repo": null} when the fork is gone; its description does not allow it, so this
    # is checked on the converter alone.
    data = pull_json(github_api, 9)
    data["head"]["repo"] = None
    pull = pull_from_json(REPO, data)
    assert pull.head_repo is None and pull.from_fork


def test_get_pull_not_found_is_a_forge_error(github_api: GitHubMock, forge: GitHubForge) -> None:
    github_api.add("GET", f"{R}/pulls/70", json=error_json("Not Found"), status=404)
    with pytest.raises(ForgeError) as info:
        forge.get_pull(REPO, 70)
    assert (info.value.operation, info.value.status, info.value.not_found) == ("get_pull", 404, True)
    assert "Not Found" in str(info.value)
    assert forge.stats.snapshot()["errors"] == {"404": 1}


def test_pull_touches_stops_at_the_page_with_the_file(github_api: GitHubMock, forge: GitHubForge) -> None:
    path = f"{R}/pulls/7/files"
    github_api.add(
        "GET",
        path,
        json=[file_entry(github_api, f"src/{i}.rs") for i in range(100)],
        headers=link_next(path, 2),
    )
    github_api.add("GET", path, json=[file_entry(github_api, "modules.toml")], headers=link_next(path, 3))
    third = github_api.add("GET", path, json=[file_entry(github_api, "never.rs")])
    with count_calls() as counter:
        assert forge.pull_touches(REPO, 7, "modules.toml")
    assert counter.calls == 2 and not third.called
    assert [c.query for c in github_api.calls] == [
        {"per_page": ["100"]},
        {"per_page": ["100"], "page": ["2"]},
    ]


def test_pull_touches_sees_renames_and_says_no_after_the_last_page(
    github_api: GitHubMock, forge: GitHubForge
) -> None:
    path = f"{R}/pulls/7/files"
    github_api.add("GET", path, json=[file_entry(github_api, "old/modules.toml", previous="modules.toml")])
    github_api.add("GET", f"{R}/pulls/8/files", json=[file_entry(github_api, "README.md")])
    assert forge.pull_touches(REPO, 7, "modules.toml")
    assert not forge.pull_touches(REPO, 8, "modules.toml")


def test_default_branch_branch_head_and_permission(github_api: GitHubMock, forge: GitHubForge) -> None:
    repo = github_api.example("GET", R)
    repo["default_branch"] = "trunk"
    github_api.add("GET", R, json=repo)
    github_api.add(
        "GET",
        f"{R}/git/ref/heads/modbot/install-forum",
        json=ref_json(github_api, "refs/heads/modbot/install-forum", SHA_HEAD),
    )
    perm = github_api.example("GET", f"{R}/collaborators/bob/permission")
    perm.update(permission="write", role_name="maintain")
    github_api.add("GET", f"{R}/collaborators/bob/permission", json=perm)
    custom = dict(perm, permission="read", role_name="security-reviewer")
    github_api.add("GET", f"{R}/collaborators/carol/permission", json=custom)
    github_api.add("GET", f"{R}/collaborators/mallory/permission", json=error_json("Not Found"), status=404)
    assert forge.default_branch(REPO) == "trunk"
    assert forge.branch_head(REPO, "modbot/install-forum") == SHA_HEAD
    assert forge.get_permission(REPO, "bob") == "maintain"  # role_name, not the folded "write"
    assert forge.get_permission(REPO, "carol") == "read"  # a custom role: its base permission
    assert forge.get_permission(REPO, "mallory") == "none"
    assert len(github_api.calls) == 5


# --- comments -------------------------------------------------------------------------------------------
MARKER = "<!-- modbot:sticky -->"


def test_find_comment_on_three_pages_is_three_calls_and_only_ours_counts(
    github_api: GitHubMock, forge: GitHubForge
) -> None:
    path = f"{R}/issues/7/comments"
    page1 = [comment_json(github_api, i, f"comment {i}", "alice") for i in range(1, 101)]
    page2 = [comment_json(github_api, 200, f"copied {MARKER}", "mallory")]  # someone quoting our marker
    page2 += [comment_json(github_api, 201, f"{MARKER} from another app", "other-app[bot]", "Bot")]
    page3 = [comment_json(github_api, 300, f"{MARKER}\n**valid**", BOT, "Bot")]
    github_api.add("GET", path, json=page1, headers=link_next(path, 2))
    github_api.add("GET", path, json=page2, headers=link_next(path, 3))
    github_api.add("GET", path, json=page3)
    with count_calls() as counter:
        found = forge.find_comment(REPO, 7, MARKER)
    assert found is not None
    assert (found.id, found.author, found.author_type) == (300, BOT, "Bot")
    assert counter.calls == 3
    assert [c.query.get("page") for c in github_api.calls] == [None, ["2"], ["3"]]


def test_find_comment_none_and_empty_marker(github_api: GitHubMock, forge: GitHubForge) -> None:
    github_api.add("GET", f"{R}/issues/7/comments", json=[])
    assert forge.find_comment(REPO, 7, MARKER) is None
    with pytest.raises(ValueError, match="empty marker"):
        forge.find_comment(REPO, 7, "")
    assert len(github_api.calls) == 1


def test_create_update_comment_and_reaction(github_api: GitHubMock, forge: GitHubForge) -> None:
    github_api.add("POST", f"{R}/issues/7/comments", json=comment_json(github_api, 55, "hello", BOT, "Bot"))
    github_api.add(
        "PATCH", f"{R}/issues/comments/55", json=comment_json(github_api, 55, "edited", BOT, "Bot")
    )
    github_api.add(
        "POST",
        f"{R}/issues/comments/56/reactions",
        json=github_api.example("POST", f"{R}/issues/comments/56/reactions"),
    )
    created = forge.create_comment(REPO, 7, "hello")
    assert (created.id, created.body, created.author) == (55, "hello", BOT)
    assert forge.update_comment(REPO, 55, "edited").body == "edited"
    forge.add_reaction(REPO, 56, "eyes")
    assert [c.json for c in github_api.calls] == [{"body": "hello"}, {"body": "edited"}, {"content": "eyes"}]
    with pytest.raises(ValueError, match="reaction must be one of"):
        forge.add_reaction(REPO, 56, "thumbsup")
    with pytest.raises(ValueError, match="65536"):
        forge.create_comment(REPO, 7, "x" * 65_537)
    assert len(github_api.calls) == 3


# --- checks and statuses ----------------------------------------------------------------------------------
def test_check_run_annotations_are_sent_fifty_at_a_time(github_api: GitHubMock, forge: GitHubForge) -> None:
    github_api.add("POST", f"{R}/check-runs", json=check_run_json(github_api, 4, conclusion="failure"))
    github_api.add("PATCH", f"{R}/check-runs/4", json=check_run_json(github_api, 4, conclusion="failure"))
    notes = [Annotation("modules.toml", i, i, "failure", f"problem {i}", title="E1") for i in range(1, 121)]
    with count_calls() as counter:
        run = forge.create_check_run(
            REPO,
            SHA_HEAD,
            "modbot/manifest",
            conclusion="failure",
            title="2 problems",
            summary="**invalid**",
            text="details",
            annotations=notes,
            details_url="https://github.com/octo/modules/pull/7",
        )
    assert (run.id, run.conclusion) == (4, "failure")
    assert counter.calls == 3
    create, *patches = github_api.calls
    assert create.json["status"] == "completed" and create.json["conclusion"] == "failure"
    assert create.json["output"]["title"] == "2 problems" and create.json["output"]["text"] == "details"
    assert [len(c.json["output"]["annotations"]) for c in (create, *patches)] == [50, 50, 20]
    assert create.json["output"]["annotations"][0] == {
        "path": "modules.toml",
        "start_line": 1,
        "end_line": 1,
        "annotation_level": "failure",
        "message": "problem 1",
        "title": "E1",
    }
    assert patches[-1].json["output"]["annotations"][-1]["start_line"] == 120
    assert all(c.json["output"]["summary"] == "**invalid**" for c in patches)


def test_check_run_in_progress_then_completed(github_api: GitHubMock, forge: GitHubForge) -> None:
    github_api.add("POST", f"{R}/check-runs", json=check_run_json(github_api, 9, conclusion=None))
    github_api.add("PATCH", f"{R}/check-runs/9", json=check_run_json(github_api, 9))
    run = forge.create_check_run(REPO, SHA_HEAD, "modbot/manifest", status="in_progress")
    forge.update_check_run(REPO, run.id, conclusion="success", title="valid", summary="ok")
    assert github_api.calls[0].json == {
        "name": "modbot/manifest",
        "head_sha": SHA_HEAD,
        "status": "in_progress",
    }
    assert github_api.calls[1].json == {
        "conclusion": "success",
        "output": {"title": "valid", "summary": "ok"},
    }
    with pytest.raises(ValueError, match="needs a conclusion"):
        forge.create_check_run(REPO, SHA_HEAD, "x")
    with pytest.raises(ValueError, match="conclusion must be one of"):
        forge.update_check_run(REPO, 9, conclusion="green")
    assert len(github_api.calls) == 2


def test_commit_status_truncates_the_description(github_api: GitHubMock, forge: GitHubForge) -> None:
    github_api.add(
        "POST", f"{R}/statuses/{SHA_HEAD}", json=github_api.example("POST", f"{R}/statuses/{SHA_HEAD}")
    )
    forge.set_commit_status(
        REPO,
        SHA_HEAD,
        "failure",
        context="modbot/manifest",
        description="d" * 200,
        target_url="https://github.com/octo/modules/pull/7",
    )
    [call] = github_api.calls
    assert call.json["state"] == "failure" and call.json["context"] == "modbot/manifest"
    assert len(call.json["description"]) == 140 and call.json["description"].endswith("…")
    with pytest.raises(ValueError, match="state must be one of"):
        forge.set_commit_status(REPO, SHA_HEAD, "green", context="c", description="d")


def test_commit_status_of_a_context_is_read_from_the_combined_status(
    github_api: GitHubMock, forge: GitHubForge
) -> None:
    url = f"{R}/commits/{SHA_HEAD}/status"
    combined = github_api.example("GET", url)
    [example] = combined["statuses"][:1]
    combined["statuses"] = [
        {**example, "context": "ci/build", "state": "failure", "description": "no"},
        {
            **example,
            "context": "modbot/release",
            "state": "success",
            "description": "rel_2026_01_02_001: reused",
        },
    ]
    github_api.add("GET", url, json=combined)
    github_api.add("GET", url, json={**combined, "statuses": [], "total_count": 0})
    with count_calls() as counter:
        found = forge.latest_commit_status(REPO, SHA_HEAD, "modbot/release")
        missing = forge.latest_commit_status(REPO, SHA_HEAD, "modbot/release")
    assert found is not None
    assert (found.context, found.state, found.description) == (
        "modbot/release",
        "success",
        "rel_2026_01_02_001: reused",
    )
    assert missing is None
    assert counter.calls == 2  # one call each: the combined status holds the latest of every context
    assert github_api.calls[0].query == {"per_page": ["100"]}
    assert github_api.calls[0].operation_id == "repos/get-combined-status-for-ref"


# --- branches, commits, PRs -------------------------------------------------------------------------------
def test_commit_file_is_one_commit_with_the_exact_bytes_in_five_calls(
    github_api: GitHubMock, forge: GitHubForge
) -> None:
    content = b'schema = 1\r\n[modules.forum]\ncrate = "rustok-forum"\n'
    parent = github_api.example("GET", f"{R}/git/commits/{SHA_BASE}")
    parent["sha"] = SHA_BASE
    parent["tree"]["sha"] = "1" * 40
    blob = github_api.example("POST", f"{R}/git/blobs")
    blob["sha"] = "2" * 40
    tree = github_api.example("POST", f"{R}/git/trees")
    tree["sha"] = "3" * 40
    commit = github_api.example("POST", f"{R}/git/commits")
    commit["sha"] = "4" * 40
    github_api.add("GET", f"{R}/git/commits/{SHA_BASE}", json=parent)
    github_api.add("POST", f"{R}/git/blobs", json=blob)
    github_api.add("POST", f"{R}/git/trees", json=tree)
    github_api.add("POST", f"{R}/git/commits", json=commit)
    github_api.add(
        "PATCH",
        f"{R}/git/refs/heads/modbot/install-forum",
        json=ref_json(github_api, "refs/heads/modbot/install-forum", "4" * 40),
    )
    with count_calls() as counter:
        sha = forge.commit_file(
            REPO,
            "modbot/install-forum",
            "modules.toml",
            content,
            message="modbot: install forum",
            parent_sha=SHA_BASE,
            force=True,
        )
    assert sha == "4" * 40 and counter.calls == 5
    _, blob_call, tree_call, commit_call, ref_call = github_api.calls
    assert base64.b64decode(blob_call.json["content"]) == content and blob_call.json["encoding"] == "base64"
    assert tree_call.json == {
        "base_tree": "1" * 40,
        "tree": [{"path": "modules.toml", "mode": "100644", "type": "blob", "sha": "2" * 40}],
    }
    assert commit_call.json == {"message": "modbot: install forum", "tree": "3" * 40, "parents": [SHA_BASE]}
    assert ref_call.json == {"sha": "4" * 40, "force": True}


def test_branches_and_pull_requests(github_api: GitHubMock, forge: GitHubForge) -> None:
    github_api.add(
        "POST", f"{R}/git/refs", json=ref_json(github_api, "refs/heads/modbot/install-forum", SHA_BASE)
    )
    github_api.add(
        "PATCH",
        f"{R}/git/refs/heads/modbot/install-forum",
        json=ref_json(github_api, "refs/heads/modbot/install-forum", SHA_HEAD),
    )
    github_api.add(
        "GET", f"{R}/pulls", json=[pull_json(github_api, 12, head_ref="modbot/install-forum", listed=True)]
    )
    github_api.add("GET", f"{R}/pulls", json=[])
    github_api.add(
        "POST", f"{R}/pulls", json=pull_json(github_api, 13, head_ref="modbot/install-forum", author=BOT)
    )
    github_api.add("PATCH", f"{R}/pulls/13", json=pull_json(github_api, 13, title="new title"))
    forge.create_branch(REPO, "modbot/install-forum", SHA_BASE)
    forge.update_branch_ref(REPO, "modbot/install-forum", SHA_HEAD)
    found = forge.find_open_pull_by_branch(REPO, "modbot/install-forum")
    assert found is not None and found.number == 12
    assert forge.find_open_pull_by_branch(REPO, "modbot/install-forum") is None
    created = forge.create_pull(
        REPO, head="modbot/install-forum", base="main", title="Install forum", body="why"
    )
    assert created.number == 13 and created.author == BOT
    assert forge.update_pull(REPO, 13, title="new title").title == "new title"
    calls = github_api.calls
    assert calls[0].json == {"ref": "refs/heads/modbot/install-forum", "sha": SHA_BASE}
    assert calls[1].json == {"sha": SHA_HEAD, "force": False}
    assert calls[2].query == {"head": ["octo:modbot/install-forum"], "per_page": ["1"], "state": ["open"]}
    assert calls[4].json == {
        "title": "Install forum",
        "head": "modbot/install-forum",
        "base": "main",
        "body": "why",
        "draft": False,
    }
    assert calls[5].json == {"title": "new title"}
    assert len(calls) == 6


def test_branch_commits_authors_follows_pages(github_api: GitHubMock, forge: GitHubForge) -> None:
    path = f"{R}/compare/main...modbot/install-forum"
    first = github_api.example("GET", path)
    first["commits"] = [commit_entry(github_api, "1" * 40, BOT, BOT)]
    second = github_api.example("GET", path)
    second["commits"] = [
        commit_entry(github_api, "2" * 40, "alice", "web-flow"),
        commit_entry(github_api, "3" * 40, None, None),
    ]
    github_api.add("GET", path, json=first, headers=link_next(path, 2))
    github_api.add("GET", path, json=second)
    commits = forge.branch_commits_authors(REPO, "main", "modbot/install-forum")
    assert [c.sha[0] for c in commits] == ["1", "2", "3"]
    assert commits[0].made_by(BOT) and not commits[1].made_by(BOT) and not commits[2].made_by(BOT)
    assert (commits[1].author_login, commits[1].committer_login) == ("alice", "web-flow")
    assert commits[2].author_login is None and commits[2].author_email == "someone@example.com"
    assert len(github_api.calls) == 2


def test_tags(github_api: GitHubMock, forge: GitHubForge) -> None:
    github_api.add("GET", f"{R}/git/ref/tags/deploy/prod", json=error_json("Not Found"), status=404)
    github_api.add("GET", f"{R}/git/ref/tags/v1", json=ref_json(github_api, "refs/tags/v1", "9" * 40, "tag"))
    github_api.add("POST", f"{R}/git/refs", json=ref_json(github_api, "refs/tags/deploy/prod", SHA_BASE))
    github_api.add(
        "PATCH",
        f"{R}/git/refs/tags/deploy/prod",
        json=ref_json(github_api, "refs/tags/deploy/prod", SHA_HEAD),
    )
    assert forge.get_ref(REPO, "refs/tags/deploy/prod") is None
    tag = forge.get_ref(REPO, "tags/v1")
    assert tag is not None and (tag.ref, tag.object_type) == ("refs/tags/v1", "tag")
    assert forge.create_ref(REPO, "tags/deploy/prod", SHA_BASE).sha == SHA_BASE
    assert forge.update_ref(REPO, "refs/tags/deploy/prod", SHA_HEAD, force=True).sha == SHA_HEAD
    assert github_api.calls[2].json == {"ref": "refs/tags/deploy/prod", "sha": SHA_BASE}
    assert github_api.calls[3].json == {"sha": SHA_HEAD, "force": True}
    for bad in ("refs/remotes/x", "tags/../x", "tags/", "heads/a b", "v1"):
        with pytest.raises(ValueError, match="not a branch or tag ref"):
            forge.get_ref(REPO, bad)
    assert len(github_api.calls) == 4


def test_refs_already_existing_is_a_422(github_api: GitHubMock, forge: GitHubForge) -> None:
    answer = {
        "message": "Reference already exists",
        "documentation_url": "https://docs.github.com/rest",
        "errors": [],
    }
    github_api.add("POST", f"{R}/git/refs", json=answer, status=422)
    with pytest.raises(ForgeError, match="Reference already exists") as info:
        forge.create_ref(REPO, "tags/v1", SHA_BASE)
    assert info.value.status == 422 and info.value.attempts == 1


def test_repositories_outside_the_allow_list_are_refused(github_api: GitHubMock) -> None:
    forge = GitHubForge.with_token(TOKEN, bot_login=BOT, allowed_repositories=frozenset({"Octo/Other"}))
    with pytest.raises(ForgeError, match="not in MODBOT_REPOSITORIES"):
        forge.get_pull(REPO, 1)
    assert github_api.calls == []


# --- retries ----------------------------------------------------------------------------------------------
def test_a_502_then_200_is_retried_with_backoff(
    github_api: GitHubMock, forge: GitHubForge, sleeps: Sleeps
) -> None:
    inject_fault(github_api, "GET", f"{R}/contents/modules.toml", 502)
    github_api.add("GET", f"{R}/contents/modules.toml", json=content_json(github_api, "modules.toml", b"ok"))
    with count_calls() as counter:
        assert forge.get_file(REPO, "modules.toml", "main") == b"ok"
    assert counter.calls == 2 and len(github_api.calls) == 2
    assert sleeps == [0.75]  # backoff 1 s, jittered into [0.5, 1]
    assert forge.stats.snapshot()["retries"] == {"get_file": 1}
    assert forge.stats.snapshot()["errors"] == {"502": 1}


def test_a_documented_503_is_retried(github_api: GitHubMock, forge: GitHubForge, sleeps: Sleeps) -> None:
    github_api.add(
        "GET", f"{R}/pulls/7", status=503, json={"code": "unavailable", "message": "Service unavailable"}
    )
    github_api.add("GET", f"{R}/pulls/7", json=pull_json(github_api))
    assert forge.get_pull(REPO, 7).number == 7
    assert len(sleeps) == 1


def test_a_429_honours_retry_after(github_api: GitHubMock, forge: GitHubForge, sleeps: Sleeps) -> None:
    inject_fault(
        github_api,
        "GET",
        f"{R}/pulls/7",
        429,
        headers={"Retry-After": "7"},
        body=error_json("Too many requests"),
    )
    github_api.add("GET", f"{R}/pulls/7", json=pull_json(github_api))
    assert forge.get_pull(REPO, 7).number == 7
    assert sleeps == [7.5]  # what GitHub asked, plus up to 1 s of jitter


def test_a_secondary_rate_limit_403_waits_a_minute(
    github_api: GitHubMock, forge: GitHubForge, sleeps: Sleeps
) -> None:
    message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
    github_api.add("POST", f"{R}/issues/7/comments", status=403, json=error_json(message))
    github_api.add("POST", f"{R}/issues/7/comments", json=comment_json(github_api, 1, "hi", BOT, "Bot"))
    assert forge.create_comment(REPO, 7, "hi").id == 1  # a POST, but GitHub did not process it
    assert sleeps == [60.5]


def test_a_primary_rate_limit_waits_until_the_reset(
    github_api: GitHubMock, forge: GitHubForge, sleeps: Sleeps
) -> None:
    headers = {
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Limit": "5000",
        "X-RateLimit-Reset": str(int(NOW) + 30),
    }
    github_api.add(
        "GET",
        R,
        status=403,
        json=error_json("API rate limit exceeded for installation ID 1."),
        headers=headers,
    )
    repo = github_api.example("GET", R)
    github_api.add(
        "GET", R, json=repo, headers={"X-RateLimit-Remaining": "4999", "X-RateLimit-Limit": "5000"}
    )
    assert forge.default_branch(REPO) == repo["default_branch"]
    assert sleeps == [31.5]
    assert forge.stats.snapshot()["rate_limit_remaining"] == 4999


def test_a_wait_longer_than_allowed_is_raised_for_rescheduling(
    github_api: GitHubMock, forge: GitHubForge, sleeps: Sleeps
) -> None:
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + 1800)}
    github_api.add("GET", R, status=403, json=error_json("API rate limit exceeded"), headers=headers)
    with pytest.raises(ForgeError) as info:
        forge.default_branch(REPO)
    assert info.value.retry_after == 1801 and info.value.status == 403
    assert sleeps == [] and len(github_api.calls) == 1


def test_a_plain_403_is_not_retried(github_api: GitHubMock, forge: GitHubForge, sleeps: Sleeps) -> None:
    github_api.add("GET", R, status=403, json=error_json("Resource not accessible by integration"))
    with pytest.raises(ForgeError, match="Resource not accessible by integration"):
        forge.default_branch(REPO)
    assert sleeps == [] and len(github_api.calls) == 1


def test_a_post_that_may_have_happened_is_not_retried(
    github_api: GitHubMock, forge: GitHubForge, sleeps: Sleeps
) -> None:
    inject_fault(github_api, "POST", f"{R}/issues/7/comments", 502)
    with pytest.raises(ForgeError) as info:
        forge.create_comment(REPO, 7, "hi")
    assert info.value.status == 502 and sleeps == [] and len(github_api.calls) == 1


def test_after_the_last_attempt_a_clear_error_is_logged(
    github_api: GitHubMock, forge: GitHubForge, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    inject_fault(github_api, "GET", f"{R}/pulls/7", 502, body=error_json("Bad gateway"))
    with caplog.at_level(logging.DEBUG), pytest.raises(ForgeError) as info:
        forge.get_pull(REPO, 7)
    error = info.value
    assert (error.operation, error.status, error.attempts) == ("get_pull", 502, 5)
    assert str(error) == "GitHub get_pull failed after 5 attempts: HTTP 502: Bad gateway"
    assert sleeps == [0.75, 1.5, 3.0, 6.0]  # exponential backoff, jittered
    assert len(github_api.calls) == 5
    final = [r for r in caplog.records if r.name == "bot.forge.github" and r.levelno == logging.ERROR]
    assert [r.getMessage() for r in final] == [str(error)]
    assert TOKEN not in caplog.text and TOKEN not in str(error)


def test_a_503_with_retry_after_waits_at_least_that(
    github_api: GitHubMock, forge: GitHubForge, sleeps: Sleeps
) -> None:
    github_api.add("GET", f"{R}/pulls/7", status=503, json={"message": "busy"}, headers={"Retry-After": "12"})
    github_api.add("GET", f"{R}/pulls/7", json=pull_json(github_api))
    forge.get_pull(REPO, 7)
    assert sleeps == [12.0]


def test_backoff_is_capped() -> None:
    forge = GitHubForge.with_token(TOKEN, bot_login=BOT, rand=lambda: 1.0, retry=RetryPolicy(backoff_cap=4))
    waits = [
        forge._wait("op", 500, headers=None, message="", attempt=n, idempotent=True) for n in range(1, 6)
    ]
    assert waits == [1.0, 2.0, 4.0, 4.0, 4.0]
    assert forge._wait("op", 500, headers=None, message="", attempt=1, idempotent=False) is None
    assert forge._wait("op", 404, headers=None, message="", attempt=1, idempotent=True) is None


def test_network_errors_are_retried_for_idempotent_requests(
    github_api: GitHubMock, forge: GitHubForge, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    github_api.add("GET", f"{R}/pulls/7", json=pull_json(github_api))
    real = forge._requester.requestJsonAndCheck
    failures = iter([requests.ConnectionError(f"connection reset (Authorization: token {TOKEN})")])

    def flaky(*args: Any, **kwargs: Any) -> Any:
        error = next(failures, None)
        if error is not None:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(forge._requester, "requestJsonAndCheck", flaky)
    assert forge.get_pull(REPO, 7).number == 7
    assert sleeps == [0.75] and forge.stats.snapshot()["errors"] == {"network": 1}


# --- GitHub Enterprise Server -----------------------------------------------------------------------------
@pytest.mark.parametrize("github_api", [{"base_url": GHES, "description": "ghes-3.19"}], indirect=True)
def test_github_enterprise_server_base_url(github_api: GitHubMock, forge: GitHubForge) -> None:
    path = f"{R}/issues/7/comments"
    github_api.add(
        "GET",
        path,
        json=[comment_json(github_api, 1, "x", "alice")],
        headers={"Link": f'<{GHES}{path}?per_page=100&page=2>; rel="next"'},
    )
    github_api.add("GET", path, json=[comment_json(github_api, 2, MARKER, BOT, "Bot")])
    github_api.add(
        "GET", f"{R}/contents/modules.toml", json=content_json(github_api, "modules.toml", b"x = 1\n")
    )
    found = forge.find_comment(REPO, 7, MARKER)
    assert found is not None and found.id == 2
    assert forge.get_file(REPO, "modules.toml", "main") == b"x = 1\n"
    assert [c.url.split("?")[0] for c in github_api.calls] == [
        f"https://ghe.example.com:443/api/v3{path}",
        f"https://ghe.example.com:443/api/v3{path}",
        f"https://ghe.example.com:443/api/v3{R}/contents/modules.toml",
    ]


# --- GitHub App authentication ----------------------------------------------------------------------------
APP_ID = 123456


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def token_json(api: GitHubMock, token: str, expires: float) -> dict[str, Any]:
    data = api.example("POST", "/app/installations/42/access_tokens")
    data["token"] = token
    data["expires_at"] = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return data


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def app_provider(
    github_api: GitHubMock, key: rsa.RSAPrivateKey, clock: Callable[[], float], **kwargs: Any
) -> GitHubForgeProvider:
    return GitHubForgeProvider(
        base_url=github_api.base_url,
        app_id=APP_ID,
        private_key=pem(key),
        clock=clock,
        sleep=lambda _: None,
        rand=lambda: 0.5,
        **kwargs,
    )


def test_app_jwt_is_exchanged_for_an_installation_token(
    github_api: GitHubMock, rsa_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    now = time.time()
    github_api.add(
        "POST",
        "/app/installations/42/access_tokens",
        json=token_json(github_api, "ghs_installationTOKEN1", now + 3600),
    )
    github_api.add("GET", f"{R}/pulls/7", json=pull_json(github_api))
    provider = app_provider(github_api, rsa_key, Clock(now), bot_login=BOT)
    forge = provider.for_installation(42)
    assert forge.app_mode
    with caplog.at_level(logging.DEBUG, logger="github"), count_calls() as counter:
        forge.get_pull(REPO, 7)
        forge.get_pull(REPO, 7)
    exchange, first, second = github_api.calls
    assert exchange.operation_id == "apps/create-installation-access-token"
    scheme, token = exchange.headers["Authorization"].split(" ", 1)
    assert scheme == "Bearer"
    claims = jwt.decode(token, rsa_key.public_key(), algorithms=["RS256"])
    assert claims["iss"] == str(APP_ID)
    assert claims["iat"] <= now - 30 and claims["exp"] - claims["iat"] <= 600 + 60
    assert first.headers["Authorization"] == second.headers["Authorization"] == "token ghs_installationTOKEN1"
    assert (counter.calls, counter.token_exchanges, counter.total) == (2, 1, 3)
    # PyGithub logs every request and response body at DEBUG, the access_tokens answer included
    assert '"token": "***"' in caplog.text and "/access_tokens" in caplog.text
    assert "ghs_installationTOKEN1" not in caplog.text and token not in caplog.text
    assert provider.stats.snapshot()["calls"] == {"installation_token": 1, "get_pull": 2}


def test_installation_token_is_refreshed_before_it_expires(
    github_api: GitHubMock, rsa_key: rsa.RSAPrivateKey
) -> None:
    clock = Clock(time.time())
    github_api.add(
        "POST",
        "/app/installations/42/access_tokens",
        json=token_json(github_api, "ghs_first", clock.now + 3600),
    )
    github_api.add(
        "POST",
        "/app/installations/42/access_tokens",
        json=token_json(github_api, "ghs_second", clock.now + 7200),
    )
    github_api.add("GET", f"{R}/pulls/7", json=pull_json(github_api))
    forge = app_provider(github_api, rsa_key, clock, bot_login=BOT).for_installation(42)
    forge.get_pull(REPO, 7)
    clock.now += 3600 - 301  # still valid for 301 s: kept
    forge.get_pull(REPO, 7)
    clock.now += 2  # 299 s left, under the 300 s margin: replaced before use
    forge.get_pull(REPO, 7)
    used = [c.headers["Authorization"] for c in github_api.calls if c.operation_id == "pulls/get"]
    assert used == ["token ghs_first", "token ghs_first", "token ghs_second"]
    assert [c.operation_id for c in github_api.calls].count("apps/create-installation-access-token") == 2


def test_a_revoked_installation_token_is_replaced_once(
    github_api: GitHubMock, rsa_key: rsa.RSAPrivateKey
) -> None:
    now = time.time()
    github_api.add(
        "POST", "/app/installations/42/access_tokens", json=token_json(github_api, "ghs_revoked", now + 3600)
    )
    github_api.add(
        "POST", "/app/installations/42/access_tokens", json=token_json(github_api, "ghs_fresh", now + 3600)
    )
    inject_fault(github_api, "GET", f"{R}/pulls/7", 401, body=error_json("Bad credentials"))
    github_api.add("GET", f"{R}/pulls/7", json=pull_json(github_api))
    inject_fault(github_api, "GET", f"{R}/pulls/8", 401, body=error_json("Bad credentials"))
    inject_fault(github_api, "GET", f"{R}/pulls/8", 401, body=error_json("Bad credentials"))
    forge = app_provider(github_api, rsa_key, Clock(now), bot_login=BOT).for_installation(42)
    assert forge.get_pull(REPO, 7).number == 7
    assert [c.headers["Authorization"] for c in github_api.calls if c.operation_id == "pulls/get"] == [
        "token ghs_revoked",
        "token ghs_fresh",
    ]
    with pytest.raises(ForgeError) as info:  # a second 401 in a row is an answer, not a glitch
        forge.get_pull(REPO, 8)
    assert info.value.status == 401


def test_a_refused_token_exchange_is_a_clear_error(
    github_api: GitHubMock, rsa_key: rsa.RSAPrivateKey
) -> None:
    github_api.add(
        "POST",
        "/app/installations/42/access_tokens",
        status=401,
        json=error_json("A JSON web token could not be decoded"),
    )
    forge = app_provider(github_api, rsa_key, time.time, bot_login=BOT).for_installation(42)
    with pytest.raises(ForgeError) as info:
        forge.get_pull(REPO, 7)
    assert info.value.operation == "installation_token (installation 42)"
    assert info.value.status == 401 and "could not be decoded" in info.value.message
    assert len(github_api.calls) == 1  # 401 is not retried, and the pull was never asked for


def test_clients_are_cached_per_installation(github_api: GitHubMock, rsa_key: rsa.RSAPrivateKey) -> None:
    provider = app_provider(github_api, rsa_key, time.time, bot_login=BOT, cache_size=2)
    first = provider.for_installation(1)
    assert provider.for_installation(1) is first
    second = provider.for_installation(2)
    provider.for_installation(3)  # evicts 1, the least recently used
    assert provider.for_installation(2) is second
    assert provider.for_installation(1) is not first
    with pytest.raises(ForgeError, match="installation id"):
        provider.for_installation(None)
    assert github_api.calls == []  # no token is fetched before it is needed


def test_bot_login_is_asked_once_when_not_configured(
    github_api: GitHubMock, rsa_key: rsa.RSAPrivateKey
) -> None:
    app = github_api.example("GET", "/app")
    app["slug"] = "modbot-staging"
    github_api.add("GET", "/app", json=app)
    provider = app_provider(github_api, rsa_key, time.time)
    assert provider.for_installation(1).bot_login == "modbot-staging[bot]"
    assert provider.for_installation(2).bot_login == "modbot-staging[bot]"
    [call] = github_api.calls
    assert call.headers["Authorization"].startswith("Bearer ")  # as the App, not an installation


def test_token_mode_asks_the_user_once(github_api: GitHubMock) -> None:
    user = github_api.example("GET", "/user")
    user["login"] = "modbot-ci"
    github_api.add("GET", "/user", json=user)
    provider = GitHubForgeProvider(base_url=github_api.base_url, token=TOKEN)
    forge = provider.for_installation(None)
    assert provider.for_installation(99) is forge and not forge.app_mode
    assert forge.bot_login == forge.bot_login == "modbot-ci"
    assert len(github_api.calls) == 1


def test_provider_needs_exactly_one_kind_of_credentials() -> None:
    with pytest.raises(ValueError, match="either a token"):
        GitHubForgeProvider()
    with pytest.raises(ValueError, match="either a token"):
        GitHubForgeProvider(token=TOKEN, app_id=1, private_key="k")


# --- secrets ----------------------------------------------------------------------------------------------
def test_redact_hides_tokens_jwts_and_keys(rsa_key: rsa.RSAPrivateKey) -> None:
    token = jwt.encode({"iss": "1"}, pem(rsa_key), algorithm="RS256")
    text = (
        f"Authorization: token {TOKEN} bearer {token} ghs_abcdefghijklmnopqrstu github_pat_11AAAAAAA0abcdefghij "
        f'{{"token": "v1.0123456789abcdef"}} {pem(rsa_key)}'
    )
    cleaned = redact(text)
    for secret in (
        TOKEN,
        token,
        "ghs_abcdefghijklmnopqrstu",
        "github_pat_11AAAAAAA0abcdefghij",
        "v1.0123456789abcdef",
        pem(rsa_key).splitlines()[1],
    ):
        assert secret not in cleaned
    assert "Authorization: token ***" in cleaned


@pytest.mark.parametrize(("timeout", "waited"), [(0.5, 1), (2.5, 3), (15.0, 15)])
def test_a_fractional_timeout_is_rounded_up_to_whole_seconds(
    github_api: GitHubMock, timeout: float, waited: int
) -> None:
    """MODBOT_GITHUB_TIMEOUT_SECONDS takes any positive number of seconds, PyGithub whole seconds only: a
    request waits at least what was asked (2.5 was 2), and never 0 (0.5 was, and requests refuses 0: every
    call failed)."""
    github_api.add("GET", f"{R}/pulls/7", json=pull_json(github_api))
    forge = GitHubForge.with_token(TOKEN, base_url=github_api.base_url, bot_login=BOT, timeout=timeout)
    try:
        assert forge.get_pull(REPO, 7).number == 7
    finally:
        forge.close()
    [call] = github_api.responses.calls
    assert call.request.req_kwargs["timeout"] == waited


def test_stats_are_shared_by_a_provider_and_forwarded(github_api: GitHubMock) -> None:
    seen: list[tuple[str, ...]] = []
    stats = ForgeStats(
        on_call=lambda op: seen.append((op,)), on_error=lambda op, status: seen.append((op, status))
    )
    github_api.add("GET", f"{R}/pulls/7", json=pull_json(github_api))
    github_api.add("GET", f"{R}/pulls/8", json=error_json("Not Found"), status=404)
    provider = GitHubForgeProvider(base_url=github_api.base_url, token=TOKEN, bot_login=BOT, stats=stats)
    forge = provider.for_installation(None)
    forge.get_pull(REPO, 7)
    with pytest.raises(ForgeError):
        forge.get_pull(REPO, 8)
    assert stats.snapshot()["calls"] == {"get_pull": 2}
    assert stats.snapshot()["errors"] == {"404": 1}
    assert stats.total_calls == 2
    assert seen == [("get_pull",), ("get_pull",), ("get_pull", "404")]


# --- the write fence: a worker that lost its job's lease writes nothing more ------------------------------
def test_writes_check_the_lease_first_and_reads_do_not(github_api: GitHubMock, forge: GitHubForge) -> None:
    from bot.forge import write_fence
    from bot.store import LeaseLostError

    def lost(operation: str) -> None:
        raise LeaseLostError(f"job 1: the lease was taken by another worker; {operation} not sent")

    github_api.add("GET", f"{R}/pulls/7", json=pull_json(github_api))
    with write_fence(lost):
        assert forge.get_pull(REPO, 7).number == 7  # a read changes nothing: allowed
        with pytest.raises(LeaseLostError):
            forge.create_comment(REPO, 7, "hello")
        with pytest.raises(LeaseLostError):
            forge.set_commit_status(REPO, SHA_HEAD, "success", context="modbot/manifest", description="ok")
    assert [c.method for c in github_api.calls] == ["GET"]  # nothing was sent for the writes


def test_a_lease_lost_while_the_client_sleeps_before_a_retry_stops_the_retry(
    github_api: GitHubMock, sleeps: Sleeps
) -> None:
    from bot.forge import write_fence
    from bot.store import LeaseLostError

    held = [True]

    def check(operation: str) -> None:
        if not held[0]:
            raise LeaseLostError("job 1: handed back on shutdown")

    def sleep(seconds: float) -> None:  # the lease is lost while the client waits to retry
        sleeps.append(seconds)
        held[0] = False

    forge = GitHubForge.with_token(
        TOKEN, base_url=github_api.base_url, bot_login=BOT, sleep=sleep, rand=lambda: 0.5, clock=lambda: NOW
    )
    inject_fault(github_api, "PATCH", f"{R}/issues/comments/55", 502)
    try:
        with write_fence(check), pytest.raises(LeaseLostError):
            forge.update_comment(REPO, 55, "edited")
    finally:
        forge.close()
    assert len(sleeps) == 1 and len(github_api.calls_to("PATCH", f"{R}/issues/comments/55")) == 1
