"""The store, seen by the use cases: one Protocol per aggregate.

A use case names the aggregate it needs (``deployments: DeploymentStore``) instead of the SQL
``bot.store.Store``, so it imports no SQLAlchemy and can be given any implementation. The values these
take and return are ``bot.domain.records``'. ``bot.store.Store`` implements every protocol here
(tests/contract/test_store_ports.py checks it with mypy and at run time: names, parameters, kinds, defaults).

Every method is one transaction of its own; invalid input raises ``ValueError``. docs/store.md has
what each call does.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.domain.records import (
    KEEP,
    SYSTEM_ACTOR,
    AccountRole,
    AdminToken,
    AuditEntry,
    AuditOutcome,
    AuditPage,
    BuildRecord,
    BuildStage,
    BuildStatus,
    ConsoleUser,
    DeadLetterPage,
    DeliveryInfo,
    DeliveryStatus,
    DeployKind,
    DeploymentRecord,
    DeploySource,
    DeployStage,
    DeployStatus,
    EnvironmentLock,
    EnvironmentState,
    IncomingDelivery,
    Job,
    Keep,
    LockPurpose,
    PrState,
    RecordOutcome,
    ReleaseInfo,
)

__all__ = [
    "STORE_PORTS",
    "AdminTokenStore",
    "AuditLog",
    "BuildStore",
    "ConsoleUsers",
    "DeliveryQueue",
    "DeploymentStore",
    "Installations",
    "PrStateStore",
    "ReleaseCache",
    "StoreClock",
    "WholeStore",
]


class StoreClock(Protocol):
    """The time the store stamps its records with (a use case that records a time of its own uses it
    too, so both agree)."""

    def now(self) -> datetime: ...


class DeliveryQueue(Protocol):
    """Webhook deliveries and their jobs: record, lease to one worker, finish, dead letters."""

    def record_delivery(  # noqa: PLR0917 (positional, as the webhook calls it)
        self,
        delivery_id: str,
        event: str,
        action: str | None,
        repository: str | None,
        installation_id: int | None,
        payload: Mapping[str, Any],
    ) -> RecordOutcome: ...

    def record_deliveries(self, deliveries: Sequence[IncomingDelivery]) -> list[RecordOutcome]: ...

    def claim_next(self, worker_id: str, lease_seconds: float = 60.0) -> Job | None: ...

    def complete(self, job: Job) -> None: ...

    def fail(self, job: Job, error: str | BaseException, retry_in: float | None) -> DeliveryStatus: ...

    def ignore(self, job: Job, reason: str) -> None: ...

    def heartbeat(self, job: Job, lease_seconds: float | None = None) -> Job: ...

    def release(self, job: Job) -> None: ...

    def expire_abandoned_leases(self, owner_prefix: str, is_abandoned: Callable[[str], bool]) -> int: ...

    def dead_letter_count(self) -> int: ...

    def dead_letters(self, *, limit: int = 100, cursor: int | None = None) -> DeadLetterPage: ...

    def retry_dead_letters(
        self, delivery_ids: Sequence[str] | None, *, actor: str, reason: str | None = None
    ) -> list[str]: ...

    def queue_depth(self) -> int: ...

    def delivery_counts(self) -> dict[tuple[str, DeliveryStatus], int]: ...

    def next_due_at(self) -> datetime | None: ...

    def get_delivery(self, delivery_id: str) -> DeliveryInfo | None: ...

    def purge_finished(self, older_than: timedelta) -> int: ...


class PrStateStore(Protocol):
    """What the bot last wrote on each pull request; saved by compare-and-set on the head."""

    def get_pr_state(self, repository: str, number: int) -> PrState | None: ...

    def save_pr_state(
        self,
        repository: str,
        number: int,
        *,
        head_sha: str,
        expected_head_sha: str | None,
        comment_id: int | Keep | None = KEEP,
        check_run_id: int | Keep | None = KEEP,
        manifest_hash: str | Keep | None = KEEP,
    ) -> bool: ...


class AdminTokenStore(Protocol):
    """Admin API bearer tokens (only their hashes are kept); creating and revoking one is audited."""

    def create_admin_token(
        self, name: str, *, actor: str, reason: str | None = None
    ) -> tuple[AdminToken, str]: ...

    def verify_admin_token(self, token: str) -> AdminToken | None: ...

    def list_admin_tokens(self, *, include_revoked: bool = False) -> list[AdminToken]: ...

    def revoke_admin_token(self, token_id: int, *, actor: str, reason: str | None = None) -> bool: ...


class AuditLog(Protocol):
    """Append-only record of who did what, newest first."""

    def append_audit(
        self,
        actor: str,
        action: str,
        target: str | None = None,
        details: Mapping[str, Any] | None = None,
        reason: str | None = None,
    ) -> AuditEntry: ...

    def query_audit(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        cursor: int | None = None,
        until: datetime | None = None,
        outcome: AuditOutcome | None = None,
    ) -> AuditPage: ...

    def audit_actions(self, limit: int = 200) -> list[str]: ...


class DeploymentStore(Protocol):
    """Environment locks, the deployment history and what runs in each environment."""

    def acquire_lock(
        self,
        repository: str,
        environment: str,
        *,
        holder: str,
        purpose: LockPurpose,
        ttl: timedelta,
        release_id: str | None = None,
        reason: str | None = None,
    ) -> EnvironmentLock: ...

    def attach_lock_deployment(
        self,
        repository: str,
        environment: str,
        *,
        holder: str,
        acquired_at: datetime,
        deployment_id: int,
    ) -> None: ...

    def release_lock(
        self,
        repository: str,
        environment: str,
        *,
        actor: str,
        reason: str | None,
        deployment_id: int | None = None,
        force: bool = False,
    ) -> EnvironmentLock | None: ...

    def get_lock(self, repository: str, environment: str) -> EnvironmentLock | None: ...

    def list_locks(self, repository: str) -> list[EnvironmentLock]: ...

    def record_deployment(
        self,
        *,
        repository: str,
        environment: str,
        release_id: str,
        commit_sha: str,
        kind: DeployKind,
        requested_by: str,
        reason: str | None,
        source: DeploySource,
        previous_release: str | None = None,
        manifest_hash: str | None = None,
        github_deployment_id: int | None = None,
        issue_number: int | None = None,
        reply_comment_id: int | None = None,
        status: DeployStatus = "queued",
        stage: DeployStage = "queued",
        logs_url: str | None = None,
        created_at: datetime | None = None,
    ) -> DeploymentRecord: ...

    def update_deployment(
        self,
        record_id: int,
        *,
        status: DeployStatus | Keep = KEEP,
        stage: DeployStage | Keep = KEEP,
        logs_url: str | Keep | None = KEEP,
        github_deployment_id: int | Keep | None = KEEP,
        reply_comment_id: int | Keep | None = KEEP,
        actor: str = SYSTEM_ACTOR,
    ) -> DeploymentRecord: ...

    def upsert_github_deployment(
        self,
        *,
        repository: str,
        github_deployment_id: int,
        environment: str,
        release_id: str,
        commit_sha: str,
        kind: DeployKind,
        requested_by: str,
        reason: str | None,
        status: DeployStatus,
        created_at: datetime,
        stage: DeployStage | None = None,
        previous_release: str | None = None,
        manifest_hash: str | None = None,
        logs_url: str | None = None,
        finished_at: datetime | None = None,
        actor: str = "github",
    ) -> DeploymentRecord: ...

    def get_deployment(self, record_id: int) -> DeploymentRecord | None: ...

    def deployment_by_github_id(
        self, repository: str, github_deployment_id: int
    ) -> DeploymentRecord | None: ...

    def deployments(
        self,
        repository: str,
        *,
        environment: str | None = None,
        limit: int = 50,
        cursor: int | None = None,
    ) -> list[DeploymentRecord]: ...

    def current_deployment(self, repository: str, environment: str) -> DeploymentRecord | None: ...

    def successful_releases(self, repository: str, environment: str) -> list[str]: ...

    def environments(self, repository: str) -> list[EnvironmentState]: ...


class ReleaseCache(Protocol):
    """A copy of the ``release/*`` tags' records (the tags stay the system of record)."""

    def upsert_release(self, info: ReleaseInfo) -> None: ...

    def get_release(self, repository: str, release_id: str) -> ReleaseInfo | None: ...

    def releases(
        self, repository: str, *, limit: int = 100, before: str | None = None
    ) -> list[ReleaseInfo]: ...

    def releases_at_commit(self, repository: str, commit_sha: str) -> list[ReleaseInfo]: ...


class BuildStore(Protocol):
    """Builds requested through the admin API, from the PR to the release."""

    def create_build(
        self,
        *,
        repository: str,
        requested_by: str,
        reason: str | None,
        manifest_ref: str | None,
        manifest_hash: str | None,
        modules_delta: Mapping[str, Any],
        pr_number: int | None,
        reuse_unfinished: bool = False,
    ) -> BuildRecord: ...

    def get_build(self, build_id: str) -> BuildRecord | None: ...

    def update_build(
        self,
        build_id: str,
        *,
        status: BuildStatus | Keep = KEEP,
        stage: BuildStage | Keep = KEEP,
        progress: int | Keep = KEEP,
        release_id: str | Keep | None = KEEP,
        merge_sha: str | Keep | None = KEEP,
        run_id: int | Keep | None = KEEP,
        logs_url: str | Keep | None = KEEP,
        detail: str | Keep | None = KEEP,
        pr_number: int | Keep | None = KEEP,
        manifest_hash: str | Keep | None = KEEP,
        modules_delta: Mapping[str, Any] | Keep = KEEP,
        actor: str = SYSTEM_ACTOR,
    ) -> BuildRecord: ...

    def builds_for_pr(self, repository: str, pr_number: int) -> list[BuildRecord]: ...

    def builds_for_merge_sha(self, repository: str, merge_sha: str) -> list[BuildRecord]: ...

    def builds(
        self,
        repository: str | None = None,
        *,
        limit: int = 50,
        statuses: Collection[str] | None = None,
        before: str | None = None,
    ) -> list[BuildRecord]: ...


class ConsoleUsers(Protocol):
    """The console's local accounts (single-host mode): a login, a password hash, a role."""

    def add_user(self, login: str, password: str, role: str, *, actor: str) -> ConsoleUser: ...

    def list_users(self) -> list[ConsoleUser]: ...

    def get_user(self, login: str) -> ConsoleUser | None: ...

    def role_of(self, login: str) -> AccountRole | None: ...

    def remove_user(self, login: str, *, actor: str) -> None: ...

    def set_password(self, login: str, password: str, *, actor: str) -> None: ...

    def set_role(self, login: str, role: str, *, actor: str) -> ConsoleUser: ...

    def verify_password(self, login: str, password: str) -> ConsoleUser | None: ...


class Installations(Protocol):
    """Which GitHub App installation serves a repository (as its deliveries said)."""

    def installation_of(self, repository: str) -> int | None: ...


class WholeStore(
    StoreClock,
    DeliveryQueue,
    PrStateStore,
    AdminTokenStore,
    AuditLog,
    DeploymentStore,
    ReleaseCache,
    BuildStore,
    ConsoleUsers,
    Installations,
    Protocol,
):
    """Every aggregate at once: for a component that still takes the whole store (it should name the
    aggregates it uses instead)."""


STORE_PORTS: tuple[type[Any], ...] = (
    StoreClock,
    DeliveryQueue,
    PrStateStore,
    AdminTokenStore,
    AuditLog,
    DeploymentStore,
    ReleaseCache,
    BuildStore,
    ConsoleUsers,
    Installations,
)
"""The protocols, one per aggregate (and the clock)."""
