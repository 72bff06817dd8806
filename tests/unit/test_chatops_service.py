"""The chat-ops service (bot/app/commands/service.py): what each command does on GitHub and in the store, in
what order, what it answers, and what it audits. FakeForge and a real SQLite store."""

from __future__ import annotations

import json

import pytest

from bot.app.chatops.progress import automatic_rollback_of, rolled_back_deployment
from bot.app.commands.facts import approved_by_others, build_state, rollback_plan
from bot.app.commands.service import CommandResult
from bot.forge import ForgeError, Review, WorkflowRun
from bot.pipeline.contract import contract_payload
from bot.store import DeploymentRecord, Store
from tests.chatops_world import REPO, World, audit_actions, tag_sha
from tests.store_helpers import FakeClock


def finish(world: World, result: CommandResult, status: str = "success") -> DeploymentRecord:
    """What the deploy workflow's final status does (bot.app.followups, tested on its own)."""
    assert result.deployment is not None
    record = world.store.update_deployment(result.deployment.id, status=status)  # type: ignore[arg-type]
    world.store.release_lock(
        REPO, record.environment, actor="modbot", reason=None, deployment_id=record.github_deployment_id
    )
    world.later()
    return record


# --- deploy ----------------------------------------------------------------------------------------


def test_a_deploy_creates_the_deployment_first_then_moves_the_tag(world: World) -> None:
    release = world.release()
    result = world.run(
        "deploy",
        "production",
        release.release_id,
        actor="api:panel",
        kind="token",
        source="api",
        reason="ship @forum | now",
    )

    assert result.ok
    assert result.decision.rule == "ok"
    [deployment] = world.forge.deployments(REPO)
    assert deployment.deployment.ref == release.commit_sha
    assert deployment.deployment.environment == "production"
    assert deployment.deployment.task == "deploy"
    assert deployment.deployment.description == f"modbot: {release.release_id}"
    assert deployment.deployment.payload == {
        "modbot": 1,
        "kind": "deploy",
        "release_id": release.release_id,
        "manifest_hash": release.manifest_hash,
        "image": release.image,
        "deploy_tag": "deploy/production",
        "requested_by": "api:panel",
        "reason": "ship @forum | now",
        "previous_release": None,
        "rollback_of": None,
        "trigger": "modbot",
        "modbot_template_version": "1",
    }
    assert [status.state for status in deployment.statuses] == ["queued"]
    assert not deployment.statuses[0].description.startswith(("deploying ", "smoke testing ", "deployed "))
    operations = world.forge.operations()
    assert (
        operations.index("create_deployment")
        < operations.index("create_deployment_status")
        < operations.index("create_ref")
    )
    assert tag_sha(world.forge, "production") == release.commit_sha

    record = result.deployment
    assert record is not None
    assert (record.kind, record.status, record.stage, record.source) == ("deploy", "queued", "queued", "api")
    assert (record.github_deployment_id, record.requested_by) == (deployment.deployment.id, "api:panel")
    lock = world.store.get_lock(REPO, "production")
    assert lock is not None
    assert (lock.holder, lock.deployment_id, lock.release_id) == (
        "api:panel",
        deployment.deployment.id,
        release.release_id,
    )
    assert (lock.expires_at - lock.acquired_at).total_seconds() == 30 * 60  # the policy's lock_timeout
    assert audit_actions(world.store) == [
        "command.deploy",
        "lock.acquire",
        "deployment.create",
        "lock.attach",
        "deploy.start",
    ]
    start = world.store.query_audit(action="deploy.start").entries[0]
    assert start.target == "acme/shop:production"
    assert start.details is not None
    assert start.details["deployment"] == record.id
    assert start.details["release_id"] == release.release_id
    assert result.data["github_deployment_id"] == deployment.deployment.id
    json.dumps(dict(result.data))  # the API answers with it
    # the reply: untrusted text defused
    assert "@\u2060forum" in result.message_markdown
    assert "\\| now" in result.message_markdown


def test_a_second_deploy_records_what_it_replaces_and_moves_the_existing_tag(world: World) -> None:
    first, second = world.release(), world.release()
    finish(world, world.run("deploy", "staging", first.release_id))
    result = world.run("deploy", "staging", second.release_id)
    assert result.ok
    assert result.deployment is not None
    assert result.deployment.previous_release == first.release_id
    assert world.forge.deployments(REPO)[-1].deployment.payload["previous_release"] == first.release_id
    assert world.forge.operations().count("update_ref") == 1
    assert tag_sha(world.forge, "staging") == second.commit_sha


def test_a_tag_that_cannot_move_ends_the_deployment_with_an_error_at_once(world: World) -> None:
    release = world.release()
    world.forge.fail_next(
        "create_ref", ForgeError("create_ref", 422, "Cannot create ref due to creations being restricted")
    )
    result = world.run("deploy", "production", release.release_id)

    assert not result.ok
    assert result.decision.allowed  # allowed, but it failed
    [deployment] = world.forge.deployments(REPO)
    assert [s.state for s in deployment.statuses] == ["queued", "error"]
    assert deployment.statuses[-1].description.startswith(f"{release.release_id} failed: ")
    assert tag_sha(world.forge, "production") is None
    assert world.store.get_lock(REPO, "production") is None
    assert result.deployment is not None
    assert result.deployment.status == "error"
    assert "HTTP 422: Cannot create ref due to creations being restricted" in result.message_markdown
    assert "Traceback" not in result.message_markdown
    assert audit_actions(world.store)[-3:] == ["deployment.error", "lock.release", "deploy.failed"]


def test_a_deployment_github_refuses_frees_the_lock_and_records_nothing(world: World) -> None:
    release = world.release()
    world.forge.fail_next(
        "create_deployment", ForgeError("create_deployment", 409, "Conflict: Commit status checks failed")
    )
    result = world.run("deploy", "production", release.release_id)
    assert not result.ok
    assert result.deployment is None
    assert world.store.get_lock(REPO, "production") is None
    assert world.store.deployments(REPO) == []
    assert "HTTP 409" in result.message_markdown
    assert audit_actions(world.store)[-3:] == ["lock.acquire", "lock.release", "deploy.failed"]


def test_a_deploy_while_another_is_in_flight_is_refused_naming_the_holder(world: World) -> None:
    release = world.release()
    world.role("bob", "admin")
    assert world.run("deploy", "production", release.release_id, actor="bob").ok
    world.later(5)
    refused = world.run("deploy", "production", release.release_id)
    assert not refused.ok
    assert refused.decision.rule == "locked"
    assert "locked by bob" in refused.message_markdown
    assert "/unlock production" in refused.message_markdown
    assert len(world.forge.deployments(REPO)) == 1
    assert audit_actions(world.store)[-2:] == ["command.deploy", "deploy.refused"]


def test_a_lock_expires_after_the_policy_timeout(world: World) -> None:
    release = world.release()
    assert world.run("deploy", "staging", release.release_id).ok
    world.later(29)
    assert world.run("deploy", "staging", release.release_id).decision.rule == "locked"
    world.later(2)  # 31 minutes: past lock_timeout = "30m"
    again = world.run("deploy", "staging", release.release_id)
    assert again.ok
    assert "lock.expired" in audit_actions(world.store)


def test_a_deploy_from_a_merged_pull_request_deploys_its_release(world: World) -> None:
    pull, release = world.merged_pull()
    assert release is not None
    result = world.run("deploy", "production", issue_number=pull.number)
    assert result.ok, result.message_markdown
    assert tag_sha(world.forge, "production") == release.commit_sha == pull.merge_commit_sha
    assert result.deployment is not None
    assert (result.deployment.issue_number, result.deployment.source) == (pull.number, "comment")
    command = world.store.query_audit(action="command.deploy").entries[0]
    assert command.target == f"acme/shop#{pull.number}"


def test_a_release_the_store_has_not_seen_is_read_from_its_tag_and_cached(world: World) -> None:
    pull, _ = world.merged_pull(released=False)
    assert pull.merge_commit_sha is not None
    release = world.release(commit_sha=pull.merge_commit_sha, cached=False)
    assert world.store.get_release(REPO, release.release_id) is None
    result = world.run("deploy", "staging", issue_number=pull.number)
    assert result.ok, result.message_markdown
    assert world.store.get_release(REPO, release.release_id) == release


def test_a_named_release_only_on_github_is_deployable(world: World) -> None:
    release = world.release(cached=False)
    assert world.run("deploy", "staging", release.release_id).ok
    assert world.store.get_release(REPO, release.release_id) == release


@pytest.mark.parametrize(
    ("build", "rule"), [("failure", "build_failed"), ("running", "build_running"), (None, "no_release")]
)
def test_a_pull_request_without_a_release_cannot_be_deployed(
    world: World, build: str | None, rule: str
) -> None:
    pull, _ = world.merged_pull(released=False, build=build)
    result = world.run("deploy", "staging", issue_number=pull.number)
    assert result.decision.rule == rule
    assert world.forge.deployments(REPO) == []


def test_a_refusal_costs_no_github_call_beyond_the_policy_and_the_role(world: World) -> None:
    pull = world.open_pull()
    world.role("carol", "read")
    before = world.forge.api_calls
    result = world.run("deploy", "production", actor="carol", issue_number=pull.number)
    assert result.decision.rule == "permission"
    assert world.forge.api_calls - before == 3  # default branch, the policy file, the role
    assert "rule `permission`" in result.message_markdown
    assert "What to do next" in result.message_markdown


# --- rollback -----------------------------------------------------------------------------------------


def test_a_rollback_with_no_previous_release_is_refused_clearly(world: World) -> None:
    release = world.release()
    finish(world, world.run("deploy", "production", release.release_id))
    result = world.run("rollback", "production")
    assert result.decision.rule == "no_previous_release"
    assert "nothing to roll back to: production has no previous successful release" in result.message_markdown
    assert "What to do next" in result.message_markdown
    assert len(world.forge.deployments(REPO)) == 1


def test_a_rollback_goes_back_to_the_direct_predecessor(world: World) -> None:
    first, second = world.release(), world.release()
    finish(world, world.run("deploy", "production", first.release_id))
    finish(world, world.run("deploy", "production", second.release_id))
    result = world.run("rollback", "production", reason="checkout is broken")
    assert result.ok, result.message_markdown
    assert tag_sha(world.forge, "production") == first.commit_sha
    deployment = world.forge.deployments(REPO)[-1].deployment
    assert deployment.payload["kind"] == "rollback"
    assert deployment.payload["release_id"] == first.release_id
    assert deployment.payload["previous_release"] == second.release_id
    assert deployment.payload["rollback_of"] == second.release_id
    assert result.deployment is not None
    assert result.deployment.kind == "rollback"
    assert result.decision.warnings == ()
    assert audit_actions(world.store)[-1] == "rollback.start"
    assert "Rolling back **production** to" in result.message_markdown


def test_a_rollback_to_a_named_older_release_warns_about_what_it_skips(world: World) -> None:
    releases = [world.release() for _ in range(4)]
    for release in releases:
        finish(world, world.run("deploy", "production", release.release_id))
    target = releases[0].release_id
    result = world.run("rollback", "production", target)
    assert result.ok
    skipped = f"{releases[2].release_id}, {releases[1].release_id}"
    assert result.decision.warnings == (f"rolling back to {target} skips {skipped}",)
    assert f"skips {skipped}" in result.message_markdown
    assert tag_sha(world.forge, "production") == releases[0].commit_sha
    start = world.store.query_audit(action="rollback.start").entries[0]
    assert start.details is not None
    assert start.details["warnings"] == [f"rolling back to {target} skips {skipped}"]


def test_a_rollback_is_allowed_during_a_freeze_and_a_deploy_is_not(store: Store, clock: FakeClock) -> None:
    policy = World.create(store, clock).forge.file_at(REPO, "main", ".github/modbot.toml")
    assert policy is not None
    frozen = policy.replace(
        b'url = "https://shop.example.com"',
        b'url = "https://shop.example.com"\nfrozen = true\nfreeze_reason = "@launch week"',
    )
    world = World.create(store, clock, policy=frozen)
    world.role("alice", "admin")
    first, second = world.release(), world.release()
    for release in (first, second):
        world.store.record_deployment(
            repository=REPO,
            environment="production",
            release_id=release.release_id,
            commit_sha=release.commit_sha,
            kind="deploy",
            requested_by="alice",
            reason=None,
            source="github",
            status="success",
        )
        world.later()
    deploy = world.run("deploy", "production", first.release_id)
    assert deploy.decision.rule == "frozen"
    assert "@\u2060launch week" in deploy.message_markdown  # policy text never pings anyone
    assert world.run("rollback", "production").ok


def test_a_deploys_reply_shows_its_own_automatic_rollback_not_a_later_ones(world: World) -> None:
    good, bad = world.release(), world.release()

    def record(kind: str, release: str, previous: str | None) -> DeploymentRecord:
        made = world.store.record_deployment(
            repository=REPO,
            environment="production",
            release_id=release,
            commit_sha=(good if release == good.release_id else bad).commit_sha,
            kind=kind,  # type: ignore[arg-type]
            requested_by="alice",
            reason=None,
            source="github",
            previous_release=previous,
            status="failure" if kind == "deploy" else "success",
        )
        world.later()
        return made

    record("deploy", good.release_id, None)
    first = record("deploy", bad.release_id, good.release_id)
    first_undone = record("auto_rollback", good.release_id, bad.release_id)
    second = record("deploy", bad.release_id, good.release_id)
    second_undone = record("auto_rollback", good.release_id, bad.release_id)
    assert automatic_rollback_of(world.store, first) == first_undone
    assert automatic_rollback_of(world.store, second) == second_undone
    assert rolled_back_deployment(world.store, second_undone) == second


# --- unlock, status, help ---------------------------------------------------------------------------------


def test_unlock_releases_whatever_holds_the_lock_and_says_whose_it_was(world: World) -> None:
    release = world.release()
    world.role("bob", "admin")
    world.run("deploy", "production", release.release_id, actor="bob")
    result = world.run("unlock", "production")
    assert result.ok
    assert world.store.get_lock(REPO, "production") is None
    assert "held by bob (deploy of" in result.message_markdown
    assert "still recorded as queued" in result.message_markdown
    assert result.lock is not None
    assert result.lock.holder == "bob"
    assert audit_actions(world.store)[-2:] == ["command.unlock", "lock.unlock"]
    again = world.run("unlock", "production")
    assert again.ok
    assert again.lock is None
    assert "was not locked" in again.message_markdown


def test_unlock_needs_the_deploy_role(world: World) -> None:
    world.role("carol", "write")
    result = world.run("unlock", "production", actor="carol")
    assert result.decision.rule == "permission"


def test_status_shows_what_runs_where_without_asking_for_roles(world: World) -> None:
    first, second = world.release(), world.release()
    finish(world, world.run("deploy", "production", first.release_id))
    world.run("deploy", "production", second.release_id)
    before = world.forge.api_calls
    result = world.run("status", actor="stranger")
    assert result.ok
    assert world.forge.api_calls - before == 2  # the policy from the default branch, nothing else
    assert "get_permission" not in world.forge.operations()[-2:]
    rows = {row["environment"]: row for row in result.data["environments"]}
    assert rows["production"]["current_release"] == first.release_id
    assert rows["production"]["in_flight"]["release_id"] == second.release_id
    assert rows["production"]["lock"]["holder"] == "alice"
    assert rows["staging"] == {
        "environment": "staging",
        "current_release": None,
        "in_flight": None,
        "lock": None,
        "frozen": False,
        "freeze_reason": None,
    }
    assert "| **production** |" in result.message_markdown
    only = world.run("status", "staging", actor="stranger")
    assert [row["environment"] for row in only.data["environments"]] == ["staging"]


def test_help_lists_every_command_and_what_this_actor_may_run(world: World) -> None:
    world.role("wendy", "write")
    result = world.run("help", actor="wendy")
    commands = {entry["usage"]: entry for entry in result.data["commands"]}
    assert list(commands) == [
        "/deploy <environment> [<release_id>]",
        "/rollback <environment> [<release_id>]",
        "/status [<environment>]",
        "/validate",
        "/rebuild",
        "/unlock <environment>",
        "/help",
    ]
    assert commands["/deploy <environment> [<release_id>]"]["environments"] == {
        "staging": True,
        "production": False,
    }
    assert commands["/validate"]["may_run"] is True
    assert commands["/rebuild"]["may_run"] is True
    world.role("tom", "triage")
    triage = {entry["usage"]: entry for entry in world.run("help", actor="tom").data["commands"]}
    assert triage["/rebuild"]["may_run"] is False
    assert "❌ needs write" in world.run("help", actor="tom").message_markdown


# --- validate and rebuild ------------------------------------------------------------------------------------


def test_validate_reviews_the_pull_requests_current_head_again(world: World) -> None:
    pull = world.open_pull()
    result = world.run("validate", issue_number=pull.number)
    assert result.ok, result.message_markdown
    [status] = world.forge.statuses(REPO, pull.head_sha)
    assert status.context == "modbot/manifest"
    sticky = [c for c in world.forge.comments(REPO, pull.number) if "modbot:manifest-review" in c.body]
    assert len(sticky) == 1
    assert "`/deploy <environment> [<release_id>]`" in sticky[0].body
    assert audit_actions(world.store)[-1] == "validate.run"
    issue = world.issue()
    not_a_pull = world.run("validate", issue_number=issue)
    assert (not_a_pull.ok, not_a_pull.data["outcome"]) == (False, "not_a_pull_request")
    world.forge.commit(REPO, "docs", {"README.md": b"docs"})
    docs = world.forge.add_pull(REPO, "docs")
    untouched = world.run("validate", issue_number=docs.number)
    assert (untouched.ok, untouched.data["outcome"]) == (True, "not_touched")
    assert "does not change the manifest" in untouched.message_markdown


def test_validate_answers_a_github_failure_instead_of_raising_it(world: World) -> None:
    """/validate is decided and audited before it asks GitHub: a failure then is an answer (execute's
    contract), or a retried comment job would find the command handled and never answer it."""
    pull = world.open_pull()
    world.forge.fail_next("get_pull", ForgeError("get_pull", 502, "Server Error"))
    result = world.run("validate", issue_number=pull.number)
    assert (result.ok, result.decision.allowed) == (False, True)
    assert "HTTP 502: Server Error" in result.message_markdown
    assert "/validate again" in result.message_markdown
    assert audit_actions(world.store)[-2:] == ["command.validate", "validate.run"]
    assert world.run("validate", issue_number=pull.number).ok


def test_rebuild_runs_the_merge_commits_build_again(world: World) -> None:
    pull, _ = world.merged_pull(released=False, build="failure")
    result = world.run("rebuild", issue_number=pull.number)
    assert result.ok, result.message_markdown
    [run] = world.forge.list_workflow_runs(REPO, head_sha=pull.merge_commit_sha)
    assert (run.status, run.run_attempt) == ("queued", 2)
    assert audit_actions(world.store)[-1] == "rebuild.start"
    running = world.run("rebuild", issue_number=pull.number)
    assert running.decision.rule == "build_running"


def test_rebuild_without_a_build_run_says_so(world: World) -> None:
    pull, _ = world.merged_pull(released=False, build=None)
    result = world.run("rebuild", issue_number=pull.number)
    assert not result.ok
    assert "there is no build run" in result.message_markdown


# --- the policy ------------------------------------------------------------------------------------------------


def test_an_invalid_policy_refuses_everything_but_help_and_status(store: Store, clock: FakeClock) -> None:
    world = World.create(store, clock, policy=b"[chatops]\nlock_timeout = 5\n")
    world.role("alice", "admin")
    result = world.run("deploy", "production", "rel_2026_01_01_001")
    assert result.decision.rule == "policy_invalid"
    assert "lock_timeout" in result.message_markdown
    assert world.run("status").ok
    assert world.run("help").ok


def test_without_a_policy_there_is_nothing_to_deploy_to(store: Store, clock: FakeClock) -> None:
    world = World.create(store, clock, policy=None)
    world.role("alice", "admin")
    assert world.run("deploy", "production", "rel_2026_01_01_001").decision.rule == "no_policy"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"action": "deploy", "environment": None}, "needs an environment"),
        ({"action": "deploy", "environment": "Prod!"}, "not an environment name"),
        ({"action": "deploy", "environment": "prod", "release_id": "v1"}, "not a release id"),
        (
            {"action": "status", "environment": None, "release_id": "rel_2026_01_01_001"},
            "takes no release id",
        ),
        ({"action": "launch", "environment": None}, "unknown command"),
    ],
)
def test_a_malformed_request_is_a_clear_error(
    world: World, changes: dict[str, str | None], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        world.run(changes["action"] or "", changes.get("environment"), changes.get("release_id"))


# --- the pure rules -------------------------------------------------------------------------------------------


def review(author: str | None, state: str, review_id: int = 1) -> Review:
    return Review(id=review_id, author=author, state=state, commit_id=None, submitted_at=None)


def test_approvals_count_each_reviewers_latest_verdict_and_never_the_author_or_a_bot() -> None:
    assert approved_by_others([review("bob", "APPROVED")], "erin")
    assert not approved_by_others([review("erin", "APPROVED")], "erin")
    assert not approved_by_others([review("Erin", "APPROVED")], "erin")
    assert not approved_by_others([review("helper[bot]", "APPROVED")], "erin")
    assert not approved_by_others([review("bob", "APPROVED"), review("bob", "CHANGES_REQUESTED")], "erin")
    assert approved_by_others([review("bob", "APPROVED"), review("bob", "COMMENTED")], "erin")
    assert not approved_by_others([review("bob", "APPROVED"), review("bob", "DISMISSED")], "erin")
    assert not approved_by_others([review(None, "APPROVED"), review("bob", "PENDING")], "erin")


def test_rollback_plans() -> None:
    history = ["rel_2026_01_04_001", "rel_2026_01_03_001", "rel_2026_01_02_001", "rel_2026_01_01_001"]
    current = history[0]
    assert rollback_plan(history, current, None) == ("rel_2026_01_03_001", ())
    assert rollback_plan(history, current, "rel_2026_01_03_001") == ("rel_2026_01_03_001", ())
    assert rollback_plan(history, current, "rel_2026_01_01_001") == (
        "rel_2026_01_03_001",
        ("rel_2026_01_03_001", "rel_2026_01_02_001"),
    )
    # never ran here: the newer releases that did are skipped
    assert rollback_plan(history, current, "rel_2026_01_02_002")[1] == ("rel_2026_01_03_001",)
    assert rollback_plan([current], current, None) == (None, ())
    assert rollback_plan([], None, None) == (None, ())


def test_build_state_reads_the_newest_run(world: World) -> None:
    def run(status: str, conclusion: str | None) -> WorkflowRun:
        return world.forge.add_workflow_run(REPO, head_sha="f" * 40, status=status, conclusion=conclusion)

    assert build_state([]) == "missing"
    assert build_state([run("in_progress", None)]) == "running"
    assert build_state([run("completed", "success"), run("completed", "failure")]) == "succeeded"
    assert build_state([run("completed", "cancelled")]) == "failed"


def test_the_contract_payload_has_every_key(world: World) -> None:
    release = world.release()
    payload = contract_payload(
        kind="rollback",
        release=release,
        environment="staging",
        requested_by="alice",
        reason=None,
        previous_release="rel_2026_01_09_001",
        rollback_of="rel_2026_01_09_001",
    )
    assert set(payload) == {
        "modbot",
        "kind",
        "release_id",
        "manifest_hash",
        "image",
        "deploy_tag",
        "requested_by",
        "reason",
        "previous_release",
        "rollback_of",
        "trigger",
        "modbot_template_version",
    }
    assert payload["reason"] == ""
    assert payload["deploy_tag"] == "deploy/staging"
