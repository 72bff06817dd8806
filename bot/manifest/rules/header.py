"""The top of the file: `schema`, `app`, and a non-empty `[modules]`."""

from __future__ import annotations

from collections.abc import Iterator

from bot.manifest.cargo import check_crate_name
from bot.manifest.context import RuleContext
from bot.manifest.problems import Problem, error, warning

SUPPORTED_SCHEMAS = (1, 2)
_SCHEMA_2_BUILD_KEYS = ("server", "admin", "storefront")


def check(ctx: RuleContext) -> Iterator[Problem]:
    typed = ctx.typed
    if typed.schema_version is not None and typed.schema_version not in SUPPORTED_SCHEMAS:
        yield error(
            "schema-version",
            "schema",
            f"schema {typed.schema_version} is not supported; modbot reads schema 1 and 2",
        )
    if typed.app is not None:
        problem = check_crate_name(typed.app)
        if problem:
            yield error("app", "app", f"`app` must name the cargo package to build: {problem}")
    if typed.has_modules_table and not typed.slugs:
        yield error("modules-required", "modules", "`[modules]` is empty; list at least one module")
    if typed.schema_version == 1:
        for key in _SCHEMA_2_BUILD_KEYS:
            if key in ctx.build.model_fields_set:
                yield warning(
                    "schema-mismatch",
                    f"build.{key}",
                    f"`build.{key}` is a schema 2 key; set `schema = 2` or remove it",
                )
