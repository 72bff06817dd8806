"""Effects exactly once (issue #11): a GitHub write that GitHub *did* but whose answer was lost (a 502 after
the write, a timeout after the write) and a job run again (the worker's retry, a crash before the job was
marked done, a lease that ran out) leave one sticky comment and one check run / commit status per head.

The PR review runs end to end: the real handler, a real store and `GitHubForge`, against a stand-in
GitHub with state (`StandIn`: comments, check runs and statuses that POSTs create and GETs list) served
through the conformance harness, so every request and documented answer is checked against GitHub's
REST description. Faults are injected per route: ``after-502`` does the write and answers 502,
``after-timeout`` does it and then the connection times out, ``after-reset`` does it and then drops the
connection, ``before-502`` answers 502 without it.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from bot.app.review.report import CHECK_NAME, MARKER
from bot.config import BotSettings
from bot.forge import ForgeError
from bot.forge.github import GitHubForge
from bot.runtime import Runtime
from bot.store import Store
from bot.worker.wiring import build_worker
from tests.e2e.test_webhook_e2e import OneForge, app_settings, history
from tests.github_conformance import Call, GitHubMock, Match, webhook_example
from tests.store_helpers import temporary_store
from tests.unit.test_forge_github import comment_json, content_json, error_json, file_entry
from tests.webhook_handlers import handle_pull_request

REPO = "octo/modules"
BOT = "modbot[bot]"
TOKEN = "ghp_" + "T0k3nT0k3n" * 3
NUMBER = 7
BASE_SHA = "b" * 40
R = "/repos/{owner}/{repo}"


class StandIn:
    """The part of GitHub a PR review uses, with state, and faults on demand (see the module docstring)."""

    def __init__(self, api: GitHubMock) -> None:
        self.api = api
        self.files: dict[str, bytes] = {BASE_SHA: history(37)}  # sha -> modules.toml at that commit
        self.comments: dict[int, list[dict[str, Any]]] = {}  # issue number -> its comments
        self.check_runs: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []  # oldest first
        self.faults: dict[tuple[str, str], list[str | None]] = {}  # (method, template) -> next faults
        self.fault_rate: dict[str, float] = {}  # kind -> probability on every write
        self.rand = random.Random(11)  # noqa: S311 - a reproducible fault pattern, no secret
        self._ids = iter(range(5000, 10**6))
        self._comment = api.example("GET", "/repos/o/r/issues/1/comments")[0]
        self._run = api.example("POST", "/repos/o/r/check-runs")
        self._status = api.example("POST", f"/repos/o/r/statuses/{BASE_SHA}")
        routes: list[tuple[str, str, Callable[[Call, Match], tuple[int, Any]]]] = [
            ("GET", f"{R}/pulls/{{pull_number}}/files", self._files),
            ("GET", f"{R}/contents/{{path}}", self._contents),
            ("GET", f"{R}/issues/{{issue_number}}/comments", self._list_comments),
            ("POST", f"{R}/issues/{{issue_number}}/comments", self._write(self._create_comment)),
            ("PATCH", f"{R}/issues/comments/{{comment_id}}", self._write(self._update_comment)),
            ("POST", f"{R}/check-runs", self._write(self._create_run)),
            ("PATCH", f"{R}/check-runs/{{check_run_id}}", self._write(self._update_run)),
            ("GET", f"{R}/commits/{{ref}}/check-runs", self._list_runs),
            ("POST", f"{R}/statuses/{{sha}}", self._write(self._create_status)),
            ("GET", f"{R}/commits/{{ref}}/status", self._combined_status),
        ]
        for method, template, respond in routes:
            api.serve(method, template, respond)

    def fail(self, method: str, template: str, *kinds: str | None) -> None:
        self.faults[(method, template)] = list(kinds)

    # --- reads --------------------------------------------------------------------------------------
    def _files(self, call: Call, match: Match) -> tuple[int, Any]:
        return 200, [file_entry(self.api, "modules.toml")]

    def _contents(self, call: Call, match: Match) -> tuple[int, Any]:
        ref = call.query["ref"][0]
        if ref not in self.files:
            return 404, error_json("Not Found")
        return 200, content_json(self.api, "modules.toml", self.files[ref])

    def _list_comments(self, call: Call, match: Match) -> tuple[int, Any]:
        return 200, copy.deepcopy(self.comments.get(int(match.path_params["issue_number"]), []))

    def _list_runs(self, call: Call, match: Match) -> tuple[int, Any]:
        name = call.query.get("check_name", [None])[0]
        runs = [r for r in self.check_runs if r["head_sha"] == match.path_params["ref"]]
        runs = [r for r in runs if name is None or r["name"] == name]
        return 200, {"total_count": len(runs), "check_runs": copy.deepcopy(runs[::-1])}

    def _combined_status(self, call: Call, match: Match) -> tuple[int, Any]:
        sha = match.path_params["ref"]
        latest: dict[str, dict[str, Any]] = {}
        for status in self.statuses:  # oldest first: GitHub shows the latest of each context
            if status["sha"] == sha:
                latest[status["context"]] = copy.deepcopy(status)
        combined = self.api.example("GET", f"{R}/commits/{sha}/status")
        combined.update(sha=sha, state="pending", total_count=len(latest), statuses=list(latest.values()))
        return 200, combined

    # --- writes, with faults ------------------------------------------------------------------------
    def _write(
        self, apply: Callable[[Call, Match], tuple[int, Any]]
    ) -> Callable[[Call, Match], tuple[int, Any]]:
        def respond(call: Call, match: Match) -> tuple[int, Any]:
            queued = self.faults.get((call.method, match.operation.template))
            fault = queued.pop(0) if queued else None
            if fault is None:
                fault = next((k for k, p in self.fault_rate.items() if self.rand.random() < p), None)
            if fault == "before-502":
                return 502, error_json("Server Error")
            answer = apply(call, match)
            if fault == "after-502":
                return 502, error_json("Server Error")
            if fault == "after-timeout":
                raise requests.exceptions.ReadTimeout("the stand-in hung past the client timeout")
            if fault == "after-reset":
                raise requests.exceptions.ConnectionError("the stand-in dropped the connection")
            return answer

        return respond

    def _create_comment(self, call: Call, match: Match) -> tuple[int, Any]:
        comment = comment_json(self.api, next(self._ids), call.json["body"], BOT, "Bot")
        self.comments.setdefault(int(match.path_params["issue_number"]), []).append(comment)
        return 201, copy.deepcopy(comment)

    def _update_comment(self, call: Call, match: Match) -> tuple[int, Any]:
        wanted = int(match.path_params["comment_id"])
        for comment in (c for comments in self.comments.values() for c in comments):
            if comment["id"] == wanted:
                comment["body"] = call.json["body"]
                return 200, copy.deepcopy(comment)
        return 404, error_json("Not Found")

    def _create_run(self, call: Call, match: Match) -> tuple[int, Any]:
        run = copy.deepcopy(self._run)
        body = call.json
        run.update(id=next(self._ids), name=body["name"], head_sha=body["head_sha"], status=body["status"])
        run.update(conclusion=body.get("conclusion"), external_id=None, details_url=None)
        run["app"]["slug"] = BOT.removesuffix("[bot]")
        run["output"] = {"title": None, "summary": None, "text": None, "annotations_count": 0}
        run["output"]["annotations_url"] = self._run["output"]["annotations_url"]
        self._apply_output(run, body.get("output"))
        self.check_runs.append(run)
        return 201, copy.deepcopy(run)

    def _update_run(self, call: Call, match: Match) -> tuple[int, Any]:
        wanted = int(match.path_params["check_run_id"])
        run = next((r for r in self.check_runs if r["id"] == wanted), None)
        if run is None:
            return 404, error_json("Not Found")
        body = call.json
        for key in ("status", "conclusion"):
            if key in body:
                run[key] = body[key]
        self._apply_output(run, body.get("output"))
        return 200, copy.deepcopy(run)

    @staticmethod
    def _apply_output(run: dict[str, Any], output: dict[str, Any] | None) -> None:
        if output is None:
            return
        run["output"].update(title=output["title"], summary=output["summary"], text=output.get("text"))
        run["output"]["annotations_count"] += len(output.get("annotations") or [])  # GitHub appends them

    def _create_status(self, call: Call, match: Match) -> tuple[int, Any]:
        status = copy.deepcopy(self._status)
        status.update(id=next(self._ids), sha=match.path_params["sha"], **call.json)
        status["target_url"] = call.json.get("target_url")
        self.statuses.append(status)
        return 201, {k: v for k, v in status.items() if k != "sha"}

    # --- what a PR shows ----------------------------------------------------------------------------
    def sticky_comments(self, number: int = NUMBER) -> list[dict[str, Any]]:
        return [c for c in self.comments.get(number, []) if MARKER in c["body"]]

    def runs_on(self, sha: str) -> list[dict[str, Any]]:
        return [r for r in self.check_runs if r["head_sha"] == sha and r["name"] == CHECK_NAME]

    def statuses_on(self, sha: str) -> list[dict[str, Any]]:
        return [s for s in self.statuses if s["sha"] == sha and s["context"] == CHECK_NAME]


# --- fixtures and the "worker" ---------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with temporary_store("sqlite", directory=tmp_path) as opened:
        yield opened


@pytest.fixture
def github(github_api: GitHubMock) -> StandIn:
    return StandIn(github_api)


@pytest.fixture
def forge(github_api: GitHubMock) -> Iterator[GitHubForge]:
    client = GitHubForge.with_token(
        TOKEN, base_url=github_api.base_url, bot_login=BOT, sleep=lambda _: None, rand=lambda: 0.5
    )
    yield client
    client.close()


APP = app_settings()
TOKEN_MODE = BotSettings(github_token=SecretStr("test-token"), bot_login=BOT)


def payload(action: str, head_sha: str, number: int = NUMBER) -> dict[str, Any]:
    data = webhook_example("pull_request", action)
    data["repository"].update(full_name=REPO, html_url=f"https://github.com/{REPO}")
    pr = data["pull_request"]
    pr.update(number=number, state="open")
    pr["head"]["sha"], pr["base"]["sha"] = head_sha, BASE_SHA
    return data


def run_job(job: Callable[[], str], *, attempts: int = 8, failures: list[ForgeError] | None = None) -> str:
    """What the worker does with a job: run the handler, and run it again while it raises."""
    for _ in range(attempts):
        try:
            return job()
        except ForgeError as exc:
            if failures is not None:
                failures.append(exc)
    raise AssertionError(f"the job still fails after {attempts} attempts")


def review(  # noqa: PLR0917 - the job's parts, as the worker binds them
    forge: GitHubForge, store: Store, settings: BotSettings, action: str, head_sha: str, number: int = NUMBER
) -> Callable[[], str]:
    data = payload(action, head_sha, number)
    received = datetime.now(UTC)
    return lambda: handle_pull_request(data, received, forge=forge, store=store, settings=settings)


HEAD = "a" * 40
HEAD2 = "c" * 40
WRITES_APP = [
    ("POST", f"{R}/issues/{{issue_number}}/comments"),
    ("POST", f"{R}/check-runs"),
]


# --- the tests -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["after-502", "after-timeout", "after-reset"])
@pytest.mark.parametrize(("method", "template"), WRITES_APP)
def test_a_write_done_but_unanswered_is_not_done_twice(  # noqa: PLR0917 - fixtures and parameters
    github: StandIn, forge: GitHubForge, store: Store, kind: str, method: str, template: str
) -> None:
    github.files[HEAD] = history(38)
    github.fail(method, template, kind)
    failures: list[ForgeError] = []
    outcome = run_job(review(forge, store, APP, "opened", HEAD), failures=failures)
    assert outcome == f"reviewed {HEAD[:7]}: success"
    assert len(failures) == 1  # the lost answer failed the first attempt; the retry finished the job
    [comment] = github.sticky_comments()
    assert "`+events,+iggy_connector,-social_graph`" in comment["body"]
    [run] = github.runs_on(HEAD)
    assert (run["status"], run["conclusion"]) == ("completed", "success")
    state = store.get_pr_state(REPO, NUMBER)
    assert state is not None and (state.comment_id, state.check_run_id) == (comment["id"], run["id"])


@pytest.mark.parametrize("kind", ["after-502", "after-timeout", "after-reset"])
def test_a_status_set_but_unanswered_is_not_set_twice(
    github: StandIn, forge: GitHubForge, store: Store, kind: str
) -> None:
    github.files[HEAD] = history(19)  # invalid: failure
    github.fail("POST", f"{R}/statuses/{{sha}}", kind)
    run_job(review(forge, store, TOKEN_MODE, "opened", HEAD))
    [status] = github.statuses_on(HEAD)
    assert status["state"] == "failure"
    assert len(github.sticky_comments()) == 1


@pytest.mark.parametrize("settings", [APP, TOKEN_MODE], ids=["app", "token"])
def test_a_job_run_again_after_it_finished_adds_nothing(
    github: StandIn, forge: GitHubForge, store: Store, settings: BotSettings
) -> None:
    """A crash after the last write but before the job was marked done, or a second worker whose lease
    ran out: the same delivery is handled twice."""
    github.files[HEAD] = history(19)
    job = review(forge, store, settings, "opened", HEAD)
    assert job() == job() == f"reviewed {HEAD[:7]}: failure"
    assert len(github.sticky_comments()) == 1
    if settings is APP:
        [run] = github.runs_on(HEAD)
        assert run["output"]["annotations_count"] == 1  # the run again sent no annotation twice
    else:
        assert len(github.statuses_on(HEAD)) == 1


def test_a_crash_between_the_comment_and_the_check(github: StandIn, forge: GitHubForge, store: Store) -> None:
    """The comment was written, then the process died (here: the check run's request never answered and
    nothing after it ran); the next run finds the comment by its marker even on an `opened` delivery."""
    github.files[HEAD] = history(38)
    github.fail("POST", f"{R}/check-runs", "before-502")
    job = review(forge, store, APP, "opened", HEAD)
    with pytest.raises(ForgeError):
        job()
    store.save_pr_state(REPO, NUMBER, head_sha=HEAD, expected_head_sha=HEAD, comment_id=None)  # lost
    job()
    assert len(github.sticky_comments()) == 1
    assert len(github.runs_on(HEAD)) == 1


def test_thirty_percent_of_writes_answer_502_after_the_write(
    github: StandIn, forge: GitHubForge, store: Store
) -> None:
    """The issue's table, scaled down: 20 PRs opened then pushed to, 30 % of writes done but answered 502."""
    github.fault_rate = {"after-502": 0.3}
    heads = {
        number: (f"{number:02d}".ljust(40, "a"), f"{number:02d}".ljust(40, "c")) for number in range(1, 21)
    }
    for number, (first, second) in heads.items():
        github.files[first], github.files[second] = history(38), history(19)
        run_job(review(forge, store, APP, "opened", first, number))
        run_job(review(forge, store, APP, "synchronize", second, number))
    for number, (first, second) in heads.items():
        [comment] = github.sticky_comments(number)  # one each, showing the latest head
        assert "default-enabled-closure" in comment["body"]
        [run] = github.runs_on(first)
        assert run["conclusion"] == "success"
        [run] = github.runs_on(second)
        assert (run["conclusion"], run["output"]["annotations_count"]) == ("failure", 1)


def test_through_the_worker_and_the_queue(github: StandIn, forge: GitHubForge, store: Store) -> None:
    """The same, with the real worker retrying the stored delivery: every write of the first attempt is
    done and its answer lost, one after the other, until the job gets through."""
    github.files[HEAD] = history(19)
    github.fail("POST", f"{R}/issues/{{issue_number}}/comments", "after-timeout")
    github.fail("POST", f"{R}/check-runs", "after-502")
    github.fail(
        "PATCH", f"{R}/check-runs/{{check_run_id}}", "after-502", "after-502", "after-502", "after-502"
    )
    store.record_delivery("d-1", "pull_request", "opened", REPO, None, payload("opened", HEAD))
    worker = build_worker(Runtime(APP, store, OneForge(forge)), 0)
    worker.base_backoff = worker.max_backoff = 0.0
    attempts = 0
    while worker.run_once():
        attempts += 1
    info = store.get_delivery("d-1")
    assert info is not None and info.status.value == "done"
    # the comment's answer lost, the check run's; the third attempt updates the run (the forge's own retries
    # get through the four lost answers of that PATCH; each did the same edit)
    assert attempts == 3
    assert len(github.sticky_comments()) == 1
    [run] = github.runs_on(HEAD)
    assert (run["conclusion"], run["output"]["annotations_count"]) == ("failure", 1)
