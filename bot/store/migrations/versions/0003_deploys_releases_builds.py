"""Environment locks, deployment history, the releases cache and admin builds.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "environment_locks",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("environment", sa.String(50), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("release_id", sa.String(40), nullable=True),
        sa.Column("deployment_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("acquired_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("purpose IN ('deploy', 'rollback')", name="ck_environment_locks_purpose"),
        sa.CheckConstraint("expires_at > acquired_at", name="ck_environment_locks_expiry"),
        sa.PrimaryKeyConstraint("id", name="pk_environment_locks"),
        sa.UniqueConstraint("repository", "environment", name="uq_environment_locks_repository_environment"),
    )

    op.create_table(
        "deployments",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("environment", sa.String(50), nullable=False),
        sa.Column("release_id", sa.String(40), nullable=False),
        sa.Column("commit_sha", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("github_deployment_id", sa.BigInteger(), nullable=True),
        sa.Column("previous_release", sa.String(40), nullable=True),
        sa.Column("manifest_hash", sa.String(100), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("issue_number", sa.Integer(), nullable=True),
        sa.Column("reply_comment_id", sa.BigInteger(), nullable=True),
        sa.Column("logs_url", sa.String(2000), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint("kind IN ('deploy', 'rollback', 'auto_rollback')", name="ck_deployments_kind"),
        sa.CheckConstraint(
            "status IN ('queued', 'in_progress', 'success', 'failure', 'error', 'inactive')",
            name="ck_deployments_status",
        ),
        sa.CheckConstraint("stage IN ('queued', 'deploy', 'smoke', 'done')", name="ck_deployments_stage"),
        sa.CheckConstraint("source IN ('comment', 'api', 'cli', 'github')", name="ck_deployments_source"),
        sa.PrimaryKeyConstraint("id", name="pk_deployments"),
        sa.UniqueConstraint(
            "repository", "github_deployment_id", name="uq_deployments_repository_github_deployment_id"
        ),
    )
    op.create_index(
        "ix_deployments_repository_environment_created_at_id",
        "deployments",
        ["repository", "environment", "created_at", "id"],
    )
    op.create_index(
        "ix_deployments_repository_created_at_id", "deployments", ["repository", "created_at", "id"]
    )

    op.create_table(
        "releases",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("release_id", sa.String(40), nullable=False),
        sa.Column("commit_sha", sa.String(64), nullable=False),
        sa.Column("manifest_hash", sa.String(100), nullable=False),
        sa.Column("modules", JSON, nullable=False),
        sa.Column("image", sa.String(500), nullable=False),
        sa.Column("build_key", sa.String(100), nullable=False),
        sa.Column("build_id", sa.String(128), nullable=True),
        sa.Column("previous_release", sa.String(40), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_releases"),
        sa.UniqueConstraint("repository", "release_id", name="uq_releases_repository_release_id"),
    )
    op.create_index("ix_releases_repository_commit_sha", "releases", ["repository", "commit_sha"])

    op.create_table(
        "builds",
        sa.Column("build_id", sa.String(30), nullable=False),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("release_id", sa.String(40), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("manifest_hash", sa.String(100), nullable=True),
        sa.Column("modules_delta", JSON, nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("manifest_ref", sa.String(300), nullable=True),
        sa.Column("pr_number", sa.Integer(), nullable=True),
        sa.Column("merge_sha", sa.String(64), nullable=True),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("logs_url", sa.String(2000), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')", name="ck_builds_status"
        ),
        sa.CheckConstraint("stage IN ('pr', 'build', 'release', 'done')", name="ck_builds_stage"),
        sa.CheckConstraint("progress >= 0 AND progress <= 100", name="ck_builds_progress"),
        sa.PrimaryKeyConstraint("build_id", name="pk_builds"),
    )
    op.create_index("ix_builds_repository_pr_number", "builds", ["repository", "pr_number"])
    op.create_index("ix_builds_repository_merge_sha", "builds", ["repository", "merge_sha"])
    op.create_index("ix_builds_repository_started_at", "builds", ["repository", "started_at"])
    op.create_index("ix_builds_started_at", "builds", ["started_at"])


def downgrade() -> None:
    # Dropping a table drops its indexes.
    op.drop_table("builds")
    op.drop_table("releases")
    op.drop_table("deployments")
    op.drop_table("environment_locks")
