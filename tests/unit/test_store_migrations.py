"""Schema migrations: the migrated schema is the models' schema, upgrades keep data, start-up is
idempotent and safe when replicas start together, a newer schema is refused."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import zstandard
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, Table, inspect, select, text
from sqlalchemy.engine import URL

from bot.store import (
    DeliveryStatus,
    RecordOutcome,
    SchemaTooNewError,
    Store,
    current_revision,
    head_revision,
    make_engine,
    open_store,
    upgrade_to_head,
)
from bot.store.migrate import (
    ADVISORY_LOCK_KEY,
    VERSION_TABLE,
    alembic_config,
    downgrade_to,
    upgrade_to,
)
from bot.store.models import metadata
from bot.store.payload import unpack_payload
from tests.github_conformance import webhook_example
from tests.store_helpers import FakeClock, postgres_schema

LOCAL_FORGE_TABLES = {  # added by 0005
    "lf_change_requests",
    "lf_reviews",
    "lf_comments",
    "lf_reactions",
    "lf_checks",
    "lf_statuses",
    "lf_deployments",
    "lf_deployment_statuses",
    "lf_runs",
    "lf_bot_commits",
}
TABLES = {
    "deliveries",
    "pr_state",
    "admin_tokens",
    "audit_log",
    "environment_locks",
    "deployments",
    "releases",
    "builds",
    *LOCAL_FORGE_TABLES,
    "console_users",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[URL]:
    """An empty database (a new SQLite file, or a new PostgreSQL schema)."""
    if request.param == "sqlite":
        yield make_engine(f"sqlite:///{tmp_path / 'modbot.sqlite3'}").url
        return
    with postgres_schema() as schema_url:
        yield schema_url


@pytest.fixture
def engine(url: URL) -> Iterator[Engine]:
    engine = make_engine(url)
    yield engine
    engine.dispose()


def schema_diff(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"version_table": VERSION_TABLE, "compare_type": True, "compare_server_default": True},
        )
        return list(compare_metadata(context, metadata))


def user_tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {VERSION_TABLE}


def snapshot(conn: Connection, tables: set[str]) -> dict[str, list[dict[str, Any]]]:
    reflected = MetaData()
    result = {}
    for name in sorted(tables):
        table = Table(name, reflected, autoload_with=conn)
        rows = conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()
        result[name] = [{key: readable(key, value) for key, value in row.items()} for row in rows]
    return result


def readable(column: str, value: Any) -> Any:
    """A payload as its JSON value, whether stored as JSON (before 0004) or compressed (since)."""
    if column == "payload" and isinstance(value, bytes | memoryview):
        return unpack_payload(bytes(value))
    return value


def only_local_forge_tables_missing(diff: list[Any]) -> bool:
    """The schema at 0004 differs from the models by the tables 0005 and 0006 add, and by nothing else."""
    added = {d[1].name for d in diff if d[0] == "add_table"}
    indexed = {d[1].table.name for d in diff if d[0] == "add_index"}
    kinds = {d[0] for d in diff}
    return (
        kinds <= {"add_table", "add_index"}
        and added == LOCAL_FORGE_TABLES | {"console_users"}
        and indexed <= added
    )


def test_the_revision_history_is_one_line() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == [head_revision()]
    revisions = [r.revision for r in script.walk_revisions("base", "heads")]
    assert revisions[-1] == "0001"
    assert len(revisions) >= 2


def test_migrated_schema_equals_the_models(engine: Engine) -> None:
    assert current_revision(engine) is None
    assert upgrade_to_head(engine) == head_revision()
    assert user_tables(engine) == TABLES
    assert schema_diff(engine) == []
    assert current_revision(engine) == head_revision()


def test_upgrade_at_start_up_is_idempotent(url: URL) -> None:
    first = open_store(url)
    first.record_delivery("d-1", "push", None, "acme/site", 1, {"ref": "refs/heads/main"})
    first.dispose()
    second = open_store(url)  # a restart: nothing to migrate, nothing lost
    assert second.queue_depth() == 1
    assert current_revision(second.engine) == head_revision()
    second.dispose()


def test_a_database_at_the_first_revision_upgrades_without_loss(engine: Engine) -> None:
    upgrade_to(engine, "0001")
    assert user_tables(engine) == {"deliveries", "pr_state"}
    now = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
    with engine.begin() as conn:
        reflected = MetaData()
        deliveries = Table("deliveries", reflected, autoload_with=conn)
        pr_state = Table("pr_state", reflected, autoload_with=conn)
        base = {
            "event": "pull_request",
            "action": "opened",
            "repository": "Acme/Site",
            "installation_id": 2**40,
            "received_at": now,
            "next_attempt_at": now,
            "attempts": 0,
        }
        for row in (  # one by one: an executemany takes its columns from the first row only
            {**base, "delivery_id": "pending-1", "status": "pending", "payload": {"n": 1, "t": "é ✓"}},
            {
                **base,
                "delivery_id": "done-1",
                "status": "done",
                "attempts": 1,
                "payload": {"n": 2},
                "finished_at": now + timedelta(seconds=3),
            },
            {
                **base,
                "delivery_id": "running-1",
                "status": "running",
                "attempts": 1,
                "payload": {"n": 3, "nested": {"list": [1, None, True]}},
                "lease_owner": "host:1:main",
                "lease_until": now + timedelta(seconds=60),
                "started_at": now,
                "last_error": "GitHub 502",
            },
        ):
            conn.execute(deliveries.insert().values(**row))
        conn.execute(
            pr_state.insert(),
            [
                {
                    "repository": "acme/site",
                    "number": 7,
                    "comment_id": 2**35,
                    "check_run_id": 99,
                    "head_sha": "a" * 40,
                    "manifest_hash": "sha256:abc",
                    "updated_at": now,
                }
            ],
        )
    with engine.connect() as conn:
        before = snapshot(conn, {"deliveries", "pr_state"})

    upgrade_to_head(engine)

    with engine.connect() as conn:
        after = snapshot(conn, {"deliveries", "pr_state"})
    assert after == before
    assert schema_diff(engine) == []
    # and the bot carries on with the old data
    store = Store(engine, clock=FakeClock(now + timedelta(seconds=1)))  # running-1's lease is live
    assert store.record_delivery("done-1", "pull_request", "opened", "Acme/Site", 1, {}) is (
        RecordOutcome.DUPLICATE_DONE
    )
    job = store.claim_next("w1", 30)
    assert job is not None and job.delivery_id == "pending-1" and job.payload == {"n": 1, "t": "é ✓"}
    store.complete(job)
    running = store.get_delivery("running-1")
    assert running is not None and running.status is DeliveryStatus.RUNNING
    assert running.lease_until == now + timedelta(seconds=60)
    state = store.get_pr_state("acme/site", 7)
    assert state is not None and state.comment_id == 2**35 and state.updated_at == now
    assert store.save_pr_state("acme/site", 7, head_sha="b" * 40, expected_head_sha="a" * 40)
    _, token = store.create_admin_token("ci", actor="test")
    assert store.verify_admin_token(token) is not None


OLD_TABLES = {"deliveries", "pr_state", "admin_tokens", "audit_log"}  # revision 0002
DEPLOY_TABLES = {"environment_locks", "deployments", "releases", "builds"}  # added by 0003


def fill_revision_0002(engine: Engine, now: datetime) -> None:
    """One row in each table of revision 0002 (the audit log through its append-only triggers)."""
    with engine.begin() as conn:
        reflected = MetaData()
        tables = {name: Table(name, reflected, autoload_with=conn) for name in OLD_TABLES}
        conn.execute(
            tables["deliveries"]
            .insert()
            .values(
                delivery_id="pending-1",
                event="pull_request",
                action="opened",
                repository="acme/site",
                installation_id=2**40,
                payload={"n": 1, "t": "é ✓"},
                received_at=now,
                status="pending",
                attempts=0,
                next_attempt_at=now,
            )
        )
        conn.execute(
            tables["pr_state"]
            .insert()
            .values(repository="acme/site", number=7, comment_id=11, head_sha="a" * 40, updated_at=now)
        )
        conn.execute(tables["admin_tokens"].insert().values(name="ci", token_sha256="0" * 64, created_at=now))
        conn.execute(
            tables["audit_log"]
            .insert()
            .values(
                at=now,
                actor="api:ci",
                action="module.install",
                target="acme/site#7",
                details={"slug": "blog"},
            )
        )


def test_a_database_at_0002_upgrades_to_deploys_without_loss_and_back(engine: Engine) -> None:
    upgrade_to(engine, "0002")
    assert user_tables(engine) == OLD_TABLES
    now = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
    fill_revision_0002(engine, now)
    with engine.connect() as conn:
        before = snapshot(conn, OLD_TABLES)

    upgrade_to(engine, "0003")

    assert user_tables(engine) == OLD_TABLES | DEPLOY_TABLES
    with engine.connect() as conn:
        assert snapshot(conn, OLD_TABLES) == before
        assert snapshot(conn, DEPLOY_TABLES) == {name: [] for name in sorted(DEPLOY_TABLES)}
    upgrade_to_head(engine)
    assert schema_diff(engine) == []
    # the new tables work next to the old rows, and their changes are audited after the old entry
    store = Store(engine, clock=FakeClock(now + timedelta(seconds=1)))
    store.acquire_lock("acme/site", "prod", holder="alice", purpose="deploy", ttl=timedelta(minutes=5))
    build = store.create_build(
        repository="acme/site",
        requested_by="seed",
        reason=None,
        manifest_ref="main",
        manifest_hash=None,
        modules_delta={},
        pr_number=7,
    )
    actions = [entry.action for entry in store.query_audit().entries]
    assert actions == ["build.create", "lock.acquire", "module.install"]
    assert store.get_pr_state("acme/site", 7) is not None

    downgrade_to(engine, "0002")  # drops what 0003 added, keeps the rest
    assert current_revision(engine) == "0002"
    assert user_tables(engine) == OLD_TABLES
    with engine.connect() as conn:
        after_downgrade = snapshot(conn, OLD_TABLES)
    assert after_downgrade["deliveries"] == before["deliveries"]
    assert after_downgrade["pr_state"] == before["pr_state"]
    assert len(after_downgrade["audit_log"]) == 3  # the log keeps what happened
    upgrade_to_head(engine)
    assert schema_diff(engine) == []
    assert store.get_lock("acme/site", "prod") is None and store.get_build(build.build_id) is None


def test_0004_compresses_every_stored_payload_and_back(engine: Engine) -> None:
    """More rows than one conversion batch; payloads as GitHub sends them, with the corners JSON allows."""
    upgrade_to(engine, "0003")
    now = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
    payloads: list[dict[str, Any]] = [webhook_example("pull_request", "synchronize")]  # ~25 KB
    payloads += [{"n": n, "t": "é ✓ \u2028", "nested": {"list": [1, None, True, 2.5]}} for n in range(1202)]
    with engine.begin() as conn:
        deliveries = Table("deliveries", MetaData(), autoload_with=conn)
        conn.execute(
            deliveries.insert(),
            [
                {
                    "delivery_id": f"d-{n}",
                    "event": "pull_request",
                    "action": "opened",
                    "repository": "acme/site",
                    "installation_id": 7,
                    "payload": payload,
                    "received_at": now,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                }
                for n, payload in enumerate(payloads)
            ],
        )
        text_before = conn.execute(
            text("SELECT CAST(payload AS TEXT) FROM deliveries WHERE id = 1")
        ).scalar_one()
    with engine.connect() as conn:
        before = snapshot(conn, {"deliveries"})

    upgrade_to(engine, "0004")

    assert only_local_forge_tables_missing(schema_diff(engine))  # 0005 and 0006 add them
    with engine.connect() as conn:
        assert snapshot(conn, {"deliveries"}) == before
        stored = conn.execute(text("SELECT payload FROM deliveries WHERE id = 1")).scalar_one()
    assert (
        zstandard.ZstdDecompressor().decompress(bytes(stored)).decode() == text_before
    )  # the text as it was
    assert len(bytes(stored)) * 5 < len(text_before.encode())
    store = Store(engine, clock=FakeClock(now))
    info = store.get_delivery("d-1202")
    assert info is not None and info.payload == payloads[1202]

    downgrade_to(engine, "0003")
    with engine.connect() as conn:
        assert snapshot(conn, {"deliveries"}) == before
    upgrade_to_head(engine)
    assert schema_diff(engine) == []


def test_0004_downgrade_gives_jsonb_what_it_accepts(engine: Engine) -> None:
    """A NUL character is fine compressed, but JSONB refuses it: the downgrade replaces it (and only it)."""
    upgrade_to_head(engine)
    payload = {"body": "a\x00b", "literal": "\\u0000 stays", "k\x00": [1]}
    Store(engine).record_delivery("nul", "push", None, "acme/site", 1, payload)
    downgrade_to(engine, "0003")
    with engine.connect() as conn:
        deliveries = Table("deliveries", MetaData(), autoload_with=conn)
        stored = conn.execute(select(deliveries.c.payload)).scalar_one()
    if engine.dialect.name == "postgresql":
        assert stored == {"body": "a\ufffdb", "literal": "\\u0000 stays", "k\ufffd": [1]}
    else:
        assert stored == payload
    upgrade_to_head(engine)


def start_replica(url: str, start: Any, results: Any) -> None:
    """A replica's start-up in its own process: connect, wait for the others, migrate."""
    engine = make_engine(url)
    try:
        with engine.connect():
            pass
        start.wait(timeout=60)
        upgrade_to_head(engine)
        results.put("ok")
    except BaseException as error:  # reported to the test
        results.put(f"{type(error).__name__}: {error}")
    finally:
        engine.dispose()


def assert_migrated_once(url: URL) -> None:
    engine = make_engine(url)
    try:
        assert current_revision(engine) == head_revision()
        assert schema_diff(engine) == []
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                held = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND ((classid::bigint << 32) | objid::bigint) = :key"
                    ),
                    {"key": ADVISORY_LOCK_KEY & 0xFFFFFFFFFFFFFFFF},
                ).scalar_one()
            assert held == 0  # released after the migration
    finally:
        engine.dispose()


def test_replicas_starting_together_migrate_once(url: URL) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    results = context.Queue()
    text_url = url.render_as_string(hide_password=False)
    processes = [context.Process(target=start_replica, args=(text_url, start, results)) for _ in range(2)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert outcomes == ["ok"] * 2
    assert_migrated_once(url)


def test_connections_opening_a_new_sqlite_file_together_all_succeed(tmp_path: Path) -> None:
    """Switching a new file to WAL needs an exclusive lock that SQLite's busy handler does not
    wait for: each connection must wait for the others instead of failing "database is locked"
    (a replica failing at start-up). The race is narrow, so try it on many new files."""
    for attempt in range(40):
        engines = [make_engine(f"sqlite:///{tmp_path / f'new-{attempt}.sqlite3'}") for _ in range(8)]
        barrier = threading.Barrier(len(engines))
        errors: list[BaseException] = []

        def open_one(engine: Engine, barrier: threading.Barrier, errors: list[BaseException]) -> None:
            barrier.wait()
            try:
                with engine.connect() as conn:
                    assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            except BaseException as error:  # collected and reported below
                errors.append(error)

        threads = [threading.Thread(target=open_one, args=(engine, barrier, errors)) for engine in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        for engine in engines:
            engine.dispose()
        assert errors == []


def test_threads_starting_together_migrate_once(url: URL) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        engine = make_engine(url)
        try:
            barrier.wait()
            upgrade_to_head(engine)
        except BaseException as error:  # collected and reported below
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert_migrated_once(url)


def test_a_schema_from_a_newer_bot_is_refused(engine: Engine) -> None:
    upgrade_to_head(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE modbot_schema_version SET version_num = 'f00dcafe'"))
    with pytest.raises(SchemaTooNewError, match="f00dcafe"):
        upgrade_to_head(engine)
    with pytest.raises(SchemaTooNewError):
        open_store(engine.url)
    assert user_tables(engine) == TABLES  # untouched


def test_downgrade_to_base_and_back(engine: Engine) -> None:
    upgrade_to_head(engine)
    downgrade_to(engine, "base")
    assert user_tables(engine) == set()
    assert current_revision(engine) is None
    upgrade_to_head(engine)
    assert schema_diff(engine) == []


def test_offline_sql_for_a_dba(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MODBOT_DATABASE_URL", "postgresql://modbot:s3cret@db.internal/modbot")
    command.upgrade(alembic_config(), "head", sql=True)
    sql = capsys.readouterr().out
    assert "CREATE TABLE deliveries" in sql
    assert "CREATE TRIGGER audit_log_append_only" in sql
    assert f"CREATE TABLE {VERSION_TABLE}" in sql
    assert "s3cret" not in sql


def test_0006_adds_console_users_and_the_console_source_and_back(engine: Engine) -> None:
    upgrade_to(engine, "0005")
    deployment = {
        "repository": "acme/site",
        "environment": "staging",
        "release_id": "rel_2026_01_01_001",
        "commit_sha": "a" * 40,
        "kind": "deploy",
        "status": "queued",
        "stage": "queued",
        "requested_by": "alice",
        "created_at": datetime(2026, 3, 1, tzinfo=UTC),
        "updated_at": datetime(2026, 3, 1, tzinfo=UTC),
    }
    deployments = Table("deployments", metadata)
    with pytest.raises(Exception, match=r"(?i)check"), engine.begin() as conn:
        conn.execute(deployments.insert().values(**deployment, source="console"))
    upgrade_to_head(engine)
    assert "console_users" in user_tables(engine)
    with engine.begin() as conn:
        conn.execute(deployments.insert().values(**deployment, source="comment"))
        conn.execute(deployments.insert().values(**deployment, source="console"))
    with pytest.raises(Exception, match=r"(?i)check"), engine.begin() as conn:
        conn.execute(deployments.insert().values(**deployment, source="bogus"))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM deployments WHERE source = 'console'"))
    downgrade_to(engine, "0005")
    assert "console_users" not in user_tables(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT source FROM deployments")).scalars().all() == ["comment"]
