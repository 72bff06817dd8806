"""After a command: deployment_status and workflow_run events follow a deploy to its end (the lock, the
store, the reply edited in place, the audit log), and build runs, release tags and merged pull requests
move the admin API's builds on. The workflow's side is played by the Deployment contract
(docs/workflows.md) on FakeForge; every webhook payload is GitHub's example, adjusted and validated."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.forge import ForgeError
from bot.pipeline.contract import DeploymentContract, deploy_stage, read_contract
from bot.store import DeploymentRecord, ReleaseInfo
from tests.chatops_world import (
    BUILD_WORKFLOW,
    DEPLOY_WORKFLOW,
    REPO,
    World,
    audit_actions,
    settings,
    tag_sha,
)
from tests.webhook_handlers import (
    handle_create,
    handle_deployment_status,
    handle_issue_comment,
    handle_pull_request_closed,
    handle_push,
    handle_workflow_run,
)

RECEIVED = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
RUN_URL = "https://github.com/acme/shop/actions/runs/77"


def deliver(world: World, handler: Any, payload: dict[str, Any]) -> str:
    world.later(0.1)
    outcome: str = handler(payload, RECEIVED, forge=world.forge, store=world.store, settings=settings())
    return outcome


def command(world: World, number: int, body: str) -> DeploymentRecord:
    payload = world.comment_payload(number, body)
    outcome = handle_issue_comment(
        payload, RECEIVED, forge=world.forge, store=world.store, settings=settings()
    )
    assert outcome.endswith(": done"), outcome
    return world.store.deployments(REPO, limit=1)[0]


def status(world: World, record: DeploymentRecord, state: str, description: str, **kwargs: Any) -> str:
    assert record.github_deployment_id is not None
    payload = world.post_status(record.github_deployment_id, state, description, **kwargs)
    return deliver(world, handle_deployment_status, payload)


def reply(world: World, record: DeploymentRecord) -> str:
    fresh = world.store.get_deployment(record.id)
    assert fresh is not None
    assert fresh.reply_comment_id is not None
    [body] = [
        c.body
        for cs in world.forge.repos[REPO.lower()].comments.values()
        for c in cs
        if c.id == fresh.reply_comment_id
    ]
    return body


def test_stages_come_from_the_status_descriptions() -> None:
    assert deploy_stage("queued", "queued rel_2026_01_01_001 for alice") == "queued"
    assert deploy_stage("pending", "") == "queued"
    assert deploy_stage("in_progress", "deploying rel_2026_01_01_001") == "deploy"
    assert deploy_stage("in_progress", "smoke testing rel_2026_01_01_001") == "smoke"
    assert (
        deploy_stage("in_progress", "deploying rel_2026_01_01_001: server deployed and healthy; now the UIs")
        == "deploy"
    )
    assert deploy_stage("success", "deployed rel_2026_01_01_001, smoke test passed") == "done"
    assert deploy_stage("failure", "rel_2026_01_01_001 failed: smoke test; rolled back") is None
    assert deploy_stage("in_progress", "something else") is None


def test_the_contract_is_read_leniently_but_only_from_modbots_payloads() -> None:
    base = {"modbot": 1, "kind": "deploy", "release_id": "rel_2026_01_01_001"}
    assert (
        read_contract({**base, "modbot": True}, "octo") == "not a modbot Deployment (no payload.modbot == 1)"
    )
    assert read_contract({**base, "kind": "nuke"}, "octo") == "unknown kind 'nuke'"
    assert read_contract({}, "octo") == "not a modbot Deployment (no payload.modbot == 1)"
    plain = read_contract(base, "octo")
    assert isinstance(plain, DeploymentContract)
    assert plain.requested_by == "octo"  # no requester: the Deployment's creator
    lenient = read_contract(
        {
            **base,
            "previous_release": "yesterday",
            "manifest_hash": "x" * 101,
            "requested_by": "\x00",
            "reason": " ",
        },
        None,
    )
    assert lenient == DeploymentContract(
        kind="deploy",
        release_id="rel_2026_01_01_001",
        previous_release=None,
        manifest_hash=None,
        requested_by="github",
        reason=None,
    )


def test_a_failed_smoke_test_rolls_back_automatically_and_everything_says_so(world: World) -> None:
    # rel1 runs on production
    first = world.release()
    issue = world.issue()
    earlier = command(world, issue, f"/deploy production {first.release_id}")
    status(world, earlier, "in_progress", f"deploying {first.release_id}")
    status(world, earlier, "success", f"deployed {first.release_id}, smoke test passed")
    assert world.store.get_lock(REPO, "production") is None
    mark = len(audit_actions(world.store))

    # a merged, approved PR's release is deployed from its conversation
    pull, second = world.merged_pull()
    assert second is not None
    record = command(world, pull.number, "/deploy production")
    assert record.previous_release == first.release_id
    assert tag_sha(world.forge, "production") == second.commit_sha
    assert "⏳ queued" in reply(world, record)

    status(world, record, "in_progress", f"deploying {second.release_id}", log_url=RUN_URL)
    body = reply(world, record)
    assert "✅ queued → ⏳ deploy → ⬜ smoke test" in body
    assert f"[the deploy workflow run]({RUN_URL})" in body
    status(world, record, "in_progress", f"smoke testing {second.release_id}", log_url=RUN_URL)
    assert "✅ deploy → ⏳ smoke test → ⬜ done" in reply(world, record)

    # the smoke test fails: the workflow records an automatic rollback and reports on it
    automatic = world.workflow_deployment(
        kind="auto_rollback",
        release=first,
        environment="production",
        requested_by="alice",
        reason=f"automatic rollback: {second.release_id} failed its smoke test",
        previous_release=second.release_id,
        rollback_of=second.release_id,
    )
    for state, description in (
        ("in_progress", f"deploying {first.release_id} (automatic rollback of {second.release_id})"),
        ("in_progress", f"smoke testing {first.release_id} (automatic rollback of {second.release_id})"),
        (
            "success",
            f"deployed {first.release_id} (automatic rollback of {second.release_id}; smoke test passed)",
        ),
    ):
        payload = world.post_status(automatic.id, state, description, log_url=RUN_URL)
        deliver(world, handle_deployment_status, payload)
    assert world.store.get_lock(REPO, "production") is not None  # the failed deploy holds it until it ends
    assert "**Automatic rollback** to" in reply(world, record)
    status(
        world,
        record,
        "failure",
        f"{second.release_id} failed: smoke test; rolled back to {first.release_id}",
        log_url=RUN_URL,
    )

    # GitHub retires the first Deployment (auto_inactive): nothing changes
    [first_on_github] = [
        d for d in world.forge.deployments(REPO) if d.deployment.id == earlier.github_deployment_id
    ]
    assert first_on_github.statuses[-1].state == "inactive"
    retired = world.deployment_status_payload(first_on_github.deployment, first_on_github.statuses[-1])
    assert deliver(world, handle_deployment_status, retired).startswith("unchanged")

    # the final state
    current = world.store.current_deployment(REPO, "production")
    assert current is not None
    assert (current.release_id, current.kind, current.source) == (first.release_id, "auto_rollback", "github")
    assert current.previous_release == second.release_id
    assert world.store.get_lock(REPO, "production") is None
    failed = world.store.get_deployment(record.id)
    assert failed is not None
    assert (failed.status, failed.stage, failed.logs_url) == ("failure", "smoke", RUN_URL)
    assert (current.status, current.stage) == ("success", "done")
    body = reply(world, record)
    assert f"❌ The deploy of `{second.release_id}` to **production** failed" in body
    assert "✅ deploy → ❌ smoke test → ⬜ done" in body
    assert f"production runs `{first.release_id}` again" in body
    assert body.startswith("<!-- modbot:command-reply ")
    assert audit_actions(world.store)[mark:] == [
        "command.deploy",
        "lock.acquire",
        "deployment.create",
        "lock.attach",
        "deploy.start",
        "deployment.in_progress",
        "deployment.create",  # the automatic rollback, first seen on GitHub in progress
        "rollback.automatic",
        "deployment.success",
        "rollback.succeeded",
        "deployment.failure",
        "lock.release",
        "deploy.failed",
    ]
    automatic_entry = world.store.query_audit(action="rollback.automatic").entries[0]
    assert automatic_entry.details is not None
    assert automatic_entry.details["rollback_of"] == second.release_id
    # and a manual rollback now goes back past the automatic one
    assert world.store.successful_releases(REPO, "production") == [first.release_id]


def test_a_repeated_status_changes_nothing_and_is_audited_once(world: World) -> None:
    release = world.release()
    record = command(world, world.issue(), f"/deploy staging {release.release_id}")
    payload = world.post_status(record.github_deployment_id or 0, "success", f"deployed {release.release_id}")
    deliver(world, handle_deployment_status, payload)
    assert deliver(world, handle_deployment_status, payload).startswith("unchanged")
    assert audit_actions(world.store).count("deploy.succeeded") == 1


def status_before_the_reply(world: World, release: ReleaseInfo, *, then_edits_fail: bool = False) -> None:
    """The workflow is fast: its first status arrives before modbot posts the reply (and, with
    `then_edits_fail`, GitHub then refuses the next comment edit)."""
    create_comment = world.forge.create_comment

    def reply_after_the_workflow_reported(repo: str, number: int, body: str) -> Any:
        record = world.store.deployments(REPO, limit=1)[0]
        if record.reply_comment_id is None and record.status == "queued":
            payload = world.post_status(
                record.github_deployment_id or 0, "in_progress", f"deploying {release.release_id}"
            )
            handle_deployment_status(
                payload, RECEIVED, forge=world.forge, store=world.store, settings=settings()
            )
            if then_edits_fail:
                world.forge.fail_next("update_comment", ForgeError("update_comment", 502, "Bad Gateway"))
        return create_comment(repo, number, body)

    world.forge.create_comment = reply_after_the_workflow_reported  # type: ignore[method-assign]


def test_a_status_that_beats_the_reply_is_shown_in_it(world: World) -> None:
    release = world.release()
    status_before_the_reply(world, release)
    record = command(world, world.issue(), f"/deploy staging {release.release_id}")
    assert record.status == "in_progress"
    assert "⏳ deploy" in reply(world, record)


def test_a_failed_edit_of_the_new_reply_does_not_fail_the_done_command(world: World) -> None:
    release = world.release()
    issue = world.issue()
    status_before_the_reply(world, release, then_edits_fail=True)
    record = command(world, issue, f"/deploy staging {release.release_id}")  # done, not a failed job
    assert record.reply_comment_id is not None
    [asked] = [c for c in world.forge.comments(REPO, issue) if c.author == "alice"]
    assert world.forge.reactions(REPO, asked.id) == ["eyes", "rocket"]


def test_deployments_that_are_not_modbots_are_ignored(world: World) -> None:
    release = world.release()
    environment_job = world.forge.create_deployment(
        REPO, ref=release.commit_sha, environment="production", description="", payload={}
    )
    payload = world.post_status(environment_job.id, "success", "")
    assert (
        deliver(world, handle_deployment_status, payload)
        == "ignored: not a modbot Deployment (no payload.modbot == 1)"
    )
    assert world.store.deployments(REPO) == []


def test_a_tag_moved_by_hand_is_recorded_from_the_workflows_deployment(world: World) -> None:
    release = world.release()
    by_hand = world.workflow_deployment(
        kind="deploy", release=release, environment="staging", requested_by="dora"
    )
    payload = world.post_status(by_hand.id, "success", f"deployed {release.release_id}, smoke test passed")
    deliver(world, handle_deployment_status, payload)
    [record] = world.store.deployments(REPO)
    assert (record.source, record.kind, record.requested_by, record.status) == (
        "github",
        "deploy",
        "dora",
        "success",
    )
    assert audit_actions(world.store)[-1] == "deploy.succeeded"


def test_payload_values_the_store_would_refuse_are_dropped_and_the_status_recorded(world: World) -> None:
    # whoever creates a Deployment writes its payload: a value the store refuses must not fail the job
    # on every retry (the status would never be recorded, nor the lock released)
    release = world.release()
    odd = world.workflow_deployment(
        kind="deploy",
        release=release,
        environment="staging",
        requested_by="dora\nroot",
        manifest_hash="ab\ncd",
    )
    payload = world.post_status(
        odd.id, "success", f"deployed {release.release_id}", log_url="https://ci.example/" + "x" * 2000
    )
    assert deliver(world, handle_deployment_status, payload).endswith("success at done")
    [record] = world.store.deployments(REPO)
    assert (record.requested_by, record.manifest_hash, record.logs_url, record.status) == (
        "dora root",  # one line, as `modbot releases sync` reads it
        None,
        None,
        "success",
    )


# --- workflow_run: a deploy run that never reported ---------------------------------------------------------


def test_a_deploy_run_that_ended_without_a_final_status_frees_the_environment(world: World) -> None:
    release = world.release()
    record = command(world, world.issue(), f"/deploy production {release.release_id}")
    world.later(3)
    payload = world.workflow_run_payload(
        path=DEPLOY_WORKFLOW,
        head_sha=release.commit_sha,
        head_branch="deploy/production",
        conclusion="failure",
    )
    outcome = deliver(world, handle_workflow_run, payload)
    assert outcome.endswith("error at queued")
    assert world.store.get_lock(REPO, "production") is None
    ended = world.store.get_deployment(record.id)
    assert ended is not None
    assert ended.status == "error"
    [deployment] = world.forge.deployments(REPO)
    assert deployment.statuses[-1].state == "error"
    assert "without a final status" in deployment.statuses[-1].description
    assert audit_actions(world.store)[-3:] == ["deployment.error", "lock.release", "deploy.failed"]
    assert "❌ The deploy of" in reply(world, record)


def test_a_deploy_run_whose_final_status_event_was_lost_applies_it(world: World) -> None:
    release = world.release()
    record = command(world, world.issue(), f"/deploy staging {release.release_id}")
    assert record.github_deployment_id is not None
    world.forge.create_deployment_status(
        REPO, record.github_deployment_id, "success", description=f"deployed {release.release_id}"
    )
    world.later(3)
    payload = world.workflow_run_payload(
        path=DEPLOY_WORKFLOW, head_sha=release.commit_sha, head_branch="deploy/staging", conclusion="success"
    )
    deliver(world, handle_workflow_run, payload)
    done = world.store.get_deployment(record.id)
    assert done is not None
    assert (done.status, done.stage) == ("success", "done")
    assert world.store.get_lock(REPO, "staging") is None
    assert "deploy.succeeded" in audit_actions(world.store)


def test_a_deploy_run_after_its_deployment_ended_frees_the_lock_left_behind(world: World) -> None:
    release = world.release()
    record = command(world, world.issue(), f"/deploy staging {release.release_id}")
    world.store.update_deployment(record.id, status="success")  # the job stopped before the lock went
    assert world.store.get_lock(REPO, "staging") is not None
    world.later(3)
    calls = len(world.forge.calls)
    payload = world.workflow_run_payload(
        path=DEPLOY_WORKFLOW, head_sha=release.commit_sha, head_branch="deploy/staging", conclusion="success"
    )
    assert deliver(world, handle_workflow_run, payload) == f"released the lock of finished deploy {record.id}"
    assert world.store.get_lock(REPO, "staging") is None
    ended = world.store.get_deployment(record.id)
    assert ended is not None
    assert ended.status == "success"  # its outcome stands
    assert "list_deployment_statuses" not in world.forge.operations()[calls:]  # nothing to ask GitHub


def test_a_run_of_another_deploy_leaves_the_lock_alone(world: World) -> None:
    old, new = world.release(), world.release()
    command(world, world.issue(), f"/deploy staging {new.release_id}")
    world.later(3)
    payload = world.workflow_run_payload(
        path=DEPLOY_WORKFLOW, head_sha=old.commit_sha, head_branch="deploy/staging", conclusion="failure"
    )
    assert (
        deliver(world, handle_workflow_run, payload)
        == "ignored: the run is not the one of the deploy in flight"
    )
    assert world.store.get_lock(REPO, "staging") is not None
    other_workflow = world.workflow_run_payload(
        path=".github/workflows/ci.yml", head_sha=new.commit_sha, head_branch="deploy/staging"
    )
    assert deliver(world, handle_workflow_run, other_workflow) == "ignored: ci.yml is not the deploy workflow"
    assert world.store.get_lock(REPO, "staging") is not None


# --- builds: merged PRs, build runs, release tags -------------------------------------------------------------


def build_for(world: World, number: int) -> str:
    return world.store.create_build(
        repository=REPO,
        requested_by="api:panel",
        reason="add the forum",
        manifest_ref="main",
        manifest_hash=None,
        modules_delta={"added": ["forum"]},
        pr_number=number,
    ).build_id


def test_a_build_follows_its_pr_its_build_run_and_its_release_tag(world: World) -> None:
    branch_pull = world.open_pull()
    build_id = build_for(world, branch_pull.number)
    merged = world.forge.merge_pull(REPO, branch_pull.number)
    assert merged.merge_commit_sha is not None
    sha = merged.merge_commit_sha

    assert deliver(world, handle_pull_request_closed, world.pull_closed_payload(merged)).startswith(
        "1 build(s)"
    )
    build = world.store.get_build(build_id)
    assert build is not None
    assert (build.status, build.stage, build.progress, build.merge_sha) == ("queued", "build", 25, sha)

    running = world.workflow_run_payload(
        path=BUILD_WORKFLOW, head_sha=sha, head_branch="main", action="in_progress"
    )
    deliver(world, handle_workflow_run, running)
    build = world.store.get_build(build_id)
    assert build is not None
    assert (build.status, build.stage, build.progress) == ("running", "build", 60)
    assert build.logs_url is not None
    assert build.logs_url.startswith("https://github.com/acme/shop/actions/runs/")

    done = world.workflow_run_payload(
        path=BUILD_WORKFLOW, head_sha=sha, head_branch="main", conclusion="success"
    )
    assert deliver(world, handle_workflow_run, done).endswith("waiting for its release tag")
    build = world.store.get_build(build_id)
    assert build is not None
    assert (build.status, build.stage, build.progress) == ("running", "release", 80)

    release = world.release(commit_sha=sha, cached=False)
    assert deliver(world, handle_create, world.create_payload(f"release/{release.release_id}")) == (
        f"recorded {release.release_id}; 1 build(s) finished"
    )
    build = world.store.get_build(build_id)
    assert build is not None
    assert (build.status, build.stage, build.progress, build.release_id) == (
        "succeeded",
        "done",
        100,
        release.release_id,
    )
    assert world.store.get_release(REPO, release.release_id) == release
    # GitHub sends a push for the same tag: nothing more happens
    tag_object = world.forge.repos[REPO.lower()].refs[f"tags/release/{release.release_id}"]
    assert deliver(world, handle_push, world.push_payload(f"release/{release.release_id}", tag_object)) == (
        f"recorded {release.release_id}; 0 build(s) finished"
    )


def test_a_build_run_that_already_released_finishes_the_build_at_once(world: World) -> None:
    pull = world.open_pull()
    build_id = build_for(world, pull.number)
    merged = world.forge.merge_pull(REPO, pull.number)
    assert merged.merge_commit_sha is not None
    world.forge.add_workflow_run(REPO, head_sha=merged.merge_commit_sha, conclusion="success")
    release = world.release(commit_sha=merged.merge_commit_sha, cached=False)
    # the PR's closed event arrives last: it catches up with the run and the tag
    deliver(world, handle_pull_request_closed, world.pull_closed_payload(merged))
    build = world.store.get_build(build_id)
    assert build is not None
    assert (build.status, build.release_id) == ("succeeded", release.release_id)


def test_a_failed_build_run_fails_the_build(world: World) -> None:
    pull = world.open_pull()
    build_id = build_for(world, pull.number)
    merged = world.forge.merge_pull(REPO, pull.number)
    deliver(world, handle_pull_request_closed, world.pull_closed_payload(merged))
    assert merged.merge_commit_sha is not None
    failed = world.workflow_run_payload(
        path=BUILD_WORKFLOW, head_sha=merged.merge_commit_sha, head_branch="main", conclusion="failure"
    )
    deliver(world, handle_workflow_run, failed)
    build = world.store.get_build(build_id)
    assert build is not None
    assert build.status == "failed"
    assert build.detail is not None
    assert "the build run ended: failure" in build.detail
    assert "build.failed" in audit_actions(world.store)


def test_a_pull_request_closed_without_merging_cancels_its_build(world: World) -> None:
    pull = world.open_pull()
    build_id = build_for(world, pull.number)
    closed = world.pull_closed_payload(pull)
    assert deliver(world, handle_pull_request_closed, closed).startswith("cancelled 1 build(s)")
    build = world.store.get_build(build_id)
    assert build is not None
    assert build.status == "cancelled"


def test_tags_that_are_not_release_records_are_ignored(world: World) -> None:
    commit = world.forge.commit(REPO, "main", {"x": b"1"})
    world.forge.add_annotated_tag(REPO, "release/rel_2026_05_05_001", commit, "not json")
    assert deliver(world, handle_create, world.create_payload("release/rel_2026_05_05_001")) == (
        "ignored: release/rel_2026_05_05_001 is not a modbot release record"
    )
    assert deliver(world, handle_create, world.create_payload("v1.0")) == "ignored: not a release tag"
    world.forge.create_ref(REPO, "refs/tags/release/rel_2026_05_06_001", commit)
    assert deliver(world, handle_push, world.push_payload("release/rel_2026_05_06_001", commit)) == (
        "ignored: release/rel_2026_05_06_001 is not an annotated tag"
    )
    assert world.store.releases(REPO) == []
