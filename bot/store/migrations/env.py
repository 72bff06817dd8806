"""Alembic environment for the store's migrations.

Normally run through ``bot.store.migrate.upgrade_to_head(engine)``, which passes an open connection
in ``config.attributes["connection"]`` (under a PostgreSQL advisory lock). Without one (the
``alembic`` command line, or offline SQL generation with ``--sql``) it uses
``-x url=...`` or ``MODBOT_DATABASE_URL`` (default: the SQLite file).
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from bot.store.engine import DEFAULT_DATABASE_URL, make_engine, normalize_url
from bot.store.migrate import VERSION_TABLE
from bot.store.models import metadata


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    context.configure(
        connection=connection,
        url=url,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        # One transaction for the whole upgrade on both databases (SQLite's DDL is transactional
        # too): an interrupted upgrade leaves the previous schema, never half of the next one.
        transactional_ddl=True,
        transaction_per_migration=False,
        # SQLite cannot ALTER most things in place; batch mode recreates the table instead.
        render_as_batch=(connection is not None and connection.dialect.name == "sqlite"),
        compare_type=True,
        literal_binds=connection is None,
    )


def _url() -> str:
    return str(
        context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("MODBOT_DATABASE_URL")
        or DEFAULT_DATABASE_URL
    )


def run() -> None:
    connection: Connection | None = context.config.attributes.get("connection")
    if context.is_offline_mode():
        _configure(url=normalize_url(_url()).render_as_string(hide_password=False))
        with context.begin_transaction():
            context.run_migrations()
        return
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as own:
            _configure(own)
            with context.begin_transaction():
                context.run_migrations()
            own.commit()
    finally:
        engine.dispose()


run()
