"""The local forge's tables: what a git repository on disk does not hold (change requests, reviews,
comments, reactions, checks, statuses, deployments, runs, and which commits modbot itself made).

On the store's one ``metadata`` (bot/store/models.py), so the schema test sees them; created by migration
0005. Every row names its repository (``owner/name`` lower-cased) the way the other aggregates do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base, BigId, Json, UTCDateTime

__all__ = [
    "LF_BOT_COMMITS",
    "LF_CHANGE_REQUESTS",
    "LF_CHECKS",
    "LF_COMMENTS",
    "LF_DEPLOYMENTS",
    "LF_DEPLOYMENT_STATUSES",
    "LF_REACTIONS",
    "LF_REVIEWS",
    "LF_RUNS",
    "LF_STATUSES",
]


class LocalChangeRequestRow(Base):
    __tablename__ = "lf_change_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    repository: Mapped[str] = mapped_column(String(200))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(100))
    head_ref: Mapped[str] = mapped_column(String(255))
    head_repository: Mapped[str | None] = mapped_column(String(200))
    base_ref: Mapped[str] = mapped_column(String(255))
    head_sha: Mapped[str] = mapped_column(String(64))
    base_sha: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    merged: Mapped[bool] = mapped_column(Boolean)
    draft: Mapped[bool] = mapped_column(Boolean)
    merge_commit_sha: Mapped[str | None] = mapped_column(String(64))
    merged_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("repository", "number"),
        CheckConstraint("state IN ('open', 'closed')", name="state"),
        CheckConstraint("number > 0", name="number"),
        Index(None, "repository", "head_ref", "state"),
    )


class LocalReviewRow(Base):
    __tablename__ = "lf_reviews"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    repository: Mapped[str] = mapped_column(String(200))
    number: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))
    commit_sha: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("state IN ('APPROVED', 'CHANGES_REQUESTED', 'COMMENTED', 'DISMISSED')", name="state"),
        Index(None, "repository", "number", "id"),
    )


class LocalCommentRow(Base):
    __tablename__ = "lf_comments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    repository: Mapped[str] = mapped_column(String(200))
    number: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(100))
    author_type: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index(None, "repository", "number", "id"),)


class LocalReactionRow(Base):
    __tablename__ = "lf_reactions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    comment_id: Mapped[int] = mapped_column(BigInteger)
    author: Mapped[str] = mapped_column(String(100))
    content: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("comment_id", "author", "content"),)


class LocalCheckRow(Base):
    __tablename__ = "lf_checks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    repository: Mapped[str] = mapped_column(String(200))
    head_sha: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    conclusion: Mapped[str | None] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    annotations: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    details_url: Mapped[str | None] = mapped_column(String(2000))
    external_id: Mapped[str | None] = mapped_column(String(255))
    creator: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index(None, "repository", "head_sha", "name"),)


class LocalStatusRow(Base):
    __tablename__ = "lf_statuses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    repository: Mapped[str] = mapped_column(String(200))
    sha: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    context: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(200))
    target_url: Mapped[str | None] = mapped_column(String(2000))
    creator: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index(None, "repository", "sha", "context", "id"),)


class LocalDeploymentRow(Base):
    __tablename__ = "lf_deployments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    repository: Mapped[str] = mapped_column(String(200))
    sha: Mapped[str] = mapped_column(String(64))
    ref: Mapped[str] = mapped_column(String(255))
    environment: Mapped[str] = mapped_column(String(255))
    task: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(Json)
    creator: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index(None, "repository", "environment", "id"),)


class LocalDeploymentStatusRow(Base):
    __tablename__ = "lf_deployment_statuses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    deployment_id: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(200))
    log_url: Mapped[str | None] = mapped_column(String(2000))
    environment_url: Mapped[str | None] = mapped_column(String(2000))
    creator: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index(None, "deployment_id", "id"),)


class LocalRunRow(Base):
    __tablename__ = "lf_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    repository: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(500))
    head_sha: Mapped[str] = mapped_column(String(64))
    head_branch: Mapped[str | None] = mapped_column(String(255))
    event: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    conclusion: Mapped[str | None] = mapped_column(String(20))
    run_attempt: Mapped[int] = mapped_column(Integer)
    logs_url: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("status IN ('queued', 'in_progress', 'completed')", name="status"),
        Index(None, "repository", "id"),
    )


class LocalBotCommitRow(Base):
    """A commit modbot made itself: the only commits whose author is modbot (git identities can be
    typed by anyone who pushes, so the name in a commit proves nothing)."""

    __tablename__ = "lf_bot_commits"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    repository: Mapped[str] = mapped_column(String(200))
    sha: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("repository", "sha"),)


def _table(row: type[Base]) -> Table:
    table = row.__table__
    assert isinstance(table, Table)
    return table


LF_CHANGE_REQUESTS = _table(LocalChangeRequestRow)
LF_REVIEWS = _table(LocalReviewRow)
LF_COMMENTS = _table(LocalCommentRow)
LF_REACTIONS = _table(LocalReactionRow)
LF_CHECKS = _table(LocalCheckRow)
LF_STATUSES = _table(LocalStatusRow)
LF_DEPLOYMENTS = _table(LocalDeploymentRow)
LF_DEPLOYMENT_STATUSES = _table(LocalDeploymentStatusRow)
LF_RUNS = _table(LocalRunRow)
LF_BOT_COMMITS = _table(LocalBotCommitRow)
