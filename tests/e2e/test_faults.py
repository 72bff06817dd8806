"""Issue #11's table, row by row, as an outside tester runs it: real `modbot serve` processes (SIGKILL,
SIGTERM, two replicas on PostgreSQL) against a stand-in GitHub that fails on purpose
(tests/github_standin.py, harness in tests/fault_injection.py). Targets: nothing acknowledged is lost,
one sticky comment and one verdict per PR whatever fails, a malformed payload is one permanent failure,
a job in flight at shutdown is handed back.

The scenarios are small here (a few PRs each) and run at the same time, in threads of one fixture,
so the module costs about as long as its slowest scenario (a hang past the 15 s client timeout); the
long versions are bench/faults.py (figures in docs/reliability.md). Run them alone with
`pytest -m faults` (`-k lease_outlived` starts only that scenario: a test named
`test_<scenario>_...` checks that scenario). The first tests check the stand-in itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import fault_injection as fi
from tests.github_standin import WRITE_OPERATIONS, FaultRule, Pull, Request, StandInGitHub
from tests.store_helpers import postgres_schema

REPO = "o/r"
HEAD, BASE = "b" * 40, "a" * 40


# --- the stand-in GitHub ------------------------------------------------------------------------------
@pytest.fixture
def standin() -> Iterator[StandInGitHub]:
    github = StandInGitHub()
    github.add_commit(REPO, BASE, {"modules.toml": b"[modules]\n"})
    github.add_commit(REPO, HEAD, {"modules.toml": b"[modules]\nx = 1\n"})
    github.add_pull(Pull(REPO, 7, BASE, HEAD, ["modules.toml"]))
    with github:
        yield github


def call(github: StandInGitHub, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, github.url + path, json=body, timeout=10)


def test_standin_serves_what_github_documents(standin: StandInGitHub) -> None:
    assert call(standin, "GET", f"/repos/{REPO}/pulls/7").json()["head"]["sha"] == HEAD
    assert [f["filename"] for f in call(standin, "GET", f"/repos/{REPO}/pulls/7/files").json()] == [
        "modules.toml"
    ]
    content = call(standin, "GET", f"/repos/{REPO}/contents/modules.toml?ref={HEAD}").json()
    assert content["type"] == "file" and content["size"] == len(b"[modules]\nx = 1\n")
    assert call(standin, "GET", f"/repos/{REPO}/contents/nope.toml?ref={HEAD}").status_code == 404
    created = call(standin, "POST", f"/repos/{REPO}/issues/7/comments", {"body": "hi"})
    assert created.status_code == 201 and created.json()["user"]["login"] == "modbot[bot]"
    edited = call(standin, "PATCH", f"/repos/{REPO}/issues/comments/{created.json()['id']}", {"body": "ho"})
    assert edited.json()["body"] == "ho"
    status = {"state": "success", "context": "modbot/manifest", "description": "ok"}
    assert call(standin, "POST", f"/repos/{REPO}/statuses/{HEAD}", status).status_code == 201
    combined = call(standin, "GET", f"/repos/{REPO}/commits/{HEAD}/status").json()
    assert (combined["state"], combined["total_count"]) == ("success", 1)
    run = {"name": "modbot/manifest", "head_sha": HEAD, "status": "completed", "conclusion": "success"}
    assert call(standin, "POST", f"/repos/{REPO}/check-runs", run).status_code == 201
    runs = call(standin, "GET", f"/repos/{REPO}/commits/{HEAD}/check-runs").json()
    assert runs["total_count"] == 1
    assert runs["check_runs"][0]["app"]["slug"] == "modbot"  # created by the bot's App, as on GitHub
    assert [c["body"] for c in standin.comments(REPO, 7)] == ["ho"]
    assert len(standin.statuses(REPO, HEAD)) == 1 and len(standin.check_runs(REPO, HEAD)) == 1
    assert standin.conformance_failures == [] and standin.unhandled == []


def test_standin_refuses_what_github_would_not_take(standin: StandInGitHub) -> None:
    # a status without its required state: GitHub's description says no, so does the stand-in
    response = call(standin, "POST", f"/repos/{REPO}/statuses/{HEAD}", {"context": "x"})
    assert response.status_code == 422
    assert call(standin, "GET", f"/repos/{REPO}/pulls/7/filez").status_code == 422
    assert len(standin.conformance_failures) == 2
    assert standin.statuses(REPO, HEAD) == []


def test_fault_before_does_nothing_and_after_does_it(standin: StandInGitHub) -> None:
    standin.rules = [
        FaultRule("before", frozenset({"issues/create-comment"}), first=1, status=503),
        FaultRule("after", frozenset({"repos/create-commit-status"}), first=1),
    ]
    assert call(standin, "POST", f"/repos/{REPO}/issues/7/comments", {"body": "a"}).status_code == 503
    assert standin.comments(REPO, 7) == []
    assert call(standin, "POST", f"/repos/{REPO}/issues/7/comments", {"body": "b"}).status_code == 201
    status = {"state": "failure", "context": "modbot/manifest"}
    assert call(standin, "POST", f"/repos/{REPO}/statuses/{HEAD}", status).status_code == 502
    assert [s["state"] for s in standin.statuses(REPO, HEAD)] == ["failure"]  # done although 502
    assert dict(standin.faults()) == {"before": 1, "after": 1}


def test_rate_limits_say_when_to_come_back(standin: StandInGitHub) -> None:
    standin.rules = [
        FaultRule("rate_limit", frozenset({"pulls/get"}), first=1, status=403, seconds=30),
        FaultRule("rate_limit", frozenset({"pulls/list-files"}), first=1, status=429, seconds=7),
    ]
    primary = call(standin, "GET", f"/repos/{REPO}/pulls/7")
    assert primary.status_code == 403 and primary.headers["x-ratelimit-remaining"] == "0"
    assert int(primary.headers["x-ratelimit-reset"]) > 0
    secondary = call(standin, "GET", f"/repos/{REPO}/pulls/7/files")
    assert secondary.status_code == 429 and secondary.headers["retry-after"] == "7"
    assert call(standin, "GET", f"/repos/{REPO}/pulls/7").status_code == 200


def test_hang_does_the_work_and_answers_only_when_released(standin: StandInGitHub) -> None:
    standin.rules = [FaultRule("hang", frozenset({"issues/create-comment"}), first=1, seconds=30)]
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{standin.url}/repos/{REPO}/issues/7/comments", json={"body": "a"}, timeout=0.5)
    assert standin.wait_for_hold(1, timeout=5)
    assert [c["body"] for c in standin.comments(REPO, 7)] == ["a"]
    standin.release_holds()


def test_seeded_rate_picks_the_same_requests_whatever_the_order() -> None:
    rule = FaultRule("after", WRITE_OPERATIONS, rate=0.3)

    def picked(order: list[int], seed: int) -> set[int]:
        github = StandInGitHub(rules=[rule], seed=seed)
        chosen = set()
        for number in order:
            path = f"/repos/o/r/issues/{number}/comments"
            request = Request("POST", path, {}, "issues/create-comment", {}, None, 1)
            if rule.matches(request, github.seed, 0):
                chosen.add(number)
        return chosen

    forward = picked(list(range(1, 201)), seed=3)
    assert forward == picked(list(range(200, 0, -1)), seed=3)
    assert forward != picked(list(range(1, 201)), seed=4)
    assert 40 <= len(forward) <= 80  # about 30 % of 200


# --- the scenarios (issue #11's table) --------------------------------------------------------------
# quick retries (the first within 1-2 s) keep the module short; a bot without the setting ignores it
QUICK = {"MODBOT_RETRY_BASE_SECONDS": "2"}
SCENARIOS: dict[str, Callable[[Path, str], fi.Tally]] = {
    "after_write_failures": lambda d, _: fi.after_write_failures(d, prs=6, rate=0.3, bot_env=QUICK),
    "after_write_failures_app": lambda d, _: fi.after_write_failures(
        d, prs=6, rate=0.3, app=True, bot_env=QUICK
    ),
    "kill9_during_drain": lambda d, _: fi.kill9_during_drain(d, prs=4, kills=2, bot_env=QUICK),
    "hang_past_timeout": lambda d, _: fi.hang_past_timeout(d, prs=3, client_timeout=4.0, bot_env=QUICK),
    "lease_outlived": lambda d, pg: fi.lease_outlived(d, pg, prs=2, bot_env=QUICK),
    "lease_outlived_stalled": lambda d, pg: fi.lease_outlived(d, pg, prs=2, stall=True, bot_env=QUICK),
    "malformed_payloads": lambda d, _: fi.malformed_payloads(d, bot_env=QUICK),
    "sigterm_in_flight": lambda d, _: fi.sigterm_in_flight(d, prs=2, resume_timeout=30, bot_env=QUICK),
}


def scenario_of(test_name: str) -> str | None:
    """The scenario a test checks: its name starts with `test_<scenario>_` (the longest that fits)."""
    names = [name for name in SCENARIOS if test_name.startswith(f"test_{name}_")]
    return max(names, key=len) if names else None


@pytest.fixture(scope="module")
def scenarios(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[fi.Tally]]]:
    """The selected tests' scenarios, all started at once (each its own stand-in, store and bots);
    each test waits for its own."""
    wanted = {name for item in request.session.items if (name := scenario_of(item.name))} or set(SCENARIOS)
    with ExitStack() as stack:
        # a PostgreSQL schema of its own for each scenario: bots must only see their own scenario's queue
        urls = {
            name: stack.enter_context(postgres_schema()).render_as_string(hide_password=False)
            for name in wanted
        }
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=len(wanted)))
        futures = {
            name: pool.submit(SCENARIOS[name], tmp_path_factory.mktemp(name), urls[name]) for name in wanted
        }
        yield futures
        for future in futures.values():
            future.exception()  # let every scenario end before the schema is dropped


def outcome(scenarios: dict[str, Future[fi.Tally]], name: str) -> fi.Tally:
    tally = scenarios[name].result()
    assert tally.conformance_failures == [], tally.conformance_failures
    return tally


def nothing_lost_nothing_twice(tally: fi.Tally) -> None:
    seen = tally.summary()
    assert tally.acknowledged == tally.prs, seen
    assert tally.lost == 0, seen
    assert tally.handled == tally.prs, seen
    assert tally.extra_comments == 0, f"PRs with more than one sticky comment: {seen}"
    assert tally.extra_statuses == 0, f"SHAs with more than one modbot/manifest status: {seen}"
    assert tally.notes["reviewed_prs"] == tally.prs, seen


@pytest.mark.faults
def test_after_write_failures_leave_one_comment_and_one_status(
    scenarios: dict[str, Future[fi.Tally]],
) -> None:
    tally = outcome(scenarios, "after_write_failures")
    assert tally.faults.get("after", 0) >= 2, tally.summary()  # the faults did happen
    nothing_lost_nothing_twice(tally)


@pytest.mark.faults
def test_after_write_failures_app_leave_one_comment_and_one_check_run(
    scenarios: dict[str, Future[fi.Tally]],
) -> None:
    tally = outcome(scenarios, "after_write_failures_app")
    assert tally.faults.get("after", 0) >= 2, tally.summary()
    nothing_lost_nothing_twice(tally)


@pytest.mark.faults
def test_kill9_during_drain_loses_nothing_and_duplicates_nothing(
    scenarios: dict[str, Future[fi.Tally]],
) -> None:
    tally = outcome(scenarios, "kill9_during_drain")
    assert tally.notes["kills"] == 2, tally.summary()
    nothing_lost_nothing_twice(tally)


@pytest.mark.faults
def test_hang_past_timeout_leaves_one_comment(
    scenarios: dict[str, Future[fi.Tally]],
) -> None:
    tally = outcome(scenarios, "hang_past_timeout")
    assert tally.faults.get("hang") == tally.prs, tally.summary()
    assert tally.notes["retried_jobs"] == tally.prs, tally.summary()  # each hang outlasted the timeout
    nothing_lost_nothing_twice(tally)


@pytest.mark.faults
def test_lease_outlived_job_is_not_handled_twice(scenarios: dict[str, Future[fi.Tally]]) -> None:
    tally = outcome(scenarios, "lease_outlived")
    assert tally.notes["rate_limited"], tally.summary()
    nothing_lost_nothing_twice(tally)


@pytest.mark.faults
def test_lease_outlived_stalled_worker_that_lost_its_lease_writes_nothing_more(
    scenarios: dict[str, Future[fi.Tally]],
) -> None:
    tally = outcome(scenarios, "lease_outlived_stalled")
    assert tally.notes["rate_limited"] and tally.notes["taken_by_other"], tally.summary()
    nothing_lost_nothing_twice(tally)


@pytest.mark.faults
def test_malformed_payloads_are_one_permanent_failure_naming_the_field(
    scenarios: dict[str, Future[fi.Tally]],
) -> None:
    tally = outcome(scenarios, "malformed_payloads")
    seen = json.dumps(tally.notes, default=str)
    assert tally.acknowledged == len(fi.MALFORMED), seen
    for field_name in fi.MALFORMED:
        job = tally.notes[field_name]
        assert job is not None, seen
        assert job["status"] == "failed", f"{field_name}: not a permanent failure: {seen}"
        assert job["attempts"] == 1, f"{field_name}: retried: {seen}"
        assert field_name.rsplit(".", 1)[-1] in (job["error"] or ""), f"the error names no field: {seen}"
        assert "KeyError" not in (job["error"] or ""), seen
    assert tally.notes["tracebacks"] == 0, seen
    assert tally.notes["github_writes"] == 0, seen
    assert tally.lost == 0, seen


@pytest.mark.faults
def test_sigterm_in_flight_hands_the_job_back_and_a_restart_resumes_it(
    scenarios: dict[str, Future[fi.Tally]],
) -> None:
    tally = outcome(scenarios, "sigterm_in_flight")
    seen = tally.summary()
    assert tally.notes["held"], seen
    after = tally.notes["after_shutdown"]
    assert after is not None and after["status"] == "pending", f"the job was not handed back: {seen}"
    nothing_lost_nothing_twice(tally)  # resumed by the restarted bot, well before any lease ran out
