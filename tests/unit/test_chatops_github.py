"""A deploy end to end through `GitHubForge` behind GitHub's published API description: every request
modbot sends for a `/deploy` comment and the deployment_status that follows, and every response mocked,
is checked against the OpenAPI description by the `github_api` fixture; the webhooks are GitHub's
examples, validated against its webhook schemas."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.forge.github import GitHubForge
from bot.pipeline.release import make_record
from bot.pipeline.version import TEMPLATE_VERSION
from bot.store import Store
from tests.chatops_world import POLICY, settings
from tests.github_conformance import GitHubMock, validate_webhook, webhook_example
from tests.store_helpers import FakeClock, temporary_store
from tests.unit.test_forge_deploys import deployment_json, status_json, tag_object_json
from tests.unit.test_forge_github import BOT, REPO, TOKEN, comment_json, content_json, error_json, ref_json
from tests.webhook_handlers import handle_deployment_status, handle_issue_comment

R = f"/repos/{REPO}"
RELEASE = "rel_2026_03_04_002"
COMMIT = "c0ffee" + "0" * 34
TAG_OBJECT = "7a9" + "0" * 37
DEPLOYMENT_ID = 4242
PR = 7
COMMAND_COMMENT = 901
REPLY_COMMENT = 902
RECEIVED = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with temporary_store(
        "sqlite", directory=tmp_path, clock=FakeClock(datetime(2026, 3, 4, 12, tzinfo=UTC))
    ) as store:
        yield store


@pytest.fixture
def forge(github_api: GitHubMock) -> Iterator[GitHubForge]:
    forge = GitHubForge.with_token(
        TOKEN, base_url=github_api.base_url, bot_login=BOT, sleep=lambda _: None, rand=lambda: 0.5
    )
    yield forge
    forge.close()


def release_message() -> str:
    record = make_record(
        release_id=RELEASE,
        manifest_hash="ab" * 32,
        modules=["forum"],
        image_repository="ghcr.io/octo/modules",
        image_digest="sha256:" + "cd" * 32,
        build_id="88-1",
        git_sha=COMMIT,
        previous_release=None,
        build_key="ef" * 32,
        template_version=TEMPLATE_VERSION,
        created_at=datetime(2026, 3, 4, 10, 0, tzinfo=UTC),
    )
    return record.to_message()


def comment_webhook(body: str, *, pr: int = PR, comment_id: int = COMMAND_COMMENT) -> dict[str, Any]:
    """An `issue_comment.created` delivery by alice on `pr`, checked against GitHub's webhook schema."""
    payload = webhook_example("issue_comment", "created")
    payload["repository"].update(full_name=REPO, name="modules", default_branch="main")
    payload["repository"]["owner"]["login"] = "octo"
    payload["issue"]["number"] = pr
    payload["comment"].update(id=comment_id, body=body)
    for user in (payload["comment"]["user"], payload["sender"]):
        user.update(login="alice", type="User")
    validate_webhook("issue_comment", payload)
    return payload


def test_a_deploy_comment_through_github_forge(
    github_api: GitHubMock, forge: GitHubForge, store: Store
) -> None:
    api = github_api
    reaction = api.example("POST", f"{R}/issues/comments/{COMMAND_COMMENT}/reactions")
    api.add("POST", f"{R}/issues/comments/{COMMAND_COMMENT}/reactions", json=reaction, status=201)
    api.add("GET", f"{R}/contents/.github/modbot.toml", json=content_json(api, ".github/modbot.toml", POLICY))
    permission = api.example("GET", f"{R}/collaborators/alice/permission")
    permission.update(permission="write", role_name="maintain")
    api.add("GET", f"{R}/collaborators/alice/permission", json=permission)
    api.add(
        "GET",
        f"{R}/git/ref/tags/release/{RELEASE}",
        json=ref_json(api, f"refs/tags/release/{RELEASE}", TAG_OBJECT, "tag"),
    )
    api.add(
        "GET",
        f"{R}/git/tags/{TAG_OBJECT}",
        json=tag_object_json(api, TAG_OBJECT, f"release/{RELEASE}", release_message(), COMMIT),
    )
    created: dict[str, Any] = {}

    def deployment_body() -> dict[str, Any]:
        return deployment_json(
            api,
            DEPLOYMENT_ID,
            sha=COMMIT,
            ref=COMMIT,
            environment="production",
            description=f"modbot: {RELEASE}",
            payload=created.get("payload"),
            created_at="2026-03-04T12:00:00Z",
        )

    api.add("POST", f"{R}/deployments", json=deployment_body(), status=201)
    api.add(
        "POST", f"{R}/deployments/{DEPLOYMENT_ID}/statuses", json=status_json(api, 1, "queued"), status=201
    )
    api.add("GET", f"{R}/git/ref/tags/deploy/production", json=error_json("Not Found"), status=404)
    api.add("POST", f"{R}/git/refs", json=ref_json(api, "refs/tags/deploy/production", COMMIT), status=201)
    reply = comment_json(api, REPLY_COMMENT, "reply", BOT, "Bot")
    api.add("POST", f"{R}/issues/{PR}/comments", json=reply, status=201)
    api.add("POST", f"{R}/issues/comments/{COMMAND_COMMENT}/reactions", json=reaction, status=201)

    outcome = handle_issue_comment(
        comment_webhook(f"/deploy production {RELEASE}"),
        RECEIVED,
        forge=forge,
        store=store,
        settings=settings(),
    )
    assert outcome == "/deploy: done"
    operations = [call.operation_id for call in api.calls]
    assert operations == [
        "reactions/create-for-issue-comment",
        "repos/get-content",
        "repos/get-collaborator-permission-level",
        "git/get-ref",
        "git/get-tag",
        "repos/create-deployment",
        "repos/create-deployment-status",
        "git/get-ref",
        "git/create-ref",
        "issues/create-comment",
        "reactions/create-for-issue-comment",
    ]
    calls = {call.operation_id: call for call in api.calls}
    assert [c.json for c in api.calls if c.operation_id == "reactions/create-for-issue-comment"] == [
        {"content": "eyes"},
        {"content": "rocket"},
    ]
    assert calls["repos/get-content"].query == {"ref": ["main"]}  # the default branch, never a PR head
    deployment = calls["repos/create-deployment"].json
    assert deployment == {
        "ref": COMMIT,
        "task": "deploy",
        "auto_merge": False,
        "required_contexts": [],
        "payload": {
            "modbot": 1,
            "kind": "deploy",
            "release_id": RELEASE,
            "manifest_hash": "ab" * 32,
            "image": "ghcr.io/octo/modules@sha256:" + "cd" * 32,
            "deploy_tag": "deploy/production",
            "requested_by": "alice",
            "reason": "",
            "previous_release": None,
            "rollback_of": None,
            "trigger": "modbot",
            "modbot_template_version": TEMPLATE_VERSION,
        },
        "environment": "production",
        "description": f"modbot: {RELEASE}",
        "transient_environment": False,
    }
    assert calls["repos/create-deployment-status"].json["state"] == "queued"
    assert calls["git/create-ref"].json == {"ref": "refs/tags/deploy/production", "sha": COMMIT}
    assert (
        calls["issues/create-comment"]
        .json["body"]
        .startswith(f"<!-- modbot:command-reply {COMMAND_COMMENT} -->")
    )
    record = store.deployments(REPO, limit=1)[0]
    assert (record.github_deployment_id, record.reply_comment_id) == (DEPLOYMENT_ID, REPLY_COMMENT)

    # the workflow reports success: the lock goes, the reply is edited in place
    created["payload"] = deployment["payload"]
    api.add("PATCH", f"{R}/issues/comments/{REPLY_COMMENT}", json=reply)
    status = webhook_example("deployment_status", "created")
    status["repository"].update(full_name=REPO, name="modules", default_branch="main")
    status["deployment"].update(deployment_body())
    status["deployment_status"].update(
        state="success", description=f"deployed {RELEASE}, smoke test passed", environment="production"
    )
    validate_webhook("deployment_status", status)
    handle_deployment_status(status, RECEIVED, forge=forge, store=store, settings=settings())
    [edit] = [call for call in api.calls if call.operation_id == "issues/update-comment"]
    assert f"✅ Deployed `{RELEASE}` to **production**" in edit.json["body"]
    assert store.get_lock(REPO, "production") is None
    current = store.current_deployment(REPO, "production")
    assert current is not None
    assert current.release_id == RELEASE
