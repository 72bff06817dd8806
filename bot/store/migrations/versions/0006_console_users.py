"""Local accounts of the web console (single-host mode): ``console_users``; and ``console`` as a source
of deployments (a deploy or rollback pressed in the console).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("login", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("password_changed_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("role IN ('read', 'write', 'maintain', 'admin')", name="ck_console_users_role"),
        sa.PrimaryKeyConstraint("id", name="pk_console_users"),
        sa.UniqueConstraint("login", name="uq_console_users_login"),
    )

    _sources("'comment', 'api', 'cli', 'github', 'console'")


def downgrade() -> None:
    # a deployment pressed in the console has no older source to become: the check refuses to drop it
    _sources("'comment', 'api', 'cli', 'github'")
    op.drop_table("console_users")


def _sources(values: str) -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_constraint("ck_deployments_source", type_="check")
        batch.create_check_constraint("ck_deployments_source", f"source IN ({values})")
