"""Group commit for webhook deliveries: many 202s, one durable transaction.

Every delivery must be in the store before the webhook answers 202, and a durable commit costs an
fsync (~1.5–2 ms on SQLite here), so one transaction per delivery caps the webhook at a few hundred
deliveries per second however fast the HTTP layer is. `DeliveryBatcher` runs one writer thread: each
request hands its classified delivery over and awaits a future; the writer takes every delivery that is
waiting, records them all with `record_deliveries` (one transaction, one commit) and only then
resolves their futures. Durability is
unchanged (nobody gets a 202 before their row is committed); under load the batches grow by themselves,
when idle a batch is one delivery and adds no delay.

If a batch fails, each of its deliveries is retried alone, so one bad delivery cannot fail the
others; a delivery whose own write fails gets the exception (the webhook answers 503 and GitHub's
redelivery, or the sender, tries again: nothing was stored, nothing is lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.store.queue import IncomingDelivery, RecordOutcome

__all__ = ["BatchRecorder", "DeliveryBatcher"]

log = logging.getLogger(__name__)

MAX_BATCH = 256  # bounds one transaction's size and the wait of the first delivery in it


class BatchRecorder(Protocol):
    """Stores a batch in one transaction (`bot.store.Store`)."""

    def record_deliveries(self, deliveries: Sequence[IncomingDelivery]) -> list[RecordOutcome]: ...


@dataclass(slots=True)
class _Waiting:
    delivery: IncomingDelivery
    future: asyncio.Future[RecordOutcome]


_STOP = object()


class DeliveryBatcher:
    """`await record(delivery)` returns once the delivery is committed (thread-safe, loop-agnostic)."""

    def __init__(self, recorder: BatchRecorder, *, max_batch: int = MAX_BATCH) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._recorder = recorder
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Waiting | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()
        self._stopped = False

    async def record(self, delivery: IncomingDelivery) -> RecordOutcome:
        delivery.check()  # a bad value fails its own request, never a batch
        loop = asyncio.get_running_loop()
        waiting = _Waiting(delivery, loop.create_future())
        self._ensure_started()
        self._queue.put(waiting)
        # A request cancelled here (its client hung up) cancels only this future: the write it is part of
        # goes on for the others, and its result finds the future done and is dropped.
        return await waiting.future

    def _ensure_started(self) -> None:
        with self._guard:
            if self._stopped:
                raise RuntimeError("the delivery writer has stopped")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="modbot-delivery-writer", daemon=True)
                self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop the writer thread."""
        with self._guard:
            self._stopped = True
            thread = self._thread
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch: list[_Waiting] = [first]  # type: ignore[list-item]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)  # type: ignore[arg-type]
            self._write(batch)
            if stop:
                return

    def _write(self, batch: list[_Waiting]) -> None:
        try:
            outcomes = self._recorder.record_deliveries([w.delivery for w in batch])
        except Exception as exc:
            if len(batch) == 1:
                log.exception("storing delivery %s failed", batch[0].delivery.delivery_id)
                _settle(batch, None, exc)
                return
            log.warning("a batch of %d deliveries failed; storing each alone", len(batch), exc_info=True)
            for waiting in batch:
                self._write([waiting])
            return
        _settle(batch, outcomes, None)


def _settle(batch: list[_Waiting], outcomes: list[RecordOutcome] | None, error: BaseException | None) -> None:
    """Resolve the batch's futures: one call into each event loop for the whole batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Waiting, RecordOutcome | None]]] = {}
    for index, waiting in enumerate(batch):
        outcome = outcomes[index] if outcomes is not None else None
        by_loop.setdefault(waiting.future.get_loop(), []).append((waiting, outcome))

    for loop, settled in by_loop.items():

        def resolve(settled: list[tuple[_Waiting, RecordOutcome | None]] = settled) -> None:
            for waiting, outcome in settled:
                if waiting.future.done():  # cancelled: its request is gone, the row is committed anyway
                    continue
                if error is not None:
                    waiting.future.set_exception(error)
                else:
                    assert outcome is not None
                    waiting.future.set_result(outcome)

        # a closed loop: its requests are gone, the rows are committed anyway
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(resolve)
