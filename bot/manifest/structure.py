"""Plain TOML data -> typed model, with every shape problem reported at once.

A document with a broken module still yields the rest of the model, so the meaning rules can
look at everything else in the same run ("every problem at once").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from bot.manifest.model import Build, Manifest, ModuleSpec, Settings
from bot.manifest.problems import Problem, error, join_path, warning

# A type error at a key with one of these names gets the key's own rule id: people search for
# "deployment-profile", not for "type".
_RULE_BY_KEY = {
    "deployment_profile": "deployment-profile",
    "source": "source",
    "runtime": "runtime",
    "stack": "ui-stack",
    "schema": "schema-version",
}
_REQUIRED_RULE: dict[tuple[str | int, ...], str] = {
    ("app",): "app-required",
    ("modules",): "modules-required",
    ("schema",): "schema-version",
}

_TOP_LEVEL_MODELS: dict[str, type[BaseModel]] = {"build": Build, "settings": Settings}


@dataclass(slots=True)
class TypedManifest:
    """What the typing step could make of a document."""

    manifest: Manifest | None  # the whole model, when every shape is right
    schema_version: int | None
    app: str | None
    build: Build
    settings: Settings
    modules: dict[str, ModuleSpec]  # the modules whose spec has the right shape
    slugs: list[str]  # every slug in the file, in file order, well-shaped or not
    has_modules_table: bool
    problems: list[Problem] = field(default_factory=list)


def type_manifest(data: dict[str, Any]) -> TypedManifest:
    raw_modules = data.get("modules")
    slugs = list(raw_modules) if isinstance(raw_modules, dict) else []
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        return _partial(data, slugs, exc)
    typed = TypedManifest(
        manifest,
        manifest.schema_version,
        manifest.app,
        manifest.build,
        manifest.settings,
        manifest.modules,
        slugs,
        True,
    )
    typed.problems.extend(_unknown_keys(manifest))
    return typed


def _partial(data: dict[str, Any], slugs: list[str], exc: ValidationError) -> TypedManifest:
    details = exc.errors(include_url=False)
    problems = [_type_problem(detail, data) for detail in details]
    broken_modules = {
        detail["loc"][1] for detail in details if detail["loc"][:1] == ("modules",) and len(detail["loc"]) > 1
    }
    raw_modules = data.get("modules")
    modules: dict[str, ModuleSpec] = {}
    if isinstance(raw_modules, dict):
        for slug, spec in raw_modules.items():
            if slug not in broken_modules:
                modules[slug] = ModuleSpec.model_validate(spec)
    sections: dict[str, Any] = {}
    for key, model in _TOP_LEVEL_MODELS.items():
        try:
            sections[key] = model.model_validate(data.get(key, {}))
        except ValidationError:
            sections[key] = model()
    schema = data.get("schema")
    app = data.get("app")
    typed = TypedManifest(
        None,
        schema if type(schema) is int else None,
        app if isinstance(app, str) else None,
        sections["build"],
        sections["settings"],
        modules,
        slugs,
        isinstance(raw_modules, dict),
        problems,
    )
    for slug, spec in modules.items():
        typed.problems.extend(_extra_of(spec, ("modules", slug)))
    for key in _TOP_LEVEL_MODELS:
        typed.problems.extend(_extras_deep(sections[key], (key,)))
    typed.problems.extend(
        _unknown((), key) for key in data if key not in Manifest.model_fields and key != "schema"
    )
    return typed


def _type_problem(detail: ErrorDetails, data: dict[str, Any]) -> Problem:
    loc = tuple(detail["loc"])
    path = join_path(*loc) if loc else ""
    if detail["type"] == "missing":
        rule = _REQUIRED_RULE.get(loc, "required-key")
        return error(rule, path, f"`{path}` is missing; {_missing_hint(loc)}")
    key = next((part for part in reversed(loc) if isinstance(part, str)), "")
    rule = _RULE_BY_KEY.get(key, "type")
    got = _toml_type(detail.get("input"))
    expected = detail["msg"].removeprefix("Input should be ").removeprefix("input should be ")
    return error(rule, path, f"`{path}` should be {expected}; it is {got}")


def _missing_hint(loc: tuple[Any, ...]) -> str:
    if loc == ("schema",):
        return "add `schema = 2` at the top of the file"
    if loc == ("app",):
        return 'add `app = "rustok-server"` (the package the manifest builds)'
    if loc == ("modules",):
        return "add a `[modules]` table listing at least one module"
    if loc[:1] == ("modules",) and len(loc) == 3:
        return f"every module needs `{loc[2]}`"
    return "add it"


def _toml_type(value: object) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return "a date/time"
    return "missing" if value is None else type(value).__name__


def _unknown(parts: tuple[str | int, ...], key: str) -> Problem:
    path = join_path(*parts, key)
    return warning(
        "unknown-key", path, f"`{path}` is not a key modbot knows; it is kept as is (check for a typo)"
    )


def _extra_of(model: BaseModel, parts: tuple[str | int, ...]) -> list[Problem]:
    return [_unknown(parts, key) for key in (model.model_extra or {})]


def _extras_deep(model: BaseModel, parts: tuple[str | int, ...]) -> list[Problem]:
    """Unknown keys of `model` and of every model nested in it."""
    found = _extra_of(model, parts)
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            found.extend(_extras_deep(value, (*parts, name)))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    found.extend(_extras_deep(item, (*parts, name, index)))
    return found


def _unknown_keys(manifest: Manifest) -> list[Problem]:
    found = [_unknown((), key) for key in (manifest.model_extra or {})]
    found.extend(_extras_deep(manifest.build, ("build",)))
    found.extend(_extras_deep(manifest.settings, ("settings",)))
    for slug, spec in manifest.modules.items():
        found.extend(_extra_of(spec, ("modules", slug)))
    return found
