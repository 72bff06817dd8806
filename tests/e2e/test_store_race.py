"""Workers racing for the same jobs: each job is handled exactly once and none is lost.

Threads (each with its own pooled connection) on both databases, with the webhook recording
deliveries while the workers claim; and separate processes (spawned, each with its own engine),
as bot replicas would be.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.store import DeliveryStatus, Store, make_engine
from bot.store.models import DELIVERIES
from tests.store_helpers import temporary_store

JOBS = 200


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with temporary_store(request.param, directory=tmp_path) as store:
        yield store


def record(store: Store, n: int) -> None:
    store.record_delivery(f"delivery-{n:04d}", "pull_request", "synchronize", "acme/site", 1, {"n": n})


def work(
    store: Store,
    worker_id: str,
    handled: list[str],
    producing: threading.Event | None = None,
    shares: Counter[str] | None = None,
) -> None:
    """Claim and complete jobs until none is left (and, with ``producing``, none will come)."""
    shares = Counter() if shares is None else shares
    while True:
        job = store.claim_next(worker_id, lease_seconds=30)
        if job is None:
            if producing is not None and producing.is_set():
                time.sleep(0.001)
                continue
            return
        assert job.payload == {"n": int(job.delivery_id.split("-")[1])}
        handled.append(job.delivery_id)
        shares[worker_id] += 1
        time.sleep(0.0005)  # "handling": lets the other workers at the queue meanwhile
        store.complete(job)


def assert_each_handled_once(store: Store, handled: list[str]) -> None:
    duplicates = [delivery for delivery, count in Counter(handled).items() if count > 1]
    assert duplicates == []
    assert sorted(handled) == [f"delivery-{n:04d}" for n in range(JOBS)]
    assert store.delivery_counts() == {("pull_request", DeliveryStatus.DONE): JOBS}
    with store.read() as conn:
        assert conn.execute(select(func.max(DELIVERIES.c.attempts))).scalar_one() == 1
    assert store.queue_depth() == 0


def test_threads_race_while_deliveries_arrive(store: Store) -> None:
    handled: list[str] = []
    producing = threading.Event()
    producing.set()
    start = threading.Barrier(5)

    def produce() -> None:
        start.wait()
        for n in range(JOBS):
            record(store, n)
        producing.clear()

    def consume(worker_id: str) -> None:
        start.wait()
        work(store, worker_id, handled, producing)

    threads = [threading.Thread(target=produce)]
    threads += [threading.Thread(target=consume, args=(f"thread-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert_each_handled_once(store, handled)


def test_threads_race_for_a_full_queue(store: Store) -> None:
    for n in range(JOBS):
        record(store, n)
    handled: list[str] = []
    shares: Counter[str] = Counter()
    start = threading.Barrier(6)

    def consume(worker_id: str) -> None:
        start.wait()
        work(store, worker_id, handled, shares=shares)

    threads = [threading.Thread(target=consume, args=(f"thread-{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert_each_handled_once(store, handled)
    assert len(shares) >= 3, shares  # the workers really raced for the same rows


def process_worker(url: str, worker_id: str, start: Any, results: Any) -> None:
    """A bot replica: its own engine, claims until the queue is empty, reports what it handled."""
    store = Store(make_engine(url))
    handled: list[str] = []
    try:
        start.wait(timeout=60)
        work(store, worker_id, handled)
    finally:
        results.put((worker_id, handled))
        store.dispose()


def test_processes_race_like_replicas(store: Store) -> None:
    for n in range(JOBS):
        record(store, n)
    url = store.engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    results = context.Queue()
    processes = [
        context.Process(target=process_worker, args=(url, f"replica-{n}", start, results)) for n in range(2)
    ]
    for process in processes:
        process.start()
    reports = dict(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    handled = [delivery for batch in reports.values() for delivery in batch]
    assert_each_handled_once(store, handled)
    assert all(reports.values()), {worker: len(batch) for worker, batch in reports.items()}
