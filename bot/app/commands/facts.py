"""What a chat-ops command is decided on, gathered from GitHub and the store for `authorize`.

The rules of what counts are pure functions here (which reviews approve a PR, what a build's runs say,
which release a rollback goes back to and what it skips over); `load_policy`, `gather_actor` and
`gather_facts` do the I/O, and ask GitHub only what the action needs:

- the policy: `.github/modbot.toml` from the default branch only (one call);
- the actor's role: asked per command for a user (a cached role could outlive a demotion), "admin"
  for an admin-API/CLI token; team membership only for the environment's deployer teams, and only
  when the role does not reach the environment's level;
- the pull request (deploy without a named release, rebuild): the PR, and for a deploy its reviews;
- the release: named → the store, else its tag; from a PR → the release made from its merge commit,
  or the one that commit's build reused (bot.app.releases.built_release);
- the build: a release exists → succeeded, else the newest build run of the merge commit;
- the lock, and for a rollback the environment's history: the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.app.chatops.authorize import Action, Actor, BuildState, Facts, PullFacts, permission_at_least
from bot.app.policy import PolicyOnBranch, load_policy
from bot.app.releases import built_release, find_release, release_at_commit
from bot.domain.ids import is_app_login
from bot.forge import Forge, ForgeError, PullRequest, Review, WorkflowRun
from bot.pipeline.config import ChatopsConfig, EnvironmentConfig
from bot.pipeline.release import release_sort_key
from bot.store import EnvironmentLock, ReleaseInfo, Store

__all__ = [
    "DECISIVE_REVIEW_STATES",
    "NO_FACTS",
    "Gathered",
    "PolicyOnBranch",
    "approved_by_others",
    "build_state",
    "gather_actor",
    "gather_facts",
    "load_policy",
    "pull_facts",
    "rollback_plan",
]

# A COMMENTED review leaves a reviewer's verdict as it was; these states set it (GitHub's rule too).
DECISIVE_REVIEW_STATES = frozenset({"APPROVED", "CHANGES_REQUESTED", "DISMISSED"})
_MAX_POLICY_PROBLEMS = 5
# Nothing known: no PR, no release, no build, no lock, no history (what the gathered facts start from).
NO_FACTS = Facts(
    pull=None,
    release_id=None,
    release_exists=False,
    build=None,
    lock_holder=None,
    lock_since=None,
    previous_release=None,
)


# --- the pure rules ------------------------------------------------------------------------------------


def _is_bot_login(login: str) -> bool:
    return is_app_login(login)


def approved_by_others(reviews: Sequence[Review], author: str) -> bool:
    """Whether a reviewer other than `author` (and not a bot) approves, by each reviewer's latest
    decisive review (`reviews` oldest first, as GitHub lists them)."""
    verdicts: dict[str, str] = {}
    for review in reviews:
        if review.author is not None and review.state in DECISIVE_REVIEW_STATES:
            verdicts[review.author.lower()] = review.state
    return any(
        state == "APPROVED" and login != author.lower() and not _is_bot_login(login)
        for login, state in verdicts.items()
    )


def pull_facts(pull: PullRequest, reviews: Sequence[Review]) -> PullFacts:
    return PullFacts(
        number=pull.number,
        author=pull.author,
        state="open" if pull.state == "open" else "closed",
        merged=pull.merged,
        from_fork=pull.from_fork,
        approved_by_others=approved_by_others(reviews, pull.author),
    )


def build_state(runs: Sequence[WorkflowRun]) -> BuildState:
    """What the newest of a commit's build runs (newest first) says."""
    if not runs:
        return "missing"
    newest = runs[0]
    if newest.status != "completed":
        return "running"
    return "succeeded" if newest.conclusion == "success" else "failed"


def rollback_plan(
    history: Sequence[str], current: str | None, named: str | None
) -> tuple[str | None, tuple[str, ...]]:
    """From an environment's successful releases (newest deployment first, each once) and what runs
    there now: the direct predecessor (the default rollback target), and the releases a rollback to
    `named` skips over: those that ran there after it (when it never ran there: the newer ones),
    other than the current one."""
    previous = next((release for release in history if release != current), None)
    if named is None:
        return previous, ()
    if named in history:
        newer = history[: history.index(named)]
    else:
        newer = [release for release in history if release_sort_key(release) > release_sort_key(named)]
    return previous, tuple(release for release in newer if release not in (current, named))


# --- gathering -------------------------------------------------------------------------------------------


def gather_actor(
    forge: Forge,
    repo: str,
    *,
    login: str,
    kind: str,
    environments: Sequence[EnvironmentConfig],
    ask_role: bool,
) -> Actor:
    """The actor of a command. A user's role is asked from GitHub (when `ask_role`); their membership
    of the deployer teams of `environments` only where that role does not reach the environment's
    level (one call per team, each team asked once)."""
    if kind == "token":
        return Actor(login=login, kind="token", permission="admin")
    if kind == "bot" or _is_bot_login(login):
        return Actor(login=login, kind="bot", permission="none")
    if not ask_role:
        return Actor(login=login, kind="user", permission="none")
    permission = forge.get_permission(repo, login)
    asked: dict[str, bool] = {}
    for environment in environments:
        if permission_at_least(permission, environment.required_permission):
            continue
        for deployer in environment.deployers:
            team = deployer.lower()
            if "/" in team and team not in asked:
                org, slug = team.split("/", 1)
                asked[team] = forge.is_team_member(org, slug, login)
            if asked.get(team):
                break  # one team is enough for this environment
    teams = frozenset(team for team, member in asked.items() if member)
    return Actor(login=login, kind="user", permission=permission, teams=teams)


@dataclass(frozen=True, slots=True)
class Gathered:
    """The facts for `authorize` and what acting on them needs."""

    facts: Facts | None
    pull: PullRequest | None = None  # the PR the command was made on (None: an issue, or not asked)
    release: ReleaseInfo | None = None  # what a deploy/rollback would put on the environment
    lock: EnvironmentLock | None = None
    build_run: WorkflowRun | None = None  # the newest build run of the PR's merge commit


def get_pull_or_none(forge: Forge, repo: str, number: int | None) -> PullRequest | None:
    """The pull request `number`, or None when it is an issue (GitHub answers 404)."""
    if number is None:
        return None
    try:
        return forge.get_pull(repo, number)
    except ForgeError as exc:
        if exc.not_found:
            return None
        raise


def _build_runs(forge: Forge, repo: str, commit_sha: str, workflow: str) -> list[WorkflowRun]:
    try:
        return forge.list_workflow_runs(repo, head_sha=commit_sha, workflow=workflow, event="push", limit=1)
    except ForgeError as exc:
        if exc.not_found:
            return []  # the workflow does not exist (yet): no build
        raise


def gather_facts(
    forge: Forge,
    store: Store,
    *,
    repo: str,
    action: Action,
    environment: str | None,
    release_id: str | None,
    issue_number: int | None,
    policy: PolicyOnBranch,
) -> Gathered:
    """The facts `authorize` needs for `action` (None for help, status, validate and unlock, which
    need none), asking GitHub only what that action needs."""
    if action == "rebuild":
        return _rebuild_facts(forge, store, repo, issue_number, policy)
    if action not in ("deploy", "rollback") or environment is None or policy.config is None:
        return Gathered(facts=None)
    lock = store.get_lock(repo, environment)
    current = store.current_deployment(repo, environment)
    current_release = current.release_id if current is not None else None
    base = replace(
        NO_FACTS,
        lock_holder=lock.holder if lock is not None else None,
        lock_since=lock.acquired_at if lock is not None else None,
        requested_release=release_id,
        current_release=current_release,
    )
    if action == "rollback":
        # only a rollback looks back at the history: a deploy's rules never read it
        history = store.successful_releases(repo, environment)
        previous, skips = rollback_plan(history, current_release, release_id)
        target = release_id if release_id is not None else previous
        release = find_release(forge, store, repo, target) if target is not None else None
        facts = replace(
            base,
            previous_release=previous,
            named_release_skips=skips,
            release_id=target,
            release_exists=release is not None,
        )
        return Gathered(facts, release=release, lock=lock)
    if release_id is not None:
        # a named release was built from a default-branch commit: the PR is not looked at
        release = find_release(forge, store, repo, release_id)
        facts = replace(base, release_id=release_id, release_exists=release is not None)
        return Gathered(facts, release=release, lock=lock)
    pull = get_pull_or_none(forge, repo, issue_number)
    if pull is None:
        return Gathered(base, lock=lock)
    reviews = forge.list_reviews(repo, pull.number)
    release, build, run = _merged_release(forge, store, repo, pull, policy)
    facts = replace(
        base,
        pull=pull_facts(pull, reviews),
        release_id=release.release_id if release is not None else None,
        release_exists=release is not None,
        build=build,
    )
    return Gathered(facts, pull=pull, release=release, lock=lock, build_run=run)


def _merged_release(
    forge: Forge, store: Store, repo: str, pull: PullRequest, policy: PolicyOnBranch
) -> tuple[ReleaseInfo | None, BuildState | None, WorkflowRun | None]:
    """The release of a merged PR's merge commit, the state of its build, and the build run."""
    if not pull.merged or pull.merge_commit_sha is None:
        return None, None, None
    sha = pull.merge_commit_sha
    release = release_at_commit(forge, store, repo, sha, ask_github=False)
    if release is not None:
        return release, "succeeded", None
    assert policy.config is not None
    runs = _build_runs(forge, repo, sha, policy.config.chatops.build_workflow)
    build = build_state(runs)
    if build == "succeeded":
        # built, but the release tag's event has not reached the store (yet), or the build reused a
        # release of the same build key: ask GitHub
        release = built_release(forge, store, repo, sha, manifest_path=policy.config.build.manifest)
    return release, build, runs[0] if runs else None


def _rebuild_facts(
    forge: Forge, store: Store, repo: str, issue_number: int | None, policy: PolicyOnBranch
) -> Gathered:
    pull = get_pull_or_none(forge, repo, issue_number)
    if pull is None:
        return Gathered(NO_FACTS)
    run: WorkflowRun | None = None
    build: BuildState | None = None
    if pull.merged and pull.merge_commit_sha is not None:
        chatops = policy.config.chatops if policy.config is not None else ChatopsConfig()
        workflow = chatops.build_workflow
        runs = _build_runs(forge, repo, pull.merge_commit_sha, workflow)
        build = build_state(runs)
        run = runs[0] if runs else None
    # approvals do not matter to a rebuild
    facts = replace(NO_FACTS, pull=pull_facts(pull, reviews=()), build=build)
    return Gathered(facts, pull=pull, build_run=run)
