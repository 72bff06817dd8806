"""Printing for people: colour only on a terminal (and never with NO_COLOR set)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

_CODES = {"red": "31", "yellow": "33", "green": "32", "bold": "1", "dim": "2", "cyan": "36"}


class UsageError(Exception):
    """Bad arguments or a file that cannot be used: exit code 2, one line on stderr."""


def use_colour(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return stream.isatty()


def paint(text: str, colour: str, stream: TextIO | None = None) -> str:
    stream = stream or sys.stdout
    return f"\033[{_CODES[colour]}m{text}\033[0m" if use_colour(stream) else text


def fail(message: str, code: int) -> int:
    print(f"{paint('modbot:', 'red', sys.stderr)} {message}", file=sys.stderr)
    return code


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False))
