"""validate: text in, every problem out, plus the typed manifest and its hash when valid."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.manifest.context import RuleContext
from bot.manifest.hashing import manifest_hash
from bot.manifest.locate import index_lines
from bot.manifest.model import Manifest
from bot.manifest.parse import ParsedDocument, parse_manifest_bytes, parse_manifest_text
from bot.manifest.perf import paused_gc
from bot.manifest.problems import Problem, error
from bot.manifest.rules import run_rules
from bot.manifest.structure import type_manifest

MAX_MODULES = 20_000


@dataclass(frozen=True, slots=True)
class ValidationResult:
    problems: tuple[Problem, ...]
    manifest: Manifest | None  # the typed manifest, when its shape is right (even with errors)
    manifest_hash: str | None = None  # set when valid

    @property
    def valid(self) -> bool:
        return self.manifest is not None and not any(p.is_error for p in self.problems)

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)

    def to_json(self) -> dict[str, object]:
        return {
            "valid": self.valid,
            "manifest_hash": self.manifest_hash,
            "problems": [p.to_json() for p in self.problems],
        }


def validate_bytes(raw: bytes, *, manifest_dir: str = "") -> ValidationResult:
    with paused_gc(len(raw)):
        return _validate(parse_manifest_bytes(raw), manifest_dir)


def validate_text(text: str, *, manifest_dir: str = "") -> ValidationResult:
    with paused_gc(len(text)):
        return _validate(parse_manifest_text(text), manifest_dir)


def validate_file(path: Path, *, manifest_dir: str = "") -> ValidationResult:
    """Raises OSError when the file cannot be read; everything about its content is a Problem."""
    return validate_bytes(path.read_bytes(), manifest_dir=manifest_dir)


def _validate(document: ParsedDocument, manifest_dir: str) -> ValidationResult:
    data = document.data
    if data is None:
        return ValidationResult(tuple(document.problems), None)
    modules = data.get("modules")
    if isinstance(modules, dict) and len(modules) > MAX_MODULES:
        too_many = error(
            "limits",
            "modules",
            f"the manifest lists {len(modules):,} modules; modbot accepts at most {MAX_MODULES:,}",
        )
        return ValidationResult((too_many,), None)
    typed = type_manifest(data)
    problems = [*document.problems, *typed.problems, *run_rules(RuleContext(typed, manifest_dir))]
    if problems:
        problems = _with_lines(problems, document.text)
    valid = typed.manifest is not None and not any(p.is_error for p in problems)
    digest = manifest_hash(typed.manifest) if valid and typed.manifest is not None else None
    return ValidationResult(tuple(problems), typed.manifest, digest)


def _with_lines(problems: list[Problem], text: str) -> list[Problem]:
    index = index_lines(text)
    located = [p if p.line is not None else p.at(index.line_of(p.path)) for p in problems]
    located.sort(key=lambda p: (p.line or 0, p.path, p.rule))
    return located
