"""`LocalForge`: the forge of single-host mode, a git repository on disk plus records in the store.

Everything a forge does that git can hold (files, branches, commits, tags, merges) is git; the rest
(change requests, reviews, comments, reactions, checks, statuses, deployments, runs) is records
(`bot.store.local_forge`). Permissions are the local accounts' roles (``role_of``). Teams do not exist
locally: nobody is a member of one (fail closed). Runs are the local runner's: without one
(``runs=False``) the forge declines ``workflow_runs``.
"""

from __future__ import annotations

from bot.forge.local.runs import RunsMixin

__all__ = ["LocalForge"]


class LocalForge(RunsMixin):
    """`bot.forge.Forge` over the repositories under ``root`` and their ``records``."""
