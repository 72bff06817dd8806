"""PR state (compare-and-set on the head), admin tokens and the audit log, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from bot.store import KEEP, Store
from bot.store.models import ADMIN_TOKENS, AUDIT_LOG
from tests.store_helpers import FakeClock, temporary_store

SHA1, SHA2, SHA3 = "1" * 40, "2" * 40, "3" * 40


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    with temporary_store(request.param, directory=tmp_path, clock=clock) as store:
        yield store


# -- PR state --------------------------------------------------------------------------------------


def test_pr_state_first_save_then_get(store: Store, clock: FakeClock) -> None:
    assert store.get_pr_state("acme/site", 7) is None
    assert store.save_pr_state(
        "Acme/Site",
        7,
        head_sha=SHA1,
        expected_head_sha=None,
        comment_id=11,
        check_run_id=22,
        manifest_hash="h1",
    )
    state = store.get_pr_state("ACME/site", 7)  # names are case-insensitive
    assert state is not None
    assert (state.repository, state.number, state.head_sha) == ("acme/site", 7, SHA1)
    assert (state.comment_id, state.check_run_id, state.manifest_hash) == (11, 22, "h1")
    assert state.updated_at == clock()
    assert store.get_pr_state("acme/site", 8) is None


def test_pr_state_compare_and_set_on_the_head(store: Store) -> None:
    assert store.save_pr_state("acme/site", 7, head_sha=SHA1, expected_head_sha=None, comment_id=11)
    # a second "first" save loses: a head is stored already
    assert not store.save_pr_state("acme/site", 7, head_sha=SHA2, expected_head_sha=None)
    # the newer push's handler read SHA1 before it started: it wins
    assert store.save_pr_state("acme/site", 7, head_sha=SHA3, expected_head_sha=SHA1, manifest_hash="h3")
    # the older push's handler also read SHA1, finishes later: it loses and must not publish
    assert not store.save_pr_state("acme/site", 7, head_sha=SHA2, expected_head_sha=SHA1, comment_id=99)
    state = store.get_pr_state("acme/site", 7)
    assert state is not None
    assert (state.head_sha, state.comment_id, state.manifest_hash) == (SHA3, 11, "h3")  # KEEP kept 11


def test_pr_state_update_of_own_head_and_clearing_a_field(store: Store) -> None:
    store.save_pr_state("acme/site", 7, head_sha=SHA1, expected_head_sha=None)
    state = store.get_pr_state("acme/site", 7)
    assert state is not None
    assert (state.comment_id, state.check_run_id, state.manifest_hash) == (None, None, None)
    assert store.save_pr_state("acme/site", 7, head_sha=SHA1, expected_head_sha=SHA1, comment_id=5)
    assert store.save_pr_state(
        "acme/site", 7, head_sha=SHA1, expected_head_sha=SHA1, comment_id=None, check_run_id=KEEP
    )
    state = store.get_pr_state("acme/site", 7)
    assert state is not None
    assert state.comment_id is None  # the comment was deleted by a person: forget its id


def test_pr_state_refuses_bad_keys(store: Store) -> None:
    for repository in ("acme", "acme/site/x", "", "a b/c"):
        with pytest.raises(ValueError, match="owner/name"):
            store.get_pr_state(repository, 1)
    for number in (0, -1):
        with pytest.raises(ValueError, match="pull request number"):
            store.get_pr_state("acme/site", number)
    with pytest.raises(ValueError, match="commit sha"):
        store.save_pr_state("acme/site", 1, head_sha="main", expected_head_sha=None)


def test_pr_state_racing_handlers_exactly_one_wins(store: Store) -> None:
    store.save_pr_state("acme/site", 7, head_sha=SHA1, expected_head_sha=None)
    heads = [f"{n:040x}" for n in range(2, 10)]
    results: dict[str, bool] = {}
    barrier = threading.Barrier(len(heads))

    def handle(head: str) -> None:
        barrier.wait()
        results[head] = store.save_pr_state("acme/site", 7, head_sha=head, expected_head_sha=SHA1)

    threads = [threading.Thread(target=handle, args=(head,)) for head in heads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [head for head, won in results.items() if won]
    assert len(winners) == 1
    state = store.get_pr_state("acme/site", 7)
    assert state is not None and state.head_sha == winners[0]


def test_pr_state_first_save_race_exactly_one_wins(store: Store) -> None:
    heads = [f"{n:040x}" for n in range(1, 7)]
    results: list[bool] = []
    barrier = threading.Barrier(len(heads))

    def handle(head: str) -> None:
        barrier.wait()
        results.append(store.save_pr_state("acme/new", 1, head_sha=head, expected_head_sha=None))

    threads = [threading.Thread(target=handle, args=(head,)) for head in heads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]


# -- admin tokens ----------------------------------------------------------------------------------


def test_token_create_verify_list_revoke(store: Store, clock: FakeClock) -> None:
    record, token = store.create_admin_token("ci deploy", actor="cli:alice", reason="for the release job")
    assert token.startswith("mbt_") and len(token) == 4 + 43
    assert (record.name, record.created_at, record.last_used_at, record.active) == (
        "ci deploy",
        clock(),
        None,
        True,
    )
    clock.advance(10)
    verified = store.verify_admin_token(token)
    assert verified is not None
    assert (verified.id, verified.name, verified.last_used_at) == (record.id, "ci deploy", clock())
    assert [t.last_used_at for t in store.list_admin_tokens()] == [clock()]

    other, other_token = store.create_admin_token("laptop", actor="cli:alice")
    assert other_token != token
    assert [t.name for t in store.list_admin_tokens()] == ["ci deploy", "laptop"]

    assert store.revoke_admin_token(record.id, actor="cli:bob", reason="leaked in a log")
    assert not store.revoke_admin_token(record.id, actor="cli:bob")  # already revoked
    assert not store.revoke_admin_token(999_999, actor="cli:bob")
    assert store.verify_admin_token(token) is None
    assert store.verify_admin_token(other_token) is not None
    assert [t.name for t in store.list_admin_tokens()] == ["laptop"]
    everything = store.list_admin_tokens(include_revoked=True)
    assert [(t.name, t.active) for t in everything] == [("ci deploy", False), ("laptop", True)]

    actions = [(e.actor, e.action, e.target, e.reason) for e in store.query_audit().entries]
    assert actions == [
        ("cli:bob", "admin_token.revoke", f"admin_token:{record.id}", "leaked in a log"),
        ("cli:alice", "admin_token.create", f"admin_token:{other.id}", None),
        ("cli:alice", "admin_token.create", f"admin_token:{record.id}", "for the release job"),
    ]


def test_only_the_token_hash_is_stored(store: Store) -> None:
    _, token = store.create_admin_token("ci", actor="cli:alice")
    with store.read() as conn:
        rows = [tuple(row) for row in conn.execute(select(ADMIN_TOKENS))]
        audit = [tuple(row) for row in conn.execute(select(AUDIT_LOG))]
    assert token not in repr(rows) + repr(audit)
    assert hashlib.sha256(token.encode()).hexdigest() in repr(rows)


def test_wrong_or_malformed_tokens_are_refused(store: Store) -> None:
    _, token = store.create_admin_token("ci", actor="cli:alice")
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    for candidate in (flipped, "", "mbt_", token + "x", token[4:], "Bearer " + token, token.upper()):
        assert store.verify_admin_token(candidate) is None
    assert store.list_admin_tokens()[0].last_used_at is None


def test_token_name_is_required(store: Store) -> None:
    for name in ("", "   ", "x" * 101):
        with pytest.raises(ValueError, match="token name"):
            store.create_admin_token(name, actor="cli:alice")


# -- audit log -------------------------------------------------------------------------------------


def test_audit_append_and_query_with_filters_and_cursor(store: Store, clock: FakeClock) -> None:
    start = clock()
    for n in range(7):
        store.append_audit(
            "api:alice" if n % 2 == 0 else "api:bob",
            "module.install" if n < 5 else "module.uninstall",
            target=f"acme/site#{n}",
            details={"slug": f"m{n}", "spec": {"version": "1.2"}},
            reason=f"ticket {n}",
        )
        clock.advance(60)
    page = store.query_audit(limit=3)
    assert [e.target for e in page.entries] == ["acme/site#6", "acme/site#5", "acme/site#4"]
    assert page.next_cursor == page.entries[-1].id
    page2 = store.query_audit(limit=3, cursor=page.next_cursor)
    assert [e.target for e in page2.entries] == ["acme/site#3", "acme/site#2", "acme/site#1"]
    page3 = store.query_audit(limit=3, cursor=page2.next_cursor)
    assert [e.target for e in page3.entries] == ["acme/site#0"]
    assert page3.next_cursor is None

    entry = page3.entries[0]
    assert (entry.at, entry.actor, entry.action, entry.reason) == (
        start,
        "api:alice",
        "module.install",
        "ticket 0",
    )
    assert entry.details == {"slug": "m0", "spec": {"version": "1.2"}}

    assert [e.target for e in store.query_audit(actor="api:bob").entries] == [
        "acme/site#5",
        "acme/site#3",
        "acme/site#1",
    ]
    assert [e.target for e in store.query_audit(action="module.uninstall").entries] == [
        "acme/site#6",
        "acme/site#5",
    ]
    assert [e.target for e in store.query_audit(since=start + timedelta(minutes=4)).entries] == [
        "acme/site#6",
        "acme/site#5",
        "acme/site#4",
    ]
    combined = store.query_audit(
        actor="api:alice", action="module.install", since=start + timedelta(minutes=1)
    )
    assert [e.target for e in combined.entries] == ["acme/site#4", "acme/site#2"]
    assert [e.target for e in store.query_audit(target="acme/site#3").entries] == ["acme/site#3"]
    assert store.query_audit(actor="nobody").entries == []


def test_audit_query_limits(store: Store) -> None:
    for limit in (0, 1001):
        with pytest.raises(ValueError, match="limit"):
            store.query_audit(limit=limit)
    with pytest.raises(ValueError, match="actor"):
        store.append_audit("", "x")


def test_audit_redacts_secrets(store: Store) -> None:
    token = "ghp_" + "Z9" * 18
    entry = store.append_audit(
        "api:alice",
        "module.install",
        details={"webhook_secret": "hunter2", "nested": {"Authorization": "x"}, "note": f"used {token}"},
        reason=f"pasted {token} by mistake",
    )
    assert entry.details == {
        "webhook_secret": "[redacted]",
        "nested": {"Authorization": "[redacted]"},
        "note": "used [redacted]",
    }
    assert entry.reason == "pasted [redacted] by mistake"
    stored = store.query_audit().entries[0]
    assert stored == entry


def test_audit_log_is_append_only_in_the_database(store: Store) -> None:
    entry = store.append_audit("api:alice", "module.install", target="acme/site#1")
    attempts = [
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
    ]
    if store.is_postgresql:
        attempts.append("TRUNCATE audit_log")
    for statement in attempts:
        with pytest.raises(DBAPIError, match="append-only"), store.write() as conn:
            conn.execute(text(statement))
    assert store.query_audit().entries == [entry]
    assert not hasattr(store, "delete_audit") and not hasattr(store, "update_audit")


@pytest.mark.parametrize("number", [0, -1, 2**31, True])
def test_pr_numbers_outside_a_32_bit_column_are_refused_before_the_database(
    store: Store, number: int
) -> None:
    with pytest.raises(ValueError, match="pull request number"):
        store.get_pr_state("acme/site", number)
