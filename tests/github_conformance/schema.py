"""JSON Schema plumbing shared by the REST and webhook checks.

GitHub's REST description in @octokit/openapi is OpenAPI **3.0.3**: it marks nullable values with
`nullable: true`, which JSON Schema (and so `jsonschema`) ignores. `convert_schema` rewrites those into
draft 2020-12 (`type: [t, "null"]`, or `anyOf: [{type: null}, ...]` around `$ref`/`allOf`/`oneOf`), adds
`null` to nullable enums, and makes every local `$ref` absolute so any sub-schema can be validated on its
own against a `referencing.Registry` holding the whole (converted) document. The webhooks description in
@octokit/openapi-webhooks is OpenAPI **3.1.0** (already `type: [..., "null"]`); it only gets the `$ref`
rewrite.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match, relevance
from referencing import Registry
from referencing.jsonschema import DRAFT202012

Schema = dict[str, Any]
Lookup = Callable[[str], Any]  # absolute $ref URI -> schema

_SCHEMA_MAP_KEYWORDS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_KEYWORDS = ("items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else")
_SCHEMA_LIST_KEYWORDS = ("allOf", "anyOf", "oneOf", "prefixItems")
_COMPOSITION = ("$ref", "allOf", "anyOf", "oneOf", "not")


def convert_schema(schema: Any, base_uri: str, *, openapi30: bool) -> Any:
    """Return a draft 2020-12 copy of an OpenAPI schema object (see the module docstring)."""
    if not isinstance(schema, dict):
        return schema  # boolean schemas
    out: Schema = {}
    for key, value in schema.items():
        if key == "$ref" and isinstance(value, str) and value.startswith("#"):
            out[key] = base_uri + value
        elif key in _SCHEMA_MAP_KEYWORDS and isinstance(value, dict):
            out[key] = {
                name: convert_schema(sub, base_uri, openapi30=openapi30) for name, sub in value.items()
            }
        elif key in _SCHEMA_KEYWORDS and isinstance(value, dict):
            out[key] = convert_schema(value, base_uri, openapi30=openapi30)
        elif key in _SCHEMA_LIST_KEYWORDS and isinstance(value, list):
            out[key] = [convert_schema(sub, base_uri, openapi30=openapi30) for sub in value]
        else:
            out[key] = value
    if not openapi30:
        return out
    nullable = out.pop("nullable", False)
    if nullable is not True:
        return out
    if "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    has_composition = any(key in out for key in _COMPOSITION)
    if isinstance(out.get("type"), str) and not has_composition:
        out["type"] = [out["type"], "null"]
        return out
    if not has_composition and "type" not in out and "enum" not in out:
        return out  # no type constraint: null already passes
    return {"anyOf": [{"type": "null"}, out]}


# --- formats ------------------------------------------------------------------------------------
# jsonschema's default FormatChecker silently skips formats whose optional dependency is missing,
# which would make results depend on what is installed. These are explicit and dependency-free.
_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
)


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return False
    return True


def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _is_uri(value: object) -> bool:
    # GitHub sends `"homepage": ""` for repositories without one although the schema says `format: uri`.
    if not isinstance(value, str) or value == "":
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and " " not in value


def _is_email(value: object) -> bool:
    return not isinstance(value, str) or "@" in value


FORMAT_CHECKERS: dict[str, Callable[[object], bool]] = {
    "date-time": _is_date_time,
    "date": _is_date,
    "uri": _is_uri,
    "email": _is_email,
}


def make_format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    for name, func in FORMAT_CHECKERS.items():
        checker.checks(name)(func)
    return checker


def make_registry(document: Schema, base_uri: str) -> Registry[Any]:
    registry: Registry[Any] = Registry().with_resource(base_uri, DRAFT202012.create_resource(document))
    return registry


def make_validator(schema: Schema, registry: Registry[Any], *, check_formats: bool) -> Draft202012Validator:
    return Draft202012Validator(
        schema,
        registry=registry,
        format_checker=make_format_checker() if check_formats else None,
    )


def _json_path(error: ValidationError) -> str:
    out = "$"
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _short(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_errors(errors: Iterable[ValidationError], limit: int = 8) -> str:
    """A readable multi-line summary of validation errors (for anyOf/oneOf, the closest branch's error)."""
    lines: list[str] = []
    for error in sorted(errors, key=lambda err: [str(part) for part in err.absolute_path]):
        leaf = best_match([error], key=relevance) or error
        line = f"  at {_json_path(leaf)}: {_short(leaf.message)}"
        if line not in lines:
            lines.append(line)
    extra = len(lines) - limit
    shown = lines[:limit]
    if extra > 0:
        shown.append(f"  ... and {extra} more")
    return "\n".join(shown)


def fill_missing_required(
    validator: Draft202012Validator, registry: Registry[Any], instance: Any, max_rounds: int = 50
) -> list[str]:
    """Add minimal values (``null`` where allowed) for every missing *required* property, in place.

    Only adds keys, never changes existing values. Returns the JSON paths of what was added.
    """
    added: list[str] = []
    resolver = registry.resolver()

    def lookup(uri: str) -> Any:
        return resolver.lookup(uri).contents

    for _ in range(max_rounds):
        changed = _fill_round(lookup, list(validator.iter_errors(instance)), added)
        if not changed:
            break
    return added


def _fill_round(lookup: Lookup, errors: list[ValidationError], added: list[str]) -> bool:
    changed = False
    for error in errors:
        leaf = best_match([error], key=relevance) or error
        if leaf.validator != "required" or not isinstance(leaf.instance, dict):
            continue
        properties = leaf.schema.get("properties", {}) if isinstance(leaf.schema, dict) else {}
        for prop in leaf.validator_value:
            if prop not in leaf.instance:
                leaf.instance[prop] = minimal_instance(lookup, properties.get(prop, {}))
                added.append(f"{_json_path(leaf)}.{prop}")
                changed = True
    return changed


_FORMAT_SAMPLES = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "uri": "https://example.invalid/",
    "email": "octocat@example.invalid",
}


def minimal_instance(lookup: Lookup, schema: Any, depth: int = 0) -> Any:
    """A small value valid for ``schema`` (``null`` whenever allowed); for filling required gaps."""
    if not isinstance(schema, dict) or depth > 30:
        return None
    if "$ref" in schema:
        return minimal_instance(lookup, lookup(schema["$ref"]), depth + 1)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return None if None in schema["enum"] else schema["enum"][0]
    for keyword in ("anyOf", "oneOf"):
        branches = schema.get(keyword)
        if branches:
            if any(isinstance(b, dict) and b.get("type") == "null" for b in branches):
                return None
            return minimal_instance(lookup, branches[0], depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for branch in schema["allOf"]:
            part = minimal_instance(lookup, branch, depth + 1)
            if isinstance(part, dict):
                merged.update(part)
            else:
                return part
        return merged
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "null" in kinds:
        return None
    if "string" in kinds:
        return _FORMAT_SAMPLES.get(schema.get("format", ""), "")
    if "integer" in kinds or "number" in kinds:
        return schema.get("minimum", 0)
    if "boolean" in kinds:
        return False
    if "array" in kinds:
        return []
    if "object" not in kinds and "properties" not in schema:
        return None
    properties = schema.get("properties", {})
    return {
        prop: minimal_instance(lookup, properties.get(prop, {}), depth + 1)
        for prop in schema.get("required", [])
    }
