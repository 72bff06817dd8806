"""The local runner's runs (the local form of CI workflow runs) and permissions from local accounts."""

from __future__ import annotations

import posixpath
from typing import Any

from bot.domain.forge_records import RunRecord
from bot.forge.arguments import (
    check_limit,
    normalize_ref,
    validate_login,
    validate_org,
    validate_team_slug,
    validate_workflow,
)
from bot.forge.events import RunEvent
from bot.forge.local.base import LocalForgeError
from bot.forge.local.checks import ChecksMixin
from bot.forge.local.records import Announcer
from bot.forge.ports import Capability
from bot.forge.values import Permission, WorkflowRun
from bot.forge.vocabulary import check_run_fields

__all__ = ["RunsMixin"]


class RunsMixin(ChecksMixin):
    # --- the local runner's runs ---------------------------------------------------------------
    def _run(self, record: RunRecord) -> WorkflowRun:
        return WorkflowRun(
            id=record.id,
            name=record.name,
            path=record.path,
            head_sha=record.head_sha,
            head_branch=record.head_branch,
            event=record.event,
            status=record.status,
            conclusion=record.conclusion,
            html_url=record.logs_url or self._url(record.repository, "runs", record.id),
            run_attempt=record.run_attempt,
            created_at=record.created_at,
        )

    def list_workflow_runs(
        self,
        repo: str,
        *,
        head_sha: str | None = None,
        workflow: str | int | None = None,
        event: str | None = None,
        limit: int = 30,
    ) -> list[WorkflowRun]:
        self._offered(Capability.WORKFLOW_RUNS, "list_workflow_runs")
        check_limit(limit)
        wanted = validate_workflow(workflow) if workflow is not None else None
        git = self._git("list_workflow_runs", repo)
        self._call("list_workflow_runs")
        path = None
        if wanted is not None:
            path = f".github/workflows/{wanted}"
            if wanted.isdigit() or git.read_file(git.default_branch(), path) is None:
                raise LocalForgeError("list_workflow_runs", 404, f"Not Found (no workflow {wanted})")
        filters = {"head_sha": head_sha, "path": path, "event": event}
        return [self._run(r) for r in self.records.list_runs(repo, filters=filters, limit=limit)]

    def get_workflow_run(self, repo: str, run_id: int) -> WorkflowRun:
        self._offered(Capability.WORKFLOW_RUNS, "get_workflow_run")
        self._git("get_workflow_run", repo)
        self._call("get_workflow_run")
        found = self.records.get_run(repo, int(run_id))
        if found is None:
            raise LocalForgeError("get_workflow_run", 404, "Not Found")
        return self._run(found)

    def rerun_workflow_run(self, repo: str, run_id: int) -> None:
        self._offered(Capability.WORKFLOW_RUNS, "rerun_workflow_run")
        self._git("rerun_workflow_run", repo)
        self._call("rerun_workflow_run", write=True)
        found = self.records.get_run(repo, int(run_id))
        if found is None:
            raise LocalForgeError("rerun_workflow_run", 404, "Not Found")
        try:
            self.records.update_run(
                repo,
                found.id,
                only_if_status="completed",
                status="queued",
                conclusion=None,
                run_attempt=found.run_attempt + 1,
                announce=self._run_said("requested"),
            )
        except ValueError:
            raise LocalForgeError("rerun_workflow_run", 403, "This workflow is already running") from None

    def start_run(
        self,
        repo: str,
        *,
        workflow: str,
        head_sha: str,
        head_branch: str | None,
        event: str,
        logs_url: str | None = None,
    ) -> WorkflowRun:
        """The local runner starts a run of ``workflow`` (its file name) on ``head_sha``: queued. With
        ``logs_url`` (where the console shows the run's log) its first event already links there."""
        validate_workflow(workflow)
        if head_branch is not None:
            normalize_ref(f"heads/{head_branch}")
        git = self._git("start_run", repo)
        self._call("start_run", write=True)
        self._commit("start_run", git, head_sha)
        record = self.records.create_run(
            repo,
            name=posixpath.splitext(workflow)[0],
            path=f".github/workflows/{workflow}",
            head_sha=head_sha,
            head_branch=head_branch,
            event=event,
            logs_url=logs_url,
            announce=self._run_said("requested"),
        )
        return self._run(record)

    def report_run(
        self,
        repo: str,
        run_id: int,
        *,
        status: str,
        conclusion: str | None = None,
        logs_url: str | None = None,
    ) -> WorkflowRun:
        """The local runner reports progress; a completed run is an event (``run`` ``completed``)."""
        check_run_fields(status, conclusion)
        self._git("report_run", repo)
        self._call("report_run", write=True)
        changes: dict[str, Any] = {"status": status, "conclusion": conclusion}
        if logs_url is not None:
            changes["logs_url"] = logs_url
        try:
            said = self._run_said("completed") if status == "completed" else None
            record = self.records.update_run(repo, int(run_id), announce=said, **changes)
        except LookupError:
            raise LocalForgeError("report_run", 404, "Not Found") from None
        return self._run(record)

    def _run_said(self, action: str) -> Announcer[RunRecord]:
        """A run's event (``requested``, ``completed``), written with its record."""
        return lambda run: self._announce(RunEvent(self._repository(run.repository), action, self._run(run)))

    # --- permissions ---------------------------------------------------------------------------
    def get_permission(self, repo: str, username: str) -> Permission:
        validate_login(username)
        self._git("get_permission", repo)
        self._call("get_permission")
        return self.role_of(username) or "none"

    def is_team_member(self, org: str, team_slug: str, username: str) -> bool:
        """Local accounts have roles, not teams: nobody is a member of any team (fail closed)."""
        validate_org(org)
        validate_team_slug(team_slug)
        validate_login(username)
        self._call("is_team_member")
        return False
