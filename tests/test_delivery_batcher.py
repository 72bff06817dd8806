"""Group commit for the webhook (bot/web/recorder.py): many waiting deliveries, one transaction each
time; a failure of one delivery never fails the others; nobody is answered before the commit."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from bot.store import RecordOutcome, Store
from bot.store.queue import IncomingDelivery
from bot.store.testing import temporary_store
from bot.web.recorder import DeliveryBatcher


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with temporary_store("sqlite", directory=tmp_path) as store:
        yield store


def delivery(delivery_id: str) -> IncomingDelivery:
    return IncomingDelivery(delivery_id, "push", None, "acme/site", 1, {"id": delivery_id})


class SlowStore:
    """The real store, with each transaction taking at least `delay` seconds (a slow disk)."""

    def __init__(self, store: Store, delay: float) -> None:
        self.store = store
        self.delay = delay
        self.batch_sizes: list[int] = []

    def record_deliveries(self, deliveries: Sequence[IncomingDelivery]) -> list[RecordOutcome]:
        time.sleep(self.delay)
        self.batch_sizes.append(len(deliveries))
        return self.store.record_deliveries(deliveries)


async def record_all(batcher: DeliveryBatcher, ids: list[str]) -> list[RecordOutcome | BaseException]:
    return await asyncio.gather(*(batcher.record(delivery(i)) for i in ids), return_exceptions=True)


def test_waiting_deliveries_share_transactions_and_all_are_stored(store: Store) -> None:
    slow = SlowStore(store, delay=0.02)
    batcher = DeliveryBatcher(slow)
    ids = [f"d-{n}" for n in range(60)]
    try:
        outcomes = asyncio.run(record_all(batcher, ids))
    finally:
        batcher.close()
    assert outcomes == [RecordOutcome.NEW] * 60
    assert sum(slow.batch_sizes) == 60
    assert len(slow.batch_sizes) < 10, slow.batch_sizes  # 60 one-by-one commits would be 60 batches
    assert all(store.get_delivery(i) is not None for i in ids)


def test_an_answer_comes_only_after_its_commit(store: Store) -> None:
    seen_stored: list[bool] = []
    batcher = DeliveryBatcher(store)

    async def one() -> None:
        await batcher.record(delivery("after-commit"))
        seen_stored.append(store.get_delivery("after-commit") is not None)

    try:
        asyncio.run(one())
    finally:
        batcher.close()
    assert seen_stored == [True]


def test_max_batch_bounds_a_transaction(store: Store) -> None:
    slow = SlowStore(store, delay=0.01)
    batcher = DeliveryBatcher(slow, max_batch=4)
    try:
        outcomes = asyncio.run(record_all(batcher, [f"m-{n}" for n in range(20)]))
    finally:
        batcher.close()
    assert outcomes == [RecordOutcome.NEW] * 20
    assert max(slow.batch_sizes) <= 4


class FailsFor:
    """Refuses any batch holding one poisoned id, like a database error caused by one row."""

    def __init__(self, store: Store, poisoned: str) -> None:
        self.store = store
        self.poisoned = poisoned
        self.gate = threading.Event()

    def record_deliveries(self, deliveries: Sequence[IncomingDelivery]) -> list[RecordOutcome]:
        self.gate.wait(5)  # let every delivery queue up, so they arrive as one batch
        if any(d.delivery_id == self.poisoned for d in deliveries):
            raise RuntimeError("disk I/O error")
        return self.store.record_deliveries(deliveries)


def test_one_failing_delivery_does_not_fail_the_others(store: Store) -> None:
    failing = FailsFor(store, poisoned="bad")
    batcher = DeliveryBatcher(failing)

    async def scenario() -> list[RecordOutcome | BaseException]:
        tasks = [asyncio.ensure_future(batcher.record(delivery(i))) for i in ("a", "bad", "b", "c")]
        await asyncio.sleep(0.05)
        failing.gate.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    try:
        outcomes = asyncio.run(scenario())
    finally:
        batcher.close()
    assert outcomes[0] is RecordOutcome.NEW and outcomes[2:] == [RecordOutcome.NEW, RecordOutcome.NEW]
    assert isinstance(outcomes[1], RuntimeError)
    assert store.get_delivery("bad") is None
    assert [store.get_delivery(i) is not None for i in ("a", "b", "c")] == [True, True, True]


def test_a_bad_value_fails_only_its_own_request(store: Store) -> None:
    batcher = DeliveryBatcher(store)

    async def scenario() -> list[RecordOutcome | BaseException]:
        return await asyncio.gather(
            batcher.record(delivery("ok")), batcher.record(delivery("x" * 101)), return_exceptions=True
        )

    try:
        outcomes = asyncio.run(scenario())
    finally:
        batcher.close()
    assert outcomes[0] is RecordOutcome.NEW
    assert isinstance(outcomes[1], ValueError)


def test_a_closed_batcher_refuses_new_deliveries(store: Store) -> None:
    batcher = DeliveryBatcher(store)
    asyncio.run(record_all(batcher, ["before-close"]))
    batcher.close()
    with pytest.raises(RuntimeError, match="stopped"):
        asyncio.run(batcher.record(delivery("after-close")))
    assert store.get_delivery("before-close") is not None
