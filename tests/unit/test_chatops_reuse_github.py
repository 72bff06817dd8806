"""Issue #10, part 5 through `GitHubForge` behind GitHub's published API description: `/deploy
production` on the PR whose merge commit's build reused a release (install, then uninstall) finds the
release through the commit's `modbot/release` status and deploys it. Every request modbot sends and
every response mocked is checked against the OpenAPI description by the `github_api` fixture; the
comment webhook is GitHub's example, validated against its schema."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.forge.github import GitHubForge
from bot.pipeline.release import make_record, reuse_status_description
from bot.pipeline.version import TEMPLATE_VERSION
from bot.store import Store
from tests.chatops_world import POLICY, settings
from tests.corpus import MINI_MANIFEST
from tests.github_conformance import GitHubMock
from tests.store_helpers import FakeClock, temporary_store
from tests.unit.test_chatops_github import comment_webhook as chatops_comment_webhook
from tests.unit.test_chatops_reuse import composition
from tests.unit.test_forge_deploys import deployment_json, review_json, run_json, status_json, tag_object_json
from tests.unit.test_forge_github import (
    BOT,
    REPO,
    TOKEN,
    comment_json,
    content_json,
    error_json,
    pull_json,
    ref_json,
)
from tests.webhook_handlers import handle_issue_comment

R = f"/repos/{REPO}"
REUSED = "rel_2026_03_01_001"  # released before the install, from the same build key
INSTALLED = "rel_2026_03_02_001"  # the install's release
REUSED_COMMIT = "c0ffee" + "0" * 34
INSTALLED_COMMIT = "beef" + "0" * 36
MERGE_COMMIT = "d00d" + "0" * 36  # the uninstall PR's merge commit: built, no tag of its own
REUSED_TAG, INSTALLED_TAG = "7a9" + "0" * 37, "7b9" + "0" * 37
DEPLOYMENT_ID = 4343
PR = 8
COMMAND_COMMENT = 911
REPLY_COMMENT = 912
RECEIVED = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
MANIFEST = MINI_MANIFEST.read_bytes()


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


def release_message(release_id: str, commit: str, manifest_hash: str) -> str:
    return make_record(
        release_id=release_id,
        manifest_hash=manifest_hash,
        modules=["blog", "content", "outbox", "pages"],
        image_repository="ghcr.io/octo/modules",
        image_digest="sha256:" + ("cd" if release_id == REUSED else "ce") * 32,
        build_id="88-1",
        git_sha=commit,
        previous_release=None,
        build_key="ef" * 32,
        template_version=TEMPLATE_VERSION,
        created_at=datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
    ).to_message()


def comment_webhook(body: str) -> dict[str, Any]:
    return chatops_comment_webhook(body, pr=PR, comment_id=COMMAND_COMMENT)


def test_deploy_from_the_uninstall_pr_through_github_forge(
    github_api: GitHubMock, forge: GitHubForge, store: Store
) -> None:
    api = github_api
    reaction = api.example("POST", f"{R}/issues/comments/{COMMAND_COMMENT}/reactions")
    api.add("POST", f"{R}/issues/comments/{COMMAND_COMMENT}/reactions", json=reaction, status=201)
    api.add("GET", f"{R}/contents/.github/modbot.toml", json=content_json(api, ".github/modbot.toml", POLICY))
    permission = api.example("GET", f"{R}/collaborators/alice/permission")
    permission.update(permission="write", role_name="maintain")
    api.add("GET", f"{R}/collaborators/alice/permission", json=permission)
    merged = pull_json(api, PR, state="closed", merged=True, author="erin", merge_commit_sha=MERGE_COMMIT)
    api.add("GET", f"{R}/pulls/{PR}", json=merged)
    api.add("GET", f"{R}/pulls/{PR}/reviews", json=[review_json(api, 1, "rachel", "APPROVED")])
    api.add(
        "GET",
        f"{R}/actions/workflows/modbot-build.yml/runs",
        json={"total_count": 1, "workflow_runs": [run_json(api, 55, head_sha=MERGE_COMMIT)]},
    )
    # no release tag points at the merge commit: the newest tags are read once (then cached)
    api.add(
        "GET",
        f"{R}/git/matching-refs/tags/release/",
        json=[
            ref_json(api, f"refs/tags/release/{REUSED}", REUSED_TAG, "tag"),
            ref_json(api, f"refs/tags/release/{INSTALLED}", INSTALLED_TAG, "tag"),
        ],
    )
    installed_message = release_message(INSTALLED, INSTALLED_COMMIT, "ab" * 32)
    api.add(
        "GET",
        f"{R}/git/tags/{INSTALLED_TAG}",
        json=tag_object_json(api, INSTALLED_TAG, f"release/{INSTALLED}", installed_message, INSTALLED_COMMIT),
    )
    reused_message = release_message(REUSED, REUSED_COMMIT, composition(MANIFEST))
    api.add(
        "GET",
        f"{R}/git/tags/{REUSED_TAG}",
        json=tag_object_json(api, REUSED_TAG, f"release/{REUSED}", reused_message, REUSED_COMMIT),
    )
    # what the build workflow's plan step set on the merge commit
    combined = api.example("GET", f"{R}/commits/{MERGE_COMMIT}/status")
    example = combined["statuses"][0]
    combined.update(sha=MERGE_COMMIT, state="success", total_count=1)
    combined["statuses"] = [
        {
            **example,
            "context": "modbot/release",
            "state": "success",
            "description": reuse_status_description(REUSED),
        }
    ]
    api.add("GET", f"{R}/commits/{MERGE_COMMIT}/status", json=combined)
    api.add("GET", f"{R}/contents/modules.toml", json=content_json(api, "modules.toml", MANIFEST))
    deployment = deployment_json(
        api,
        DEPLOYMENT_ID,
        sha=REUSED_COMMIT,
        ref=REUSED_COMMIT,
        environment="production",
        description=f"modbot: {REUSED}",
        created_at="2026-03-04T12:00:00Z",
    )
    api.add("POST", f"{R}/deployments", json=deployment, status=201)
    api.add(
        "POST", f"{R}/deployments/{DEPLOYMENT_ID}/statuses", json=status_json(api, 1, "queued"), status=201
    )
    api.add("GET", f"{R}/git/ref/tags/deploy/production", json=error_json("Not Found"), status=404)
    api.add(
        "POST", f"{R}/git/refs", json=ref_json(api, "refs/tags/deploy/production", REUSED_COMMIT), status=201
    )
    reply = comment_json(api, REPLY_COMMENT, "reply", BOT, "Bot")
    api.add("POST", f"{R}/issues/{PR}/comments", json=reply, status=201)
    api.add("POST", f"{R}/issues/comments/{COMMAND_COMMENT}/reactions", json=reaction, status=201)

    outcome = handle_issue_comment(
        comment_webhook("/deploy production"), RECEIVED, forge=forge, store=store, settings=settings()
    )
    assert outcome == "/deploy: done"
    operations = [call.operation_id for call in api.calls]
    assert operations == [
        "reactions/create-for-issue-comment",
        "repos/get-content",
        "repos/get-collaborator-permission-level",
        "pulls/get",
        "pulls/list-reviews",
        "actions/list-workflow-runs",
        "git/list-matching-refs",
        "git/get-tag",
        "git/get-tag",
        "repos/get-combined-status-for-ref",
        "repos/get-content",
        "repos/create-deployment",
        "repos/create-deployment-status",
        "git/get-ref",
        "git/create-ref",
        "issues/create-comment",
        "reactions/create-for-issue-comment",
    ]
    calls = [call for call in api.calls if call.operation_id == "repos/get-content"]
    # the policy from the default branch; the manifest from the merge commit
    assert [(c.path, c.query) for c in calls] == [
        (f"{R}/contents/.github/modbot.toml", {"ref": ["main"]}),
        (f"{R}/contents/modules.toml", {"ref": [MERGE_COMMIT]}),
    ]
    [created] = [c.json for c in api.calls if c.operation_id == "repos/create-deployment"]
    assert created["ref"] == REUSED_COMMIT
    assert created["payload"]["release_id"] == REUSED
    assert created["payload"]["manifest_hash"] == composition(MANIFEST)
    [tag] = [c.json for c in api.calls if c.operation_id == "git/create-ref"]
    assert tag == {"ref": "refs/tags/deploy/production", "sha": REUSED_COMMIT}
    [answer] = [c.json["body"] for c in api.calls if c.operation_id == "issues/create-comment"]
    assert f"Deploying `{REUSED}` to **production**" in answer
    record = store.deployments(REPO, limit=1)[0]
    assert (record.release_id, record.commit_sha, record.issue_number) == (REUSED, REUSED_COMMIT, PR)
