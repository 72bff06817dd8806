"""Chat-ops commands in comments, end to end through the issue_comment handler: the permission matrix
(only the allowed cells move a tag), two concurrent /deploy, what never runs (edits, bots, quotes,
code), answers and reactions, and a re-run job that must not deploy twice."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pytest

from bot.forge import ForgeError
from bot.store import Store
from tests.chatops_world import REPO, World, audit_actions, settings, tag_sha
from tests.store_helpers import FakeClock, temporary_store
from tests.webhook_handlers import handle_issue_comment

RECEIVED = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    with temporary_store("sqlite", directory=tmp_path, clock=clock) as store:
        yield store


@pytest.fixture
def world(store: Store, clock: FakeClock) -> World:
    return World.create(store, clock)


def comment(world: World, number: int, body: str, **kwargs: str) -> str:
    payload = world.comment_payload(number, body, **kwargs)
    return handle_issue_comment(payload, RECEIVED, forge=world.forge, store=world.store, settings=settings())


def replies(world: World, number: int) -> list[str]:
    """modbot's answers to commands on `number`."""
    return [
        c.body
        for c in world.forge.comments(REPO, number)
        if c.author == "modbot[bot]" and c.body.startswith("<!-- modbot:command-reply ")
    ]


# --- the permission matrix ------------------------------------------------------------------------

Role = Literal["none", "read", "triage", "write", "maintain", "admin"]
ROLES: tuple[Role, ...] = ("none", "read", "triage", "write", "maintain", "admin")
PullState = Literal["open", "merged_approved", "merged_unapproved", "merged_self_approved", "fork"]
STATES: tuple[PullState, ...] = (
    "open",
    "merged_approved",
    "merged_unapproved",
    "merged_self_approved",
    "fork",
)
ENVIRONMENTS = ("staging", "production")

# written out by hand: staging (the default) needs write, production (the default) needs maintain; the PR
# must be merged and approved by someone other than its author (a merged fork PR qualifies: its release
# was built from the default branch)
ALLOWED: set[tuple[Role, PullState, str]] = {
    ("write", "merged_approved", "staging"),
    ("write", "fork", "staging"),
    ("maintain", "merged_approved", "staging"),
    ("maintain", "fork", "staging"),
    ("maintain", "merged_approved", "production"),
    ("maintain", "fork", "production"),
    ("admin", "merged_approved", "staging"),
    ("admin", "fork", "staging"),
    ("admin", "merged_approved", "production"),
    ("admin", "fork", "production"),
}
RULE_OF_STATE = {
    "open": "not_merged",
    "merged_unapproved": "not_approved",
    "merged_self_approved": "not_approved",
}


def pull_in_state(world: World, state: PullState) -> tuple[int, str | None]:
    """A PR in `state` (authored by erin): its number and the commit its release is at (None: none)."""
    if state == "open":
        return world.open_pull(author="erin").number, None
    approvers = {
        "merged_approved": ("rachel",),
        "merged_unapproved": (),
        "merged_self_approved": ("erin",),
        "fork": ("rachel",),
    }[state]
    pull, release = world.merged_pull(author="erin", approvers=approvers, fork=state == "fork")
    assert release is not None
    return pull.number, release.commit_sha


def test_the_permission_matrix_end_to_end(world: World) -> None:
    moved: set[tuple[Role, PullState, str]] = set()
    for role, state, env in itertools.product(ROLES, STATES, ENVIRONMENTS):
        login = f"user-{role}"
        world.role(login, role)
        number, release_commit = pull_in_state(world, state)
        before = tag_sha(world.forge, env)
        outcome = comment(world, number, f"/deploy {env}", login=login)
        after = tag_sha(world.forge, env)
        [reply] = replies(world, number)
        if after != before:
            assert after == release_commit
            moved.add((role, state, env))
            assert "Deploying" in reply
            # the workflow finishes it, so the next cell finds the environment free
            record = world.store.deployments(REPO, environment=env, limit=1)[0]
            world.store.update_deployment(record.id, status="success")
            world.store.release_lock(
                REPO, env, actor="modbot", reason=None, deployment_id=record.github_deployment_id
            )
        else:
            assert "rule `" in reply, (role, state, env, reply)
            assert "**What to do next:**" in reply, (role, state, env)
            need = "maintain" if env == "production" else "write"
            rank = ROLES.index
            expected_rule = "permission" if rank(role) < rank(need) else RULE_OF_STATE[state]
            assert f"rule `{expected_rule}`" in reply, (role, state, env, outcome)
        world.later()
    assert moved == ALLOWED
    # exactly one Deployment per allowed cell
    assert len(world.forge.deployments(REPO)) == len(ALLOWED)


# --- two at once ------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_deploys_at_once_one_moves_the_tag_the_other_is_told_who_holds_the_lock(
    backend: str, tmp_path: Path
) -> None:
    clock = FakeClock()
    with temporary_store(backend, directory=tmp_path, clock=clock) as store:
        world = World.create(store, clock)
        world.role("alice", "maintain")
        world.role("bob", "admin")
        pull, release = world.merged_pull()
        assert release is not None
        payloads = {
            login: world.comment_payload(pull.number, "/deploy production", login=login)
            for login in ("alice", "bob")
        }
        start = threading.Barrier(2)
        outcomes: dict[str, str] = {}
        errors: list[BaseException] = []

        def post(login: str) -> None:
            try:
                start.wait()
                outcomes[login] = handle_issue_comment(
                    payloads[login], RECEIVED, forge=world.forge, store=store, settings=settings()
                )
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=post, args=(login,)) for login in payloads]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sorted(outcomes.values()) == ["/deploy: done", "/deploy: refused (locked)"]
        winner = next(login for login, outcome in outcomes.items() if outcome == "/deploy: done")
        assert len(world.forge.deployments(REPO)) == 1
        assert (
            world.forge.operations().count("create_ref") + world.forge.operations().count("update_ref") == 1
        )
        assert tag_sha(world.forge, "production") == release.commit_sha
        [refusal] = [body for body in replies(world, pull.number) if "was not run" in body]
        assert f"production is locked by {winner}" in refusal
        assert "rule `locked`" in refusal
        lock = store.get_lock(REPO, "production")
        assert lock is not None
        assert lock.holder == winner


# --- what never runs -------------------------------------------------------------------------------------


@pytest.fixture
def ready(world: World) -> tuple[World, int]:
    world.role("alice", "admin")
    pull, _ = world.merged_pull()
    return world, pull.number


@pytest.mark.parametrize("action", ["edited", "deleted"])
def test_an_edited_or_deleted_comment_runs_nothing(ready: tuple[World, int], action: str) -> None:
    world, number = ready
    outcome = comment(world, number, "/deploy production", action=action)
    assert outcome.startswith("ignored: action")
    assert world.forge.deployments(REPO) == []
    assert replies(world, number) == []
    assert audit_actions(world.store) == []


@pytest.mark.parametrize(
    ("login", "user_type"),
    [("helper[bot]", "Bot"), ("modbot[bot]", "Bot"), ("sneaky[bot]", "User"), ("ci", "Bot")],
)
def test_a_bots_comment_runs_nothing_and_gets_no_answer(
    ready: tuple[World, int], login: str, user_type: str
) -> None:
    world, number = ready
    world.role(login.removesuffix("[bot]"), "admin")
    assert (
        comment(world, number, "/deploy production", login=login, user_type=user_type)
        == "ignored: a comment by a bot"
    )
    assert world.forge.deployments(REPO) == []
    assert replies(world, number) == []
    assert world.forge.reactions(REPO, world.forge.comments(REPO, number)[-1].id) == []


def test_a_token_mode_bot_account_is_recognised_by_its_login(store: Store, clock: FakeClock) -> None:
    world = World.create(store, clock)
    world.forge._bot_login = "modbot-user"  # token mode: the bot is a user account
    world.role("modbot-user", "admin")
    pull, _ = world.merged_pull()
    assert (
        comment(world, pull.number, "/deploy production", login="modbot-user")
        == "ignored: a comment by a bot"
    )
    assert world.forge.deployments(REPO) == []


@pytest.mark.parametrize(
    "body",
    [
        "> /deploy production",
        "```\n/deploy production\n```",
        "    /deploy production",
        "please run /deploy production",
        "<!-- /deploy production -->",
        "~~~sh\n/deploy production\n",
    ],
)
def test_a_command_in_a_quote_or_code_runs_nothing(ready: tuple[World, int], body: str) -> None:
    world, number = ready
    assert comment(world, number, body) == "ignored: no command"
    assert world.forge.deployments(REPO) == []
    assert replies(world, number) == []


def test_a_typo_is_answered_with_a_suggestion_and_runs_nothing(ready: tuple[World, int]) -> None:
    world, number = ready
    assert comment(world, number, "/deplyo production") == "answered: unknown command"
    [reply] = replies(world, number)
    assert "did you mean `/deploy`?" in reply
    assert world.forge.deployments(REPO) == []
    command_comment = world.forge.comments(REPO, number)[-2]
    assert world.forge.reactions(REPO, command_comment.id) == ["confused"]
    assert audit_actions(world.store) == ["command.invalid"]


def test_two_commands_in_one_comment_run_neither(ready: tuple[World, int]) -> None:
    world, number = ready
    assert comment(world, number, "/deploy staging\n/deploy production") == "answered: several command"
    assert world.forge.deployments(REPO) == []
    assert "none of them ran" in replies(world, number)[0]


# --- answers, reactions, idempotency -------------------------------------------------------------------------


def test_a_deploy_is_acknowledged_answered_and_its_reply_kept_for_progress(ready: tuple[World, int]) -> None:
    world, number = ready
    outcome = comment(world, number, "Shipping it.\n\n/deploy production\n")
    assert outcome == "/deploy: done"
    command_comment = world.forge.comments(REPO, number)[-2]
    assert world.forge.reactions(REPO, command_comment.id) == ["eyes", "rocket"]
    [reply] = [c for c in world.forge.comments(REPO, number) if c.author == "modbot[bot]"]
    assert reply.body.startswith(f"<!-- modbot:command-reply {command_comment.id} -->")
    record = world.store.deployments(REPO, limit=1)[0]
    assert (record.reply_comment_id, record.issue_number, record.source) == (reply.id, number, "comment")
    operations = world.forge.operations()
    assert operations.index("add_reaction") < operations.index("get_file")  # acknowledged before anything


def test_a_refusal_gets_a_confused_reaction(ready: tuple[World, int]) -> None:
    world, number = ready
    world.role("carol", "write")
    assert comment(world, number, "/deploy production", login="carol") == "/deploy: refused (permission)"
    command_comment = world.forge.comments(REPO, number)[-2]
    assert world.forge.reactions(REPO, command_comment.id) == ["eyes", "confused"]


def test_a_rerun_job_does_not_deploy_twice(ready: tuple[World, int]) -> None:
    world, number = ready
    payload = world.comment_payload(number, "/deploy production")
    first = handle_issue_comment(payload, RECEIVED, forge=world.forge, store=world.store, settings=settings())
    second = handle_issue_comment(
        payload, RECEIVED, forge=world.forge, store=world.store, settings=settings()
    )
    assert first == "/deploy: done"
    assert second.startswith("ignored: /deploy from comment")
    assert len(world.forge.deployments(REPO)) == 1
    assert len(replies(world, number)) == 1
    assert audit_actions(world.store).count("command.deploy") == 1


def test_a_job_that_stopped_before_answering_says_so_on_the_rerun(ready: tuple[World, int]) -> None:
    world, number = ready
    payload = world.comment_payload(number, "/deploy production")
    world.forge.fail_next("create_comment", ForgeError("create_comment", 502, "Bad Gateway"))
    with pytest.raises(ForgeError):
        handle_issue_comment(payload, RECEIVED, forge=world.forge, store=world.store, settings=settings())
    outcome = handle_issue_comment(
        payload, RECEIVED, forge=world.forge, store=world.store, settings=settings()
    )
    assert outcome.endswith("was handled already, unanswered")
    assert len(world.forge.deployments(REPO)) == 1  # not twice
    [reply] = replies(world, number)
    assert "never runs a command twice" in reply
    assert "rule `ok`" in reply
    # and a third run finds that answer
    third = handle_issue_comment(payload, RECEIVED, forge=world.forge, store=world.store, settings=settings())
    assert third.startswith("ignored:")


def test_github_refusing_a_lookup_is_answered_without_a_traceback(ready: tuple[World, int]) -> None:
    world, number = ready
    world.forge.fail_next(
        "get_permission", ForgeError("get_permission", 403, "Resource not accessible by integration")
    )
    outcome = comment(world, number, "/deploy production")
    assert outcome == "/deploy: GitHub refused (403)"
    [reply] = replies(world, number)
    assert "HTTP 403: Resource not accessible by integration" in reply
    assert "Traceback" not in reply
    assert world.forge.deployments(REPO) == []


def test_github_being_down_is_retried_later(ready: tuple[World, int]) -> None:
    world, number = ready
    world.forge.fail_next("get_permission", ForgeError("get_permission", None, "connection reset"))
    with pytest.raises(ForgeError):
        comment(world, number, "/deploy production")
    assert audit_actions(world.store) == []  # nothing decided, so the retry runs it
    payload = world.comment_payload(number, "/status")
    assert (
        handle_issue_comment(payload, RECEIVED, forge=world.forge, store=world.store, settings=settings())
        == "/status: done"
    )


def test_status_and_help_work_for_anyone_even_on_an_issue(world: World) -> None:
    number = world.issue()
    assert comment(world, number, "/status", login="stranger") == "/status: done"
    assert comment(world, number, "/help", login="stranger") == "/help: done"
    bodies = replies(world, number)
    assert "| **production** |" in bodies[0]
    assert "modbot commands" in bodies[1]


def test_a_fork_author_without_a_role_can_run_nothing_else(store: Store, clock: FakeClock) -> None:
    world = World.create(store, clock)
    pull, _ = world.merged_pull(author="mallory", fork=True)
    for body in ("/deploy staging", "/rollback staging", "/unlock staging", "/validate", "/rebuild"):
        outcome = comment(world, pull.number, body, login="mallory")
        assert outcome.endswith("refused (permission)"), (body, outcome)
    assert world.forge.deployments(REPO) == []


# --- effects exactly once: a reply written but its answer lost (issue #11) ---------------------------------
def test_a_deploy_reply_whose_answer_was_lost_is_kept_on_the_rerun(ready: tuple[World, int]) -> None:
    """GitHub wrote the reply and answered 502: the rerun finds that reply (no second one, no "unanswered"
    note), links it to the deploy so progress edits it, and adds the final reaction."""
    world, number = ready
    payload = world.comment_payload(number, "/deploy production")
    world.forge.fail_after_next("create_comment", ForgeError("create_comment", 502, "Bad Gateway"))
    with pytest.raises(ForgeError):
        handle_issue_comment(payload, RECEIVED, forge=world.forge, store=world.store, settings=settings())
    outcome = handle_issue_comment(
        payload, RECEIVED, forge=world.forge, store=world.store, settings=settings()
    )
    assert outcome.endswith("was handled already")
    [reply] = [c for c in world.forge.comments(REPO, number) if c.author == "modbot[bot]"]
    assert "never runs a command twice" not in reply.body
    record = world.store.deployments(REPO, limit=1)[0]
    assert record.reply_comment_id == reply.id
    assert len(world.forge.deployments(REPO)) == 1
    command_comment = world.forge.comments(REPO, number)[-2]
    assert world.forge.reactions(REPO, command_comment.id) == ["eyes", "rocket"]


def test_a_refusal_reply_whose_answer_was_lost_is_not_written_twice(ready: tuple[World, int]) -> None:
    world, number = ready
    payload = world.comment_payload(number, "/deploy production")
    refused = ForgeError("get_permission", 403, "Resource not accessible by integration")
    world.forge.fail_next("get_permission", refused)
    world.forge.fail_next("get_permission", refused)
    world.forge.fail_after_next("create_comment", ForgeError("create_comment", None, "ReadTimeout"))
    with pytest.raises(ForgeError):
        handle_issue_comment(payload, RECEIVED, forge=world.forge, store=world.store, settings=settings())
    outcome = handle_issue_comment(
        payload, RECEIVED, forge=world.forge, store=world.store, settings=settings()
    )
    assert outcome == "/deploy: GitHub refused (403); answered already"
    [reply] = replies(world, number)
    assert "HTTP 403: Resource not accessible by integration" in reply
