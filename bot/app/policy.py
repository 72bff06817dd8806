"""The repository's policy (`.github/modbot.toml`) as the use cases read it: from the default branch only,
a file that cannot be used kept as an `error` so that `authorize` fails closed."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from bot.config import PolicyFileError, read_policy_file
from bot.forge import Forge
from bot.pipeline.config import EnvironmentConfig, RepositoryPolicy, problems_from

__all__ = ["PolicyOnBranch", "load_policy"]

_MAX_POLICY_PROBLEMS = 5


@dataclass(frozen=True, slots=True)
class PolicyOnBranch:
    """The repository's chat-ops policy as read from its default branch."""

    config: RepositoryPolicy | None  # None: no file, or it could not be used (`error` says why)
    error: str | None
    branch: str  # the default branch it was read from

    def environment(self, name: str | None) -> EnvironmentConfig | None:
        if self.config is None or name is None:
            return None
        return next((env for env in self.config.environments if env.name == name), None)


def load_policy(forge: Forge, repo: str, *, path: str, default_branch: str | None) -> PolicyOnBranch:
    """The policy file from the default branch (`default_branch` from a webhook saves a call). A file
    that is not TOML or not a valid pipeline config is an `error` for authorize (fail closed)."""
    branch = default_branch or forge.default_branch(repo)  # here, so that an unreadable file names it too
    try:
        found = read_policy_file(forge, repo, path=path, default_branch=branch)
    except PolicyFileError as exc:
        return PolicyOnBranch(None, str(exc), branch)
    if not found.found:
        return PolicyOnBranch(None, None, found.ref)
    try:
        config = RepositoryPolicy.model_validate(found.data)
    except ValidationError as exc:
        problems = [str(problem) for problem in problems_from(exc)]
        shown = "; ".join(problems[:_MAX_POLICY_PROBLEMS])
        more = len(problems) - _MAX_POLICY_PROBLEMS
        return PolicyOnBranch(None, shown + (f" (and {more} more)" if more > 0 else ""), found.ref)
    return PolicyOnBranch(config, None, found.ref)
