"""The delivery queue on SQLite and PostgreSQL: recording, redelivery, leases, retries, crash recovery."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.store import DeliveryStatus, Job, LeaseLostError, RecordOutcome, Store, default_backoff
from bot.store.queue import IncomingDelivery
from tests.store_helpers import FakeClock, temporary_store

MAX_ATTEMPTS = 3
LEASE = 30.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    with temporary_store(request.param, directory=tmp_path, clock=clock, max_attempts=MAX_ATTEMPTS) as store:
        yield store


PAYLOAD = {
    "action": "opened",
    "number": 7,
    "pull_request": {"head": {"sha": "a" * 40}, "title": "Añadir módulo «forum» ✓"},
    "repository": {"full_name": "Acme/Site"},
    "installation": {"id": 42},
    "list": [1, 2.5, None, True],
}


def record(store: Store, delivery_id: str = "d-1", event: str = "pull_request") -> RecordOutcome:
    return store.record_delivery(delivery_id, event, "opened", "Acme/Site", 42, PAYLOAD)


def claim(store: Store, worker: str = "w1") -> Job:
    job = store.claim_next(worker, LEASE)
    assert job is not None
    return job


def status(store: Store, delivery_id: str = "d-1") -> DeliveryStatus:
    info = store.get_delivery(delivery_id)
    assert info is not None
    return info.status


# -- recording -------------------------------------------------------------------------------------


def test_new_delivery_is_stored_pending_with_its_payload(store: Store, clock: FakeClock) -> None:
    assert record(store) is RecordOutcome.NEW
    info = store.get_delivery("d-1")
    assert info is not None
    assert (info.event, info.action, info.repository, info.installation_id) == (
        "pull_request",
        "opened",
        "Acme/Site",
        42,
    )
    assert info.payload == PAYLOAD
    assert info.status is DeliveryStatus.PENDING
    assert info.attempts == 0
    assert info.received_at == clock() == info.next_attempt_at
    assert info.received_at.utcoffset() == timedelta(0)
    assert (info.lease_owner, info.lease_until, info.finished_at, info.last_error) == (None,) * 4
    assert store.get_delivery("nope") is None


def test_redelivery_of_a_queued_or_running_job_adds_nothing(store: Store) -> None:
    record(store)
    assert record(store) is RecordOutcome.DUPLICATE_PENDING
    job = claim(store)
    assert record(store) is RecordOutcome.DUPLICATE_PENDING  # running under a live lease
    assert status(store) is DeliveryStatus.RUNNING
    store.complete(job)  # the lease was not disturbed
    assert store.claim_next("w2", LEASE) is None


def test_redelivery_of_a_finished_job_does_nothing(store: Store) -> None:
    record(store, "done-1")
    store.complete(claim(store))
    record(store, "ignored-1")
    store.ignore(claim(store), "the PR does not touch modules.toml")
    for delivery_id in ("done-1", "ignored-1"):
        assert record(store, delivery_id) is RecordOutcome.DUPLICATE_DONE
    assert store.claim_next("w1", LEASE) is None
    assert status(store, "done-1") is DeliveryStatus.DONE


def test_redelivery_of_a_failed_job_runs_it_again_with_a_fresh_budget(store: Store) -> None:
    record(store)
    job = claim(store)
    assert store.fail(job, "permanent: bad installation", retry_in=None) is DeliveryStatus.FAILED
    assert status(store) is DeliveryStatus.FAILED
    assert record(store) is RecordOutcome.REQUEUED
    info = store.get_delivery("d-1")
    assert info is not None
    assert (info.status, info.attempts, info.finished_at) == (DeliveryStatus.PENDING, 0, None)
    again = claim(store, "w2")
    assert again.attempts == 1
    store.complete(again)
    assert status(store) is DeliveryStatus.DONE


def test_redelivery_of_a_job_waiting_for_a_retry_makes_it_due_now(store: Store, clock: FakeClock) -> None:
    record(store)
    store.fail(claim(store), "GitHub 502", retry_in=300)
    assert store.claim_next("w1", LEASE) is None  # not due for five minutes
    assert record(store) is RecordOutcome.REQUEUED
    job = claim(store)
    assert job.attempts == 2  # the earlier failure still counts


def test_redelivery_of_a_job_whose_worker_died_requeues_it(store: Store, clock: FakeClock) -> None:
    record(store)
    dead = claim(store, "dead-worker")
    clock.advance(LEASE + 1)
    assert record(store) is RecordOutcome.REQUEUED
    assert status(store) is DeliveryStatus.PENDING
    with pytest.raises(LeaseLostError):
        store.complete(dead)
    job = claim(store, "w2")
    assert job.attempts == 2
    store.complete(job)


def test_record_refuses_bad_input(store: Store) -> None:
    with pytest.raises(ValueError, match="delivery_id"):
        store.record_delivery("", "push", None, None, None, {})
    with pytest.raises(ValueError, match="delivery_id"):
        store.record_delivery("x" * 101, "push", None, None, None, {})
    with pytest.raises(ValueError, match="event"):
        store.record_delivery("d", "", None, None, None, {})
    for installation_id in (0, 2**63, True):  # beyond the BIGINT column, or not an id
        with pytest.raises(ValueError, match="installation_id"):
            store.record_delivery("d", "push", None, None, installation_id, {})
    assert store.queue_depth() == 0


def test_the_same_delivery_recorded_concurrently_is_new_exactly_once(store: Store) -> None:
    outcomes: list[RecordOutcome] = []
    barrier = threading.Barrier(6)

    def deliver() -> None:
        barrier.wait()
        outcomes.append(record(store, "racing"))

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == sorted([RecordOutcome.NEW] + [RecordOutcome.DUPLICATE_PENDING] * 5)
    assert store.queue_depth() == 1


# -- claiming and finishing --------------------------------------------------------------------------


def test_jobs_are_claimed_oldest_first_and_once(store: Store, clock: FakeClock) -> None:
    for n in range(3):
        record(store, f"d-{n}", event="push" if n == 1 else "pull_request")
        clock.advance(1)
    jobs = [claim(store, f"w{n}") for n in range(3)]
    assert [job.delivery_id for job in jobs] == ["d-0", "d-1", "d-2"]
    assert jobs[1].event == "push"
    assert jobs[0].payload == PAYLOAD
    assert jobs[0].worker_id == "w0"
    assert jobs[0].lease_until == clock() + timedelta(seconds=LEASE)
    assert all(job.attempts == 1 for job in jobs)
    assert store.claim_next("w9", LEASE) is None
    for job in jobs:
        store.complete(job)
    assert {status(store, f"d-{n}") for n in range(3)} == {DeliveryStatus.DONE}
    info = store.get_delivery("d-0")
    assert info is not None
    assert info.finished_at == clock()
    assert (info.lease_owner, info.lease_until) == (None, None)


def test_claim_refuses_bad_arguments(store: Store) -> None:
    with pytest.raises(ValueError, match="worker_id"):
        store.claim_next("", LEASE)
    with pytest.raises(ValueError, match="lease_seconds"):
        store.claim_next("w", 0)


def test_fail_with_retry_backs_off_until_the_last_attempt(store: Store, clock: FakeClock) -> None:
    record(store)
    for attempt in range(1, MAX_ATTEMPTS):
        job = claim(store)
        assert job.attempts == attempt
        assert store.fail(job, RuntimeError(f"GitHub 502 #{attempt}"), retry_in=60) is DeliveryStatus.PENDING
        info = store.get_delivery("d-1")
        assert info is not None
        assert info.next_attempt_at == clock() + timedelta(seconds=60)
        assert info.last_error == f"RuntimeError: GitHub 502 #{attempt}"
        assert store.claim_next("w1", LEASE) is None  # backing off
        clock.advance(60)
    last = claim(store)
    assert last.attempts == MAX_ATTEMPTS
    assert store.fail(last, "still 502", retry_in=60) is DeliveryStatus.FAILED
    info = store.get_delivery("d-1")
    assert info is not None
    assert (info.status, info.attempts, info.finished_at) == (DeliveryStatus.FAILED, MAX_ATTEMPTS, clock())
    clock.advance(3600)
    assert store.claim_next("w1", LEASE) is None


def test_errors_are_stored_redacted_and_truncated(store: Store) -> None:
    record(store)
    secret = "ghs_" + "A1b2C3d4" * 5
    store.fail(claim(store), f"401 with token {secret} " + "x" * 5000, retry_in=None)
    info = store.get_delivery("d-1")
    assert info is not None and info.last_error is not None
    assert secret not in info.last_error
    assert "[redacted]" in info.last_error
    assert len(info.last_error) == 2000
    assert info.last_error.endswith("characters in all]")


def test_ignore_keeps_the_reason(store: Store) -> None:
    record(store)
    store.ignore(claim(store), "no change to modules.toml")
    info = store.get_delivery("d-1")
    assert info is not None
    assert (info.status, info.last_error) == (DeliveryStatus.IGNORED, "no change to modules.toml")


def test_fail_rejects_a_negative_delay(store: Store) -> None:
    record(store)
    job = claim(store)
    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="retry_in"):
            store.fail(job, "x", retry_in=bad)
    assert status(store) is DeliveryStatus.RUNNING


def test_heartbeat_extends_the_lease(store: Store, clock: FakeClock) -> None:
    record(store)
    job = claim(store)
    clock.advance(LEASE - 5)
    job = store.heartbeat(job)
    assert job.lease_until == clock() + timedelta(seconds=LEASE)
    clock.advance(LEASE - 5)  # past the first lease, within the extended one
    assert store.claim_next("w2", LEASE) is None
    job = store.heartbeat(job, lease_seconds=120)
    assert job.lease_until == clock() + timedelta(seconds=120)
    store.complete(job)


def test_release_gives_the_job_back_without_counting_the_attempt(store: Store) -> None:
    record(store)
    job = claim(store)
    store.release(job)
    again = claim(store, "w2")
    assert again.attempts == 1
    with pytest.raises(LeaseLostError):
        store.complete(job)


# -- crash recovery ----------------------------------------------------------------------------------


def test_a_job_whose_worker_died_is_taken_again_after_its_lease(store: Store, clock: FakeClock) -> None:
    record(store)
    crashed = claim(store, "w1")  # ... and w1 dies without a word
    clock.advance(LEASE - 1)
    assert store.claim_next("w2", LEASE) is None  # the lease still holds
    clock.advance(2)
    recovered = claim(store, "w2")
    assert (recovered.id, recovered.attempts, recovered.worker_id) == (crashed.id, 2, "w2")
    # the first worker wakes up: every transition it tries is refused, nothing is overwritten
    for late in (
        lambda: store.complete(crashed),
        lambda: store.fail(crashed, "late", retry_in=1),
        lambda: store.ignore(crashed, "late"),
        lambda: store.heartbeat(crashed),
        lambda: store.release(crashed),
    ):
        with pytest.raises(LeaseLostError):
            late()
    info = store.get_delivery("d-1")
    assert info is not None
    assert (info.status, info.lease_owner, info.attempts) == (DeliveryStatus.RUNNING, "w2", 2)
    store.complete(recovered)
    assert status(store) is DeliveryStatus.DONE


def test_a_job_that_kills_every_worker_ends_failed(store: Store, clock: FakeClock) -> None:
    record(store)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        job = claim(store, f"w{attempt}")
        assert job.attempts == attempt
        clock.advance(LEASE + 1)
    assert store.claim_next("w9", LEASE) is None
    info = store.get_delivery("d-1")
    assert info is not None
    assert info.status is DeliveryStatus.FAILED
    assert info.last_error is not None and "lease expired" in info.last_error
    assert info.lease_owner is None


def test_a_job_survives_a_restart(tmp_path: Path, clock: FakeClock) -> None:
    with temporary_store("sqlite", directory=tmp_path, clock=clock) as first:
        record(first)
    with temporary_store("sqlite", directory=tmp_path, clock=clock) as second:  # same file, new engine
        job = claim(second)
        assert job.payload == PAYLOAD
        second.complete(job)


# -- observing ---------------------------------------------------------------------------------------


def test_depth_counts_and_next_due(store: Store, clock: FakeClock) -> None:
    assert store.queue_depth() == 0
    assert store.next_due_at() is None
    assert store.delivery_counts() == {}
    for n in range(4):
        record(store, f"d-{n}", event="push" if n % 2 else "pull_request")
    store.complete(claim(store))  # d-0, pull_request
    running = claim(store)  # d-1, push
    store.fail(claim(store), "x", retry_in=90)  # d-2, pull_request
    assert store.queue_depth() == 3  # d-1 running, d-2 waiting, d-3 pending
    assert store.next_due_at() == clock()
    assert store.delivery_counts() == {
        ("pull_request", DeliveryStatus.DONE): 1,
        ("pull_request", DeliveryStatus.PENDING): 1,
        ("push", DeliveryStatus.RUNNING): 1,
        ("push", DeliveryStatus.PENDING): 1,
    }
    store.complete(running)
    store.complete(claim(store))  # d-3
    assert store.next_due_at() == clock() + timedelta(seconds=90)


def test_purge_removes_only_old_finished_deliveries(store: Store, clock: FakeClock) -> None:
    record(store, "old-done")
    store.complete(claim(store))
    record(store, "old-pending")
    clock.advance(86400 * 8)
    record(store, "new-done")
    store.complete(claim(store))  # old-pending is claimed first: FIFO
    store.complete(claim(store))
    record(store, "new-pending")
    assert store.purge_finished(timedelta(days=7)) == 2  # old-done and old-pending (now done)
    assert store.get_delivery("old-done") is None
    assert store.get_delivery("new-done") is not None
    assert store.get_delivery("new-pending") is not None
    assert record(store, "old-done") is RecordOutcome.NEW  # forgotten: a redelivery is new again


def test_default_backoff_grows_and_is_capped() -> None:
    for attempts, ceiling in ((1, 5.0), (2, 10.0), (3, 20.0), (20, 600.0)):
        for _ in range(50):
            assert ceiling / 2 <= default_backoff(attempts) <= ceiling


def test_nul_characters_do_not_lose_a_delivery(store: Store) -> None:
    # PostgreSQL text refuses NUL; a PR body may contain one. The delivery is stored, its payload exactly
    # (compressed bytes: bot/store/payload.py), an error message with the NUL replaced.
    payload = {"body": "a\x00b", "literal": "\\u0000 stays", "k\x00": [1]}
    assert (
        store.record_delivery("nul", "pull_request", "edited", "acme/site", 1, payload) is RecordOutcome.NEW
    )
    job = claim(store)
    assert job.payload == payload
    store.fail(job, "bad byte \x00 in output", retry_in=None)
    info = store.get_delivery("nul")
    assert info is not None and info.last_error == "bad byte \ufffd in output"


# -- group commit (record_deliveries) --------------------------------------------------------------


def incoming(delivery_id: str, payload: dict[str, object] | None = None) -> IncomingDelivery:
    return IncomingDelivery(delivery_id, "pull_request", "opened", "Acme/Site", 42, payload or PAYLOAD)


def test_a_batch_reports_each_outcome_in_order(store: Store) -> None:
    record(store, "done-before")
    store.complete(claim(store))
    record(store, "pending-before")
    outcomes = store.record_deliveries(
        [incoming("b-1"), incoming("done-before"), incoming("b-2"), incoming("pending-before")]
    )
    assert outcomes == [
        RecordOutcome.NEW,
        RecordOutcome.DUPLICATE_DONE,
        RecordOutcome.NEW,
        RecordOutcome.DUPLICATE_PENDING,
    ]
    for delivery_id in ("b-1", "b-2"):
        info = store.get_delivery(delivery_id)
        assert info is not None and info.status is DeliveryStatus.PENDING and info.payload == PAYLOAD


def test_the_same_id_twice_in_one_batch_is_stored_once(store: Store) -> None:
    outcomes = store.record_deliveries([incoming("twice", {"n": 1}), incoming("twice", {"n": 2})])
    assert outcomes == [RecordOutcome.NEW, RecordOutcome.DUPLICATE_PENDING]
    info = store.get_delivery("twice")
    assert info is not None and info.payload == {"n": 1}
    assert store.queue_depth() == 1


def test_a_batch_requeues_a_failed_delivery(store: Store) -> None:
    record(store, "failed-before")
    store.fail(claim(store), "boom", retry_in=None)
    assert store.record_deliveries([incoming("new-one"), incoming("failed-before")]) == [
        RecordOutcome.NEW,
        RecordOutcome.REQUEUED,
    ]
    assert status(store, "failed-before") is DeliveryStatus.PENDING


def test_a_bad_delivery_fails_the_batch_before_anything_is_written(store: Store) -> None:
    with pytest.raises(ValueError, match="delivery_id"):
        store.record_deliveries([incoming("fine"), incoming("x" * 101)])
    assert store.get_delivery("fine") is None
    assert store.record_deliveries([]) == []


# -- a restarted bot takes back its dead run's jobs; dead letters ----------------------------------------------


def test_expire_abandoned_leases_ends_only_the_dead_owners_leases(store: Store, clock: FakeClock) -> None:
    for delivery in ("d-dead", "d-live", "d-elsewhere"):
        record(store, delivery)
    dead = claim(store, "host-a:111:0")
    live = claim(store, "host-a:222:0")
    elsewhere = claim(store, "host-b:111:0")
    asked: list[str] = []

    def is_abandoned(owner: str) -> bool:
        asked.append(owner)
        return owner == "host-a:111:0"

    assert store.expire_abandoned_leases("host-a:", is_abandoned) == 1
    assert sorted(asked) == ["host-a:111:0", "host-a:222:0"]  # another host's leases are never asked about
    # the dead run's job is taken again at once (the attempt counted, as for any crash); no other job is
    again = claim(store, "host-a:333:0")
    assert (again.delivery_id, again.attempts) == (dead.delivery_id, 2)
    assert store.claim_next("host-a:333:1", LEASE) is None
    store.complete(live)
    store.complete(elsewhere)
    with pytest.raises(LeaseLostError):
        store.complete(dead)


def test_expire_abandoned_leases_treats_like_and_underscore_literally(store: Store) -> None:
    record(store, "d-1")
    claim(store, "hostXa:1:0")
    assert store.expire_abandoned_leases("host_a:", lambda _owner: True) == 0
    assert store.expire_abandoned_leases("host%:", lambda _owner: True) == 0
    assert status(store) is DeliveryStatus.RUNNING


def dead_letter(store: Store, delivery_id: str) -> None:
    record(store, delivery_id)
    job = store.claim_next("w1", LEASE)
    assert job is not None and job.delivery_id == delivery_id
    store.fail(job, f"KeyError: {delivery_id} is missing pull_request.head.sha", None)


def test_dead_letters_are_listed_newest_first_paged_and_counted(store: Store) -> None:
    assert store.dead_letter_count() == 0
    for name in ("d-1", "d-2", "d-3"):
        dead_letter(store, name)
    record(store, "d-pending")
    assert store.dead_letter_count() == 3
    page = store.dead_letters(limit=2)
    assert [d.delivery_id for d in page.dead_letters] == ["d-3", "d-2"]
    assert page.dead_letters[0].last_error == "KeyError: d-3 is missing pull_request.head.sha"
    assert page.dead_letters[0].attempts == 1 and page.dead_letters[0].failed_at is not None
    assert page.next_cursor is not None
    rest = store.dead_letters(limit=2, cursor=page.next_cursor)
    assert [d.delivery_id for d in rest.dead_letters] == ["d-1"] and rest.next_cursor is None
    with pytest.raises(ValueError, match="limit"):
        store.dead_letters(limit=0)


def test_retrying_dead_letters_requeues_them_with_fresh_attempts_and_is_audited(store: Store) -> None:
    for name in ("d-1", "d-2", "d-3"):
        dead_letter(store, name)
    record(store, "d-pending")
    retried = store.retry_dead_letters(
        ["d-2", "d-pending", "d-unknown"], actor="cli:ops", reason="GitHub is back"
    )
    assert retried == ["d-2"]  # a delivery that is not failed is left alone
    info = store.get_delivery("d-2")
    assert info is not None
    assert (info.status, info.attempts, info.finished_at, info.lease_owner) == (
        DeliveryStatus.PENDING,
        0,
        None,
        None,
    )
    assert info.next_attempt_at <= store.now()
    assert store.retry_dead_letters(None, actor="api:portal") == ["d-1", "d-3"]
    assert store.dead_letter_count() == 0
    entries = store.query_audit(action="delivery.retry").entries
    assert [(e.actor, e.target, e.reason) for e in entries] == [
        ("api:portal", None, None),
        ("cli:ops", "d-2", "GitHub is back"),
    ]
    assert entries[0].details == {"asked": "all", "retried": ["d-1", "d-3"], "count": 2}
    assert entries[1].details == {"asked": ["d-2", "d-pending", "d-unknown"], "retried": ["d-2"], "count": 1}
    job = claim(store)  # the retried jobs run again, from attempt 1
    assert job.attempts == 1
