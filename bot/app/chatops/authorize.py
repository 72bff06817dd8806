"""Who may run which chat-ops command: the one authorization function.

Every command, whether it comes from a PR or issue comment, the admin API or the CLI, is decided here
before anything happens. `authorize` is pure: the caller (the chat-ops service) first gathers the
actor's role (from the API, per call), the pull request, the release, its build and the environment
lock into `Facts`, reads the policy (`.github/modbot.toml`) from the default branch only, then asks.

The rules run in a fixed order and the first refusal decides, so the answer names the most basic
problem: no role before "not merged", "not merged" before "locked". Rule ids (`RULES`) are stable:
callers, the audit log and the tests match on them; docs/pipeline.md#the-chat-ops-policy lists them.
Messages may echo an environment or release name only when it has the shape of one, so a comment
cannot make the bot repeat arbitrary text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

from bot.domain.ids import is_app_login, is_environment_name, is_release_id
from bot.forge import PERMISSIONS, Permission
from bot.pipeline.config import (
    DEFAULT_CONFIG_PATH,
    ChatopsConfig,
    EnvironmentConfig,
    RepositoryPolicy,
)
from bot.pipeline.release import release_sort_key

__all__ = [
    "ACTIONS",
    "ENVIRONMENT_ACTIONS",
    "RULES",
    "Action",
    "Actor",
    "BuildState",
    "Decision",
    "Facts",
    "PullFacts",
    "Rule",
    "authorize",
    "permission_at_least",
    "required_permission",
]

Action = Literal["help", "status", "validate", "rebuild", "deploy", "rollback", "unlock"]
ACTIONS: tuple[Action, ...] = get_args(Action)
ENVIRONMENT_ACTIONS: frozenset[Action] = frozenset({"deploy", "rollback", "unlock"})
BuildState = Literal["succeeded", "failed", "running", "missing"]

Rule = Literal[
    "ok",
    "bot_ignored",
    "policy_invalid",
    "no_policy",
    "unknown_environment",
    "permission",
    "frozen",
    "not_merged",
    "not_approved",
    "build_failed",
    "build_running",
    "no_release",
    "no_previous_release",
    "not_older",
    "locked",
]
# every rule id: "ok", then the refusals in the order they are checked (docs/pipeline.md explains each)
RULES: tuple[Rule, ...] = get_args(Rule)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks. `permission` is the user's repository role, asked from the API for every command (a
    cached role could outlive a demotion); an admin-API or CLI token counts as admin, because the
    operator who issued it already decided."""

    login: str  # GitHub login, or "api:<token name>" for admin-API/CLI tokens
    kind: Literal["user", "bot", "token"]
    permission: Permission
    teams: frozenset[str] = frozenset()  # "org/slug" deployer teams the actor was found in

    @classmethod
    def token(cls, name: str) -> Actor:
        """An admin-API or CLI token called `name`."""
        return cls(login=f"api:{name}", kind="token", permission="admin")


@dataclass(frozen=True, slots=True)
class PullFacts:
    number: int
    author: str
    state: Literal["open", "closed"]
    merged: bool
    from_fork: bool
    approved_by_others: bool  # an APPROVED (latest per reviewer) review by someone not the author nor a bot


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything the rules look at, gathered by the caller beforehand."""

    pull: PullFacts | None  # the PR the comment is on (None: an issue, the API or the CLI)
    release_id: str | None  # the release that would be deployed / rolled back to (None: none found)
    release_exists: bool
    build: BuildState | None  # the build of the PR's merge commit (None: not looked up, no PR)
    lock_holder: str | None  # who holds a live lock on the environment, when it is someone else
    lock_since: datetime | None
    previous_release: str | None  # rollback target when none is named (None: no earlier one, or a deploy)
    named_release_skips: tuple[str, ...] = ()  # releases a named rollback skips over (for the warning)
    requested_release: str | None = None  # the release the command named (None: none named)
    current_release: str | None = None  # what runs on the environment now (None: nothing recorded)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    rule: Rule  # the deciding rule's stable id ("ok" when allowed)
    message: str  # for people: what was decided, or which rule refused it
    next_step: str  # what to do next ("" when there is nothing to do)
    warnings: tuple[str, ...] = ()


def permission_at_least(have: Permission, need: Permission) -> bool:
    """`have` is `need` or stronger (bot.forge.PERMISSIONS order); an unknown role reaches nothing."""
    if have not in PERMISSIONS:
        return False
    return PERMISSIONS.index(have) <= PERMISSIONS.index(need)


def required_permission(
    action: Action, environment: EnvironmentConfig | None, policy: RepositoryPolicy | None
) -> Permission | None:
    """The role `action` needs (None: anyone may run it). Without a policy, validate and rebuild take
    the defaults; deploy, rollback and unlock need the environment (ValueError without it)."""
    if action in ("help", "status"):
        return None
    chatops = policy.chatops if policy is not None else ChatopsConfig()
    if action == "validate":
        return chatops.validate_permission
    if action == "rebuild":
        return chatops.rebuild_permission
    if action in ENVIRONMENT_ACTIONS:
        if environment is None:
            raise ValueError(f"{action} needs an environment to know the role it requires")
        return environment.required_permission
    raise ValueError(f"unknown action {action!r}")


def authorize(
    action: Action,
    actor: Actor,
    *,
    environment: str | None,
    facts: Facts | None,
    policy: RepositoryPolicy | None,
    policy_error: str | None,
) -> Decision:
    """Allow or refuse `action` by `actor`. `policy` is the default branch's config (None: no file),
    `policy_error` why it could not be read or parsed. Deploy and rollback need `facts`; calling
    them without is a caller bug (ValueError)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    # GitHub App logins end in "[bot]" and no user's can: a mislabelled bot is still a bot
    if actor.kind == "bot" or is_app_login(actor.login):
        return _refuse(
            "bot_ignored",
            f"{actor.login} is a bot; modbot ignores commands from bots (its own comments included)",
            "",
        )
    if action in ("help", "status"):
        return _allow(f"anyone may run /{action}")
    if policy_error is not None:
        return _refuse(
            "policy_invalid",
            f"the policy in {DEFAULT_CONFIG_PATH} on the default branch is invalid: {policy_error}",
            f"fix {DEFAULT_CONFIG_PATH} on the default branch (`modbot pipeline config` lists every "
            "problem), then run the command again",
        )
    if action in ("validate", "rebuild"):
        return _repository_command(action, actor, facts, policy)
    if policy is None:
        return _refuse(
            "no_policy",
            f"this repository has no {DEFAULT_CONFIG_PATH} on its default branch, so it has no "
            "environments to deploy to",
            f"add the pipeline config at {DEFAULT_CONFIG_PATH} on the default branch, with an "
            "[[environments]] entry for each environment (see modbot's docs/pipeline.md)",
        )
    env = _find_environment(policy, environment)
    if isinstance(env, Decision):
        return env
    refusal = _environment_permission(action, actor, env)
    if refusal is not None:
        return refusal
    if action == "unlock":
        # releasing a lock nobody holds is the caller's no-op
        return _allow(f"{actor.login} may unlock {env.name}")
    if facts is None:
        raise ValueError(f"{action} needs the facts gathered by the caller")
    if action == "deploy":
        return _deploy(env, facts, policy.chatops)
    return _rollback(env, facts, policy.chatops)


# --- the rules ---------------------------------------------------------------------------------------


def _allow(message: str, warnings: tuple[str, ...] = ()) -> Decision:
    return Decision(allowed=True, rule="ok", message=message, next_step="", warnings=warnings)


def _refuse(rule: Rule, message: str, next_step: str) -> Decision:
    return Decision(allowed=False, rule=rule, message=message, next_step=next_step)


def _role_of(actor: Actor) -> str:
    if actor.permission == "none":
        return "you have no role on this repository"
    return f"your role is {actor.permission}"


def _repository_command(
    action: Literal["validate", "rebuild"], actor: Actor, facts: Facts | None, policy: RepositoryPolicy | None
) -> Decision:
    need = required_permission(action, None, policy)
    assert need is not None
    if not permission_at_least(actor.permission, need):
        setting = f"[chatops] {action}_permission"
        return _refuse(
            "permission",
            f"{_role_of(actor)}; /{action} needs {need} or more",
            f"ask someone with {need} or more to run it (the policy sets this as {setting} in "
            f"{DEFAULT_CONFIG_PATH})",
        )
    if action == "validate":
        return _allow(f"{actor.login} may run /validate")
    pull = facts.pull if facts is not None else None
    if pull is None:
        return _refuse(
            "not_merged",
            "/rebuild re-runs the build of a merged pull request's merge commit, and this is not a "
            "pull request",
            "run /rebuild on the merged pull request whose build you want again",
        )
    if not pull.merged:
        return _refuse(
            "not_merged",
            f"PR #{pull.number} is not merged ({_pull_state(pull)}); /rebuild re-runs the build of its "
            "merge commit, which it does not have yet",
            f"{_merge(pull)} first; its build starts by itself",
        )
    if facts is not None and facts.build == "running":
        return _refuse(
            "build_running",
            f"the build of PR #{pull.number}'s merge commit is running already",
            f"wait for it to finish ({_BUILD_RUN_WHERE})",
        )
    return _allow(f"{actor.login} may rebuild PR #{pull.number}'s merge commit")


def _find_environment(policy: RepositoryPolicy, name: str | None) -> EnvironmentConfig | Decision:
    known = ", ".join(env.name for env in policy.environments)
    for env in policy.environments:
        if env.name == name:
            return env
    if name is None:
        message = "the command names no environment"
    elif is_environment_name(name):
        message = f'there is no environment "{name}" in {DEFAULT_CONFIG_PATH}'
    else:
        message = "that is not an environment name (lowercase letters, digits and '-')"
    return _refuse(
        "unknown_environment",
        f"{message} (known: {known})",
        f"name one of: {known}; a new environment is an [[environments]] entry in {DEFAULT_CONFIG_PATH} "
        "on the default branch",
    )


def _doing(action: Action, env: str) -> str:
    return {"deploy": f"deploying to {env}", "rollback": f"rolling back {env}"}.get(
        action, f"unlocking {env}"
    )


def _environment_permission(action: Action, actor: Actor, env: EnvironmentConfig) -> Decision | None:
    need = env.required_permission
    if permission_at_least(actor.permission, need):
        return None
    # logins and organization names are case-insensitive; a team entry has a "/", a login never does
    listed = {deployer.lower() for deployer in env.deployers}
    teams = {team.lower() for team in actor.teams if "/" in team}
    if ("/" not in actor.login and actor.login.lower() in listed) or teams & listed:
        return None
    or_listed = f" or being one of its deployers ({', '.join(env.deployers)})" if env.deployers else ""
    return _refuse(
        "permission",
        f"{_role_of(actor)}; {_doing(action, env.name)} needs {need} or more{or_listed}",
        f"ask someone with {need} or more{' or a deployer' if env.deployers else ''} to run it; a "
        f"repository admin can add you to deployers of {env.name} in {DEFAULT_CONFIG_PATH} on the "
        "default branch",
    )


def _pull_state(pull: PullFacts) -> str:
    return "it is still open" if pull.state == "open" else "it was closed without merging"


def _merge(pull: PullFacts) -> str:
    """How to get an unmerged PR merged: a closed one must be reopened first."""
    return f"merge PR #{pull.number}" if pull.state == "open" else f"reopen PR #{pull.number} and merge it"


# Where a build's progress shows (/status shows environments, not builds).
_BUILD_RUN_WHERE = (
    "the build workflow's run of the merge commit is on the Actions tab and in the commit's checks"
)
# Where the releases are listed (/status shows what runs where, not every release).
_RELEASES_WHERE = "the repository's release/* tags list the releases (the admin API: GET /admin/releases)"


def _no_such_release(release: str) -> str:
    if is_release_id(release):
        return f"there is no release {release} (no tag release/{release})"
    return "that is not a release id (a release id is rel_YYYY_MM_DD_NNN)"


def _when(moment: datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _lock(env: EnvironmentConfig, facts: Facts, chatops: ChatopsConfig) -> Decision | None:
    if facts.lock_holder is None:
        return None
    since = f" since {_when(facts.lock_since)}" if facts.lock_since is not None else ""
    return _refuse(
        "locked",
        f"{env.name} is locked by {facts.lock_holder}{since}: a deploy or rollback is in flight",
        f"wait for it to finish (/status {env.name}); if it is stuck, someone allowed to deploy to "
        f"{env.name} can /unlock {env.name} (locks also expire after {chatops.lock_timeout})",
    )


def _deploy(env: EnvironmentConfig, facts: Facts, chatops: ChatopsConfig) -> Decision:
    if env.frozen:
        reason = f": {env.freeze_reason}" if env.freeze_reason else " (no reason given)"
        return _refuse(
            "frozen",
            f"{env.name} is frozen{reason}",
            f"wait for the freeze to end, or lift it with frozen = false for {env.name} in "
            f"{DEFAULT_CONFIG_PATH} on the default branch; /rollback {env.name} still works during a freeze",
        )
    pull, named = facts.pull, facts.requested_release
    if named is not None:
        # a named release exists only after a successful build of a default-branch commit: the PR
        # it came from and its build are settled already
        if not facts.release_exists:
            return _refuse(
                "no_release",
                _no_such_release(named),
                f"check the id: {_RELEASES_WHERE}",
            )
    elif pull is not None:
        refusal = _pull_ready(env, pull, facts, chatops)
        if refusal is not None:
            return refusal
    elif facts.release_id is None or not facts.release_exists:
        return _refuse(
            "no_release",
            "there is no release to deploy",
            f"name one: /deploy {env.name} rel_YYYY_MM_DD_NNN ({_RELEASES_WHERE})",
        )
    locked = _lock(env, facts, chatops)
    if locked is not None:
        return locked
    release = named if named is not None else facts.release_id
    return _allow(f"deploying {release} to {env.name}")


def _pull_ready(
    env: EnvironmentConfig, pull: PullFacts, facts: Facts, chatops: ChatopsConfig
) -> Decision | None:
    """A deploy from a PR conversation deploys that PR's release: the PR must be merged, approved by
    someone else (when required), built, and released."""
    if not pull.merged:
        return _refuse(
            "not_merged",
            f"PR #{pull.number} is not merged ({_pull_state(pull)}); /deploy deploys the release built "
            "from a merged PR",
            f"{_merge(pull)}, wait for its release, then run /deploy {env.name} again",
        )
    if chatops.require_approval and not pull.approved_by_others:
        return _refuse(
            "not_approved",
            f"PR #{pull.number} has no approving review by someone other than its author (bots do not "
            "count), and this repository requires one before /deploy",
            f"ask a reviewer to approve PR #{pull.number}, then run /deploy {env.name} again",
        )
    released = facts.release_id is not None and facts.release_exists
    if facts.build == "failed":
        return _refuse(
            "build_failed",
            f"the build of PR #{pull.number}'s merge commit failed",
            f"if the failure was transient, /rebuild here, then /deploy {env.name} again; else fix the "
            f"build in a new PR and /deploy {env.name} from that PR once it is released",
        )
    if facts.build == "running" and not released:
        return _refuse(
            "build_running",
            f"the build of PR #{pull.number}'s merge commit is still running, so there is no release yet",
            f"wait for it to finish ({_BUILD_RUN_WHERE}), then run /deploy {env.name} again",
        )
    if not released and facts.build in (None, "missing"):
        # /rebuild re-runs a build run, and there is none: it cannot help here
        return _refuse(
            "no_release",
            f"there is no release of PR #{pull.number}'s merge commit (no build was found)",
            f"check that the build workflow ([chatops] build_workflow in {DEFAULT_CONFIG_PATH}) runs on "
            f"pushes to the default branch, or deploy a release by id: /deploy {env.name} "
            f"rel_YYYY_MM_DD_NNN ({_RELEASES_WHERE})",
        )
    if not released:
        # the build succeeded without a release tag at the merge commit or a usable modbot/release
        # status naming the release it reused (an older workflow, or a release tag deleted since)
        return _refuse(
            "no_release",
            f"the build of PR #{pull.number}'s merge commit succeeded, but no release of it was found: "
            "no release tag at that commit, and no modbot/release status naming a release with its "
            "composition",
            f"deploy the release its build reused by id: /deploy {env.name} rel_YYYY_MM_DD_NNN (the build "
            "run's plan step names it); if that release's tag was deleted, /rebuild makes a new release, "
            f"then run /deploy {env.name} again",
        )
    return None


def _rollback(env: EnvironmentConfig, facts: Facts, chatops: ChatopsConfig) -> Decision:
    # a freeze does not stop a rollback: rolling back to what ran before is how you get out of
    # trouble during a freeze, and it puts back a release that was already running there
    named = facts.requested_release
    if named is None and facts.previous_release is None:
        return _refuse(
            "no_previous_release",
            f"nothing to roll back to: {env.name} has no previous successful release",
            f"deploy a release instead: /deploy {env.name} rel_YYYY_MM_DD_NNN",
        )
    if named is not None and not facts.release_exists:
        return _refuse(
            "no_release",
            _no_such_release(named),
            f"check the id ({_RELEASES_WHERE}), or /rollback {env.name} to go back to its previous "
            "successful release",
        )
    current = facts.current_release
    if named is not None and current is not None and release_sort_key(named) >= release_sort_key(current):
        # a rollback only goes back: recording a move forward as a rollback would mislead the history
        what = "already runs there" if named == current else f"is newer than {current}, which runs there now"
        return _refuse(
            "not_older",
            f"{named} {what}: a rollback goes back to an older release",
            f"to move {env.name} forward: /deploy {env.name} {named} (/status {env.name} shows what runs "
            "there now)",
        )
    locked = _lock(env, facts, chatops)
    if locked is not None:
        return locked
    target = named if named is not None else facts.previous_release
    warnings: tuple[str, ...] = ()
    if named is not None and facts.named_release_skips:
        warnings = (f"rolling back to {target} skips {', '.join(facts.named_release_skips)}",)
    return _allow(f"rolling back {env.name} to {target}", warnings)
