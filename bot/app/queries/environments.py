"""Read models more than one interface shows (the admin API's JSON, the console's pages): queries of
the store and the policy, answered as plain values that each interface words its own way."""

from __future__ import annotations

from dataclasses import dataclass

from bot.app.commands.facts import rollback_plan
from bot.app.policy import load_policy
from bot.app.ports.store import WholeStore
from bot.domain.records import DeploymentRecord, EnvironmentLock
from bot.forge import Forge, ForgeError
from bot.pipeline.config import RepositoryPolicy

__all__ = [
    "EnvironmentStatus",
    "EnvironmentsOverview",
    "environments_overview",
    "read_policy",
    "rollback_target",
]


@dataclass(frozen=True, slots=True)
class EnvironmentStatus:
    """What runs in one environment now."""

    name: str
    in_policy: bool  # named in the policy on the default branch
    frozen: bool | None  # None: the policy could not be read
    freeze_reason: str | None
    required_permission: str | None  # the role deploy, rollback and unlock need
    current: DeploymentRecord | None  # the newest successful deployment
    in_flight: DeploymentRecord | None  # the newest deployment, while it is not finished
    latest: DeploymentRecord | None  # the newest deployment, whatever its status
    lock: EnvironmentLock | None


@dataclass(frozen=True, slots=True)
class EnvironmentsOverview:
    repository: str
    environments: list[EnvironmentStatus]
    policy_error: str | None  # why the policy could not be read (None: it was)


def read_policy(forge: Forge, repo: str, path: str) -> tuple[RepositoryPolicy | None, str | None]:
    """The policy on the default branch, or None and why not; ForgeError when the forge cannot be asked."""
    policy = load_policy(forge, repo, path=path, default_branch=None)
    if policy.config is None and policy.error is None:
        return None, f"there is no {path} on {policy.branch}"
    return policy.config, policy.error


def environments_overview(
    store: WholeStore, forge: Forge | None, repo: str, policy_path: str
) -> EnvironmentsOverview:
    """Each environment of the policy, then any other the store has seen. ``forge`` None (or failing):
    the store's view alone, with why the policy is missing."""
    policy: RepositoryPolicy | None = None
    if forge is None:
        policy_error: str | None = "the forge cannot be asked for the policy"
    else:
        try:
            policy, policy_error = read_policy(forge, repo, policy_path)
        except ForgeError as error:  # the store's view is still worth answering
            policy, policy_error = None, f"the policy could not be read: {error}"
    states = {state.environment: state for state in store.environments(repo)}
    configured = {env.name: env for env in policy.environments} if policy is not None else {}
    result = []
    for name in [*configured, *sorted(set(states) - set(configured))]:
        state = states.get(name)
        env = configured.get(name)
        latest = state.latest if state else None
        result.append(
            EnvironmentStatus(
                name=name,
                in_policy=env is not None,
                frozen=env.frozen if env is not None else (False if policy is not None else None),
                freeze_reason=env.freeze_reason if env is not None else None,
                required_permission=env.required_permission if env is not None else None,
                current=state.current if state else None,
                in_flight=latest if latest is not None and not latest.finished else None,
                latest=latest,
                lock=state.lock if state else None,
            )
        )
    return EnvironmentsOverview(repository=repo, environments=result, policy_error=policy_error)


def rollback_target(
    store: WholeStore, repo: str, environment: str, current_release: str | None
) -> str | None:
    """The release ``/rollback <environment>`` would return to (chat-ops' own rule: `rollback_plan`)."""
    previous, _ = rollback_plan(store.successful_releases(repo, environment), current_release, None)
    return previous
