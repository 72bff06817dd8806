"""The schema: eight tables, typed with SQLAlchemy 2 ``Mapped[...]``.

These classes are the source of truth for queries and for ``alembic`` autogenerate; the
migrations in ``bot/store/migrations/versions`` are hand-checked copies of them, and a test asserts
that a database migrated to head has exactly this schema (docs/store.md).

Every timestamp is a timezone-aware UTC ``datetime`` in Python. SQLite has no time zone type, so
the value is stored as UTC text (fixed-width ISO format, which sorts correctly) and given back its
UTC zone on the way out; PostgreSQL stores ``timestamptz``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from bot.domain.records.queue import FINISHED_STATUSES, DeliveryStatus
from bot.store.payload import pack_payload, unpack_payload

__all__ = [
    "ADMIN_TOKENS",
    "AUDIT_LOG",
    "BUILDS",
    "CONSOLE_USERS",
    "DELIVERIES",
    "DEPLOYMENTS",
    "ENVIRONMENT_LOCKS",
    "FINISHED_STATUSES",
    "PR_STATE",
    "RELEASES",
    "AdminTokenRow",
    "AuditLogRow",
    "Base",
    "BuildRow",
    "CompressedJson",
    "ConsoleUserRow",
    "DeliveryRow",
    "DeliveryStatus",
    "DeploymentRow",
    "EnvironmentLockRow",
    "PrStateRow",
    "ReleaseRow",
    "UTCDateTime",
    "metadata",
]

# Constraint names are part of the schema that migrations must reproduce: name them all.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend; naive datetimes are refused (fail closed)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class CompressedJson(TypeDecorator[Any]):
    """A JSON value stored compressed (bot/store/payload.py), the same on every backend. Bind a
    `jsoncodec.RawJson` to store text exactly as it is."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        return None if value is None else pack_payload(value)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> Any:
        return None if value is None else unpack_payload(value)


# BIGINT ids on PostgreSQL; on SQLite only "INTEGER PRIMARY KEY" is the auto-incrementing rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# JSONB on PostgreSQL (binary, indexable, queryable with ->> and @>); JSON text on SQLite.
Json = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = metadata


class DeliveryRow(Base):
    """One webhook delivery and its job. ``delivery_id`` is GitHub's X-GitHub-Delivery."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(100), unique=True)
    event: Mapped[str] = mapped_column(String(100))
    action: Mapped[str | None] = mapped_column(String(100))
    repository: Mapped[str | None] = mapped_column(String(200))
    installation_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(CompressedJson)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed', 'ignored')",
            name="status",
        ),
        CheckConstraint("attempts >= 0", name="attempts"),
        # claim_next: the oldest due pending job; crash recovery: running jobs by lease expiry
        Index(None, "status", "next_attempt_at"),
        Index(None, "status", "lease_until"),
        # purge_finished and "recent deliveries" views
        Index(None, "received_at"),
    )


class PrStateRow(Base):
    """What the bot last wrote on a pull request (a cache: GitHub stays the system of record)."""

    __tablename__ = "pr_state"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    repository: Mapped[str] = mapped_column(String(200))  # owner/name, lower-cased
    number: Mapped[int] = mapped_column(Integer)
    comment_id: Mapped[int | None] = mapped_column(BigInteger)
    check_run_id: Mapped[int | None] = mapped_column(BigInteger)
    head_sha: Mapped[str | None] = mapped_column(String(64))
    manifest_hash: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("repository", "number"),)


class AdminTokenRow(Base):
    """An admin API bearer token. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "admin_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditLogRow(Base):
    """Append-only record of who did what. There is no update or delete API; on PostgreSQL and
    SQLite a trigger rejects UPDATE and DELETE (and TRUNCATE on PostgreSQL)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str | None] = mapped_column(String(300))
    details: Mapped[dict[str, Any] | None] = mapped_column(Json)
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(None, "at"),
        Index(None, "actor", "id"),
        Index(None, "action", "id"),
    )


class EnvironmentLockRow(Base):
    """Who holds an environment (one deploy or rollback at a time). The row exists while the lock
    is held; releasing deletes it, and an expired row is replaced by the next acquirer."""

    __tablename__ = "environment_locks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    repository: Mapped[str] = mapped_column(String(200))  # owner/name, lower-cased
    environment: Mapped[str] = mapped_column(String(50))
    holder: Mapped[str] = mapped_column(String(200))  # GitHub login or "api:<token name>"
    purpose: Mapped[str] = mapped_column(String(16))
    release_id: Mapped[str | None] = mapped_column(String(40))
    deployment_id: Mapped[int | None] = mapped_column(BigInteger)  # the GitHub Deployment
    reason: Mapped[str | None] = mapped_column(Text)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("repository", "environment"),
        CheckConstraint("purpose IN ('deploy', 'rollback')", name="purpose"),
        CheckConstraint("expires_at > acquired_at", name="expiry"),
    )


class DeploymentRow(Base):
    """One deploy or rollback of a release to an environment: started by the bot, or seen on
    GitHub (``source = 'github'``). GitHub's Deployments stay the system of record."""

    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    repository: Mapped[str] = mapped_column(String(200))  # owner/name, lower-cased
    environment: Mapped[str] = mapped_column(String(50))
    release_id: Mapped[str] = mapped_column(String(40))
    commit_sha: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    # NULLs are distinct in a unique constraint (both databases): only rows that have a GitHub
    # Deployment are constrained, one row per GitHub Deployment.
    github_deployment_id: Mapped[int | None] = mapped_column(BigInteger)
    previous_release: Mapped[str | None] = mapped_column(String(40))
    manifest_hash: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(16))
    issue_number: Mapped[int | None] = mapped_column(Integer)
    reply_comment_id: Mapped[int | None] = mapped_column(BigInteger)
    logs_url: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("repository", "github_deployment_id"),
        CheckConstraint("kind IN ('deploy', 'rollback', 'auto_rollback')", name="kind"),
        CheckConstraint(
            "status IN ('queued', 'in_progress', 'success', 'failure', 'error', 'inactive')", name="status"
        ),
        CheckConstraint("stage IN ('queued', 'deploy', 'smoke', 'done')", name="stage"),
        CheckConstraint("source IN ('comment', 'api', 'cli', 'github', 'console')", name="source"),
        # history of one environment, newest first; "current" = newest success
        Index(None, "repository", "environment", "created_at", "id"),
        Index(None, "repository", "created_at", "id"),
    )


class ReleaseRow(Base):
    """A local copy of a ``release/<id>`` tag's record (GitHub stays the system of record)."""

    __tablename__ = "releases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    repository: Mapped[str] = mapped_column(String(200))  # owner/name, lower-cased
    release_id: Mapped[str] = mapped_column(String(40))  # rel_YYYY_MM_DD_NNN: sorts as text in time order
    commit_sha: Mapped[str] = mapped_column(String(64))
    manifest_hash: Mapped[str] = mapped_column(String(100))
    modules: Mapped[list[str]] = mapped_column(Json)
    image: Mapped[str] = mapped_column(String(500))
    build_key: Mapped[str] = mapped_column(String(100))
    build_id: Mapped[str | None] = mapped_column(String(128))
    previous_release: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("repository", "release_id"),
        Index(None, "repository", "commit_sha"),
    )


class BuildRow(Base):
    """A build requested through the admin API (``POST /admin/builds``): PR → build → release."""

    __tablename__ = "builds"

    build_id: Mapped[str] = mapped_column(String(30), primary_key=True)  # bld_ + ULID
    repository: Mapped[str] = mapped_column(String(200))  # owner/name, lower-cased
    release_id: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16))
    progress: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    manifest_hash: Mapped[str | None] = mapped_column(String(100))
    modules_delta: Mapped[dict[str, Any]] = mapped_column(Json)
    requested_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    manifest_ref: Mapped[str | None] = mapped_column(String(300))
    pr_number: Mapped[int | None] = mapped_column(Integer)
    merge_sha: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[int | None] = mapped_column(BigInteger)
    logs_url: Mapped[str | None] = mapped_column(String(2000))
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')", name="status"),
        CheckConstraint("stage IN ('pr', 'build', 'release', 'done')", name="stage"),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress"),
        Index(None, "repository", "pr_number"),
        Index(None, "repository", "merge_sha"),
        Index(None, "repository", "started_at"),
        Index(None, "started_at"),
    )


class ConsoleUserRow(Base):
    """A local account of the web console (single-host mode): login, scrypt hash, role
    (bot/store/users.py)."""

    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    login: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("role IN ('read', 'write', 'maintain', 'admin')", name="role"),)


def _table(row: type[Base]) -> Table:
    table = row.__table__
    assert isinstance(table, Table)
    return table


DELIVERIES = _table(DeliveryRow)
PR_STATE = _table(PrStateRow)
ADMIN_TOKENS = _table(AdminTokenRow)
AUDIT_LOG = _table(AuditLogRow)
ENVIRONMENT_LOCKS = _table(EnvironmentLockRow)
DEPLOYMENTS = _table(DeploymentRow)
RELEASES = _table(ReleaseRow)
BUILDS = _table(BuildRow)
CONSOLE_USERS = _table(ConsoleUserRow)
