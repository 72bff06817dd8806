"""Schema migrations (Alembic), run by the bot itself at start-up.

``upgrade_to_head(engine)`` brings any database to the schema this version of the bot expects:
a new database gets every table, an older one is migrated in place (data kept), a current one is
left alone. Several replicas may start at once: on PostgreSQL they serialize on an advisory lock
and the later ones find the schema already at head; on SQLite the whole upgrade runs in one
``BEGIN IMMEDIATE`` transaction, which serializes processes sharing the file. A database migrated
by a *newer* bot is refused (fail closed) rather than used with a schema this code does not know.

The revision history lives in ``bot/store/migrations/versions``; the alembic version table is
``modbot_schema_version`` so the store can share a PostgreSQL database with other applications.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, text

from bot.store.engine import describe_url

__all__ = [
    "MIGRATIONS_DIR",
    "VERSION_TABLE",
    "SchemaTooNewError",
    "alembic_config",
    "current_revision",
    "downgrade_to",
    "head_revision",
    "upgrade_to",
    "upgrade_to_head",
]

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "modbot_schema_version"
# pg_advisory_lock key: the bytes of "modbot:m" as a signed 64-bit integer
ADVISORY_LOCK_KEY = int.from_bytes(b"modbot:m", "big", signed=True)
_PROCESS_LOCK = threading.Lock()


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer modbot: this version must not touch it."""


def alembic_config(connection: Connection | None = None) -> Config:
    """An alembic Config for the packaged migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("the store has no migrations")
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision (None: an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def upgrade_to_head(engine: Engine) -> str:
    """Migrate the database to this bot's schema; idempotent and safe to run concurrently.
    Returns the head revision."""
    head = head_revision()
    upgrade_to(engine, head)
    return head


def upgrade_to(engine: Engine, revision: str) -> None:
    _run(engine, "upgrade", revision)


def downgrade_to(engine: Engine, revision: str) -> None:
    """Go back to an older schema. Downgrades drop what later revisions added: for tests and
    emergencies, after a backup."""
    _run(engine, "downgrade", revision)


def _run(engine: Engine, direction: str, revision: str) -> None:
    # Alembic keeps its running environment in module globals: one migration per process at a
    # time. Across processes (replicas), the database lock below does the serializing.
    with _PROCESS_LOCK:
        _run_locked(engine, direction, revision)


def _run_locked(engine: Engine, direction: str, revision: str) -> None:
    script = ScriptDirectory.from_config(alembic_config())
    is_postgresql = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        if is_postgresql:
            # Session-level lock: held across the migration's own transaction, released below or
            # by the server if this process dies.
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            conn.commit()
        try:
            current = MigrationContext.configure(
                conn, opts={"version_table": VERSION_TABLE}
            ).get_current_revision()
            conn.commit()
            if current is not None and not _known(script, current):
                raise SchemaTooNewError(
                    f"the database at {describe_url(engine.url)} has schema revision {current!r}, "
                    "which this version of modbot does not know (a newer modbot migrated it); "
                    "upgrade modbot instead of starting this version"
                )
            if direction == "upgrade" and current == revision:
                return
            log.info("store schema: %s %s → %s", direction, current or "empty", revision)
            config = alembic_config(conn)
            if direction == "upgrade":
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)
            conn.commit()
        finally:
            if is_postgresql:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
                conn.commit()


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False
