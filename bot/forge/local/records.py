"""What the local forge needs of the store: its records (bot.store.local_forge.LocalForgeStore is it;
the forge layer may not import the store, so the forge names the methods it calls, and the wiring
passes the store in)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from bot.domain.forge_records import (
    Announcement,
    ChangeRequestRecord,
    CheckRecord,
    CommentRecord,
    DeploymentRecordLocal,
    DeploymentStatusRecord,
    ReviewRecord,
    RunRecord,
    StatusRecord,
)

__all__ = ["Announcer", "LocalRecords"]

_R = TypeVar("_R")
# Given the record a write made (inside its transaction), the events that announce it.
Announcer = Callable[[_R], Sequence[Announcement]]


class LocalRecords(Protocol):
    def announce(self, announcements: Sequence[Announcement]) -> None: ...
    def open_change_request(
        self,
        repository: str,
        *,
        title: str,
        body: str,
        author: str,
        head_ref: str,
        head_repository: str | None,
        base_ref: str,
        head_sha: str,
        base_sha: str,
        draft: bool = False,
        announce: Announcer[ChangeRequestRecord] | None = None,
    ) -> ChangeRequestRecord: ...
    def get_change_request(self, repository: str, number: int) -> ChangeRequestRecord | None: ...
    def find_open_change_request(
        self, repository: str, head_ref: str, head_repository: str | None = None
    ) -> ChangeRequestRecord | None: ...
    def open_change_requests_from(self, head_repository: str, head_ref: str) -> list[ChangeRequestRecord]: ...
    def list_change_requests(
        self, repository: str, *, state: str | None = None
    ) -> list[ChangeRequestRecord]: ...
    def update_change_request(
        self,
        repository: str,
        number: int,
        *,
        expected_head_sha: str | None = None,
        announce: Announcer[ChangeRequestRecord] | None = None,
        **changes: Any,
    ) -> ChangeRequestRecord: ...
    def add_review(
        self, repository: str, number: int, *, author: str, state: str, commit_sha: str, body: str = ""
    ) -> ReviewRecord: ...
    def list_reviews(self, repository: str, number: int) -> list[ReviewRecord]: ...
    def add_comment(
        self,
        repository: str,
        number: int,
        body: str,
        *,
        author: str,
        author_type: str = "User",
        announce: Announcer[CommentRecord] | None = None,
    ) -> CommentRecord: ...
    def update_comment(self, repository: str, comment_id: int, body: str) -> CommentRecord: ...
    def get_comment(self, repository: str, comment_id: int) -> CommentRecord | None: ...
    def list_comments(self, repository: str, number: int) -> list[CommentRecord]: ...
    def add_reaction(self, comment_id: int, *, author: str, content: str) -> bool: ...
    def record_bot_commit(self, repository: str, sha: str) -> None: ...
    def bot_commits(self, repository: str, shas: Collection[str]) -> set[str]: ...
    def create_check(
        self,
        repository: str,
        *,
        head_sha: str,
        name: str,
        status: str,
        conclusion: str | None,
        title: str,
        summary: str,
        text: str | None,
        annotations: Sequence[Mapping[str, Any]],
        details_url: str | None,
        external_id: str | None,
        creator: str,
    ) -> CheckRecord: ...
    def update_check(
        self,
        repository: str,
        check_id: int,
        *,
        status: str | None,
        conclusion: str | None,
        title: str,
        summary: str,
        text: str | None,
        annotations: Sequence[Mapping[str, Any]],
    ) -> CheckRecord: ...
    def find_checks(
        self, repository: str, head_sha: str, name: str, *, creator: str
    ) -> list[CheckRecord]: ...
    def add_status(
        self,
        repository: str,
        sha: str,
        *,
        state: str,
        context: str,
        description: str,
        target_url: str | None,
        creator: str,
    ) -> StatusRecord: ...
    def latest_status(self, repository: str, sha: str, context: str) -> StatusRecord | None: ...
    def create_deployment(self, repository: str, **values: Any) -> DeploymentRecordLocal: ...
    def get_deployment(self, repository: str, deployment_id: int) -> DeploymentRecordLocal | None: ...
    def list_deployments(
        self, repository: str, *, filters: Mapping[str, str | None], limit: int
    ) -> list[DeploymentRecordLocal]: ...
    def add_deployment_status(
        self,
        repository: str,
        deployment_id: int,
        *,
        auto_inactive: bool,
        creator: str,
        announce: Announcer[DeploymentStatusRecord] | None = None,
        **values: Any,
    ) -> DeploymentStatusRecord: ...
    def list_deployment_statuses(self, deployment_id: int, *, limit: int) -> list[DeploymentStatusRecord]: ...
    def create_run(
        self, repository: str, *, announce: Announcer[RunRecord] | None = None, **values: Any
    ) -> RunRecord: ...
    def update_run(
        self,
        repository: str,
        run_id: int,
        *,
        only_if_status: str | None = None,
        announce: Announcer[RunRecord] | None = None,
        **changes: Any,
    ) -> RunRecord: ...
    def get_run(self, repository: str, run_id: int) -> RunRecord | None: ...
    def list_runs(
        self, repository: str, *, filters: Mapping[str, str | None], limit: int
    ) -> list[RunRecord]: ...
