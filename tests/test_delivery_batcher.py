"""Taking in webhook deliveries (bot/web/intake.py, recorder.py, writer.py): many waiting deliveries, one
transaction each time; a failure of one delivery never fails the others; nobody is answered before the
commit; the writer process answers exactly as the in-process intake does."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from bot.store import RecordOutcome, Store
from bot.store.queue import IncomingDelivery
from bot.store.testing import temporary_store
from bot.web.intake import Intake, RawDelivery, StoreIntake, take_deliveries
from bot.web.recorder import DeliveryBatcher
from bot.web.writer import WriterProcess

NEW = Intake(202, RecordOutcome.NEW.value)


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


async def take_all(batcher: DeliveryBatcher, ids: list[str]) -> list[Intake | BaseException]:
    return await asyncio.gather(*(batcher.take(raw(i)) for i in ids), return_exceptions=True)


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
    results = take_deliveries(batch, store, frozenset({"acme/site"}))
    assert results == [
        NEW,
        Intake(400, "rejected", "the body is not JSON"),
        Intake(400, "rejected", "the body is not a JSON object"),
        Intake(200, "accepted"),
        Intake(202, "ignored"),
        Intake(202, "ignored"),
        Intake(202, RecordOutcome.DUPLICATE_PENDING.value),
    ]
    assert store.queue_depth() == 1
    stored = store.get_delivery("d-1")
    assert stored is not None and stored.installation_id == 7 and stored.repository == "Acme/Site"


def test_the_body_is_stored_as_sent_when_it_is_strict_json(store: Store) -> None:
    body = b'{"action":"opened","n":1.50,"text":"caf\\u00e9 \xe2\x9c\x93","repository":{"full_name":"a/b"}}'
    assert take_deliveries([RawDelivery("exact", "pull_request", body)], store, None) == [NEW]
    stored = store.get_delivery("exact")
    assert stored is not None and stored.payload["text"] == "café ✓" and stored.payload["n"] == 1.5
    with store.read() as conn:
        text = conn.exec_driver_sql("SELECT payload FROM deliveries WHERE delivery_id = 'exact'").scalar()
    assert text == body.decode()


def test_json_that_only_the_fallback_parser_takes_is_still_stored(store: Store) -> None:
    lone_surrogate = b'{"title": "\\ud800 broken", "big": 123456789012345678901234567890}'
    assert take_deliveries([RawDelivery("odd", "pull_request", lone_surrogate)], store, None) == [NEW]
    stored = store.get_delivery("odd")
    assert stored is not None and stored.payload["big"] == 123456789012345678901234567890


# -- the batcher: group commit ------------------------------------------------------------------------


def test_waiting_deliveries_share_transactions_and_all_are_stored(store: Store) -> None:
    slow = SlowStore(store, delay=0.02)
    batcher = DeliveryBatcher(StoreIntake(slow, None))
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
    batcher = DeliveryBatcher(StoreIntake(store, None))

    async def one() -> None:
        await batcher.take(raw("after-commit"))
        seen_stored.append(store.get_delivery("after-commit") is not None)

    try:
        asyncio.run(one())
    finally:
        batcher.close()
    assert seen_stored == [True]


def test_max_batch_bounds_a_transaction(store: Store) -> None:
    slow = SlowStore(store, delay=0.01)
    batcher = DeliveryBatcher(StoreIntake(slow, None), max_batch=4)
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
    batcher = DeliveryBatcher(StoreIntake(failing, None))

    async def scenario() -> list[Intake | BaseException]:
        tasks = [asyncio.ensure_future(batcher.take(raw(i))) for i in ("a", "bad", "b", "c")]
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
    batcher = DeliveryBatcher(StoreIntake(store, None))
    asyncio.run(take_all(batcher, ["before-close"]))
    batcher.close()
    with pytest.raises(RuntimeError, match="stopped"):
        asyncio.run(batcher.take(raw("after-close")))
    assert store.get_delivery("before-close") is not None


# -- the writer process -------------------------------------------------------------------------------


def test_the_writer_process_answers_like_the_intake_and_survives_its_child_dying(store: Store) -> None:
    writer = WriterProcess(str(store.engine.url), frozenset({"acme/site"}))
    try:
        writer.start()
        batch = [raw("w-1"), RawDelivery("w-2", "push", b"nope"), raw("w-1"), raw("", "ping", {})]
        assert writer.take(batch) == [
            NEW,
            Intake(400, "rejected", "the body is not JSON"),
            Intake(202, RecordOutcome.DUPLICATE_PENDING.value),
            Intake(200, "accepted"),
        ]
        assert store.get_delivery("w-1") is not None
        first = writer.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        time.sleep(0.2)
        # the next batch starts a new child; nothing was lost, the id is still known
        assert writer.take([raw("w-3"), raw("w-1")]) == [
            NEW,
            Intake(202, RecordOutcome.DUPLICATE_PENDING.value),
        ]
        assert writer.pid not in (None, first) and writer.starts == 2
    finally:
        writer.close()
    assert store.get_delivery("w-3") is not None


def test_a_writer_process_that_cannot_open_the_store_says_why(tmp_path: Path) -> None:
    writer = WriterProcess(f"sqlite:///{tmp_path}/missing-dir/x.sqlite3", None)
    with pytest.raises(RuntimeError, match="could not open the store"):
        writer.start()
    writer.close()
