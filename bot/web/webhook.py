"""POST /webhook: verify, record, answer. Nothing else happens here; a worker does the work.

Order matters: the size limit first (before reading more than it allows), then the signature
over the raw body (before parsing anything from an unverified sender), then the JSON, then one
durable write, then 202. A rejected delivery stores nothing. The first three happen here, on the event
loop, and so do the JSON and its classification (bot/web/intake.py); the group-committed write happens
in a writer thread (bot/web/recorder.py).

The endpoint is a bare ASGI handler that the app calls before any of FastAPI's own work
(bot/web/app.py), not a FastAPI route: it is the one hot path (GitHub can burst hundreds of deliveries),
and FastAPI's routing, middleware and dependency machinery cost more CPU per delivery than the
signature check, the JSON read and the database write together (profile in docs/performance.md).
Every other path goes to FastAPI unchanged.

Bodies are read before their signature can be checked, so what unverified senders may make the server
hold is bounded: a body needs a declared Content-Length (411) within the size limit (413), and its length
is reserved from the edge's budget of unverified bytes before it is read (503 past it; bot/web/edge.py).
Each of those refusals closes the connection without reading the body. Refusals are logged rate-limited.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.types import Message, Receive, Scope, Send

from bot import jsoncodec
from bot.logs import ThrottledLog
from bot.metrics import Metrics
from bot.store.queue import IncomingDelivery, RecordOutcome
from bot.web.edge import UnverifiedBytes
from bot.web.intake import HANDLED_EVENTS, Intake, RawDelivery, classify
from bot.web.signature import Verifier

__all__ = ["HANDLED_EVENTS", "WEBHOOK_PATH", "DeliveryRecorder", "WebhookConfig", "WebhookEndpoint"]

log = logging.getLogger(__name__)
_refusals = ThrottledLog(log)  # an unverified sender can cause these at will

WEBHOOK_PATH = "/webhook"


class DeliveryRecorder(Protocol):
    """Stores a delivery durably and says what it did (`bot.web.recorder.DeliveryBatcher`)."""

    async def record(self, delivery: IncomingDelivery) -> RecordOutcome: ...


@dataclass(frozen=True)
class WebhookConfig:
    secrets: Sequence[str]
    max_body_bytes: int
    repositories: frozenset[str] | None  # allow-list; None = every repository the App is installed on
    unverified: UnverifiedBytes  # bodies being read before their signature is checked (bot/web/edge.py)


class _TooLarge(Exception):
    pass


# refusals answered without reading the body: the connection is closed rather than drained
_CLOSE = ((b"connection", b"close"),)
_CLOSING_STATUSES = frozenset({411, 413, 503})


class _Disconnected(Exception):
    pass


class WebhookEndpoint:
    """The ASGI handler of ``/webhook`` (bot/web/app.py routes the path here)."""

    def __init__(
        self,
        *,
        config: WebhookConfig,
        recorder: DeliveryRecorder,
        metrics: Metrics,
        on_recorded: Callable[[], None],
    ) -> None:
        if not config.secrets:
            raise ValueError("no webhook secret is configured; refusing to accept unverifiable deliveries")
        self.config = config
        self.verifier = Verifier(config.secrets)
        self.recorder = recorder
        self.metrics = metrics
        self.on_recorded = on_recorded
        self._counters: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers = _headers(scope)
        event = headers.get("x-github-event", "")
        if scope["method"] != "POST":
            answer = self._reject(event, 405, "use POST")
            await _send_json(send, answer, extra=((b"allow", b"POST"),))
            return
        try:
            answer = await self._handle(headers, event, receive)
        except _Disconnected:
            return  # the sender hung up before the body arrived: nothing was stored, nothing to answer
        await _send_json(send, answer, extra=_CLOSE if answer.status in _CLOSING_STATUSES else ())
        self.metrics.ack_seconds.observe(time.perf_counter() - started)

    def _count(self, event: str, outcome: str) -> None:
        # the labelled child, looked up once per (event, outcome): both come from small fixed sets
        key = (_event_label(event), outcome)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.metrics.deliveries.labels(*key)
        counter.inc()

    def _reject(self, event: str, status: int, error: str) -> Intake:
        self._count(event, "rejected")
        # one line per kind of refusal and interval: 1,000 bad signatures are not 1,000 lines; only
        # known event names are echoed (the header is the sender's text)
        label = _event_label(event)
        _refusals.warning(str(status), "webhook refused (%d): %s (event %s)", status, error, label)
        return Intake(status, "rejected", error)

    async def _handle(self, headers: dict[str, str], event: str, receive: Receive) -> Intake:
        limit = self.config.max_body_bytes
        declared = headers.get("content-length")
        if declared is None:  # GitHub always declares it; without it the size is not known up front
            return self._reject(event, 411, "Content-Length is required")
        if not declared.isdigit() or int(declared) > limit:
            return self._reject(event, 413, f"body larger than {limit} bytes")
        size = int(declared)
        unverified = self.config.unverified
        if not unverified.take(size):
            return self._reject(event, 503, "too many unverified bytes in flight; redeliver later")
        try:
            body = await _read_body(receive, size)
            signature = headers.get("x-hub-signature-256")
            if size > unverified.small_body_bytes:  # tens of ms of HMAC: in a thread (hashlib frees the GIL)
                verified = await asyncio.to_thread(self.verifier.matches, signature, body)
            else:
                verified = self.verifier.matches(signature, body)
        except _TooLarge:  # more than declared: the parser frames by Content-Length, so not expected
            return self._reject(event, 413, f"body larger than {limit} bytes")
        finally:
            unverified.give_back(size)
        if not verified:
            return self._reject(event, 401, "bad or missing X-Hub-Signature-256")
        delivery_id = headers.get("x-github-delivery", "")
        if not event or len(event) > 100 or len(delivery_id) > 100 or (not delivery_id and event != "ping"):
            return self._reject(event, 400, "X-GitHub-Event and X-GitHub-Delivery headers are required")
        item = classify(RawDelivery(delivery_id, event, body), self.config.repositories)
        if isinstance(item, Intake):  # answered without storing anything
            self._count(event, item.outcome)
            return item
        try:
            # committed (with others waiting at the same moment) before the answer: bot/web/recorder.py
            outcome = await self.recorder.record(item)
        except Exception:
            log.exception("webhook: delivery %s could not be stored", delivery_id[:100])
            self._count(event, "error")
            error = "the delivery could not be stored; nothing was recorded, redeliver it"
            return Intake(503, "error", error)
        self._count(event, outcome.value)
        self.on_recorded()
        return Intake(202, outcome.value)


def _event_label(event: str) -> str:
    """The metrics label of an event: anything a sender may put in the header would let an unverified
    sender create label series without bound, so only the events modbot knows are named."""
    return event if event in HANDLED_EVENTS or event == "ping" else "other"


def _headers(scope: Scope) -> dict[str, str]:
    # ASGI header names are lower-case bytes; latin-1 maps every byte (a bad header cannot raise)
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


@functools.lru_cache(maxsize=64)  # a handful of distinct answers, the same ones over and over
def _answer_body(answer: Intake) -> bytes:
    return jsoncodec.dumps(answer.answer()).encode("utf-8")


async def _send_json(send: Send, answer: Intake, extra: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    content = _answer_body(answer)
    await send(
        {
            "type": "http.response.start",
            "status": answer.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode("ascii")),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})
