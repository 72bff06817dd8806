"""Check runs, commit statuses and deployments, kept as records
beside the repository. The same limits as GitHub's are checked before anything is written (a verdict
modbot can post on GitHub it can post here, and the other way round)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from bot.domain.forge_records import CheckRecord, DeploymentRecordLocal, DeploymentStatusRecord
from bot.forge.arguments import (
    check_limit,
)
from bot.forge.events import DeploymentStatusEvent
from bot.forge.local.base import LocalForgeError
from bot.forge.local.comments import CommentsMixin
from bot.forge.local.files import revision
from bot.forge.local.git import GitRepository, is_sha
from bot.forge.values import (
    Annotation,
    CheckRun,
    CommitStatus,
    Deployment,
    DeploymentStatus,
)
from bot.forge.vocabulary import (
    COMMIT_STATES,
    check_deployment_request,
    check_deployment_state,
    check_run_fields,
    status_description,
    validate_environment,
)

__all__ = ["ChecksMixin"]

RUN_STATUSES = frozenset({"queued", "in_progress", "completed"})


def _check_output(title: str, summary: str, text: str | None, annotations: Sequence[Annotation]) -> None:
    if (title or summary or text or annotations) and not (title and summary):
        raise ValueError("a check run output needs a title and a summary")


class ChecksMixin(CommentsMixin):
    def _commit(self, operation: str, git: GitRepository, sha: str) -> None:
        if not is_sha(sha) or git.resolve(sha) != sha:
            raise LocalForgeError(operation, 422, f"No commit found for SHA: {sha}")

    # --- check runs ----------------------------------------------------------------------------
    def _check_run(self, record: CheckRecord) -> CheckRun:
        return CheckRun(
            id=record.id,
            name=record.name,
            head_sha=record.head_sha,
            status=record.status,
            conclusion=record.conclusion,
            html_url=self._url(record.repository, "checks", record.id),
            annotations_count=len(record.annotations),
        )

    def create_check_run(
        self,
        repo: str,
        head_sha: str,
        name: str,
        *,
        status: str = "completed",
        conclusion: str | None = None,
        title: str = "",
        summary: str = "",
        text: str | None = None,
        annotations: Sequence[Annotation] = (),
        details_url: str | None = None,
        external_id: str | None = None,
    ) -> CheckRun:
        check_run_fields(status, conclusion)
        _check_output(title, summary, text, annotations)
        if not name:
            raise ValueError("a check run needs a name")
        git = self._git("create_check_run", repo)
        self._call("create_check_run", write=True)
        self._commit("create_check_run", git, head_sha)
        record = self.records.create_check(
            repo,
            head_sha=head_sha,
            name=name,
            status=status,
            conclusion=conclusion,
            title=title,
            summary=summary,
            text=text,
            annotations=[asdict(a) for a in annotations],
            details_url=details_url,
            external_id=external_id,
            creator=self.bot_login,
        )
        return self._check_run(record)

    def update_check_run(
        self,
        repo: str,
        check_run_id: int,
        *,
        status: str | None = None,
        conclusion: str | None = None,
        title: str = "",
        summary: str = "",
        text: str | None = None,
        annotations: Sequence[Annotation] = (),
    ) -> CheckRun:
        check_run_fields(status, conclusion)
        _check_output(title, summary, text, annotations)
        self._git("update_check_run", repo)
        self._call("update_check_run", write=True)
        try:
            record = self.records.update_check(
                repo,
                int(check_run_id),
                status=status,
                conclusion=conclusion,
                title=title,
                summary=summary,
                text=text,
                annotations=[asdict(a) for a in annotations],
            )
        except LookupError:
            raise LocalForgeError("update_check_run", 404, "Not Found") from None
        return self._check_run(record)

    def find_check_run(self, repo: str, head_sha: str, name: str) -> CheckRun | None:
        self._git("find_check_run", repo)
        self._call("find_check_run")
        found = self.records.find_checks(repo, head_sha, name, creator=self.bot_login)
        return self._check_run(found[-1]) if found else None

    # --- commit statuses -----------------------------------------------------------------------
    def latest_commit_status(self, repo: str, sha: str, context: str) -> CommitStatus | None:
        self._git("latest_commit_status", repo)
        self._call("latest_commit_status")
        found = self.records.latest_status(repo, sha, context)
        if found is None:
            return None
        return CommitStatus(found.state, found.context, found.description, found.target_url)

    def set_commit_status(
        self,
        repo: str,
        sha: str,
        state: str,
        *,
        context: str,
        description: str,
        target_url: str | None = None,
    ) -> None:
        if state not in COMMIT_STATES:
            raise ValueError(f"commit status state must be one of {sorted(COMMIT_STATES)}, not {state!r}")
        if not context:
            raise ValueError("a commit status needs a context")
        git = self._git("set_commit_status", repo)
        self._call("set_commit_status", write=True)
        self._commit("set_commit_status", git, sha)
        self.records.add_status(
            repo,
            sha,
            state=state,
            context=context,
            description=status_description(description),
            target_url=target_url,
            creator=self.bot_login,
        )

    # --- deployments ---------------------------------------------------------------------------
    def _deployment(self, record: DeploymentRecordLocal) -> Deployment:
        return Deployment(
            id=record.id,
            sha=record.sha,
            ref=record.ref,
            environment=record.environment,
            task=record.task,
            description=record.description or None,
            payload=dict(record.payload),
            creator=record.creator,
            created_at=record.created_at,
        )

    @staticmethod
    def _deployment_status(record: DeploymentStatusRecord) -> DeploymentStatus:
        return DeploymentStatus(
            id=record.id,
            state=record.state,
            description=record.description,
            log_url=record.log_url or None,
            environment_url=record.environment_url or None,
            creator=record.creator,
            created_at=record.created_at,
        )

    def create_deployment(
        self,
        repo: str,
        *,
        ref: str,
        environment: str,
        description: str,
        payload: Mapping[str, Any],
        task: str = "deploy",
        production_environment: bool | None = None,
    ) -> Deployment:
        checked_description, checked_payload = check_deployment_request(
            ref=ref, environment=environment, description=description, payload=payload, task=task
        )
        revision(ref)
        git = self._git("create_deployment", repo)
        self._call("create_deployment", write=True)
        sha = git.resolve(ref)
        if sha is None:
            raise LocalForgeError("create_deployment", 422, f"No ref found for: {ref}")
        record = self.records.create_deployment(
            repo,
            sha=sha,
            ref=ref,
            environment=environment,
            task=task,
            description=checked_description,
            payload=checked_payload,
            creator=self.bot_login,
        )
        return self._deployment(record)

    def create_deployment_status(
        self,
        repo: str,
        deployment_id: int,
        state: str,
        *,
        description: str,
        log_url: str | None = None,
        environment_url: str | None = None,
        auto_inactive: bool = True,
    ) -> DeploymentStatus:
        check_deployment_state(state)
        body = {"description": status_description(description)}
        self._git("create_deployment_status", repo)
        self._call("create_deployment_status", write=True)
        deployment = self.records.get_deployment(repo, int(deployment_id))
        if deployment is None:
            raise LocalForgeError("create_deployment_status", 404, "Not Found")
        where = self._repository(repo)
        try:
            record = self.records.add_deployment_status(
                repo,
                int(deployment_id),
                auto_inactive=auto_inactive,
                creator=self.bot_login,
                state=state,
                description=body["description"],
                log_url=log_url,
                environment_url=environment_url,
                announce=lambda made: self._announce(
                    DeploymentStatusEvent(where, self._deployment(deployment), self._deployment_status(made))
                ),
            )
        except LookupError:
            raise LocalForgeError("create_deployment_status", 404, "Not Found") from None
        return self._deployment_status(record)

    def list_deployments(
        self,
        repo: str,
        *,
        environment: str | None = None,
        sha: str | None = None,
        ref: str | None = None,
        task: str | None = None,
        limit: int = 100,
    ) -> list[Deployment]:
        check_limit(limit)
        if environment is not None:
            validate_environment(environment)
        self._git("list_deployments", repo)
        self._call("list_deployments")
        filters = {"environment": environment, "sha": sha, "ref": ref, "task": task}
        return [
            self._deployment(r) for r in self.records.list_deployments(repo, filters=filters, limit=limit)
        ]

    def list_deployment_statuses(
        self, repo: str, deployment_id: int, *, limit: int = 100
    ) -> list[DeploymentStatus]:
        check_limit(limit)
        self._git("list_deployment_statuses", repo)
        self._call("list_deployment_statuses")
        if self.records.get_deployment(repo, int(deployment_id)) is None:
            raise LocalForgeError("list_deployment_statuses", 404, "Not Found")
        records = self.records.list_deployment_statuses(int(deployment_id), limit=limit)
        return [self._deployment_status(r) for r in records]
