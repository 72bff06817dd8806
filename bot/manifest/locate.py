"""Where a TOML path is in the text: 1-based line numbers for problems.

The fast parsers give data without positions, so this is a small regex tokenizer over the
text. It runs only when there is something to report (and once per document), so read-only
paths without problems never pay for it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from bot.manifest.problems import join_path

_TOKEN = re.compile(
    r"""
    (?P<nl>\n)
  | (?P<ws>[ \t\r]+)
  | (?P<comment>\#[^\n]*)
  | (?P<mlbasic>\"\"\"(?:[^\\]|\\.)*?\"\"\"\"{0,2})
  | (?P<mlliteral>'''.*?''''{0,2})
  | (?P<basic>"(?:[^"\\\n]|\\.)*")
  | (?P<literal>'[^'\n]*')
  | (?P<aot_open>^[ \t]*\[\[)
  | (?P<aot_close>\]\][ \t]*(?=\n|\#|$))
  | (?P<punct>[\[\]{}=,.])
  | (?P<bare>[A-Za-z0-9_+:\-]+)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL | re.MULTILINE,
)

Part = str | int


@dataclass(slots=True)
class _Frame:
    kind: str  # "inline" (an inline table) or "array"
    base: list[Part]
    index: int = 0


@dataclass(slots=True)
class LineIndex:
    lines: dict[str, int] = field(default_factory=dict)
    duplicate: tuple[str, int] | None = None

    def line_of(self, path: str) -> int | None:
        """The line of `path`, or of its nearest ancestor that is in the file."""
        while path:
            line = self.lines.get(path)
            if line is not None:
                return line
            path = _parent(path)
        return None


_PATH_SEGMENT = re.compile(r'\.?(?:"(?:[^"\\]|\\.)*"|\[\d+\]|[^.\["]+)')


def _parent(path: str) -> str:
    segments = _PATH_SEGMENT.findall(path)
    return "".join(segments[:-1]).lstrip(".") if len(segments) > 1 else ""


def _key_text(kind: str | None, lexeme: str) -> str:
    if kind == "basic":
        try:
            return str(json.loads(lexeme))
        except ValueError:
            return lexeme[1:-1]
    if kind == "literal":
        return lexeme[1:-1]
    return lexeme


def index_lines(text: str) -> LineIndex:
    result = LineIndex()
    lines = result.lines
    table: list[Part] = []
    aot_counts: dict[str, int] = {}
    stack: list[_Frame] = []
    line = 1
    expect = "key"  # "key" | "value" | "sep" (after a value) | "header" | "aot"
    parts: list[str] = []
    key_line = 1
    pending_path: list[Part] = []

    def record(path_parts: list[Part], at: int) -> None:
        path = join_path(*path_parts)
        if path in lines:
            if result.duplicate is None:
                result.duplicate = (path, at)
        else:
            lines[path] = at

    def start_value(kind: str | None, lexeme: str, value_path: list[Part]) -> str:
        if lexeme == "{":
            stack.append(_Frame("inline", value_path))
            return "key"
        if lexeme == "[":
            stack.append(_Frame("array", value_path))
            return "value"
        return "sep"

    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        lexeme = match.group()
        if kind == "nl":
            line += 1
            if not stack:
                expect, parts = "key", []
            continue
        if kind in ("ws", "comment"):
            continue
        if kind in ("mlbasic", "mlliteral"):
            line += lexeme.count("\n")
        if expect in ("header", "aot"):
            if lexeme in ("]", "]]") or kind == "aot_close":
                if expect == "aot":
                    name = join_path(*parts)
                    count = aot_counts[name] = aot_counts.get(name, -1) + 1
                    table = [*parts, count]
                else:
                    table = list(parts)
                record(table, line)
                expect, parts = "sep", []
            elif kind in ("bare", "basic", "literal"):
                parts.append(_key_text(kind, lexeme))
            continue
        if expect == "key":
            if not stack and not parts and lexeme == "[":
                expect = "header"
                continue
            if kind == "aot_open" and not stack:
                expect = "aot"
                continue
            if kind in ("bare", "basic", "literal"):
                if not parts:
                    key_line = line
                parts.append(_key_text(kind, lexeme))
            elif lexeme == "=":
                prefix = stack[-1].base if stack else table
                value_path: list[Part] = [*prefix, *parts]
                record(value_path, key_line)
                parts = []
                expect = "value"
                pending_path = value_path
            elif lexeme == "}" and stack and stack[-1].kind == "inline":
                stack.pop()
                expect = "sep"
            continue
        if expect == "value":
            if lexeme == "]" and stack and stack[-1].kind == "array":  # empty array or trailing comma
                stack.pop()
                expect = "sep"
                continue
            if stack and stack[-1].kind == "array" and pending_path is not stack[-1].base:
                frame = stack[-1]
                pending_path = [*frame.base, frame.index]
                record(pending_path, line)
            expect = start_value(kind, lexeme, pending_path)
            if expect == "value":  # an array opened: its first element's path comes next
                pending_path = stack[-1].base
            continue
        # expect == "sep": after a value, inside a container
        if not stack:
            continue
        frame = stack[-1]
        if lexeme == ",":
            if frame.kind == "array":
                frame.index += 1
                pending_path = frame.base
                expect = "value"
            else:
                expect = "key"
        elif lexeme in ("]", "}"):
            stack.pop()
            expect = "sep"
    return result


def find_duplicate_key(text: str) -> tuple[str, int] | None:
    """The first key or table the text defines twice, with the line of the second definition."""
    return index_lines(text).duplicate
