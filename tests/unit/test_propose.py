"""`propose_change`: an admin intent becomes exactly one PR (opened, refreshed, or left alone).

Against `FakeForge` for the behaviour and the call counts, and once against `GitHubForge` behind GitHub's
published REST description (the `github_api` fixture) for the opening path.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.app.proposals import BuildIntent, Intent, propose_change, read_intent_marker
from bot.cli import main
from bot.forge import ForgeError, count_calls
from bot.forge.github import GitHubForge
from bot.manifest import validate_text
from bot.manifest.edit import EditRefused
from bot.store import open_store
from tests.corpus import LATEST, read
from tests.fakes import FakeForge
from tests.github_conformance import GitHubMock
from tests.unit.test_forge_github import content_json, error_json, pull_json, ref_json

REPO = "rustok/rustok"
BOT = "modbot[bot]"
TEXT = read(LATEST)
BRANCH = "modbot/install-forum2"
WRITES = {"create_branch", "update_branch_ref", "commit_file", "create_pull", "update_pull"}


def intent(**kwargs: Any) -> Intent:
    data: dict[str, Any] = {
        "action": "install",
        "slug": "forum2",
        "module": {"crate": "rustok-forum2", "source": "crates-io", "version": "0.1"},
        "requested_by": "alice",
        "reason": "tenants asked",
    }
    data.update(kwargs)
    return Intent.model_validate(data)


@pytest.fixture
def forge() -> FakeForge:
    fake = FakeForge(bot_login=BOT)
    fake.add_repo(REPO, files={"modules.toml": TEXT.encode()})
    return fake


def writes(forge: FakeForge) -> list[str]:
    """The write operations made, in order (the fake records commit_file's ref move as a second entry)."""
    ops = [op for op in forge.operations() if op in WRITES]
    return [op for i, op in enumerate(ops) if i == 0 or op != ops[i - 1]]


def propose(forge: FakeForge, wanted: Intent | None = None) -> Any:
    return propose_change(forge, REPO, wanted or intent(), manifest_path="modules.toml")


def main_head(forge: FakeForge) -> str:
    return forge.repos[REPO].refs["heads/main"]


def test_opens_one_pr_with_one_commit_on_the_default_branch_head(forge: FakeForge) -> None:
    base = main_head(forge)
    with count_calls() as counter:
        result = propose(forge)
    assert result.status == "opened"
    assert (result.branch, result.base_branch, result.base_sha) == (BRANCH, "main", base)
    assert result.summary == "+forum2@0.1" and result.delta["summary"] == "+forum2@0.1"
    st = forge.repos[REPO]
    head = st.refs[f"heads/{BRANCH}"]
    assert result.commit_sha == head and st.commits[head].parents == (base,)
    new_text = forge.file_at(REPO, head, "modules.toml")
    assert new_text is not None and validate_text(new_text.decode()).valid
    assert 'forum2 = { crate = "rustok-forum2"' in new_text.decode()
    pull = st.pulls[result.pull_number]
    assert (pull.head_ref, pull.base_ref, pull.author) == (BRANCH, "main", BOT)
    assert pull.title == "modbot: install +forum2@0.1" and result.pull_url == pull.html_url
    marker = read_intent_marker(pull.body)
    assert marker is not None and marker["base_sha"] == base and marker["requested_by"] == "alice"
    assert "tenants asked" in pull.body
    assert writes(forge) == ["create_branch", "commit_file", "create_pull"]
    # default branch, its head, the manifest, open PR?, compare (404), branch, commit (5), PR
    assert counter.calls == 12


def test_the_same_intent_again_is_unchanged_and_writes_nothing(forge: FakeForge) -> None:
    first = propose(forge)
    forge.calls.clear()
    with count_calls() as counter:
        again = propose(forge)
    assert again.status == "unchanged"
    assert (again.pull_number, again.commit_sha) == (first.pull_number, first.commit_sha)
    assert "already carries" in again.message
    assert writes(forge) == []
    assert counter.calls == 6  # + the manifest at the branch head
    assert len(forge.repos[REPO].pulls) == 1


def test_a_new_base_gets_a_fresh_commit_on_it_and_the_pr_is_updated(forge: FakeForge) -> None:
    first = propose(forge)
    new_base = forge.commit(REPO, "main", {"README.md": b"hello\n"}, author="bob")
    result = propose(forge)
    assert result.status == "updated" and result.pull_number == first.pull_number
    st = forge.repos[REPO]
    head = st.refs[f"heads/{BRANCH}"]
    assert head == result.commit_sha != first.commit_sha
    assert st.commits[head].parents == (new_base,)  # one commit on the current base, not a stack
    assert forge.file_at(REPO, head, "README.md") == b"hello\n"
    marker = read_intent_marker(st.pulls[result.pull_number].body)
    assert marker is not None and marker["base_sha"] == new_base
    assert len(st.pulls) == 1


def test_a_new_reason_only_refreshes_the_description(forge: FakeForge) -> None:
    first = propose(forge)
    forge.calls.clear()
    result = propose(forge, intent(reason="the board decided"))
    assert result.status == "updated" and result.commit_sha == first.commit_sha
    assert writes(forge) == ["update_pull"]
    assert "the board decided" in forge.repos[REPO].pulls[result.pull_number].body


def test_a_person_pushed_to_the_branch_so_it_is_left_alone(forge: FakeForge) -> None:
    first = propose(forge)
    pushed = forge.commit(REPO, BRANCH, {"modules.toml": TEXT.encode() + b"\n"}, author="carol")
    body = forge.repos[REPO].pulls[first.pull_number].body
    forge.commit(REPO, "main", {"README.md": b"x\n"}, author="bob")  # even on a new base
    forge.calls.clear()
    result = propose(forge, intent(reason="again"))
    assert result.status == "left-alone"
    assert result.pull_number == first.pull_number and result.commit_sha == pushed
    assert "carol" in result.message and "leaves it alone" in result.message
    assert writes(forge) == []
    assert forge.repos[REPO].refs[f"heads/{BRANCH}"] == pushed
    assert forge.repos[REPO].pulls[first.pull_number].body == body


def test_a_commit_committed_by_someone_else_is_not_the_bots(forge: FakeForge) -> None:
    propose(forge)
    forge.commit(REPO, BRANCH, {"x": b"1"}, author=BOT, committer="web-flow")
    assert propose(forge).status == "left-alone"


def test_a_left_over_branch_without_a_pr(forge: FakeForge) -> None:
    stale = forge.commit(REPO, BRANCH, {"x": b"1"}, author=BOT)
    result = propose(forge)
    assert result.status == "opened"
    head = forge.repos[REPO].refs[f"heads/{BRANCH}"]
    assert forge.repos[REPO].commits[head].parents == (main_head(forge),) and head != stale
    assert writes(forge) == ["commit_file", "create_pull"]  # the branch exists: reused, forced


def test_a_persons_branch_without_a_pr_is_left_alone_too(forge: FakeForge) -> None:
    mine = forge.commit(REPO, BRANCH, {"x": b"1"}, author="dave")
    result = propose(forge)
    assert result.status == "left-alone" and result.pull_number is None
    assert "dave" in result.message and forge.repos[REPO].refs[f"heads/{BRANCH}"] == mine
    assert writes(forge) == []


@pytest.mark.parametrize(
    ("wanted", "reason"),
    [
        (intent(action="uninstall", slug="outbox", module={}), "required"),
        (intent(module={"crate": "rustok-forum2"}), "`source`"),
    ],
)
def test_a_refused_edit_opens_nothing(forge: FakeForge, wanted: Intent, reason: str) -> None:
    with pytest.raises(EditRefused) as refused:
        propose(forge, wanted)
    assert reason in " ".join(refused.value.reasons)
    assert writes(forge) == [] and not forge.repos[REPO].pulls


@pytest.mark.parametrize("requested_by", ["alice\nbob", "alice\x1b[31m", ""])
def test_who_asked_is_one_printable_line_for_changes_and_builds(requested_by: str) -> None:
    # it goes into commit trailers and PR bodies
    with pytest.raises(ValidationError):
        Intent(action="enable", slug="forum", requested_by=requested_by)
    with pytest.raises(ValidationError):
        BuildIntent(modules={}, requested_by=requested_by)
    assert BuildIntent(modules={}, requested_by="api:panel").requested_by == "api:panel"


def test_a_missing_manifest_is_refused(forge: FakeForge) -> None:
    with pytest.raises(EditRefused, match="does not exist on `main`"):
        propose_change(forge, REPO, intent(), manifest_path="deploy/modules.toml")
    assert writes(forge) == []


def test_forge_errors_reach_the_caller(forge: FakeForge) -> None:
    forge.fail_next("create_pull", ForgeError("create_pull", 502, "Bad Gateway"))
    with pytest.raises(ForgeError, match="Bad Gateway"):
        propose(forge)
    # the branch is the bot's own: asking again finishes the job
    assert propose(forge).status == "opened"


def test_a_non_default_default_branch(forge: FakeForge) -> None:
    forge.set_default_branch(REPO, "trunk")
    new_base = forge.commit(REPO, "trunk", {"README.md": b"t\n"})
    result = propose(forge)
    assert result.base_branch == "trunk" and result.base_sha == new_base
    assert forge.repos[REPO].pulls[result.pull_number].base_ref == "trunk"


# --- the same, against GitHub's real API shapes ---------------------------------------------------------
def mock_the_opening_path(github_api: GitHubMock) -> None:
    """What GitHub answers when the PR is opened (12 requests)."""
    r = f"/repos/{REPO}"
    base, commit_sha = "b" * 40, "4" * 40

    def example(method: str, path: str) -> Any:
        return github_api.example(method, path)

    repo_json = example("GET", r)
    repo_json.update(full_name=REPO, default_branch="main")
    github_api.add("GET", r, json=repo_json)
    head_ref = ref_json(github_api, "refs/heads/main", base)
    github_api.add("GET", f"{r}/git/ref/heads/main", json=head_ref)
    manifest = content_json(github_api, "modules.toml", TEXT.encode())
    github_api.add("GET", f"{r}/contents/modules.toml", json=manifest)
    github_api.add("GET", f"{r}/pulls", json=[])
    github_api.add("GET", f"{r}/compare/{base}...{BRANCH}", json=error_json("Not Found"), status=404)
    github_api.add("POST", f"{r}/git/refs", json=ref_json(github_api, f"refs/heads/{BRANCH}", base))
    parent = example("GET", f"{r}/git/commits/{base}")
    parent["sha"] = base
    github_api.add("GET", f"{r}/git/commits/{base}", json=parent)
    github_api.add("POST", f"{r}/git/blobs", json=example("POST", f"{r}/git/blobs"))
    github_api.add("POST", f"{r}/git/trees", json=example("POST", f"{r}/git/trees"))
    new_commit = example("POST", f"{r}/git/commits")
    new_commit["sha"] = commit_sha
    github_api.add("POST", f"{r}/git/commits", json=new_commit)
    github_api.add(
        "PATCH", f"{r}/git/refs/heads/{BRANCH}", json=ref_json(github_api, f"refs/heads/{BRANCH}", commit_sha)
    )
    created = pull_json(github_api, 21, head_sha=commit_sha, base_sha=base, head_ref=BRANCH, author=BOT)
    created["base"]["repo"]["full_name"] = REPO
    created["html_url"] = f"https://github.com/{REPO}/pull/21"
    if created["head"]["repo"] is not None:
        created["head"]["repo"]["full_name"] = REPO
    github_api.add("POST", f"{r}/pulls", json=created)


def test_opening_a_pr_through_github(github_api: GitHubMock) -> None:
    r = f"/repos/{REPO}"
    base, commit_sha = "b" * 40, "4" * 40
    mock_the_opening_path(github_api)
    forge = GitHubForge.with_token(
        "ghp_" + "x" * 36, base_url=github_api.base_url, bot_login=BOT, sleep=lambda _: None
    )
    try:
        result = propose_change(forge, REPO, intent(), manifest_path="modules.toml")
    finally:
        forge.close()
    assert result.status == "opened" and result.pull_number == 21
    assert result.pull_url == f"https://github.com/{REPO}/pull/21" and result.commit_sha == commit_sha
    github_api.assert_all_used()
    calls = {f"{c.method} {c.path}": c for c in github_api.calls}
    assert len(github_api.calls) == 12
    assert calls[f"GET {r}/contents/modules.toml"].query.get("ref") == [base]
    assert calls[f"GET {r}/pulls"].query["head"] == [f"rustok:{BRANCH}"]
    assert calls[f"POST {r}/git/refs"].json == {"ref": f"refs/heads/{BRANCH}", "sha": base}
    blob = calls[f"POST {r}/git/blobs"].json
    assert "rustok-forum2" in base64.b64decode(blob["content"]).decode()
    assert calls[f"POST {r}/git/commits"].json["parents"] == [base]
    assert calls[f"PATCH {r}/git/refs/heads/{BRANCH}"].json == {"sha": commit_sha, "force": True}
    opened = calls[f"POST {r}/pulls"].json
    assert (opened["head"], opened["base"], opened["title"]) == (
        BRANCH,
        "main",
        "modbot: install +forum2@0.1",
    )
    assert read_intent_marker(opened["body"]) is not None


# --- the CLI: `modbot propose` -------------------------------------------------------------------------
@pytest.fixture
def bot_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [n for n in os.environ if n.startswith("MODBOT_")]:
        monkeypatch.delenv(name)
    database = tmp_path / "modbot.sqlite3"
    monkeypatch.setenv("MODBOT_GITHUB_TOKEN", "ghp_" + "x" * 36)
    monkeypatch.setenv("MODBOT_BOT_LOGIN", BOT)
    monkeypatch.setenv("MODBOT_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("MODBOT_REPOSITORIES", f"{REPO},rustok/other")
    return database


def audit_entries(database: Path) -> list[Any]:
    store = open_store(f"sqlite:///{database}")
    try:
        return store.query_audit(limit=10).entries
    finally:
        store.engine.dispose()


def test_cli_propose_opens_the_pr(
    github_api: GitHubMock, bot_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mock_the_opening_path(github_api)
    code = main(
        [
            "propose", "install", "forum2", "--repo", REPO, "--crate", "rustok-forum2",
            "--source", "crates-io", "--version", "0.1", "--requested-by", "alice",
            "--reason", "tenants asked", "--format", "json",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads(out)
    assert result["status"] == "opened" and result["pull_number"] == 21
    github_api.assert_all_used()
    [entry] = audit_entries(bot_env)
    assert entry.action == "module.install" and entry.target == f"{REPO}#21"
    assert entry.details is not None and entry.details["outcome"] == "opened"
    assert entry.actor.startswith("cli:") and entry.reason == "tenants asked"


def test_cli_propose_refused_is_exit_1_and_touches_nothing(
    github_api: GitHubMock, bot_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = f"/repos/{REPO}"
    repo_json = github_api.example("GET", r)
    repo_json.update(full_name=REPO, default_branch="main")
    github_api.add("GET", r, json=repo_json)
    github_api.add("GET", f"{r}/git/ref/heads/main", json=ref_json(github_api, "refs/heads/main", "b" * 40))
    github_api.add(
        "GET", f"{r}/contents/modules.toml", json=content_json(github_api, "modules.toml", TEXT.encode())
    )
    code = main(["propose", "uninstall", "outbox", "--repo", REPO, "--requested-by", "alice"])
    out = capsys.readouterr().out
    assert code == 1 and "refused" in out and "required" in out
    assert [c.method for c in github_api.calls] == ["GET", "GET", "GET"]
    [entry] = audit_entries(bot_env)
    assert entry.details is not None and entry.details["outcome"] == "refused"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--repo", "evil/repo"], "not among the repositories"),
        (["--repo", "not a repo"], "owner/name"),
        (["--repo", REPO, "--requested-by", "a\nb"], "one line"),
    ],
)
def test_cli_propose_usage_errors_are_exit_2_without_a_call(
    github_api: GitHubMock, bot_env: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code = main(["propose", "enable", "seo", "--requested-by", "alice", *argv])
    err = capsys.readouterr()
    assert code == 2 and message in err.err
    assert github_api.calls == []


def test_cli_propose_github_failure_is_exit_2(
    github_api: GitHubMock, bot_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    github_api.add("GET", f"/repos/{REPO}", json=error_json("Not Found"), status=404)
    code = main(["propose", "enable", "seo", "--repo", REPO, "--requested-by", "alice"])
    err = capsys.readouterr().err
    assert code == 2 and "HTTP 404" in err and "Traceback" not in err
    assert "ghp_" not in err
