"""Leases that hold (issue #11): a job's lease is renewed while its handler runs, a second worker never
takes a job whose owner keeps renewing, a worker that lost its lease writes nothing and reports nothing,
shutdown hands the job in flight back at once, and a restarted bot takes back what its killed run held.

Short real times (a lease of a fraction of a second), on SQLite and PostgreSQL; no timed assertions: each
test waits for a state with a generous timeout and asserts what happened."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.forge import check_write_fence
from bot.metrics import Metrics
from bot.store import DeliveryStatus, LeaseLostError, Store
from bot.worker import Worker
from bot.worker.leases import LeaseKeeper, expire_abandoned
from bot.worker.pool import WorkerPool
from tests.store_helpers import temporary_store

LEASE = 0.6
HEARTBEAT = 0.1


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with temporary_store(request.param, directory=tmp_path, max_attempts=3) as opened:
        yield opened


def record(store: Store, delivery: str = "d1") -> None:
    store.record_delivery(delivery, "pull_request", "opened", "o/r", 1, {"n": delivery})


def worker(
    store: Store, handler: Callable[[Any], str], name: str = "w1", metrics: Metrics | None = None
) -> Worker:
    return Worker(
        store,
        {"pull_request": handler},
        metrics or Metrics(),
        name,
        lease_seconds=LEASE,
        heartbeat_seconds=HEARTBEAT,
        base_backoff=0.0,
        max_backoff=0.0,
    )


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the condition")
        time.sleep(0.02)


def lease_until(store: Store, delivery: str = "d1") -> datetime | None:
    info = store.get_delivery(delivery)
    assert info is not None
    return info.lease_until


def test_the_lease_is_renewed_while_the_handler_outlives_it_and_nobody_else_takes_the_job(
    store: Store,
) -> None:
    record(store)
    seen: list[datetime | None] = []
    others_took: list[Any] = []

    def slow(job: Any) -> str:
        # work for more than three leases; meanwhile a second worker keeps trying to take the job
        first = job.lease_until
        deadline = time.monotonic() + 3 * LEASE
        while time.monotonic() < deadline:
            others_took.append(store.claim_next("w2", LEASE))
            seen.append(lease_until(store))
            time.sleep(HEARTBEAT / 2)
        assert max(u for u in seen if u is not None) > first  # renewed past the lease it was taken with
        return "reviewed"

    metrics = Metrics()
    assert worker(store, slow, metrics=metrics).run_once()
    assert others_took and all(job is None for job in others_took)  # never taken while its owner renews
    info = store.get_delivery("d1")
    assert info is not None and (info.status, info.attempts) == (DeliveryStatus.DONE, 1)
    assert len({u for u in seen if u is not None}) > 3  # the lease moved on many times
    text = metrics.exposition().decode()
    assert 'modbot_job_age_seconds_count{event="pull_request",stage="claimed"} 1.0' in text
    assert 'modbot_job_age_seconds_count{event="pull_request",stage="done"} 1.0' in text


def test_a_worker_that_lost_its_lease_writes_nothing_and_reports_nothing(store: Store) -> None:
    record(store)
    writes: list[str] = []
    refused: list[BaseException] = []

    def write(what: str) -> None:  # what the GitHub client does before every write
        check_write_fence("create_comment")
        writes.append(what)

    def stalled(job: Any) -> str:
        write("comment")
        # meanwhile the job is taken from this worker (its lease was judged dead, e.g. after a long stall)
        store.release(job)
        taken = store.claim_next("w2", 60)
        assert taken is not None
        wait_for(lambda: not _holds(store, "w1"))
        time.sleep(3 * HEARTBEAT)  # a renewal has failed by now
        try:
            write("status")
        except LeaseLostError as error:
            refused.append(error)
            raise
        return "reviewed"

    metrics = Metrics()
    assert worker(store, stalled, metrics=metrics).run_once()
    assert writes == ["comment"] and len(refused) == 1
    info = store.get_delivery("d1")
    assert info is not None and (info.status, info.lease_owner) == (DeliveryStatus.RUNNING, "w2")
    assert 'modbot_jobs_total{event="pull_request",result="lease_lost"} 1.0' in metrics.exposition().decode()


def test_a_handler_that_swallows_the_lost_lease_is_still_not_reported(store: Store) -> None:
    record(store)

    def careless(job: Any) -> str:
        store.release(job)
        assert store.claim_next("w2", 60) is not None
        time.sleep(3 * HEARTBEAT)
        # a handler must not swallow it; the worker does not rely on it
        with contextlib.suppress(LeaseLostError):
            check_write_fence("create_comment")
        return "reviewed"

    assert worker(store, careless).run_once()
    info = store.get_delivery("d1")
    assert info is not None and (info.status, info.lease_owner) == (DeliveryStatus.RUNNING, "w2")


def _holds(store: Store, owner: str) -> bool:
    info = store.get_delivery("d1")
    return info is not None and info.lease_owner == owner


def test_shutdown_hands_the_job_in_flight_back_at_once(store: Store) -> None:
    record(store)
    started, finish = threading.Event(), threading.Event()
    after_hand_back: list[BaseException] = []

    def stuck(job: Any) -> str:  # e.g. a GitHub call that hangs, or a long retry wait
        started.set()
        finish.wait(30)
        try:
            check_write_fence("create_comment")
        except LeaseLostError as error:
            after_hand_back.append(error)
            raise
        return "reviewed"

    stop, wake = threading.Event(), threading.Event()
    pool = WorkerPool([worker(store, stuck)], stop, wake).start()
    assert started.wait(10)
    assert pool.shutdown(grace=0.2) == 1
    info = store.get_delivery("d1")
    assert info is not None
    # pending, due now, the attempt not counted, nobody's lease: the next worker takes it immediately
    assert (info.status, info.attempts, info.lease_owner) == (DeliveryStatus.PENDING, 0, None)
    assert info.next_attempt_at <= store.now()
    finish.set()
    wait_for(lambda: bool(after_hand_back))  # the old handler may not write any more
    again = store.claim_next("restarted:1:0", LEASE)
    assert again is not None and again.attempts == 1


def test_shutdown_lets_a_short_job_finish_within_the_grace(store: Store) -> None:
    record(store)
    started = threading.Event()

    def short(job: Any) -> str:
        started.set()
        time.sleep(0.2)
        return "reviewed"

    stop, wake = threading.Event(), threading.Event()
    pool = WorkerPool([worker(store, short)], stop, wake).start()
    assert started.wait(10)
    assert pool.shutdown(grace=10) == 0
    info = store.get_delivery("d1")
    assert info is not None and info.status is DeliveryStatus.DONE


def test_a_restarted_bot_takes_back_the_jobs_of_its_killed_run_but_not_a_live_replicas(store: Store) -> None:
    for delivery in ("d-killed", "d-pid1", "d-live", "d-other-host"):
        record(store, delivery)
    held = {
        "d-killed": store.claim_next("host-a:4000:0", 600),  # the previous run, gone
        "d-pid1": store.claim_next("host-a:1:0", 600),  # a container's previous run: the same pid as ours
        "d-live": store.claim_next("host-a:5000:0", 600),  # another bot on this host, alive
        "d-other-host": store.claim_next("host-b:4000:0", 600),
    }
    assert all(job is not None for job in held.values())
    alive = {5000}
    assert expire_abandoned(store, "host-a", pid=1, is_gone=lambda pid: pid not in alive) == 2
    taken = [store.claim_next("host-a:1:0", LEASE), store.claim_next("host-a:1:1", LEASE)]
    assert {job.delivery_id for job in taken if job is not None} == {"d-killed", "d-pid1"}
    assert store.claim_next("host-a:1:2", LEASE) is None  # the live replica's and the other host's stay


def test_the_keeper_fails_closed_when_the_lease_runs_out_without_a_renewal() -> None:
    class DownStore:
        def heartbeat(self, job: Any, lease_seconds: float | None = None) -> Any:
            raise OSError("the database is unreachable")

        def release(self, job: Any) -> Any:
            raise AssertionError("not called")

    class FakeJob:
        id, delivery_id, lease_seconds = 1, "d1", 1.0

    now = [0.0]
    keeper = LeaseKeeper(DownStore(), FakeJob(), every=60.0, clock=lambda: now[0])
    keeper.check()  # within the lease: still ours
    now[0] = 1.0
    with pytest.raises(LeaseLostError, match="ran out"):
        keeper.check()
