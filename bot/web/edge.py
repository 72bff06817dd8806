"""The HTTP edge: what one client may cost the server before anything it sent is verified.

uvicorn's httptools protocol (the fast one `modbot serve` runs) has no limit on a request head's size or
its number of headers (``h11_max_incomplete_event_size`` applies to the h11 protocol only), and no
timeout until a request's head or body has arrived: a connection that sends one byte per second stays
open for ever, and a 64 MB header line is accumulated by concatenation (quadratic work on the event
loop, the memory twice over). `guarded_protocol` subclasses it with:

- a head (request line + headers) of at most ``max_head_bytes`` and ``max_headers`` headers: 431,
  counted before the bytes reach the parser, so nothing past the limit is buffered or parsed;
- a deadline for the head (``head_timeout`` from the connection's first byte, or its opening) and for the
  body (``body_timeout`` from the end of the head): 408 or a close, whichever applies;
and `UnverifiedBytes` bounds the bodies being read before their signature can be checked (the webhook
reserves a body's declared length before reading it; bot/web/webhook.py). uvicorn's own
``limit_concurrency`` (503 past it) and keep-alive timeout cap connections and idle ones.
"""

from __future__ import annotations

import asyncio
import http
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bot.logs import ThrottledLog

__all__ = ["EdgeLimits", "UnverifiedBytes", "guarded_protocol"]

log = logging.getLogger(__name__)
_refusals = ThrottledLog(log)

MiB = 1024 * 1024


@dataclass(frozen=True)
class EdgeLimits:
    """What one request or connection may take. GitHub's deliveries have ~20 headers in ~2 KB and bodies
    of at most 25 MB, sent at once."""

    max_head_bytes: int = 32 * 1024  # request line + headers; nginx's default tops out at 32 KB too
    max_headers: int = 100
    head_timeout: float = 10.0  # the whole head, from its first byte (or the connection's opening)
    body_timeout: float = 60.0  # the whole body, from the end of the head (25 MB at ~0.5 MB/s)
    max_connections: int = 1000  # uvicorn's limit_concurrency: 503 past it
    keep_alive_timeout: int = 5  # an idle keep-alive connection is closed after it (uvicorn's default)
    unverified_bytes: int = 64 * MiB  # bodies being read before their signature is checked, in all
    small_body_bytes: int = 1 * MiB  # bodies above this may use only half of ``unverified_bytes``

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value <= 0:
                raise ValueError(f"{name} must be positive, not {value}")


class UnverifiedBytes:
    """The bytes of request bodies being read before they can be verified, reserved up front from their
    declared length. Large bodies (over ``small_body_bytes``) may hold only half of the budget, so
    abusive large ones (the 24 MB unsigned bodies of issue #11) cannot starve GitHub's usual deliveries
    (tens of KB). Used on the event loop only (no lock)."""

    def __init__(self, limit: int, small_body_bytes: int) -> None:
        self.limit = limit
        self.large_limit = limit // 2
        self.small_body_bytes = small_body_bytes
        self.in_flight = 0
        self.large_in_flight = 0

    def take(self, size: int) -> bool:
        if self.in_flight + size > self.limit:
            return False
        if size > self.small_body_bytes:
            if self.large_in_flight + size > self.large_limit:
                return False
            self.large_in_flight += size
        self.in_flight += size
        return True

    def give_back(self, size: int) -> None:
        self.in_flight -= size
        if size > self.small_body_bytes:
            self.large_in_flight -= size


def guarded_protocol(limits: EdgeLimits) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with ``limits`` (pass it as ``uvicorn.Config(http=...)``)."""
    return type("GuardedHttpToolsProtocol", (_GuardedHttpToolsProtocol,), {"limits": limits})


class _Refused(Exception):
    pass


_SWEEP_SECONDS = 0.5  # how often deadlines are checked: a timeout fires up to this much late


class _GuardedHttpToolsProtocol(HttpToolsProtocol):
    """Deadlines are a timestamp per connection, checked by one sweep of all connections every
    ``_SWEEP_SECONDS`` (not a timer per request: arming and cancelling two timers per request cost
    more than the rest of the checks; the hot path here is ~50 µs per request)."""

    limits: ClassVar[EdgeLimits]
    _sweeping: ClassVar[bool] = False  # per subclass: one server, one event loop

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # between requests or inside a head (not inside a body)
        self._head_left = self.limits.max_head_bytes
        self._deadline: float | None = None  # loop time by which the head or the body must be complete
        self._refusal: tuple[int, str] | None = None

    # -- connection ---------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline = self.loop.time() + self.limits.head_timeout  # an opened, silent connection too
        cls = type(self)
        if not cls._sweeping:
            cls._sweeping = True
            self.loop.call_later(_SWEEP_SECONDS, _sweep, cls, self.loop, self.connections)

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            return  # answered and closing: nothing more is read
        if not self._in_head:
            super().data_received(data)
            return
        if self._deadline is None:  # the first byte of a head on a kept-alive connection
            self._deadline = self.loop.time() + self.limits.head_timeout
        if len(data) <= self._head_left:
            self._head_left -= len(data)
            super().data_received(data)
            return
        # feed what the head may still take: past it, either the head ended (the rest is body or the
        # next request) or it is too large, and is refused without one more byte being parsed
        allowed, self._head_left = self._head_left, 0
        super().data_received(data[:allowed])
        if self._refusal is not None or self.transport.is_closing():
            return
        if self._in_head:
            self._refuse(431, f"request head larger than {self.limits.max_head_bytes} bytes")
            return
        self.data_received(data[allowed:])

    # -- parser callbacks ---------------------------------------------------------------------------

    def on_headers_complete(self) -> None:
        # counted here rather than per header (a call per header costs on every request); the head's
        # size limit already bounds what was collected
        if len(self.headers) > self.limits.max_headers:
            self._refusal = (431, f"more than {self.limits.max_headers} headers")
            raise _Refused  # httptools stops parsing; uvicorn answers through send_400_response
        self._in_head = False
        self._deadline = self.loop.time() + self.limits.body_timeout
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._deadline = None
        self._in_head = True
        self._head_left = self.limits.max_head_bytes
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        if self._refusal is not None:  # our refusal, raised from a parser callback
            status, reason = self._refusal
            self._refusal = None
            self._refuse(status, reason)
            return
        super().send_400_response(msg)

    # -- deadlines and refusals ---------------------------------------------------------------------

    def _check_deadline(self, now: float) -> None:
        if self._deadline is None or now < self._deadline or self.transport.is_closing():
            return
        self._deadline = None
        if not self._in_head:
            _refusals.warning(
                "body-timeout",
                "closed a connection from %s: request body not complete within %gs",
                _client(self.client),
                self.limits.body_timeout,
            )
            # the app, if it is still reading, sees http.disconnect; nothing of this request was stored
            self.transport.close()
            return
        responding = self.cycle is not None and not self.cycle.response_complete
        if responding or self._head_left == self.limits.max_head_bytes:  # no byte of a head yet
            self.transport.close()
            return
        self._refuse(408, f"request head not complete within {self.limits.head_timeout:g}s")

    def _refuse(self, status: int, reason: str) -> None:
        """Answer ``status`` (with ``Connection: close``) and close, before any application code ran."""
        self._deadline = None
        self._refusal = (status, reason)
        _refusals.warning(
            f"refused-{status}", "refused a request from %s: %s (%d)", _client(self.client), reason, status
        )
        body = reason.encode("ascii", "replace")
        phrase = http.HTTPStatus(status).phrase
        self.transport.write(
            f"HTTP/1.1 {status} {phrase}\r\ncontent-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode("ascii")
            + body
        )
        self.transport.close()


def _sweep(
    cls: type[_GuardedHttpToolsProtocol], loop: asyncio.AbstractEventLoop, connections: set[Any]
) -> None:
    """Every connection's deadline, checked; again in ``_SWEEP_SECONDS`` while any connection is open."""
    now = loop.time()
    for connection in list(connections):
        if isinstance(connection, _GuardedHttpToolsProtocol):
            connection._check_deadline(now)
    if connections:
        loop.call_later(_SWEEP_SECONDS, _sweep, cls, loop, connections)
    else:
        cls._sweeping = False


def _client(address: tuple[str, int] | None) -> str:
    return f"{address[0]}:{address[1]}" if address else "?"
