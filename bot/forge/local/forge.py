"""`LocalForge`: the forge of single-host mode, a git repository on disk plus records in the store.

Everything a forge does that git can hold (files, branches, commits, tags, merges) is git; the rest
(change requests, reviews, comments, reactions, checks, statuses, deployments, runs) is records
(`bot.store.local_forge`). Permissions are the local accounts' roles (``role_of``). Teams do not exist
locally: nobody is a member of one (fail closed). Runs are the local runner's: without one
(``runs=False``) the forge declines ``workflow_runs``.
"""

from __future__ import annotations

from bot.forge.local.base import LocalForgeError
from bot.forge.local.runs import RunsMixin

__all__ = ["LocalForge", "LocalForgeProvider"]


class LocalForge(RunsMixin):
    """`bot.forge.Forge` over the repositories under ``root`` and their ``records``."""


class LocalForgeProvider:
    """The `bot.forge.ForgeProvider` of single-host mode: one local forge for every job (a local
    forge has no App installations; an installation id is refused rather than ignored)."""

    def __init__(self, forge: LocalForge) -> None:
        self.forge = forge

    def for_installation(self, installation_id: int | None) -> LocalForge:
        if installation_id is not None:
            raise LocalForgeError("for_installation", None, "the local forge has no App installations")
        return self.forge
