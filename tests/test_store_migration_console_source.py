"""Migration 0006: a deployment started from the web console is stored with source 'console'; the
database itself refuses it before 0006 and turns it into 'api' when downgraded (nothing is lost)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from bot.store import Store
from bot.store.migrate import downgrade_to, upgrade_to
from bot.store.testing import FakeClock
from tests.test_store_migrations import engine, url  # noqa: F401 - the fixtures, on SQLite and PostgreSQL

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ROW = {
    "repository": "acme/site",
    "environment": "staging",
    "release_id": "rel_2026_12_07_001",
    "commit_sha": "a" * 40,
    "kind": "deploy",
    "status": "queued",
    "stage": "queued",
    "requested_by": "alice",
    "created_at": NOW,
    "updated_at": NOW,
}
INSERT = text(
    "INSERT INTO deployments (repository, environment, release_id, commit_sha, kind, status, stage, "
    "requested_by, source, created_at, updated_at) VALUES (:repository, :environment, :release_id, "
    ":commit_sha, :kind, :status, :stage, :requested_by, :source, :created_at, :updated_at)"
)


def test_console_is_a_deployment_source_from_0006_on(engine: Engine) -> None:  # noqa: F811
    upgrade_to(engine, "0005")
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(INSERT, {**ROW, "source": "console"})
    with engine.begin() as conn:
        conn.execute(INSERT, {**ROW, "source": "comment"})

    upgrade_to(engine, "0006")
    store = Store(engine, clock=FakeClock(NOW))
    record = store.record_deployment(
        repository="acme/site",
        environment="production",
        release_id="rel_2026_12_07_001",
        commit_sha="b" * 40,
        kind="deploy",
        requested_by="alice",
        reason="from the console",
        source="console",
    )
    assert record.source == "console"
    assert [d.source for d in store.deployments("acme/site")] == ["console", "comment"]

    downgrade_to(engine, "0005")
    with engine.connect() as conn:
        sources = conn.execute(text("SELECT source FROM deployments ORDER BY id")).scalars().all()
    assert sources == ["comment", "api"]  # kept, as the nearest source 0005 knows
