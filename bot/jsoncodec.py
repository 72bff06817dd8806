"""JSON in and out on the hot path (webhook bodies, stored payloads): orjson, with the standard library
as the fallback for what orjson refuses but JSON allows.

orjson parses a 25 KB webhook body ~2.5× faster and serializes it ~12× faster than ``json``
(docs/performance.md). It is stricter in a few corners that GitHub could in theory send — a lone
surrogate escape (``"\\ud800"``), an integer beyond 64 bits — and there the standard library takes
over, so a delivery is never refused or lost because of the faster parser.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["RawJson", "dumps", "loads", "loads_exact"]


class RawJson(str):
    """JSON text that is already exactly what should be stored: `dumps` passes it through unchanged."""

    __slots__ = ()


def loads(data: bytes | str) -> Any:
    """Parse JSON text; ``ValueError`` (``json.JSONDecodeError``) when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return _fallback_loads(data)


def loads_exact(data: bytes) -> tuple[Any, RawJson | None]:
    """Parse JSON bytes; also return the text itself when it can be stored as it is (orjson accepted
    it: strict JSON in valid UTF-8), else None (the fallback parser's corner cases get re-serialized)."""
    try:
        return orjson.loads(data), RawJson(data.decode("utf-8"))
    except orjson.JSONDecodeError:
        return _fallback_loads(data), None


def _fallback_loads(data: bytes | str) -> Any:
    try:
        return json.loads(data)  # raises json.JSONDecodeError (a ValueError) when it really is not JSON
    except RecursionError:  # nesting deeper than the interpreter's stack: refused like bad JSON
        raise ValueError("JSON nested too deeply") from None


def dumps(value: Any) -> str:
    """Compact JSON text (a `RawJson` is returned as it is)."""
    if isinstance(value, RawJson):
        return str(value)
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:  # e.g. a lone surrogate, a non-str key, an int beyond 64 bits
        return json.dumps(value, separators=(",", ":"))
