"""The console's Change requests pages and log pages (bot/web/console/changes_page.py, runs_page.py) on
a real local forge: real git, the real store with local accounts, the real app. Approve and merge as
the forge allows them (write, never one's own), refusals with the forge's reason and nothing changed,
CSRF, the audit entry, and the log pages' path rules."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.forge.local import LocalForgeProvider
from bot.host.layout import Layout
from bot.host.runs import RunStore, StepRecord
from bot.runtime import Runtime
from bot.store import Store, open_store
from bot.web.app import create_app
from tests.chatops_world import POLICY, World
from tests.console_world import PASSWORD, REPO, Console, console_settings, csrf_of
from tests.local_forge_world import LocalWorld

SCRIPT = "<script>alert(1)</script>"


@dataclass
class LocalConsole:
    world: LocalWorld
    store: Store
    client: TestClient
    host: Path

    def sign_in(self, login: str) -> None:
        self.client.cookies.clear()
        page = self.client.get("/console/login")
        answer = self.client.post(
            "/console/login",
            data={"login": login, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text

    def post(self, number: int, action: str, *, csrf: bool = True, **fields: str) -> tuple[int, str]:
        data = dict(fields)
        if csrf:
            data["csrf_token"] = csrf_of(self.client.get(f"/console/changes/{number}").text)
        answer = self.client.post(f"/console/changes/{number}/{action}", data=data)
        return answer.status_code, answer.text

    def open_change(self, author: str, branch: str = "topic") -> int:
        self.world.commit(branch, {"modules.toml": b"x = 1\n"}, author=author)
        body = f'<!-- modbot:intent {{"slug": "forum"}} -->\nplease {SCRIPT}'
        return self.world.local.open_change_request(
            REPO, head=branch, base="main", title="Install forum", body=body, author=author
        ).number

    def audit(self, action: str) -> list[tuple[str, str | None, object]]:
        return [
            (e.actor, e.target, e.details) for e in self.store.query_audit().entries if e.action == action
        ]


@pytest.fixture
def console(tmp_path: Path) -> Iterator[LocalConsole]:
    world = LocalWorld(tmp_path, REPO)
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    world.local.role_of = store.role_of  # the accounts' roles are the forge's, as in single-host mode
    for login, role in (("alice", "write"), ("bob", "write"), ("carol", "read")):
        store.add_user(login, PASSWORD, role, actor="cli:test")
    host = tmp_path / "host"
    runtime = Runtime(console_settings("local"), store, LocalForgeProvider(world.local), host_dir=host)
    client = TestClient(create_app(runtime, workers=0), base_url="http://testserver")
    yield LocalConsole(world, store, client, host)
    client.close()


def test_the_list_and_the_page_show_the_change_with_its_text_escaped(console: LocalConsole) -> None:
    number = console.open_change("alice")
    console.world.local.add_comment(
        REPO, number, f"<!-- modbot:manifest-report -->\n**modules_delta** +forum {SCRIPT}", by="modbot"
    )
    console.sign_in("carol")
    listing = console.client.get("/console/changes")
    assert listing.status_code == 200
    assert f'href="/console/changes/{number}"' in listing.text and "Install forum" in listing.text
    page = console.client.get(f"/console/changes/{number}")
    assert page.status_code == 200
    assert SCRIPT not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "modules_delta" in page.text and "alice" in page.text
    assert "modbot:manifest-report" not in page.text and "modbot:intent" not in page.text  # markers hidden
    assert console.client.get("/console/changes/999").status_code == 404


def test_a_writer_approves_and_merges_and_each_action_is_audited_once(console: LocalConsole) -> None:
    number = console.open_change("alice")
    console.sign_in("bob")
    status, _ = console.post(number, "approve")
    assert status == 200
    reviews = console.world.records.list_reviews(REPO, number)
    assert [(r.author, r.state) for r in reviews] == [("bob", "APPROVED")]
    head = console.world.local.get_pull(REPO, number).head_sha
    status, text = console.post(number, "merge", head_sha=head)
    assert status == 200, text
    merged = console.world.records.get_change_request(REPO, number)
    assert merged is not None and merged.merged and merged.merged_by == "bob"
    assert (console.world.git.ref("refs/heads/main") or ("",))[0] == merged.merge_commit_sha
    assert console.audit("change.approve") == [("bob", f"{REPO}#{number}", {"outcome": "done"})]
    assert console.audit("change.merge") == [("bob", f"{REPO}#{number}", {"outcome": "done"})]


def test_a_reader_is_refused_with_the_forges_reason_and_nothing_changes(console: LocalConsole) -> None:
    number = console.open_change("alice")
    console.sign_in("carol")
    for action in ("approve", "merge"):
        status, text = console.post(number, action)
        assert status == 403
        assert "carol may not do this (needs the write role)" in text
    record = console.world.records.get_change_request(REPO, number)
    assert record is not None and record.state == "open" and not record.merged
    assert console.world.records.list_reviews(REPO, number) == []
    refused = console.audit("change.approve")
    assert len(refused) == 1 and refused[0][0] == "carol"
    assert isinstance(refused[0][2], dict) and refused[0][2]["outcome"] == "refused"


def test_the_author_cannot_approve_their_own_change(console: LocalConsole) -> None:
    number = console.open_change("alice")
    console.sign_in("alice")
    status, text = console.post(number, "approve")
    assert status == 422
    assert "Can not approve or request changes on your own change request" in text
    assert console.world.records.list_reviews(REPO, number) == []


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(console: LocalConsole) -> None:
    number = console.open_change("alice")
    console.sign_in("bob")
    for action in ("approve", "merge", "close"):
        status, _ = console.post(number, action, csrf=False)
        assert status == 403
    status, _ = console.post(number, "merge", csrf=False, csrf_token="forged")
    assert status == 403
    record = console.world.records.get_change_request(REPO, number)
    assert record is not None and record.state == "open" and not record.merged
    assert console.world.records.list_reviews(REPO, number) == []
    assert console.audit("change.merge") == []


def test_merge_of_a_head_that_moved_is_refused(console: LocalConsole) -> None:
    number = console.open_change("alice")
    seen = console.world.local.get_pull(REPO, number).head_sha
    console.world.commit("topic", {"modules.toml": b"x = 2\n"}, author="alice")
    console.sign_in("bob")
    status, text = console.post(number, "merge", head_sha=seen)
    assert status == 409 and "Head branch was modified" in text
    record = console.world.records.get_change_request(REPO, number)
    assert record is not None and not record.merged


def test_the_author_closes_their_change(console: LocalConsole) -> None:
    number = console.open_change("alice")
    console.sign_in("alice")
    status, _ = console.post(number, "close")
    assert status == 200
    record = console.world.records.get_change_request(REPO, number)
    assert record is not None and record.state == "closed"


def _a_run(host: Path) -> str:
    runs = RunStore(Layout(host))
    run = runs.create(commit="a" * 40, ref="main", requested_by="bob")
    folder = Layout(host).run_dir(run.id)
    (folder / "logs").mkdir()
    (folder / "logs" / "01-build.log").write_text("cargo build\n" + "x" * 70_000 + "\nFinished release\n")
    run.steps = [
        StepRecord(
            key="build", title="cargo build", state="completed", conclusion="success", log="logs/01-build.log"
        ),
        StepRecord(key="evil", title="escape", state="completed", log="../../../store.sqlite3"),
    ]
    run.state, run.conclusion = "completed", "success"
    runs.save(run)
    return run.id


def test_the_run_log_shows_each_step_with_its_tail_and_the_full_text(console: LocalConsole) -> None:
    run_id = _a_run(console.host)
    console.sign_in("carol")
    page = console.client.get(f"/console/runs/{run_id}/log")
    assert page.status_code == 200
    assert "cargo build" in page.text and "Finished release" in page.text
    assert "The last 64 KiB of" in page.text  # the 70 kB log is cut to its tail
    full = console.client.get(f"/console/runs/{run_id}/steps/0/log.txt")
    assert full.status_code == 200 and full.headers["content-type"].startswith("text/plain")
    assert full.text.startswith("cargo build\n") and full.text.endswith("Finished release\n")
    assert console.client.get(f"/console/runs/{run_id}/events").status_code == 204  # completed


def test_the_log_pages_never_reach_a_file_outside_the_run(console: LocalConsole) -> None:
    run_id = _a_run(console.host)
    console.sign_in("carol")
    assert console.client.get(f"/console/runs/{run_id}/steps/1/log.txt").status_code == 404  # ../ in run.json
    assert console.client.get(f"/console/runs/{run_id}/steps/7/log.txt").status_code == 404
    for path in (
        "/console/runs/..%2F..%2Fstore.sqlite3/log",
        "/console/runs/0/log",
        "/console/runs/1a/log",
        "/console/runs/99/log",
        "/console/environments/..%2F..%2Fstore/log.txt",
        "/console/environments/Prod/log",
    ):
        answer = console.client.get(path)
        assert answer.status_code in (404, 422), path
        assert "SQLite format" not in answer.text


def test_the_environment_deploy_log(console: LocalConsole) -> None:
    console.sign_in("carol")
    empty = console.client.get("/console/environments/production/log")
    assert empty.status_code == 200 and "Nothing was deployed" in empty.text
    log = Layout(console.host).environment_dir("production") / "deploy.log"
    log.parent.mkdir(parents=True)
    log.write_text(f"2026-12-07T07:00:00Z [success] deployed rel_2026_12_07_001 {SCRIPT}\n")
    page = console.client.get("/console/environments/production/log")
    assert "deployed rel_2026_12_07_001" in page.text and SCRIPT not in page.text
    text = console.client.get("/console/environments/production/log.txt")
    assert (
        text.status_code == 200
        and SCRIPT in text.text
        and text.headers["content-type"].startswith("text/plain")
    )


def test_the_pages_are_in_russian_too(console: LocalConsole) -> None:
    number = console.open_change("alice")
    run_id = _a_run(console.host)
    console.sign_in("bob")
    console.client.cookies.set("modbot_lang", "ru", path="/console")
    page = console.client.get(f"/console/changes/{number}")
    assert page.headers["content-language"] == "ru"
    for words in ("Одобрить", "Запросить изменения", "Слить", "Закрыть", "Запросы на изменение"):
        assert words in page.text
    assert ">Approve<" not in page.text and ">Merge<" not in page.text
    log = console.client.get(f"/console/runs/{run_id}/log")
    assert "Шаги" in log.text and "Весь журнал текстом" in log.text and ">Steps<" not in log.text


def test_with_github_as_the_forge_the_pages_link_to_github(world: World) -> None:
    github = Console.start(world)
    github.sign_in_github("alice", "write")
    listing = github.client.get("/console/changes")
    assert listing.status_code == 200 and f"https://github.com/{REPO}/pulls" in listing.text
    assert "/console/changes/1/approve" not in github.client.get("/console/changes/1").text
    csrf = github.csrf()
    refused = github.client.post("/console/changes/1/approve", data={"csrf_token": csrf})
    assert refused.status_code == 404


def test_the_releases_page_links_each_environments_deploy_log(console: LocalConsole) -> None:
    console.world.commit("main", {".github/modbot.toml": POLICY})  # its environments
    console.sign_in("carol")
    page = console.client.get("/console/releases")
    assert page.status_code == 200, page.text
    assert 'href="/console/environments/production/log"' in page.text


def test_modbots_manifest_status_on_the_head_is_shown(console: LocalConsole) -> None:
    number = console.open_change("alice")
    head = console.world.local.get_pull(REPO, number).head_sha
    console.sign_in("carol")
    assert "modbot/manifest" not in console.client.get(f"/console/changes/{number}").text
    console.world.local.set_commit_status(
        REPO, head, "success", context="modbot/manifest", description="valid: +forum"
    )
    page = console.client.get(f"/console/changes/{number}")
    assert "modbot/manifest" in page.text and "valid: +forum" in page.text
