"""The console's Releases page (bot/web/console/releases_page.py): releases with their delta, and the
Deploy/Rollback forms that run chat-ops' own command (`execute`, source console): the same rules, the
same refusals in the same words, a role that may not sees the button disabled with the reason."""

from __future__ import annotations

import html as markup

import pytest
from fastapi.testclient import TestClient

from bot.store import ReleaseInfo
from tests.chatops_world import REPO, World, tag_sha
from tests.console_pages import console_client, sign_in


@pytest.fixture
def releases(world: World) -> list[ReleaseInfo]:
    world.role("wendy", "write")
    world.role("rita", "read")
    return [world.release(), world.release()]


@pytest.fixture
def client(world: World, releases: list[ReleaseInfo]) -> TestClient:
    del releases
    return console_client(world)


def _history(world: World, environment: str, *release_ids: str) -> None:
    """These releases ran there, oldest first (as the deploy workflow's statuses leave the store)."""
    for release_id in release_ids:
        release = world.store.get_release(REPO, release_id)
        assert release is not None
        world.store.record_deployment(
            repository=REPO,
            environment=environment,
            release_id=release_id,
            commit_sha=release.commit_sha,
            kind="deploy",
            requested_by="alice",
            reason=None,
            source="comment",
            status="success",
        )
        world.later()


def test_the_page_lists_releases_and_a_writer_sees_production_disabled_with_why(
    client: TestClient, releases: list[ReleaseInfo]
) -> None:
    sign_in(client, "wendy")
    page = client.get("/console/releases")
    assert page.status_code == 200
    text = page.text
    assert all(r.release_id in text for r in releases)
    assert (
        text.count("Deploy to staging</button>") == 2
        and '<button type="submit" class="button">Deploy to staging' in text
    )
    production = text[
        text.index('id="env-production"') : text.index("</article>", text.index('id="env-production"'))
    ]
    assert "<code>permission</code>" in production and "maintain" in production
    assert 'disabled aria-describedby="why-deploy-production"' in text


def test_deploy_to_staging_runs_the_chatops_command(
    client: TestClient, world: World, releases: list[ReleaseInfo]
) -> None:
    csrf = sign_in(client, "wendy")
    answer = client.post(
        "/console/releases/deploy",
        data={
            "csrf_token": csrf,
            "environment": "staging",
            "release_id": releases[0].release_id,
            "reason": "try",
        },
    )
    assert answer.status_code == 200, answer.text
    assert "Started." in answer.text
    [deployment] = world.store.deployments(REPO, environment="staging")
    assert (deployment.source, deployment.requested_by, deployment.release_id) == (
        "console",
        "wendy",
        releases[0].release_id,
    )
    assert tag_sha(world.forge, "staging") == releases[0].commit_sha
    commands = [e for e in world.store.query_audit(limit=100).entries if e.action == "command.deploy"]
    assert (
        len(commands) == 1 and commands[0].details is not None and commands[0].details["source"] == "console"
    )


def test_production_refused_for_write_in_chatops_words_then_allowed_for_maintain(
    client: TestClient, world: World, releases: list[ReleaseInfo]
) -> None:
    release_id = releases[1].release_id
    csrf = sign_in(client, "wendy")
    refused = client.post(
        "/console/releases/deploy",
        data={"csrf_token": csrf, "environment": "production", "release_id": release_id},
    )
    assert refused.status_code == 403
    assert world.store.deployments(REPO, environment="production") == []
    # exactly as chat-ops words it: the same command from a PR comment gets the same rule and message
    said = world.run("deploy", "production", release_id, actor="wendy")
    assert not said.decision.allowed and said.decision.rule == "permission"
    assert "<code>permission</code>" in refused.text
    assert markup.escape(said.decision.message, quote=False) in refused.text
    assert markup.escape(said.decision.next_step, quote=False) in refused.text

    csrf = sign_in(client, "alice")
    allowed = client.post(
        "/console/releases/deploy",
        data={"csrf_token": csrf, "environment": "production", "release_id": release_id},
    )
    assert allowed.status_code == 200 and "Started." in allowed.text
    assert tag_sha(world.forge, "production") == releases[1].commit_sha


def test_rollback_returns_to_the_release_before(
    client: TestClient, world: World, releases: list[ReleaseInfo]
) -> None:
    _history(world, "staging", releases[0].release_id, releases[1].release_id)
    csrf = sign_in(client, "alice")
    page = client.get("/console/releases").text
    staging = page[page.index('id="env-staging"') : page.index("</article>", page.index('id="env-staging"'))]
    assert releases[1].release_id in staging and f"<code>{releases[0].release_id}</code>" in staging
    answer = client.post("/console/releases/rollback", data={"csrf_token": csrf, "environment": "staging"})
    assert answer.status_code == 200, answer.text
    newest = world.store.deployments(REPO, environment="staging")[0]
    assert (newest.kind, newest.release_id, newest.source) == ("rollback", releases[0].release_id, "console")


def test_a_reader_sees_no_button_enabled_and_a_forged_form_is_refused(
    client: TestClient, world: World, releases: list[ReleaseInfo]
) -> None:
    csrf = sign_in(client, "rita")
    page = client.get("/console/releases").text
    assert '<button type="submit" class="button">Deploy' not in page
    refused = client.post(
        "/console/releases/deploy",
        data={"csrf_token": csrf, "environment": "staging", "release_id": releases[0].release_id},
    )
    assert refused.status_code == 403 and world.store.deployments(REPO) == []
    no_token = client.post(
        "/console/releases/deploy", data={"environment": "staging", "release_id": releases[0].release_id}
    )
    assert no_token.status_code == 403 and world.store.deployments(REPO) == []
    assert any(e.action == "console.csrf_refused" for e in world.store.query_audit(limit=50).entries)


def test_a_rollback_with_nowhere_to_go_is_disabled_in_chatops_words(
    client: TestClient, world: World, releases: list[ReleaseInfo]
) -> None:
    _history(world, "staging", releases[1].release_id)  # one release ran: nothing before it
    _history(world, "production", releases[0].release_id, releases[1].release_id)
    sign_in(client, "alice")
    page = client.get("/console/releases").text

    def article(name: str) -> str:
        start = page.index(f'id="env-{name}"')
        return page[start : page.index("</article>", start)]

    staging, production = article("staging"), article("production")
    assert 'disabled aria-describedby="why-rollback-staging"' in staging
    assert "<code>no_previous_release</code>" in staging
    assert markup.escape("nothing to roll back to: staging has no previous successful release") in staging
    assert "why-rollback-production" not in production  # an earlier release ran there: enabled
