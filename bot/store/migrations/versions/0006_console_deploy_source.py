"""A deployment started from the web console is recorded with ``source = 'console'``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

NAME = "ck_deployments_source"
WITH_CONSOLE = "source IN ('comment', 'api', 'cli', 'console', 'github')"
WITHOUT_CONSOLE = "source IN ('comment', 'api', 'cli', 'github')"


def upgrade() -> None:
    _replace(WITH_CONSOLE)


def downgrade() -> None:
    # a console deployment becomes an API one: the nearest source that existed (nothing is deleted)
    op.execute("UPDATE deployments SET source = 'api' WHERE source = 'console'")
    _replace(WITHOUT_CONSOLE)


def _replace(condition: str) -> None:
    # SQLite cannot alter a constraint: batch mode recreates the table (rows kept); PostgreSQL alters it
    with op.batch_alter_table("deployments") as batch:
        batch.drop_constraint(NAME, type_="check")
        batch.create_check_constraint(NAME, condition)
