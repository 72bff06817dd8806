"""modules_delta: what changed in meaning between two manifests, and what is risky about it.

Compares canonical forms (see hashing.py), so a reformatted file has an empty delta.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from bot.manifest.cargo import parse_version_req
from bot.manifest.hashing import canonical_build, canonical_module, manifest_hash
from bot.manifest.model import Manifest, ModuleSpec
from bot.manifest.perf import paused_gc

_SET_FIELDS = ("features", "depends_on")


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    old: Any
    new: Any
    direction: str | None = None  # version: "up" | "down" | "same-floor"; source: "a->b"
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "old": self.old, "new": self.new}
        if self.direction is not None:
            out["direction"] = self.direction
        if self.field in _SET_FIELDS or self.added or self.removed:
            out["added"] = list(self.added)
            out["removed"] = list(self.removed)
        return out


@dataclass(frozen=True, slots=True)
class Risk:
    kind: str  # remove-required | remove-depended-on | version-downgrade | git-source
    slug: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "slug": self.slug, "message": self.message}


@dataclass(frozen=True, slots=True)
class ModulesDelta:
    added: dict[str, dict[str, Any]]  # slug -> canonical spec of the new module
    removed: dict[str, dict[str, Any]]  # slug -> canonical spec it had
    changed: dict[str, tuple[FieldChange, ...]]
    default_enabled_added: tuple[str, ...]
    default_enabled_removed: tuple[str, ...]
    build: tuple[FieldChange, ...]
    other: tuple[FieldChange, ...]  # schema, app, unknown top-level keys
    risks: tuple[Risk, ...]
    base_hash: str
    head_hash: str
    summary: str = field(default="")

    @property
    def is_empty(self) -> bool:
        return self.base_hash == self.head_hash

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "added": [{"slug": slug, **spec} for slug, spec in self.added.items()],
            "removed": [{"slug": slug, **spec} for slug, spec in self.removed.items()],
            "changed": [
                {"slug": slug, "changes": [c.to_json() for c in changes]}
                for slug, changes in self.changed.items()
            ],
            "default_enabled": {
                "added": list(self.default_enabled_added),
                "removed": list(self.default_enabled_removed),
            },
            "build": [c.to_json() for c in self.build],
            "other": [c.to_json() for c in self.other],
            "risks": [r.to_json() for r in self.risks],
            "base_hash": self.base_hash,
            "head_hash": self.head_hash,
        }


def compute_delta(base: Manifest, head: Manifest) -> ModulesDelta:
    with paused_gc(64 * (len(base.modules) + len(head.modules))):
        return _compute_delta(base, head)


def _compute_delta(base: Manifest, head: Manifest) -> ModulesDelta:
    base_modules, head_modules = base.modules, head.modules
    added = {s: canonical_module(head_modules[s]) for s in sorted(head_modules.keys() - base_modules.keys())}
    removed = {
        s: canonical_module(base_modules[s]) for s in sorted(base_modules.keys() - head_modules.keys())
    }
    changed: dict[str, tuple[FieldChange, ...]] = {}
    for slug in sorted(base_modules.keys() & head_modules.keys()):
        old, new = base_modules[slug], head_modules[slug]
        if old == new:
            continue
        changes = _module_changes(old, new)
        if changes:
            changed[slug] = changes
    base_enabled, head_enabled = set(base.settings.default_enabled), set(head.settings.default_enabled)
    build = _dict_changes(
        canonical_build(base.build, base.deployment_profile),
        canonical_build(head.build, head.deployment_profile),
        "",
    )
    other = _dict_changes(_top_level(base), _top_level(head), "")
    delta = ModulesDelta(
        added=added,
        removed=removed,
        changed=changed,
        default_enabled_added=tuple(sorted(head_enabled - base_enabled)),
        default_enabled_removed=tuple(sorted(base_enabled - head_enabled)),
        build=build,
        other=other,
        risks=tuple(_risks(base, head, removed, changed)),
        base_hash=manifest_hash(base),
        head_hash=manifest_hash(head),
    )
    return _with_summary(delta, head)


def _top_level(manifest: Manifest) -> dict[str, Any]:
    out: dict[str, Any] = {"schema": manifest.schema_version, "app": manifest.app}
    out.update({f"extra.{k}": v for k, v in (manifest.model_extra or {}).items()})
    out.update({f"settings.{k}": v for k, v in (manifest.settings.model_extra or {}).items()})
    return out


def _module_changes(old: ModuleSpec, new: ModuleSpec) -> tuple[FieldChange, ...]:
    before, after = canonical_module(old), canonical_module(new)
    changes: list[FieldChange] = []
    for key in _ordered_keys(before, after):
        old_value, new_value = before.get(key), after.get(key)
        if old_value == new_value:
            continue
        if key in _SET_FIELDS:
            old_set, new_set = set(old_value or ()), set(new_value or ())
            changes.append(
                FieldChange(
                    key,
                    old_value or [],
                    new_value or [],
                    added=tuple(sorted(new_set - old_set)),
                    removed=tuple(sorted(old_set - new_set)),
                )
            )
        elif key == "version":
            changes.append(FieldChange(key, old.version, new.version, _version_direction(old, new)))
        elif key == "source":
            changes.append(FieldChange(key, old_value, new_value, f"{old_value}->{new_value}"))
        elif key == "extra":
            changes.extend(_dict_changes(old_value or {}, new_value or {}, "extra."))
        else:
            changes.append(FieldChange(key, old_value, new_value))
    return tuple(changes)


def _ordered_keys(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys([*a, *b]))


def _version_direction(old: ModuleSpec, new: ModuleSpec) -> str | None:
    if old.version is None or new.version is None:
        return None
    try:
        before = parse_version_req(old.version).lower_bound()
        after = parse_version_req(new.version).lower_bound()
    except ValueError:
        return None
    if after.sort_key() > before.sort_key():
        return "up"
    if after.sort_key() < before.sort_key():
        return "down"
    return "same-floor"


def _dict_changes(before: dict[str, Any], after: dict[str, Any], prefix: str) -> tuple[FieldChange, ...]:
    """Leaf-by-leaf differences of two nested dicts, as dotted field names."""
    changes: list[FieldChange] = []
    for key in _ordered_keys(before, after):
        old_value, new_value = before.get(key), after.get(key)
        if old_value == new_value:
            continue
        name = f"{prefix}{key}"
        if isinstance(old_value, dict) and isinstance(new_value, dict):
            changes.extend(_dict_changes(old_value, new_value, f"{name}."))
        else:
            changes.append(FieldChange(name, old_value, new_value))
    return tuple(changes)


def _risks(
    base: Manifest,
    head: Manifest,
    removed: dict[str, dict[str, Any]],
    changed: dict[str, tuple[FieldChange, ...]],
) -> list[Risk]:
    risks: list[Risk] = []
    dependents: dict[str, list[str]] = {}
    for slug, spec in base.modules.items():
        for dependency in spec.depends_on:
            dependents.setdefault(dependency, []).append(slug)
    for slug in removed:
        if base.modules[slug].required:
            risks.append(
                Risk("remove-required", slug, f"`{slug}` is a required (core) module and is removed")
            )
        still_there = [d for d in dependents.get(slug, []) if d in head.modules]
        if still_there:
            names = ", ".join(f"`{d}`" for d in still_there)
            risks.append(Risk("remove-depended-on", slug, f"`{slug}` is removed but {names} depend on it"))
    for slug, changes in changed.items():
        for change in changes:
            if change.field == "version" and change.direction == "down":
                risks.append(
                    Risk("version-downgrade", slug, f"`{slug}` goes down from {change.old} to {change.new}")
                )
            if change.field == "source" and change.new == "git":
                risks.append(
                    Risk(
                        "git-source",
                        slug,
                        f"`{slug}` switches from {change.old} to a git source: code from a repository, not a "
                        "published release",
                    )
                )
    for slug, spec in head.modules.items():
        if slug not in base.modules and spec.source == "git":
            risks.append(
                Risk("git-source", slug, f"`{slug}` is installed from a git source, not a published release")
            )
    return risks


def module_label(slug: str, spec: ModuleSpec) -> str:
    """`forum@0.1` for crates-io, `forum@<rev>` for git, `forum` for path."""
    if spec.source == "crates-io" and spec.version:
        return f"{slug}@{spec.version}"
    if spec.source == "git" and spec.rev:
        rev = spec.rev[:12] if len(spec.rev) >= 40 else spec.rev
        return f"{slug}@{rev}"
    return slug


def _with_summary(delta: ModulesDelta, head: Manifest) -> ModulesDelta:
    parts = [f"+{module_label(slug, head.modules[slug])}" for slug in delta.added]
    parts += [f"-{slug}" for slug in delta.removed]
    parts += [f"~{module_label(slug, head.modules[slug])}" for slug in delta.changed]
    if not parts:
        if delta.default_enabled_added or delta.default_enabled_removed:
            parts.append(
                "default_enabled:"
                + ",".join(
                    [
                        *(f"+{s}" for s in delta.default_enabled_added),
                        *(f"-{s}" for s in delta.default_enabled_removed),
                    ]
                )
            )
        if delta.build:
            parts.append("build changed")
        if delta.other:
            parts.append("manifest settings changed")
    summary = ",".join(parts) if parts else "no changes"
    return dataclasses.replace(delta, summary=summary)
