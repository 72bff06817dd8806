"""The Releases page's read model: a page of releases (newest first), each with its modules and what
changed from the release before it; and, per environment, whether the viewer may press Deploy or
Rollback at all.

Whether they may is asked of `authorize` itself, before any fact is gathered, exactly as chat-ops'
/help does (`RULES_BEFORE_FACTS`): a refusal there (no role, frozen, no policy…) disables the button
with chat-ops' own words; the rules that need facts (not merged, locked…) decide when it is pressed.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from typing import Literal

from bot.app.chatops.authorize import Decision, authorize
from bot.app.commands.facts import NO_FACTS, gather_actor, rollback_plan
from bot.app.commands.service import RULES_BEFORE_FACTS
from bot.app.policy import load_policy
from bot.app.ports.store import WholeStore
from bot.domain.records import DeploymentRecord, EnvironmentLock, ReleaseInfo
from bot.forge import Forge

__all__ = [
    "EnvironmentGate",
    "EnvironmentNow",
    "Gate",
    "PolicyGates",
    "ReleaseRow",
    "ReleasesPage",
    "command_gates",
    "environment_now",
    "releases_page",
]

GatedAction = Literal["deploy", "rollback"]
ActorKind = Literal["user", "bot", "token"]


@dataclass(frozen=True, slots=True)
class ReleaseRow:
    release: ReleaseInfo
    before: str | None  # the release it is compared with: the next older one
    added: tuple[str, ...]  # modules it has and that one had not
    removed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReleasesPage:
    rows: tuple[ReleaseRow, ...]
    next_before: str | None  # pass as ``before`` for the next (older) page; None: no more


@dataclass(frozen=True, slots=True)
class Gate:
    """May the viewer press this button? When not: chat-ops' rule id, message and next step."""

    enabled: bool
    rule: str
    message: str
    next_step: str


@dataclass(frozen=True, slots=True)
class EnvironmentGate:
    environment: str
    deploy: Gate
    rollback: Gate


@dataclass(frozen=True, slots=True)
class PolicyGates:
    environments: tuple[EnvironmentGate, ...]
    problem: Gate | None  # the policy itself refuses every command (missing or invalid)


def releases_page(store: WholeStore, repository: str, *, limit: int, before: str | None) -> ReleasesPage:
    """One page; two rows more are read: one to know whether an older page exists, and the release
    before the page's last, to compare it with."""
    rows = store.releases(repository, limit=limit + 2, before=before)
    page = rows[:limit]
    out = []
    for index, release in enumerate(page):
        older = rows[index + 1] if index + 1 < len(rows) else None
        out.append(_row(release, older))
    return ReleasesPage(tuple(out), page[-1].release_id if len(rows) > limit else None)


def _row(release: ReleaseInfo, older: ReleaseInfo | None) -> ReleaseRow:
    if older is None:
        return ReleaseRow(release, None, tuple(sorted(release.modules)), ())
    now, then = set(release.modules), set(older.modules)
    return ReleaseRow(release, older.release_id, tuple(sorted(now - then)), tuple(sorted(then - now)))


def command_gates(
    forge: Forge,
    repo: str,
    *,
    login: str,
    kind: ActorKind,
    policy_path: str,
    rollback_target: Callable[[str], str | None] | None = None,
) -> PolicyGates:
    """Deploy and rollback, for each environment of the policy on the default branch, as `authorize`
    answers before facts. With `rollback_target` (what a rollback of an environment would return to, as
    the page shows it), a rollback with nowhere to go is refused as chat-ops refuses it
    (``no_previous_release``). Asks the forge for the policy file and the viewer's role (ForgeError if it
    cannot)."""
    policy = load_policy(forge, repo, path=policy_path, default_branch=None)
    environments = policy.config.environments if policy.config is not None else []
    actor = gather_actor(forge, repo, login=login, kind=kind, environments=environments, ask_role=True)

    def gate(action: GatedAction, environment: str | None) -> Gate:
        facts, definitive = NO_FACTS, RULES_BEFORE_FACTS
        if action == "rollback" and environment is not None and rollback_target is not None:
            facts = replace(NO_FACTS, previous_release=rollback_target(environment))
            definitive = RULES_BEFORE_FACTS | {"no_previous_release"}
        decision = authorize(
            action,
            actor,
            environment=environment,
            facts=facts,
            policy=policy.config,
            policy_error=policy.error,
        )
        return _gate(decision, definitive)

    if policy.config is None:
        return PolicyGates((), gate("deploy", None))
    return PolicyGates(
        tuple(
            EnvironmentGate(env.name, gate("deploy", env.name), gate("rollback", env.name))
            for env in environments
        ),
        None,
    )


def _gate(decision: Decision, definitive: AbstractSet[str]) -> Gate:
    enabled = decision.allowed or decision.rule not in definitive
    return Gate(enabled, decision.rule, decision.message, decision.next_step)


@dataclass(frozen=True, slots=True)
class EnvironmentNow:
    """What runs in an environment, since when and by whom; what a rollback would return to (as
    chat-ops' rollback picks it: `rollback_plan`); who holds its lock."""

    name: str
    current: DeploymentRecord | None
    rollback_to: str | None
    lock: EnvironmentLock | None


def environment_now(store: WholeStore, repo: str, name: str) -> EnvironmentNow:
    current = store.current_deployment(repo, name)
    history = store.successful_releases(repo, name)
    previous, _skips = rollback_plan(history, current.release_id if current else None, None)
    return EnvironmentNow(name, current, previous, store.get_lock(repo, name))
