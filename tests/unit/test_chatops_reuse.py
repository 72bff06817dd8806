"""Issue #10, part 5: a merge whose build reused a release deploys from its PR.

Install a module, then uninstall it: the second merge commit's build key is the one released before
the install, so its build reuses that release (no new tag, no tag move) and only sets the commit
status `modbot/release` naming it (the build workflow's plan step, with the description
`modbot pipeline release plan` outputs). `/deploy` on the second PR, the builds API and `/status` must
all name that release; a status that names a release of another composition is not believed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.app.releases import reused_release
from bot.manifest.validate import validate_bytes
from bot.pipeline.release import RELEASE_STATUS_CONTEXT, reuse_status_description
from bot.runtime import Runtime
from bot.store import ReleaseInfo
from bot.web.app import create_app
from tests.chatops_world import BUILD_WORKFLOW, REPO, World, settings, tag_sha
from tests.corpus import MINI_MANIFEST
from tests.unit.test_admin_api import Provider, auth, token_settings
from tests.webhook_handlers import (
    handle_deployment_status,
    handle_issue_comment,
    handle_pull_request_closed,
    handle_workflow_run,
)

RECEIVED = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
MANIFEST = MINI_MANIFEST.read_bytes()
INSTALLED = MANIFEST.replace(
    b"\n[settings]",
    b'forum = { crate = "rustok-forum", source = "crates-io", version = "0.1" }\n\n[settings]',
)


def composition(raw: bytes) -> str:
    result = validate_bytes(raw)
    assert result.valid and result.manifest_hash is not None
    return result.manifest_hash


def deliver(world: World, handler: Any, payload: dict[str, Any]) -> str:
    world.later(0.1)
    outcome: str = handler(payload, RECEIVED, forge=world.forge, store=world.store, settings=settings())
    return outcome


def comment(world: World, number: int, body: str) -> str:
    """The comment's outcome and modbot's reply to it."""
    payload = world.comment_payload(number, body)
    outcome = handle_issue_comment(
        payload, RECEIVED, forge=world.forge, store=world.store, settings=settings()
    )
    assert outcome.endswith(": done"), outcome
    return world.forge.comments(REPO, number)[-1].body


def open_change(world: World, branch: str, manifest: bytes) -> int:
    """An approved PR setting modules.toml to `manifest`."""
    world.forge.commit(REPO, branch, {"modules.toml": manifest}, author="erin")
    pull = world.forge.add_pull(REPO, branch, author="erin")
    world.forge.add_review(REPO, pull.number, "rachel", "APPROVED")
    return pull.number


def merge(world: World, number: int) -> str:
    merged = world.forge.merge_pull(REPO, number)
    assert merged.merge_commit_sha is not None
    return merged.merge_commit_sha


def plan_reuses(world: World, sha: str, release: ReleaseInfo) -> None:
    """The build workflow's plan step on a commit whose build key is released: the status it sets."""
    world.forge.set_commit_status(
        REPO,
        sha,
        "success",
        context=RELEASE_STATUS_CONTEXT,
        description=reuse_status_description(release.release_id),
        target_url="https://github.com/acme/shop/actions/runs/1",
    )


def install_then_uninstall(world: World) -> tuple[ReleaseInfo, ReleaseInfo, int, str]:
    """The release before the install, the install's release, and the uninstall PR and merge commit
    (merged; its build run not yet reported)."""
    main = world.forge.commit(REPO, "main", {"modules.toml": MANIFEST})
    before = world.release(commit_sha=main, manifest_hash=composition(MANIFEST))
    install = open_change(world, "install-blog", INSTALLED)
    installed_sha = merge(world, install)
    world.forge.add_workflow_run(REPO, head_sha=installed_sha, conclusion="success")
    installed = world.release(commit_sha=installed_sha, manifest_hash=composition(INSTALLED))
    uninstall = open_change(world, "uninstall-blog", MANIFEST)
    return before, installed, uninstall, merge(world, uninstall)


def test_install_uninstall_then_deploy_from_the_second_pr_deploys_the_reused_release(world: World) -> None:
    before, installed, uninstall, sha = install_then_uninstall(world)
    assert composition(world.forge.file_at(REPO, sha, "modules.toml") or b"") == before.manifest_hash
    build_id = world.store.create_build(
        repository=REPO,
        requested_by="api:panel",
        reason="remove the blog",
        manifest_ref="main",
        manifest_hash=before.manifest_hash,
        modules_delta={"removed": ["blog"]},
        pr_number=uninstall,
    ).build_id
    assert deliver(
        world, handle_pull_request_closed, world.pull_closed_payload(world.forge.get_pull(REPO, uninstall))
    )
    plan_reuses(world, sha, before)
    done = world.workflow_run_payload(
        path=BUILD_WORKFLOW, head_sha=sha, head_branch="main", conclusion="success"
    )
    assert deliver(world, handle_workflow_run, done).endswith(
        f"reused {before.release_id}; 1 build(s) finished"
    )

    # the builds API names the reused release
    app = create_app(
        Runtime(token_settings(frozenset({REPO})), world.store, Provider(world.forge)), workers=0
    )
    client = TestClient(app, raise_server_exceptions=False)
    _, secret = world.store.create_admin_token("panel", actor="test")
    view = client.get(f"/admin/builds/{build_id}", headers=auth(secret)).json()
    assert (view["status"], view["stage"], view["release_id"]) == ("succeeded", "done", before.release_id)

    reply = comment(world, uninstall, "/deploy production")
    assert f"Deploying `{before.release_id}` to **production**" in reply, reply
    [record] = world.store.deployments(REPO, limit=5)
    assert (record.release_id, record.commit_sha, record.issue_number) == (
        before.release_id,
        before.commit_sha,
        uninstall,
    )
    # the tag moved to the reused release's own commit: the deploy workflow resolves it from there
    assert tag_sha(world.forge, "production") == before.commit_sha
    [deployment] = world.forge.deployments(REPO)
    assert deployment.deployment.payload["release_id"] == before.release_id
    assert deployment.deployment.payload["manifest_hash"] == before.manifest_hash != installed.manifest_hash

    status = comment(world, uninstall, "/status production")
    assert f"deploy of `{before.release_id}`" in status, status
    succeeded = world.post_status(deployment.deployment.id, "success", f"deployed {before.release_id}")
    deliver(world, handle_deployment_status, succeeded)
    status = comment(world, uninstall, "/status production")
    assert f"`{before.release_id}` since" in status, status


def test_without_the_status_the_refusal_names_a_way_that_works(world: World) -> None:
    before, _, uninstall, sha = install_then_uninstall(world)
    world.forge.add_workflow_run(REPO, head_sha=sha, conclusion="success")
    result = world.run("deploy", "production", issue_number=uninstall)
    assert result.decision.rule == "no_release"
    assert "succeeded" in result.decision.message
    # the release can be deployed by id (the run's plan step names it); /rebuild alone would reuse again
    assert result.decision.next_step.startswith(
        "deploy the release its build reused by id: /deploy production"
    )
    named = world.run("deploy", "production", before.release_id, issue_number=uninstall)
    assert named.ok and named.deployment is not None
    assert named.deployment.release_id == before.release_id


@pytest.mark.parametrize(
    ("state", "description"),
    [
        ("success", "the installed release"),  # names another composition: filled in below
        ("failure", None),
        ("success", "no release named here"),
        ("success", "rel_2026_12_31_009: reused"),  # no such release
    ],
)
def test_a_status_that_does_not_hold_is_not_believed(
    world: World, state: str, description: str | None
) -> None:
    before, installed, uninstall, sha = install_then_uninstall(world)
    world.forge.add_workflow_run(REPO, head_sha=sha, conclusion="success")
    if description == "the installed release":
        # anyone who may write statuses could claim a release of another module set
        description = reuse_status_description(installed.release_id)
    world.forge.set_commit_status(
        REPO,
        sha,
        state,
        context=RELEASE_STATUS_CONTEXT,
        description=description or reuse_status_description(before.release_id),
    )
    assert reused_release(world.forge, world.store, REPO, sha, manifest_path="modules.toml") is None
    result = world.run("deploy", "production", issue_number=uninstall)
    assert result.decision.rule == "no_release"
    assert world.forge.deployments(REPO) == []


def test_a_reused_release_is_found_in_few_calls(world: World) -> None:
    before, _, _, sha = install_then_uninstall(world)
    world.forge.add_workflow_run(REPO, head_sha=sha, conclusion="success")
    plan_reuses(world, sha, before)
    world.forge.calls.clear()
    found = reused_release(world.forge, world.store, REPO, sha, manifest_path="modules.toml")
    assert found == before
    # the status, and the manifest at the commit; the release itself is the store's copy
    assert world.forge.operations() == ["latest_commit_status", "get_file"]
