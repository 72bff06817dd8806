"""The console's Install button through `GitHubForge` behind GitHub's published API description: every
request the page and the POST send (the manifest and the catalog at the default branch's head, the
viewer's role, the pull request's branch, commit and PR), and every response mocked, is checked against
the OpenAPI description by the `github_api` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.forge import Forge
from bot.forge.github import GitHubForge
from bot.runtime import Runtime
from bot.store import Store
from bot.web.app import create_app
from tests.console_pages import sign_in
from tests.console_world import console_settings
from tests.github_conformance import GitHubMock
from tests.store_helpers import temporary_store
from tests.unit.test_forge_github import error_json
from tests.unit.test_propose import BOT, BRANCH, REPO, mock_the_opening_path

R = f"/repos/{REPO}"


class _OneForge:
    def __init__(self, forge: Forge) -> None:
        self.forge = forge

    def for_installation(self, installation_id: int | None) -> Forge:
        del installation_id
        return self.forge


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with temporary_store("sqlite", directory=tmp_path) as opened:
        yield opened


@pytest.fixture
def client(github_api: GitHubMock, store: Store) -> Iterator[TestClient]:
    forge = GitHubForge.with_token(
        "ghp_" + "x" * 36, base_url=github_api.base_url, bot_login=BOT, sleep=lambda _: None
    )
    settings = console_settings("github", repositories=frozenset({REPO}))
    app = create_app(Runtime(settings, store, _OneForge(forge)), workers=0)
    yield TestClient(app, raise_server_exceptions=True, follow_redirects=False)
    forge.close()


def test_install_pressed_opens_the_pull_request_through_github(
    client: TestClient, github_api: GitHubMock, store: Store
) -> None:
    mock_the_opening_path(github_api)
    github_api.add(
        "GET", f"{R}/contents/.github/modbot-catalog.toml", json=error_json("Not Found"), status=404
    )  # no catalog: the install form's fields are the spec
    permission = github_api.example("GET", f"{R}/collaborators/alice/permission")
    permission.update(permission="write", role_name="write")
    github_api.add("GET", f"{R}/collaborators/alice/permission", json=permission)
    csrf = sign_in(client, "alice")

    answer = client.post(
        "/console/modules/forum2/install",
        data={
            "csrf_token": csrf,
            "source": "crates-io",
            "crate": "rustok-forum2",
            "version": "0.1",
            "reason": "tenants asked",
        },
    )

    assert answer.status_code == 200, answer.text
    assert f"https://github.com/{REPO}/pull/21" in answer.text and "+forum2@0.1" in answer.text
    github_api.assert_all_used()
    calls = [f"{c.method} {c.path}" for c in github_api.calls]
    assert calls.count(f"POST {R}/pulls") == 1 and f"GET {R}/collaborators/alice/permission" in calls
    opened = next(c for c in github_api.calls if c.method == "POST" and c.path == f"{R}/pulls").json
    assert opened["head"] == BRANCH and "alice" in opened["body"]
    [entry] = [e for e in store.query_audit(limit=50).entries if e.action == "module.install"]
    assert (entry.actor, entry.target) == ("alice", f"{REPO}#21")
    [build] = store.builds_for_pr(REPO, 21)
    assert build.requested_by == "alice" and build.status == "queued"
