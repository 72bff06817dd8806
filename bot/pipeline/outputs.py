"""Command results for people (`text`), programs (`json`) and GitHub Actions (`github`).

`github` appends every output to the file named by $GITHUB_OUTPUT in the delimiter form
(`key<<DELIM` … `DELIM`) with a fresh random delimiter, so a value with newlines (or a value that
tries to close the block) cannot inject another output. Lists and objects are written as compact
JSON (the workflow reads them with `fromJSON`); None as an empty string; booleans as true/false.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

OutputValue = str | int | bool | list[Any] | dict[str, Any] | None


class OutputError(Exception):
    """The outputs cannot be written (no $GITHUB_OUTPUT, or it cannot be opened)."""


def output_text(value: OutputValue) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def github_output_block(outputs: Mapping[str, OutputValue]) -> str:
    lines: list[str] = []
    for key, value in outputs.items():
        text = output_text(value)
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        while delimiter in text:  # pragma: no cover - 128 random bits
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        lines += [f"{key}<<{delimiter}", text, delimiter]
    return "\n".join(lines) + "\n"


def write_github_outputs(
    outputs: Mapping[str, OutputValue], environ: Mapping[str, str] | None = None
) -> Path:
    environ = os.environ if environ is None else environ
    target = environ.get("GITHUB_OUTPUT", "")
    if not target:
        raise OutputError("--format github needs $GITHUB_OUTPUT (set by GitHub Actions) to name a file")
    path = Path(target)
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(github_output_block(outputs))
    except OSError as exc:
        raise OutputError(f"cannot append to $GITHUB_OUTPUT ({path}): {exc.strerror or exc}") from None
    return path


def parse_github_outputs(text: str) -> dict[str, str]:
    """Read a $GITHUB_OUTPUT file back (both forms), as the runner does; used by tests and tools."""
    out: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            value: list[str] = []
            while i < len(lines) and lines[i] != delimiter:
                value.append(lines[i])
                i += 1
            if i >= len(lines):
                raise ValueError(f"output {key}: delimiter {delimiter} never closes")
            i += 1
            out[key] = "\n".join(value)
        else:
            key, _, value_text = line.partition("=")
            out[key] = value_text
    return out
