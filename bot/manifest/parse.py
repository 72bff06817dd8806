"""Bytes -> plain data, for read-only paths (validate, hash, diff).

tomli is used rather than the stdlib tomllib: it is the same parser (tomllib is vendored from
it) but its wheels are compiled with mypyc, which makes the 5,000-module manifest parse ~3x
faster. Every failure mode becomes a `Problem`; nothing here raises for bad input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import tomli

from bot.manifest.locate import find_duplicate_key
from bot.manifest.problems import Problem, error

MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 16  # the deepest real manifest is 4 (build.storefront[0].redirect_uris[0])

_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)")
_DUPLICATE_HINTS = ("Cannot overwrite a value", "Cannot declare", "Cannot mutate immutable namespace")


@dataclass(slots=True)
class ParsedDocument:
    """The decoded text and its data; `data` is None when the file could not be parsed."""

    text: str
    data: dict[str, Any] | None
    problems: list[Problem] = field(default_factory=list)


def parse_manifest_bytes(raw: bytes) -> ParsedDocument:
    if len(raw) > MAX_BYTES:
        return ParsedDocument(
            "",
            None,
            [
                error(
                    "limits",
                    "",
                    f"the file is {len(raw):,} bytes; a manifest may be at most {MAX_BYTES:,} bytes (4 MiB)",
                )
            ],
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        problem = error(
            "utf8",
            "",
            f"the file is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at line {line}, column {column}); "
            "save it as UTF-8",
        )
        return ParsedDocument("", None, [problem.at(line, column)])
    return parse_manifest_text(text)


def parse_manifest_text(text: str) -> ParsedDocument:
    if len(text) > MAX_BYTES:  # characters >= bytes / 4; checked again here for text callers
        return parse_manifest_bytes(text.encode("utf-8", "surrogatepass"))
    problems: list[Problem] = []
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        data = tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        return ParsedDocument(text, None, [_syntax_problem(exc, text)])
    except (RecursionError, MemoryError):
        return ParsedDocument(text, None, [_too_deep()])
    if _depth_exceeds(data, MAX_DEPTH):
        return ParsedDocument(text, None, [_too_deep()])
    return ParsedDocument(text, data, problems)


def _too_deep() -> Problem:
    return error(
        "limits", "", f"values are nested deeper than {MAX_DEPTH} levels; a manifest never needs that"
    )


def _syntax_problem(exc: tomli.TOMLDecodeError, text: str) -> Problem:
    message = str(exc)
    line = column = None
    match = _TOML_POSITION.search(message)
    if match:
        if match.group(1):
            line, column = int(match.group(1)), int(match.group(2))
        message = message[: match.start()]
    if any(hint in message for hint in _DUPLICATE_HINTS):
        # tomli often reports these "at end of document"; find the repeated key ourselves.
        found = find_duplicate_key(text)
        path, line = found if found else ("", line)
        return error(
            "duplicate-key",
            path,
            f"{path or 'a key or table'} is defined more than once; keep one definition ({message})",
        ).at(line, None if found else column)
    where = f" at line {line}, column {column}" if line is not None else " at the end of the file"
    return error("toml-syntax", "", f"TOML syntax error{where}: {message}").at(line, column)


def _depth_exceeds(value: object, limit: int) -> bool:
    """Iterative, so a hostile document cannot exhaust the stack here either; only containers
    are pushed, so a large flat manifest costs one type check per value."""
    stack: list[tuple[dict[str, Any] | list[Any], int]] = []
    if isinstance(value, dict | list):
        stack.append((value, 0))
    while stack:
        item, depth = stack.pop()
        if depth >= limit:
            return True
        children: Any = item.values() if type(item) is dict else item
        for child in children:
            kind = type(child)
            if (kind is dict or kind is list) and child:
                stack.append((child, depth + 1))
    return False
