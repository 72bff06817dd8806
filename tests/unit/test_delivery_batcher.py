"""Taking in webhook deliveries (bot/web/intake.py, recorder.py): what is answered at once and what is
stored (as sent); many waiting deliveries, one transaction each time; a failure of one delivery never
fails the others; nobody is answered before the commit."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import zstandard

from bot.store import RecordOutcome, Store
from bot.store.queue import IncomingDelivery
from bot.web.intake import Intake, RawDelivery, classify
from bot.web.recorder import DeliveryBatcher
from tests.store_helpers import temporary_store

NEW = RecordOutcome.NEW
PENDING = RecordOutcome.DUPLICATE_PENDING


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with temporary_store("sqlite", directory=tmp_path) as store:
        yield store


def raw(delivery_id: str, event: str = "push", body: dict[str, object] | bytes | None = None) -> RawDelivery:
    if body is None:
        body = {"ref": "refs/heads/main", "repository": {"full_name": "Acme/Site"}, "installation": {"id": 7}}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return RawDelivery(delivery_id, event, data)


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


def incoming(delivery_id: str) -> IncomingDelivery:
    item = classify(raw(delivery_id), None)
    assert isinstance(item, IncomingDelivery)
    return item


def take(batch: list[RawDelivery], store: Store, repositories: frozenset[str] | None) -> list[object]:
    """What the webhook does: answer at once, or store (all storable ones in one transaction)."""
    items = [classify(r, repositories) for r in batch]
    outcomes = iter(store.record_deliveries([i for i in items if isinstance(i, IncomingDelivery)]))
    return [next(outcomes) if isinstance(i, IncomingDelivery) else i for i in items]


async def take_all(batcher: DeliveryBatcher, ids: list[str]) -> list[RecordOutcome | BaseException]:
    return await asyncio.gather(*(batcher.record(incoming(i)) for i in ids), return_exceptions=True)


# -- the intake: parse, classify, store -----------------------------------------------------------------


def test_intake_answers_each_kind_of_delivery(store: Store) -> None:
    batch = [
        raw("d-1"),
        RawDelivery("d-2", "push", b"{not json"),
        RawDelivery("d-3", "push", b"[1, 2]"),
        raw("", "ping", {"zen": "Design for failure."}),
        raw("d-5", "star", {"action": "created", "repository": {"full_name": "acme/site"}}),
        raw("d-6", "push", {"repository": {"full_name": "other/repo"}}),
        raw("d-1"),  # the same id again in the same batch
    ]
    results = take(batch, store, frozenset({"acme/site"}))
    assert results == [
        NEW,
        Intake(400, "rejected", "the body is not JSON"),
        Intake(400, "rejected", "the body is not a JSON object"),
        Intake(200, "accepted"),
        Intake(202, "ignored"),
        Intake(202, "ignored"),
        PENDING,
    ]
    assert store.queue_depth() == 1
    stored = store.get_delivery("d-1")
    assert stored is not None and stored.installation_id == 7 and stored.repository == "Acme/Site"


def test_the_body_is_stored_as_sent_when_it_is_strict_json(store: Store) -> None:
    body = b'{"action":"opened","n":1.50,"text":"caf\\u00e9 \xe2\x9c\x93","repository":{"full_name":"a/b"}}'
    assert take([RawDelivery("exact", "pull_request", body)], store, None) == [NEW]
    stored = store.get_delivery("exact")
    assert stored is not None and stored.payload["text"] == "café ✓" and stored.payload["n"] == 1.5
    with store.read() as conn:
        packed = conn.exec_driver_sql("SELECT payload FROM deliveries WHERE delivery_id = 'exact'").scalar()
    assert zstandard.ZstdDecompressor().decompress(packed) == body  # the bytes GitHub sent


def test_json_that_only_the_fallback_parser_takes_is_still_stored(store: Store) -> None:
    lone_surrogate = b'{"title": "\\ud800 broken", "big": 123456789012345678901234567890}'
    assert take([RawDelivery("odd", "pull_request", lone_surrogate)], store, None) == [NEW]
    stored = store.get_delivery("odd")
    assert stored is not None and stored.payload["big"] == 123456789012345678901234567890


# -- the batcher: group commit ------------------------------------------------------------------------


def test_waiting_deliveries_share_transactions_and_all_are_stored(store: Store) -> None:
    slow = SlowStore(store, delay=0.02)
    batcher = DeliveryBatcher(slow)
    ids = [f"d-{n}" for n in range(60)]
    try:
        results = asyncio.run(take_all(batcher, ids))
    finally:
        batcher.close()
    assert results == [NEW] * 60
    assert sum(slow.batch_sizes) == 60
    assert len(slow.batch_sizes) < 10, slow.batch_sizes  # 60 one-by-one commits would be 60 batches
    assert all(store.get_delivery(i) is not None for i in ids)


def test_an_answer_comes_only_after_its_commit(store: Store) -> None:
    seen_stored: list[bool] = []
    batcher = DeliveryBatcher(store)

    async def one() -> None:
        await batcher.record(incoming("after-commit"))
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
        results = asyncio.run(take_all(batcher, [f"m-{n}" for n in range(20)]))
    finally:
        batcher.close()
    assert results == [NEW] * 20
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
        tasks = [asyncio.ensure_future(batcher.record(incoming(i))) for i in ("a", "bad", "b", "c")]
        await asyncio.sleep(0.05)
        failing.gate.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    try:
        results = asyncio.run(scenario())
    finally:
        batcher.close()
    assert results[0] == NEW and results[2:] == [NEW, NEW]
    assert isinstance(results[1], RuntimeError)
    assert store.get_delivery("bad") is None
    assert [store.get_delivery(i) is not None for i in ("a", "b", "c")] == [True, True, True]


def test_a_closed_batcher_refuses_new_deliveries(store: Store) -> None:
    batcher = DeliveryBatcher(store)
    asyncio.run(take_all(batcher, ["before-close"]))
    batcher.close()
    with pytest.raises(RuntimeError, match="stopped"):
        asyncio.run(batcher.record(incoming("after-close")))
    assert store.get_delivery("before-close") is not None


def test_a_request_cancelled_while_waiting_leaves_the_shared_write_alone(store: Store) -> None:
    """A client that hangs up cancels its own wait only: the batch it joined is committed for everyone,
    its own row included, and nothing is left unresolved in the loop."""
    slow = SlowStore(store, delay=0.2)
    batcher = DeliveryBatcher(slow)

    errors: list[dict[str, object]] = []

    async def scenario() -> list[RecordOutcome | BaseException]:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, context: errors.append(context))
        first = asyncio.ensure_future(batcher.record(incoming("busy")))  # holds the writer for 0.2 s
        await asyncio.sleep(0.05)
        tasks = [asyncio.ensure_future(batcher.record(incoming(f"d-{n}"))) for n in range(3)]
        await asyncio.sleep(0.01)
        tasks[1].cancel()
        results = await asyncio.gather(first, *tasks, return_exceptions=True)
        await asyncio.sleep(0.3)  # the writer's answer to the cancelled request arrives after it is gone
        return results

    outcome: list[list[RecordOutcome | BaseException]] = []
    # in a thread of its own, so that a request left waiting fails the test instead of hanging it
    runner = threading.Thread(target=lambda: outcome.append(asyncio.run(scenario())), daemon=True)
    runner.start()
    runner.join(timeout=20)
    batcher.close(timeout=5)
    assert outcome, "a request was never answered"
    results = outcome[0]
    assert results[0] == NEW and results[1] == NEW and results[3] == NEW
    assert isinstance(results[2], asyncio.CancelledError)
    assert errors == []  # e.g. a result set on the cancelled future
    assert slow.batch_sizes == [1, 3]  # the cancelled delivery stayed in its batch
    assert all(store.get_delivery(f"d-{n}") is not None for n in range(3))
