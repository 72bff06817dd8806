"""Admin actions become pull requests: install | uninstall | upgrade | enable | disable.

`plan_change` is pure: an intent and the manifest text at the default branch's head in, the
branch, title, body and new text of the PR out (or `EditRefused` with the reasons).
`propose_change` is the imperative part: it applies the plan through a `Forge`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.manifest.delta import ModulesDelta
from bot.manifest.edit import (
    MODULE_KEY_ORDER,
    EditRefused,
    EditResult,
    disable,
    enable,
    install,
    uninstall,
    upgrade,
)
from bot.render import render

Action = Literal["install", "uninstall", "upgrade", "enable", "disable"]
ACTIONS: tuple[Action, ...] = ("install", "uninstall", "upgrade", "enable", "disable")
INTENT_MARKER = "modbot:intent"
_MARKER_RE = re.compile(r"<!-- modbot:intent (\{.*?\}) -->", re.DOTALL)
_SPEC_KEYS = (
    "crate",
    "source",
    "version",
    "git",
    "rev",
    "path",
    "features",
    "required",
    "depends_on",
    "runtime",
)


class ModuleChange(BaseModel):
    """The module fields an admin may give (install: the spec; upgrade: what changes)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    crate: str | None = None
    source: Literal["crates-io", "registry", "git", "path"] | None = None
    version: str | None = None
    git: str | None = None
    rev: str | None = None
    path: str | None = None
    features: list[str] | None = None
    required: bool | None = None
    depends_on: list[str] | None = None
    runtime: Literal["extension"] | None = None

    def fields(self) -> dict[str, Any]:
        return {key: value for key in MODULE_KEY_ORDER if (value := getattr(self, key)) is not None}


class Intent(BaseModel):
    """What an admin asked for; the same intent always maps to the same branch."""

    model_config = ConfigDict(extra="forbid", strict=True)

    action: Action
    slug: str = Field(pattern=r"^[a-z0-9]+(_[a-z0-9]+)*$", max_length=48)
    module: ModuleChange = Field(default_factory=ModuleChange)
    enable: bool = False  # install: also add to default_enabled
    requested_by: str = Field(min_length=1, max_length=100)
    reason: str = Field(default="", max_length=2000)

    @field_validator("requested_by")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if any(not ch.isprintable() for ch in value):
            raise ValueError("requested_by must be printable text on one line")
        return value

    @property
    def branch(self) -> str:
        return f"modbot/{self.action}-{self.slug}"


@dataclass(frozen=True, slots=True)
class PlannedChange:
    intent: Intent
    branch: str
    title: str
    body: str
    commit_message: str
    text: str  # the new manifest
    delta: ModulesDelta
    base_sha: str


def plan_change(intent: Intent, manifest_text: str, *, manifest_path: str, base_sha: str) -> PlannedChange:
    result = _apply(intent, manifest_text, manifest_path.rpartition("/")[0])
    title = f"modbot: {intent.action} {result.delta.summary}"
    body = render(
        "comments/admin_pr_body.md.j2",
        intent=intent,
        delta=result.delta,
        manifest_path=manifest_path,
        base_sha=base_sha,
        marker=intent_marker(intent, result, base_sha),
    )
    message = f"{title}\n\nRequested-by: {intent.requested_by}\n" + (
        f"\n{intent.reason}\n" if intent.reason else ""
    )
    return PlannedChange(
        intent, intent.branch, title[:256], body, message, result.text, result.delta, base_sha
    )


def _apply(intent: Intent, text: str, manifest_dir: str) -> EditResult:
    fields = intent.module.fields()
    if intent.action == "install":
        missing = [key for key in ("crate", "source") if key not in fields]
        if missing:
            raise EditRefused([f"install needs {' and '.join(f'`{k}`' for k in missing)} in the module spec"])
        return install(text, intent.slug, fields, enable=intent.enable, manifest_dir=manifest_dir)
    if intent.action == "upgrade":
        return upgrade(text, intent.slug, fields, manifest_dir=manifest_dir)
    if fields:
        raise EditRefused([f"{intent.action} takes no module fields (got {', '.join(sorted(fields))})"])
    if intent.action == "uninstall":
        return uninstall(text, intent.slug, manifest_dir=manifest_dir)
    if intent.action == "enable":
        return enable(text, intent.slug, manifest_dir=manifest_dir)
    return disable(text, intent.slug, manifest_dir=manifest_dir)


def intent_marker(intent: Intent, result: EditResult, base_sha: str) -> str:
    """A hidden, machine-readable record of the intent in the PR body. HTML-significant
    characters are \\u-escaped so no value can close the comment early."""
    data = {
        "action": intent.action,
        "slug": intent.slug,
        "module": intent.module.fields(),
        "enable": intent.enable,
        "requested_by": intent.requested_by,
        "base_sha": base_sha,
        "manifest_hash": result.validation.manifest_hash,
    }
    encoded = json.dumps(data, sort_keys=True, ensure_ascii=True)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("-", "\\u002d")):
        encoded = encoded.replace(char, escape)
    return f"<!-- {INTENT_MARKER} {encoded} -->"


def read_intent_marker(body: str) -> dict[str, Any] | None:
    match = _MARKER_RE.search(body or "")
    if not match:
        return None
    try:
        data = json.loads(match.group(1))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
