"""How a delivery's payload is stored: its JSON text, UTF-8, in one zstd frame.

Webhook payloads are large (a ``pull_request`` event is ~25 KB) and very repetitive (dozens of API
URLs), so zstd at its fastest level shrinks one ~10× in ~20 µs and restores it in ~10 µs. Storing that
instead of the text is what lets the webhook's durable write keep up: on this project's machines the
disk syncs ~200 MB/s, and a batch of 30 uncompressed payloads spent ~3.5 ms in its fsync alone, the
checkpoint then writing every page a second time (docs/performance.md). It also keeps the table a tenth
of the size, and the text is kept exactly as sent (PostgreSQL's JSONB had to replace NUL characters).
"""

from __future__ import annotations

import threading
from typing import Any

import zstandard

from bot import jsoncodec

__all__ = ["pack_payload", "unpack_payload"]

LEVEL = 1  # zstd's fastest standard level: ratio 10.7 on a 25 KB payload vs 11.0 at the default 3, 2x faster

_local = threading.local()  # zstd (de)compression contexts are not shareable between threads


def pack_payload(value: Any) -> bytes:
    """JSON text (a `jsoncodec.RawJson` is stored as it is) or a JSON-able value → the stored bytes."""
    compressor: zstandard.ZstdCompressor | None = getattr(_local, "compressor", None)
    if compressor is None:
        compressor = _local.compressor = zstandard.ZstdCompressor(level=LEVEL)
    return compressor.compress(jsoncodec.dumps(value).encode("utf-8"))


def unpack_payload(data: bytes) -> Any:
    """The stored bytes → the parsed JSON value."""
    decompressor: zstandard.ZstdDecompressor | None = getattr(_local, "decompressor", None)
    if decompressor is None:
        decompressor = _local.decompressor = zstandard.ZstdDecompressor()
    return jsoncodec.loads(decompressor.decompress(data))
