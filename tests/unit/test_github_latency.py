"""The GitHub call latency metric (issue #11): every request is observed once, labelled by its route
template (GitHub's own, from its REST description), method and outcome; never by a URL with ids, refs or
paths in it, so the number of series stays bounded however many PRs and comments there are."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.forge.github import ForgeStats, GitHubForge
from bot.forge.github.routes import route_template
from bot.metrics import Metrics
from bot.store import Store
from tests.github_conformance import GitHubMock
from tests.store_helpers import temporary_store
from tests.unit.test_effects_once import APP, BOT, HEAD, TOKEN, R, StandIn, history, payload, run_job
from tests.webhook_handlers import handle_pull_request

PATHS = [
    ("/repos/o/r/git/ref/tags/deploy/prod", "/repos/{owner}/{repo}/git/ref/{ref}"),
    ("/repos/o/r/git/refs/heads/modbot/x", "/repos/{owner}/{repo}/git/refs/{ref}"),
    ("/repos/o/r/git/matching-refs/tags/release/", "/repos/{owner}/{repo}/git/matching-refs/{ref}"),
    ("/repos/o/r/contents/deploy/modules.toml?ref=main", "/repos/{owner}/{repo}/contents/{path}"),
    ("/repos/o/r/compare/main...modbot/x", "/repos/{owner}/{repo}/compare/{basehead}"),
    ("/repos/o/r/git/commits/" + "a" * 40, "/repos/{owner}/{repo}/git/commits/{commit_sha}"),
    ("/repos/o/r/commits/" + "a" * 40 + "/statuses", "/repos/{owner}/{repo}/commits/{ref}/statuses"),
    (
        "/orgs/acme/teams/release-managers/memberships/alice",
        "/orgs/{org}/teams/{team_slug}/memberships/{username}",
    ),
    (
        "/repos/o/r/actions/workflows/modbot-build.yml/runs",
        "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs",
    ),
    ("https://ghe.example.com/api/v3/repos/o/r/pulls/7", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    (
        "https://api.github.com/repositories/42/issues/7/comments?page=2",
        "/repositories/{repository_id}/issues/{issue_number}/comments",
    ),
    ("/app/installations/9/access_tokens", "/app/installations/{installation_id}/access_tokens"),
]


@pytest.mark.parametrize(("url", "template"), PATHS)
def test_route_templates(url: str, template: str) -> None:
    assert route_template(url) == template


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with temporary_store("sqlite", directory=tmp_path) as opened:
        yield opened


def test_each_request_is_observed_by_its_route_method_and_outcome(
    github_api: GitHubMock, store: Store
) -> None:
    metrics = Metrics()
    forge = GitHubForge.with_token(
        TOKEN,
        base_url=github_api.base_url,
        bot_login=BOT,
        sleep=lambda _: None,
        rand=lambda: 0.5,
        stats=ForgeStats(on_latency=metrics.observe_github_call),
    )
    github = StandIn(github_api)
    github.files[HEAD] = history(38)
    github.fail("POST", f"{R}/check-runs", "after-502")
    github.fail("PATCH", f"{R}/check-runs/{{check_run_id}}", "after-timeout")
    data = payload("opened", HEAD)
    # the first run loses the check run's answer; the second has its update time out once
    run_job(lambda: handle_pull_request(data, datetime.now(UTC), forge=forge, store=store, settings=APP))
    forge.close()

    # every route is GitHub's own template of the request's operation
    for call in github_api.calls:
        operation = github_api.api.resolve(call.method, call.url, base_url=github_api.base_url).operation
        assert route_template(call.url) == operation.template

    [family] = [
        f
        for f in text_string_to_metric_families(metrics.exposition().decode())
        if f.name == "modbot_github_call_seconds"
    ]
    counts = {
        (s.labels["route"], s.labels["method"], s.labels["outcome"]): s.value
        for s in family.samples
        if s.name.endswith("_count")
    }
    assert sum(counts.values()) == len(github_api.calls)  # one observation per request
    assert counts[(f"{R}/check-runs", "POST", "server_error")] == 1
    assert counts[(f"{R}/check-runs/{{check_run_id}}", "PATCH", "network_error")] == 1
    assert counts[(f"{R}/check-runs/{{check_run_id}}", "PATCH", "ok")] == 1
    assert counts[(f"{R}/issues/{{issue_number}}/comments", "POST", "ok")] == 1
    assert counts[(f"{R}/contents/{{path}}", "GET", "ok")] == 4  # base and head, in each of two runs
    text = metrics.exposition().decode()
    assert "octo/modules" not in text and HEAD not in text and "modules.toml" not in text
