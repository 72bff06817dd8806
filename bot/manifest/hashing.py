"""manifest_hash: SHA-256 of the canonical JSON form of what a manifest means.

The definition is in docs/manifest-hash.md; keep the two in step (other tools recompute it).
Formatting never changes the hash (comments, whitespace, key order, inline vs standard tables,
quoting); any change of meaning does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from typing import Any

from pydantic import BaseModel

from bot.manifest.cargo import normalize_relative_path, parse_version_req
from bot.manifest.model import Build, Manifest, ModuleSpec

CANONICAL_VERSION = 1  # bump when the canonical form changes; it is part of the hashed data


def canonical_module(spec: ModuleSpec) -> dict[str, Any]:
    """The meaning of one module spec: defaults dropped, sets sorted, values normalised."""
    out: dict[str, Any] = {"crate": spec.crate, "source": spec.source}
    if spec.version is not None:
        out["version"] = _canonical_req(spec.version)
    if spec.git is not None:
        out["git"] = spec.git
    if spec.rev is not None:
        out["rev"] = spec.rev
    if spec.path is not None:
        out["path"] = normalize_relative_path(spec.path)
    if spec.features:
        out["features"] = sorted(set(spec.features))
    if spec.required:
        out["required"] = True
    if spec.depends_on:
        out["depends_on"] = sorted(set(spec.depends_on))
    if spec.runtime is not None:
        out["runtime"] = spec.runtime
    if spec.model_extra:
        out["extra"] = _plain(spec.model_extra)
    return out


def canonical_build(build: Build, deployment_profile: str) -> dict[str, Any]:
    out: dict[str, Any] = {"deployment_profile": deployment_profile}
    if build.target is not None:
        out["target"] = build.target
    if build.profile is not None:
        out["profile"] = build.profile
    if build.server is not None:
        out["server"] = _model(build.server)
    if build.admin is not None:
        out["admin"] = _model(build.admin)
    if build.storefront:
        out["storefront"] = sorted((_model(s) for s in build.storefront), key=lambda s: str(s["id"]))
    if build.model_extra:
        out["extra"] = _plain(build.model_extra)
    return out


def canonical_form(manifest: Manifest) -> dict[str, Any]:
    out: dict[str, Any] = {
        "canonical": CANONICAL_VERSION,
        "schema": manifest.schema_version,
        "app": manifest.app,
        "build": canonical_build(manifest.build, manifest.deployment_profile),
        "modules": {slug: canonical_module(spec) for slug, spec in manifest.modules.items()},
        "default_enabled": sorted(set(manifest.settings.default_enabled)),
    }
    if manifest.settings.model_extra:
        out["settings_extra"] = _plain(manifest.settings.model_extra)
    if manifest.model_extra:
        out["extra"] = _plain(manifest.model_extra)
    return out


def canonical_json(manifest: Manifest) -> bytes:
    return json.dumps(
        canonical_form(manifest), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def manifest_hash(manifest: Manifest) -> str:
    if manifest._hash is None:
        manifest._hash = hashlib.sha256(canonical_json(manifest)).hexdigest()
    return manifest._hash


def _canonical_req(text: str) -> str:
    try:
        return parse_version_req(text).canonical()
    except ValueError:  # only valid manifests are hashed; keep the text if called on another
        return text


def _model(model: BaseModel) -> dict[str, Any]:
    """A nested model without its unset/empty fields, extras included."""
    data = model.model_dump(exclude_none=True)
    return {key: _plain(value) for key, value in data.items() if value != []}


def _plain(value: Any) -> Any:
    """TOML values as JSON: dates as ISO 8601 text, non-finite floats as text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
