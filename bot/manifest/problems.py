"""What validation reports: one `Problem` per finding, never an exception."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding. `rule` is a stable id tools may match on; `path` is a TOML path such as
    `modules.forum.version`; `line` is 1-based, or None when the key is not in the file."""

    severity: Severity
    rule: str
    path: str
    message: str
    line: int | None = None
    column: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def at(self, line: int | None, column: int | None = None) -> Problem:
        return Problem(self.severity, self.rule, self.path, self.message, line, column)

    def to_json(self) -> dict[str, object]:
        return {
            "severity": self.severity.value,
            "rule": self.rule,
            "path": self.path,
            "line": self.line,
            "message": self.message,
        }


def error(rule: str, path: str, message: str) -> Problem:
    return Problem(Severity.ERROR, rule, path, message)


def warning(rule: str, path: str, message: str) -> Problem:
    return Problem(Severity.WARNING, rule, path, message)


_BARE_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def join_path(*parts: str | int) -> str:
    """`join_path("modules", "forum", "features", 1)` -> `modules.forum.features[1]`; keys that are
    not bare TOML keys are quoted, so a path names exactly one place."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        key = part if part and set(part) <= _BARE_KEY_CHARS else _quote_key(part)
        out = f"{out}.{key}" if out else key
    return out


def _quote_key(key: str) -> str:
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in escaped)
    return f'"{escaped}"'
