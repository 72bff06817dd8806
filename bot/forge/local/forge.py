"""`LocalForge`: the forge of single-host mode, a git repository on disk plus records in the store.

Everything a forge does that git can hold (files, branches, commits, tags, merges) is git; the rest
(change requests, reviews, comments, reactions, checks, statuses, deployments, runs) is records
(`bot.store.local_forge`). Permissions are the local accounts' roles (``role_of``). Teams do not exist
locally: nobody is a member of one (fail closed). Runs are the local runner's: without one
(``runs=False``) the forge declines ``workflow_runs``.
"""

from __future__ import annotations

from typing import Any

from bot.forge.local.runs import RunsMixin
from bot.forge.ports import Capability, CapabilityDeclined
from bot.forge.values import WorkflowRun

__all__ = ["LocalForge"]

_ALL = frozenset(Capability)


class LocalForge(RunsMixin):
    def __init__(self, *args: Any, runs: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._capabilities = _ALL if runs else _ALL - {Capability.WORKFLOW_RUNS}

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self._capabilities

    def _runs(self, operation: str) -> None:
        if Capability.WORKFLOW_RUNS not in self._capabilities:
            raise CapabilityDeclined(Capability.WORKFLOW_RUNS, operation, "local")

    def list_workflow_runs(self, repo: str, **kwargs: Any) -> list[WorkflowRun]:
        self._runs("list_workflow_runs")
        return super().list_workflow_runs(repo, **kwargs)

    def get_workflow_run(self, repo: str, run_id: int) -> WorkflowRun:
        self._runs("get_workflow_run")
        return super().get_workflow_run(repo, run_id)

    def rerun_workflow_run(self, repo: str, run_id: int) -> None:
        self._runs("rerun_workflow_run")
        super().rerun_workflow_run(repo, run_id)
