"""The one authorization function of chat-ops (bot/app/chatops/authorize.py): a permission matrix checked
against an expectation written out by hand, then each rule on its own."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

import pytest

from bot.app.chatops.authorize import (
    ACTIONS,
    RULES,
    Action,
    Actor,
    BuildState,
    Decision,
    Facts,
    PullFacts,
    authorize,
    permission_at_least,
    required_permission,
)
from bot.forge import Permission
from bot.pipeline.config import RepositoryPolicy, parse_pipeline_config

BASE = """
[image]
repository = "rustok/rustok-server"
[workflows]
modbot_install = "modbot==0.1.0"
"""


def environment(name: str, extra: str = "") -> str:
    return f"""
[[environments]]
name = "{name}"
url = "https://{name}.example.com"
backend = "command"
command = "./deploy.sh {{image}}"
{extra}
"""


POLICY = parse_pipeline_config(
    BASE
    + environment("staging")
    + environment("prod")
    + environment("canary", 'deploy_permission = "admin"\ndeployers = ["dave", "rustok/release"]')
)
ACTOR_LOGIN = "dave"  # listed in canary's deployers, nowhere else

RELEASE = "rel_2026_08_16_002"
PREVIOUS = "rel_2026_08_16_001"
READY = Facts(
    pull=None,
    release_id=RELEASE,
    release_exists=True,
    build="succeeded",
    lock_holder=None,
    lock_since=None,
    previous_release=PREVIOUS,
)


def pull(**changes: object) -> PullFacts:
    merged = PullFacts(
        number=7, author="erin", state="closed", merged=True, from_fork=False, approved_by_others=True
    )
    return replace(merged, **changes)  # type: ignore[arg-type]


def user(permission: Permission, login: str = ACTOR_LOGIN, teams: frozenset[str] = frozenset()) -> Actor:
    return Actor(login=login, kind="user", permission=permission, teams=teams)


def decide(
    action: Action,
    actor: Actor,
    environment: str | None = "prod",
    *,
    facts: Facts | None = READY,
    policy: RepositoryPolicy | None = POLICY,
    policy_error: str | None = None,
) -> Decision:
    return authorize(
        action, actor, environment=environment, facts=facts, policy=policy, policy_error=policy_error
    )


# --- the permission matrix ---------------------------------------------------------------------------

ROLES: tuple[Permission, ...] = ("none", "read", "triage", "write", "maintain", "admin")
PullState = Literal["open", "merged", "merged_unapproved", "merged_self_approved", "fork"]
PULL_STATES: tuple[PullState, ...] = ("open", "merged", "merged_unapproved", "merged_self_approved", "fork")
ENVIRONMENTS = ("staging", "prod", "canary")

# How the caller describes each PR state. An open PR has no merge commit, so no release yet; a PR
# approved only by its author has approved_by_others=False, like one nobody reviewed.
PULL_FACTS: dict[PullState, Facts] = {
    "open": replace(
        READY,
        pull=pull(state="open", merged=False),
        release_id=None,
        release_exists=False,
        build=None,
    ),
    "merged": replace(READY, pull=pull()),
    "merged_unapproved": replace(READY, pull=pull(approved_by_others=False)),
    "merged_self_approved": replace(READY, pull=pull(approved_by_others=False)),
    "fork": replace(READY, pull=pull(from_fork=True)),
}

# the expectation, written out independently of the code under test
RANK = {"none": 0, "read": 1, "triage": 2, "write": 3, "maintain": 4, "admin": 5}
ENV_NEEDS = {"staging": "write", "prod": "maintain", "canary": "admin"}
ENV_LISTS_ACTOR = {"staging": False, "prod": False, "canary": True}


def expected_rule(role: str, state: PullState, env: str, action: Action) -> str:
    if action in ("help", "status"):
        return "ok"
    if action == "validate":
        return "ok" if RANK[role] >= RANK["triage"] else "permission"
    if action == "rebuild":
        if RANK[role] < RANK["write"]:
            return "permission"
        return "not_merged" if state == "open" else "ok"
    if RANK[role] < RANK[ENV_NEEDS[env]] and not ENV_LISTS_ACTOR[env]:
        return "permission"
    if action in ("rollback", "unlock"):
        return "ok"
    if state == "open":
        return "not_merged"
    if state in ("merged_unapproved", "merged_self_approved"):
        return "not_approved"
    return "ok"


def test_permission_matrix() -> None:
    got: dict[tuple[str, str, str, str], str] = {}
    want: dict[tuple[str, str, str, str], str] = {}
    for role, state, env, action in itertools.product(ROLES, PULL_STATES, ENVIRONMENTS, ACTIONS):
        names_env = action in ("deploy", "rollback", "unlock")
        decision = decide(action, user(role), environment=env if names_env else None, facts=PULL_FACTS[state])
        assert decision.allowed == (decision.rule == "ok")
        got[role, state, env, action] = decision.rule
        want[role, state, env, action] = expected_rule(role, state, env, action)
    wrong = {cell: (got[cell], want[cell]) for cell in want if got[cell] != want[cell]}
    assert wrong == {}
    # counted by hand: help+status 6*5*3*2 = 180; validate 4 roles*5*3 = 60; rebuild 3 roles*4 merged
    # states*3 = 36; rollback+unlock (3 staging + 2 prod + 6 canary role/env pairs)*5*2 = 110; deploy
    # 11 pairs * 2 (merged, fork) = 22
    assert sum(rule == "ok" for rule in got.values()) == 408


@pytest.mark.parametrize("role", ["none", "read"])
def test_a_fork_author_without_a_role_can_only_ask_for_help_and_status(role: Permission) -> None:
    author = user(role, login="mallory")
    facts = replace(READY, pull=pull(author="mallory", from_fork=True))
    for action, env in itertools.product(ACTIONS, ENVIRONMENTS):
        decision = decide(action, author, environment=env, facts=facts)
        assert decision.allowed == (action in ("help", "status")), (action, env)
        if not decision.allowed:
            assert decision.rule == "permission"


# --- one scenario per rule ------------------------------------------------------------------------

FROZEN = parse_pipeline_config(BASE + environment("prod", 'frozen = true\nfreeze_reason = "launch week"'))
LOCK_SINCE = datetime(2026, 8, 16, 9, 30, tzinfo=UTC)
LOCKED = replace(READY, lock_holder="carol", lock_since=LOCK_SINCE)


def scenario(rule: str) -> Decision:
    admin = user("admin")
    return {
        "ok": lambda: decide("deploy", admin),
        "bot_ignored": lambda: decide("help", Actor("modbot[bot]", "bot", "write")),
        "policy_invalid": lambda: decide("deploy", admin, policy=None, policy_error="bad"),
        "no_policy": lambda: decide("deploy", admin, policy=None),
        "unknown_environment": lambda: decide("deploy", admin, environment="qa"),
        "permission": lambda: decide("deploy", user("write")),
        "frozen": lambda: decide("deploy", admin, policy=FROZEN),
        "not_merged": lambda: decide("deploy", admin, facts=PULL_FACTS["open"]),
        "not_approved": lambda: decide("deploy", admin, facts=PULL_FACTS["merged_unapproved"]),
        "build_failed": lambda: decide("deploy", admin, facts=replace(READY, pull=pull(), build="failed")),
        "build_running": lambda: decide(
            "deploy", admin, facts=replace(READY, pull=pull(), build="running", release_exists=False)
        ),
        "no_release": lambda: decide("deploy", admin, facts=replace(READY, release_id=None)),
        "no_previous_release": lambda: decide("rollback", admin, facts=replace(READY, previous_release=None)),
        "not_older": lambda: decide(
            "rollback",
            admin,
            facts=replace(
                READY, requested_release="rel_2026_08_16_003", current_release="rel_2026_08_16_002"
            ),
        ),
        "locked": lambda: decide("deploy", admin, facts=LOCKED),
    }[rule]()


@pytest.mark.parametrize("rule", RULES)
def test_every_rule_has_a_scenario_and_explains_itself(rule: str) -> None:
    decision = scenario(rule)
    assert decision.rule == rule
    assert decision.allowed == (rule == "ok")
    assert decision.message
    if rule not in ("ok", "bot_ignored"):
        assert decision.next_step  # every refusal says what to do next


def test_every_rule_is_documented() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "pipeline.md").read_text(encoding="utf-8")
    start = docs.index("### Rules, in order")
    section = docs[start : docs.index("\n#", start + 1)]
    documented = re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)
    assert documented == list(RULES)


# --- permissions and the allow-list ----------------------------------------------------------------


def test_permission_at_least_follows_the_role_order() -> None:
    for have, need in itertools.product(ROLES, ROLES):
        assert permission_at_least(have, need) == (RANK[have] >= RANK[need]), (have, need)
    assert permission_at_least("owner", "read") is False  # type: ignore[arg-type]


def test_required_permission() -> None:
    assert required_permission("help", None, POLICY) is None
    assert required_permission("status", None, None) is None
    assert required_permission("validate", None, None) == "triage"
    assert required_permission("rebuild", None, None) == "write"
    assert required_permission("deploy", POLICY.environment("staging"), POLICY) == "write"
    assert required_permission("rollback", POLICY.environment("prod"), POLICY) == "maintain"
    assert required_permission("unlock", POLICY.environment("canary"), POLICY) == "admin"
    custom = parse_pipeline_config(
        BASE
        + environment("prod")
        + '[chatops]\nvalidate_permission = "write"\nrebuild_permission = "admin"\n'
    )
    assert required_permission("validate", None, custom) == "write"
    assert required_permission("rebuild", None, custom) == "admin"
    with pytest.raises(ValueError, match="needs an environment"):
        required_permission("deploy", None, POLICY)


def test_the_policy_roles_for_validate_and_rebuild_apply() -> None:
    custom = parse_pipeline_config(
        BASE
        + environment("prod")
        + '[chatops]\nvalidate_permission = "write"\nrebuild_permission = "admin"\n'
    )
    merged = replace(READY, pull=pull())
    assert decide("validate", user("triage"), None, facts=merged, policy=custom).rule == "permission"
    assert decide("validate", user("write"), None, facts=merged, policy=custom).allowed
    refused = decide("rebuild", user("maintain"), None, facts=merged, policy=custom)
    assert refused.rule == "permission"
    assert "your role is maintain; /rebuild needs admin or more" in refused.message
    assert "rebuild_permission" in refused.next_step
    assert decide("rebuild", user("admin"), None, facts=merged, policy=custom).allowed


ALLOW_LIST = parse_pipeline_config(BASE + environment("prod", 'deployers = ["Alice", "rustok/release"]'))


@pytest.mark.parametrize("action", ["deploy", "rollback", "unlock"])
def test_allow_list_by_login_whatever_the_role_and_case(action: Action) -> None:
    for login in ("alice", "ALICE", "Alice"):
        decision = decide(action, user("none", login=login), policy=ALLOW_LIST)
        assert decision.allowed, (login, decision)
    assert decide(action, user("write", login="alice2"), policy=ALLOW_LIST).rule == "permission"


@pytest.mark.parametrize("action", ["deploy", "rollback", "unlock"])
def test_allow_list_by_team(action: Action) -> None:
    member = user("read", login="bob", teams=frozenset({"Rustok/release"}))
    assert decide(action, member, policy=ALLOW_LIST).allowed
    other_team = user("read", login="bob", teams=frozenset({"rustok/docs"}))
    assert decide(action, other_team, policy=ALLOW_LIST).rule == "permission"
    # a team's name is not a login, and a login is not a team
    assert decide(action, user("read", login="release"), policy=ALLOW_LIST).rule == "permission"
    assert (
        decide(action, user("read", login="bob", teams=frozenset({"alice"})), policy=ALLOW_LIST).allowed
        is False
    )


def test_the_allow_list_does_not_reach_validate_or_rebuild() -> None:
    alice = user("read", login="alice")
    assert decide("validate", alice, None, policy=ALLOW_LIST).rule == "permission"
    assert (
        decide("rebuild", alice, None, facts=replace(READY, pull=pull()), policy=ALLOW_LIST).rule
        == "permission"
    )


def test_permission_messages_name_the_role_needed() -> None:
    decision = decide("deploy", user("write"))
    assert decision.message == "your role is write; deploying to prod needs maintain or more"
    assert "ask someone with maintain or more" in decision.next_step
    assert "deployers of prod" in decision.next_step
    listed = decide("rollback", user("none"), policy=ALLOW_LIST)
    assert listed.message == (
        "you have no role on this repository; rolling back prod needs maintain or more "
        "or being one of its deployers (Alice, rustok/release)"
    )
    assert "unlocking staging needs write" in decide("unlock", user("read"), "staging").message


# --- deploy ----------------------------------------------------------------------------------------


def test_frozen_environment_refuses_deploy_but_not_rollback_or_unlock() -> None:
    for actor in (user("admin"), Actor.token("release-bot")):
        refused = decide("deploy", actor, policy=FROZEN)
        assert refused.rule == "frozen"
        assert refused.message == "prod is frozen: launch week"
        assert "frozen = false" in refused.next_step
        assert "/rollback prod still works" in refused.next_step
        assert decide("rollback", actor, policy=FROZEN).allowed
        assert decide("unlock", actor, policy=FROZEN).allowed
    # the freeze is named before the PR's own problems; the role comes first of all
    assert decide("deploy", user("admin"), facts=PULL_FACTS["open"], policy=FROZEN).rule == "frozen"
    assert decide("deploy", user("write"), policy=FROZEN).rule == "permission"
    no_reason = parse_pipeline_config(BASE + environment("prod", "frozen = true"))
    assert decide("deploy", user("admin"), policy=no_reason).message == "prod is frozen (no reason given)"


def test_deploy_from_a_pull_request_checks_merge_approval_build_and_release() -> None:
    admin = user("admin")
    closed = decide("deploy", admin, facts=replace(READY, pull=pull(state="closed", merged=False)))
    assert closed.rule == "not_merged"
    assert "closed without merging" in closed.message
    opened = decide("deploy", admin, facts=PULL_FACTS["open"])
    assert "PR #7 is not merged (it is still open)" in opened.message
    assert "merge PR #7" in opened.next_step
    unapproved = decide("deploy", admin, facts=PULL_FACTS["merged_self_approved"])
    assert unapproved.rule == "not_approved"
    assert "other than its author" in unapproved.message
    merged = replace(READY, pull=pull())
    cases: dict[tuple[BuildState | None, bool], str] = {
        ("failed", True): "build_failed",
        ("failed", False): "build_failed",
        ("running", False): "build_running",
        ("running", True): "ok",  # the release exists already (e.g. its build key was reused)
        ("missing", False): "no_release",
        ("missing", True): "ok",
        ("succeeded", False): "no_release",
        ("succeeded", True): "ok",
        (None, False): "no_release",
    }
    for (build, exists), rule in cases.items():
        decision = decide("deploy", admin, facts=replace(merged, build=build, release_exists=exists))
        assert decision.rule == rule, (build, exists)
    missing = decide("deploy", admin, facts=replace(merged, build="missing", release_exists=False))
    assert missing.message == "there is no release of PR #7's merge commit (no build was found)"
    # /rebuild re-runs a build run, and there is none: the advice points at the workflow and a named release
    assert "/rebuild" not in missing.next_step
    assert "build_workflow" in missing.next_step and "/deploy prod rel_YYYY_MM_DD_NNN" in missing.next_step
    assert decide("deploy", admin, facts=replace(merged, release_id=None)).rule == "no_release"


def test_approval_can_be_switched_off() -> None:
    relaxed = parse_pipeline_config(BASE + environment("prod") + "[chatops]\nrequire_approval = false\n")
    assert decide("deploy", user("admin"), facts=PULL_FACTS["merged_unapproved"], policy=relaxed).allowed
    assert decide("deploy", user("admin"), facts=PULL_FACTS["open"], policy=relaxed).rule == "not_merged"


def test_a_named_release_is_deployed_whatever_the_pull_request_it_is_asked_from() -> None:
    named = replace(PULL_FACTS["open"], requested_release=PREVIOUS, release_id=PREVIOUS, release_exists=True)
    decision = decide("deploy", user("maintain"), facts=named)
    assert decision.allowed
    assert decision.message == f"deploying {PREVIOUS} to prod"
    absent = decide("deploy", user("maintain"), facts=replace(named, release_exists=False))
    assert absent.rule == "no_release"
    assert absent.message == f"there is no release {PREVIOUS} (no tag release/{PREVIOUS})"
    # text that is not a release id is not repeated back
    odd = replace(named, requested_release="@everyone <b>", release_exists=False)
    message = decide("deploy", user("maintain"), facts=odd).message
    assert "@everyone" not in message
    assert "not a release id" in message


def test_deploy_from_the_api_or_an_issue_needs_an_existing_release() -> None:
    token = Actor.token("seed-admin")
    assert token == Actor(login="api:seed-admin", kind="token", permission="admin")
    assert decide("deploy", token).allowed
    assert decide("deploy", token, facts=replace(READY, release_exists=False)).rule == "no_release"
    none = decide("deploy", token, facts=replace(READY, release_id=None, release_exists=False))
    assert none.message == "there is no release to deploy"
    # tokens are admin: they pass every role rule, not the others
    assert decide("deploy", token, facts=LOCKED).rule == "locked"
    assert decide("rebuild", token, None, facts=READY).rule == "not_merged"


def test_a_lock_held_by_someone_else_refuses_deploy_and_rollback_but_not_unlock() -> None:
    for action in ("deploy", "rollback"):
        decision = decide(action, user("maintain"), facts=LOCKED)
        assert decision.rule == "locked"
        assert (
            decision.message
            == "prod is locked by carol since 2026-08-16 09:30 UTC: a deploy or rollback is in flight"
        )
        assert "/unlock prod" in decision.next_step
        assert "expire after 60m" in decision.next_step
    assert decide("unlock", user("maintain"), facts=LOCKED).allowed
    assert decide("unlock", user("write"), facts=LOCKED).rule == "permission"
    # other time zones and naive datetimes (taken as UTC) are shown in UTC; an unknown start is left out
    tokyo = timezone(timedelta(hours=9))
    for since in (LOCK_SINCE.astimezone(tokyo), LOCK_SINCE.replace(tzinfo=None)):
        assert (
            "since 2026-08-16 09:30 UTC"
            in decide("deploy", user("admin"), facts=replace(LOCKED, lock_since=since)).message
        )
    unknown = decide("deploy", user("admin"), facts=replace(LOCKED, lock_since=None))
    assert unknown.message == "prod is locked by carol: a deploy or rollback is in flight"


def test_deploy_without_facts_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="facts"):
        decide("deploy", user("admin"), facts=None)
    assert decide("unlock", user("admin"), facts=None).allowed


# --- rollback --------------------------------------------------------------------------------------


def test_rollback_goes_back_one_release_by_default() -> None:
    decision = decide("rollback", user("maintain"), facts=PULL_FACTS["merged_unapproved"])
    assert decision.allowed  # approvals and merges are for deploys, not for getting out of trouble
    assert decision.message == f"rolling back prod to {PREVIOUS}"
    assert decision.warnings == ()


def test_rollback_with_no_previous_release_is_refused() -> None:
    decision = decide("rollback", user("admin"), facts=replace(READY, previous_release=None))
    assert decision.rule == "no_previous_release"
    assert decision.message == "nothing to roll back to: prod has no previous successful release"
    assert "/deploy prod" in decision.next_step
    named = replace(READY, previous_release=None, requested_release=PREVIOUS)
    assert decide("rollback", user("admin"), facts=named).allowed


def test_a_named_rollback_warns_about_the_releases_it_skips() -> None:
    skips = ("rel_2026_08_15_001", "rel_2026_08_16_001")
    facts = replace(READY, requested_release="rel_2026_08_14_003", named_release_skips=skips)
    decision = decide("rollback", user("maintain"), facts=facts)
    assert decision.allowed
    assert decision.message == "rolling back prod to rel_2026_08_14_003"
    assert decision.warnings == (
        "rolling back to rel_2026_08_14_003 skips rel_2026_08_15_001, rel_2026_08_16_001",
    )
    absent = decide("rollback", user("maintain"), facts=replace(facts, release_exists=False))
    assert absent.rule == "no_release"
    assert absent.warnings == ()


def test_rollback_without_facts_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="facts"):
        decide("rollback", user("admin"), facts=None)


# --- rebuild and validate ----------------------------------------------------------------------------


def test_rebuild_needs_a_merged_pull_request() -> None:
    writer = user("write")
    issue = decide("rebuild", writer, None, facts=READY)
    assert issue.rule == "not_merged"
    assert "not a pull request" in issue.message
    assert decide("rebuild", writer, None, facts=None).rule == "not_merged"
    assert decide("rebuild", writer, None, facts=PULL_FACTS["open"]).rule == "not_merged"
    assert decide("rebuild", writer, None, facts=PULL_FACTS["merged_unapproved"]).allowed
    running = decide("rebuild", writer, None, facts=replace(READY, pull=pull(), build="running"))
    assert running.rule == "build_running"
    assert decide("rebuild", writer, None, facts=replace(READY, pull=pull(), build="failed")).allowed


# --- who is ignored, and missing or broken policies ------------------------------------------------


@pytest.mark.parametrize("action", ACTIONS)
def test_bots_are_ignored_whatever_they_ask(action: Action) -> None:
    bot = Actor(login="modbot[bot]", kind="bot", permission="admin")
    decision = decide(action, bot, policy=None, policy_error="broken")
    assert (decision.allowed, decision.rule) == (False, "bot_ignored")
    mislabelled = Actor(login="renovate[bot]", kind="user", permission="admin")
    assert decide(action, mislabelled).rule == "bot_ignored"


@pytest.mark.parametrize("action", ACTIONS)
def test_an_invalid_policy_refuses_everything_but_help_and_status(action: Action) -> None:
    error = 'environments[0].deployers[0]: deployer "-x" is not a GitHub login'
    decision = decide(action, user("admin"), policy=None, policy_error=error)
    if action in ("help", "status"):
        assert decision.allowed
    else:
        assert decision.rule == "policy_invalid"
        assert error in decision.message
        assert "default branch" in decision.next_step


def test_without_a_policy_only_validate_and_rebuild_work() -> None:
    merged = replace(READY, pull=pull())
    assert decide("validate", user("triage"), None, facts=merged, policy=None).allowed
    assert decide("validate", user("read"), None, facts=merged, policy=None).rule == "permission"
    assert decide("rebuild", user("write"), None, facts=merged, policy=None).allowed
    assert decide("rebuild", user("triage"), None, facts=merged, policy=None).rule == "permission"
    for action in ("deploy", "rollback", "unlock"):
        decision = decide(action, user("admin"), "prod", facts=merged, policy=None)
        assert decision.rule == "no_policy"
        assert ".github/modbot.toml" in decision.message
        assert "[[environments]]" in decision.next_step


def test_an_unknown_environment_lists_the_known_ones() -> None:
    decision = decide("deploy", user("admin"), environment="qa")
    assert decision.rule == "unknown_environment"
    assert (
        decision.message
        == 'there is no environment "qa" in .github/modbot.toml (known: staging, prod, canary)'
    )
    assert decide("rollback", user("admin"), environment=None).message.startswith(
        "the command names no environment"
    )
    # a name that cannot be an environment is not repeated back; nor is it looked up case-insensitively
    odd = decide("unlock", user("admin"), environment="@org/team **x**")
    assert "@org" not in odd.message
    assert decide("deploy", user("admin"), environment="Prod").rule == "unknown_environment"
    # the environment is checked before the role, so the role message can name the role it needs
    assert decide("deploy", user("none"), environment="qa").rule == "unknown_environment"


@pytest.mark.parametrize(
    ("named", "current", "allowed"),
    [
        ("rel_2026_08_16_001", "rel_2026_08_16_002", True),  # older: a rollback
        ("rel_2026_08_16_002", "rel_2026_08_16_002", False),  # already running
        ("rel_2026_08_17_001", "rel_2026_08_16_002", False),  # newer: that is a deploy
        ("rel_2026_08_16_001", None, True),  # nothing recorded as running: nothing to compare with
    ],
)
def test_a_named_rollback_only_goes_back(named: str, current: str | None, allowed: bool) -> None:
    admin = Actor.token("ops")
    facts = replace(READY, requested_release=named, current_release=current)
    decision = decide("rollback", admin, facts=facts)
    assert decision.allowed is allowed
    if not allowed:
        assert decision.rule == "not_older" and f"/deploy prod {named}" in decision.next_step


def test_every_next_step_is_one_that_can_work_in_its_situation() -> None:
    """Issue #10: advice the situation cannot follow was given (/rebuild with no run to re-run or a
    reuse it would repeat, /status for a build's progress or a list of releases it does not show)."""
    admin = user("admin")
    merged = replace(READY, pull=pull())
    # the build succeeded, but no release of its merge commit was found (an older workflow reused one)
    reused = decide("deploy", admin, facts=replace(merged, build="succeeded", release_exists=False))
    assert reused.rule == "no_release" and "succeeded" in reused.message
    assert reused.next_step.startswith("deploy the release its build reused by id: /deploy prod rel_")
    # /status shows environments, not builds: the progress is on the run
    for decision in (
        decide("deploy", admin, facts=replace(merged, build="running", release_exists=False)),
        decide("rebuild", admin, facts=replace(merged, build="running")),
    ):
        assert decision.rule == "build_running"
        assert "/status" not in decision.next_step and "Actions tab" in decision.next_step
    # nor every release: the release/* tags list them
    named = replace(READY, requested_release=PREVIOUS, release_id=PREVIOUS, release_exists=False)
    for action in ("deploy", "rollback"):
        absent = decide(action, admin, facts=named)
        assert absent.rule == "no_release"
        assert "/status" not in absent.next_step and "release/* tags" in absent.next_step
    nothing = decide("deploy", Actor.token("ci"), facts=replace(READY, release_id=None, release_exists=False))
    assert "/status lists" not in nothing.next_step and "release/* tags" in nothing.next_step
    newer = replace(READY, requested_release=RELEASE, release_id=RELEASE, current_release=PREVIOUS)
    forward = decide("rollback", admin, facts=newer)
    assert forward.rule == "not_older" and "history" not in forward.next_step
    # a closed PR is reopened before it can be merged
    closed = pull(state="closed", merged=False)
    assert decide("deploy", admin, facts=replace(READY, pull=closed)).next_step.startswith("reopen PR #7")
    assert decide("rebuild", admin, facts=replace(READY, pull=closed)).next_step.startswith("reopen PR #7")
    assert decide(
        "deploy", admin, facts=replace(READY, pull=pull(state="open", merged=False))
    ).next_step.startswith("merge PR #7")
    # a failed build: /rebuild for a transient failure, else where the deploy comes from after the fix
    failed = decide("deploy", admin, facts=replace(merged, build="failed", release_exists=False))
    assert "/rebuild here, then /deploy prod again" in failed.next_step
    assert "/deploy prod from that PR" in failed.next_step
