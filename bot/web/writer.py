"""The writer process: parses and stores webhook deliveries on the second core.

One Python process runs one bytecode at a time (the interpreter lock). In the web process the event
loop (HTTP, signatures) and the delivery writer (JSON, SQL) took turns on that lock, so the webhook
used one core of two however the work was split into threads. `WriterProcess` moves the intake
(bot/web/intake.py: parse, classify, one `record_deliveries` transaction per batch) into a child
process of its own with its own store connection: the web process sends each batch of verified raw
bodies down a pipe and waits for the answers (the waiting thread holds no lock while it waits).
Durability is unchanged: the child answers only after its transaction is committed.

If the child dies, the batch in flight fails (its deliveries get 503 and GitHub redelivers them;
redelivery is deduplicated) and the next batch starts a new child.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from bot.web.intake import Intake, RawDelivery, StoreIntake

__all__ = ["WriterProcess"]

log = logging.getLogger(__name__)

_START_TIMEOUT = 60.0  # seconds for the child to import the bot and open the store


def _child_main(conn: Connection, database_url: str, repositories: frozenset[str] | None) -> None:
    from bot.store import open_store  # noqa: PLC0415 - imported in the child only

    try:
        store = open_store(database_url, migrate=False)  # the parent migrated before serving
        store.queue_depth()  # connect now: a store it cannot use fails the start, not the first delivery
    except Exception as exc:
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    intake = StoreIntake(store, repositories)
    conn.send(("ready", None))
    try:
        while True:
            try:
                batch = conn.recv()
            except EOFError:
                return  # the parent is gone or closed the pipe
            if batch is None:
                return
            try:
                conn.send(("ok", intake.take(batch)))
            except Exception as exc:  # the batch fails; the parent retries its deliveries one by one
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        store.dispose()


class WriterProcess:
    """A `DeliveryIntake` that runs in a child process. `take` is called by one thread at a time."""

    def __init__(self, database_url: str, repositories: frozenset[str] | None) -> None:
        self._database_url = database_url
        self._repositories = repositories
        self._context = multiprocessing.get_context("spawn")  # no inherited threads, locks or sockets
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self.starts = 0

    def start(self) -> None:
        with self._lock:
            self._ensure_child()

    def _ensure_child(self) -> Connection:
        if self._conn is not None and self._process is not None and self._process.is_alive():
            return self._conn
        self._stop_child()
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_child_main,
            args=(child, self._database_url, self._repositories),
            name="modbot-webhook-writer",
            daemon=True,
        )
        process.start()
        child.close()
        self.starts += 1
        if not parent.poll(_START_TIMEOUT):
            process.kill()
            raise RuntimeError("the webhook writer process did not start")
        kind, detail = parent.recv()
        if kind != "ready":
            process.join(5)
            raise RuntimeError(f"the webhook writer process could not open the store: {detail}")
        self._process, self._conn = process, parent
        return parent

    def take(self, batch: Sequence[RawDelivery]) -> list[Intake]:
        with self._lock:
            conn = self._ensure_child()
            try:
                conn.send(list(batch))
                kind, value = conn.recv()
            except (EOFError, OSError) as exc:
                self._stop_child()
                raise RuntimeError(f"the webhook writer process stopped: {exc}") from None
        if kind != "ok":
            raise RuntimeError(f"the webhook writer could not store the batch: {value}")
        results: list[Intake] = value
        return results

    def _stop_child(self) -> None:
        conn, process = self._conn, self._process
        self._conn = self._process = None
        if conn is not None:
            with contextlib.suppress(OSError, ValueError):  # the child may be gone already
                conn.send(None)
            conn.close()
        if process is not None:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join(5)

    def close(self) -> None:
        with self._lock:
            self._stop_child()

    @property
    def pid(self) -> int | None:
        process = self._process
        return None if process is None else process.pid
