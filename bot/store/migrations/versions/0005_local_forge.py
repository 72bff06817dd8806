"""The local forge's records: change requests, reviews, comments, reactions, check runs, commit
statuses, deployments and their statuses, the local runner's runs, and the commits modbot made
(bot/store/local_forge_tables.py). New tables only: nothing existing changes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lf_change_requests",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("head_ref", sa.String(255), nullable=False),
        sa.Column("head_repository", sa.String(200), nullable=True),
        sa.Column("base_ref", sa.String(255), nullable=False),
        sa.Column("head_sha", sa.String(64), nullable=False),
        sa.Column("base_sha", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("merged", sa.Boolean(), nullable=False),
        sa.Column("draft", sa.Boolean(), nullable=False),
        sa.Column("merge_commit_sha", sa.String(64), nullable=True),
        sa.Column("merged_by", sa.String(100), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("closed_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint("state IN ('open', 'closed')", name="ck_lf_change_requests_state"),
        sa.CheckConstraint("number > 0", name="ck_lf_change_requests_number"),
        sa.PrimaryKeyConstraint("id", name="pk_lf_change_requests"),
        sa.UniqueConstraint("repository", "number", name="uq_lf_change_requests_repository_number"),
    )
    op.create_index(
        "ix_lf_change_requests_repository_head_ref_state",
        "lf_change_requests",
        ["repository", "head_ref", "state"],
    )

    op.create_table(
        "lf_reviews",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("commit_sha", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("submitted_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "state IN ('APPROVED', 'CHANGES_REQUESTED', 'COMMENTED', 'DISMISSED')", name="ck_lf_reviews_state"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_lf_reviews"),
    )
    op.create_index("ix_lf_reviews_repository_number_id", "lf_reviews", ["repository", "number", "id"])

    op.create_table(
        "lf_comments",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("author_type", sa.String(16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lf_comments"),
    )
    op.create_index("ix_lf_comments_repository_number_id", "lf_comments", ["repository", "number", "id"])

    op.create_table(
        "lf_reactions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("comment_id", sa.BigInteger(), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("content", sa.String(16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lf_reactions"),
        sa.UniqueConstraint(
            "comment_id", "author", "content", name="uq_lf_reactions_comment_id_author_content"
        ),
    )

    op.create_table(
        "lf_checks",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("head_sha", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("conclusion", sa.String(20), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("annotations", JSON, nullable=False),
        sa.Column("details_url", sa.String(2000), nullable=True),
        sa.Column("external_id", sa.String(255), nullable=True),
        sa.Column("creator", sa.String(100), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lf_checks"),
    )
    op.create_index("ix_lf_checks_repository_head_sha_name", "lf_checks", ["repository", "head_sha", "name"])

    op.create_table(
        "lf_statuses",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("sha", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("context", sa.String(255), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("target_url", sa.String(2000), nullable=True),
        sa.Column("creator", sa.String(100), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lf_statuses"),
    )
    op.create_index(
        "ix_lf_statuses_repository_sha_context_id", "lf_statuses", ["repository", "sha", "context", "id"]
    )

    op.create_table(
        "lf_deployments",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("sha", sa.String(64), nullable=False),
        sa.Column("ref", sa.String(255), nullable=False),
        sa.Column("environment", sa.String(255), nullable=False),
        sa.Column("task", sa.String(100), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("creator", sa.String(100), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lf_deployments"),
    )
    op.create_index(
        "ix_lf_deployments_repository_environment_id", "lf_deployments", ["repository", "environment", "id"]
    )

    op.create_table(
        "lf_deployment_statuses",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("deployment_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("log_url", sa.String(2000), nullable=True),
        sa.Column("environment_url", sa.String(2000), nullable=True),
        sa.Column("creator", sa.String(100), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lf_deployment_statuses"),
    )
    op.create_index(
        "ix_lf_deployment_statuses_deployment_id_id", "lf_deployment_statuses", ["deployment_id", "id"]
    )

    op.create_table(
        "lf_runs",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("head_sha", sa.String(64), nullable=False),
        sa.Column("head_branch", sa.String(255), nullable=True),
        sa.Column("event", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("conclusion", sa.String(20), nullable=True),
        sa.Column("run_attempt", sa.Integer(), nullable=False),
        sa.Column("logs_url", sa.String(2000), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("status IN ('queued', 'in_progress', 'completed')", name="ck_lf_runs_status"),
        sa.PrimaryKeyConstraint("id", name="pk_lf_runs"),
    )
    op.create_index("ix_lf_runs_repository_id", "lf_runs", ["repository", "id"])

    op.create_table(
        "lf_bot_commits",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("sha", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lf_bot_commits"),
        sa.UniqueConstraint("repository", "sha", name="uq_lf_bot_commits_repository_sha"),
    )


def downgrade() -> None:
    op.drop_table("lf_bot_commits")
    op.drop_table("lf_runs")
    op.drop_table("lf_deployment_statuses")
    op.drop_table("lf_deployments")
    op.drop_table("lf_statuses")
    op.drop_table("lf_checks")
    op.drop_table("lf_reactions")
    op.drop_table("lf_comments")
    op.drop_table("lf_reviews")
    op.drop_table("lf_change_requests")
