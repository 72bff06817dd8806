"""Delivery payloads stored as zstd-compressed JSON text (bot/store/payload.py) instead of JSON/JSONB.

Every stored payload is converted, in batches, in the same migration; a downgrade converts them back.
Offline (``alembic upgrade --sql``) there is no way to compress rows in SQL: the script then adds and
requires the new column, which fails on a table that still has rows rather than losing them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
import zstandard
from alembic import context, op
from sqlalchemy.dialects import postgresql

from bot.jsoncodec import RawJson
from bot.store.engine import postgres_json_dumps

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BATCH_ROWS = 500
ZSTD_LEVEL = 1  # as bot/store/payload.py; any level reads back the same


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("payload_zstd", sa.LargeBinary(), nullable=True))
    if not context.is_offline_mode():
        compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
        _convert(
            source=sa.cast(sa.column("payload"), sa.Text()),  # the JSON text as stored
            target="payload_zstd",
            transform=lambda text: compressor.compress(text.encode("utf-8")),
        )
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("payload")
        batch.alter_column(
            "payload_zstd", new_column_name="payload", existing_type=sa.LargeBinary(), nullable=False
        )


def downgrade() -> None:
    op.add_column("deliveries", sa.Column("payload_json", JSON, nullable=True))
    if not context.is_offline_mode():
        decompressor = zstandard.ZstdDecompressor()
        postgres = op.get_bind().dialect.name == "postgresql"

        def to_json(data: bytes) -> str:
            text = RawJson(decompressor.decompress(data).decode("utf-8"))
            # JSONB refuses NUL characters: replaced as the bot did before 0004
            return postgres_json_dumps(text) if postgres else text

        _convert(
            source=sa.column("payload"),
            target="payload_json",
            transform=to_json,
            cast=postgresql.JSONB() if postgres else None,
        )
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("payload")
        batch.alter_column("payload_json", new_column_name="payload", existing_type=JSON, nullable=False)


def _convert(
    *,
    source: sa.ColumnElement[object],
    target: str,
    transform: Callable[[Any], object],
    cast: sa.types.TypeEngine[object] | None = None,
) -> None:
    """Fill ``target`` from ``source`` for every row, BATCH_ROWS at a time, in id order."""
    bind = op.get_bind()
    deliveries = sa.table("deliveries", sa.column("id"), sa.column(target))
    value: sa.BindParameter[object] = sa.bindparam("value")
    update = (
        sa.update(deliveries)
        .where(deliveries.c.id == sa.bindparam("row_id"))
        .values({target: sa.cast(value, cast) if cast is not None else value})
    )
    last = None
    while True:
        query = sa.select(deliveries.c.id, source).select_from(deliveries).order_by(deliveries.c.id)
        if last is not None:
            query = query.where(deliveries.c.id > last)
        rows = bind.execute(query.limit(BATCH_ROWS)).all()
        if not rows:
            return
        bind.execute(update, [{"row_id": row[0], "value": transform(row[1])} for row in rows])
        last = rows[-1][0]
