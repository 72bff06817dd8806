"""`settings.default_enabled`: what a new tenant gets switched on after the build."""

from __future__ import annotations

from collections.abc import Iterator

from bot.manifest.context import RuleContext
from bot.manifest.problems import Problem, error, join_path, warning


def check(ctx: RuleContext) -> Iterator[Problem]:
    enabled = ctx.settings.default_enabled
    enabled_set = set(enabled)
    seen: set[str] = set()
    for index, slug in enumerate(enabled):
        path = join_path("settings", "default_enabled", index)
        if slug in seen:
            yield error("default-enabled", path, f"`{slug}` is listed twice in default_enabled; list it once")
            continue
        seen.add(slug)
        if slug not in ctx.all_slugs:
            yield error(
                "default-enabled",
                path,
                f"`{slug}` is enabled by default but is not in [modules]; install it or remove it here",
            )
            continue
        spec = ctx.modules.get(slug)
        if spec is None:
            continue
        if spec.is_extension:
            yield error(
                "default-enabled",
                path,
                f'`{slug}` has runtime = "extension": extensions are active whenever compiled and are '
                "never toggled per tenant; remove it from default_enabled",
            )
        elif spec.required:
            yield warning(
                "default-enabled",
                path,
                f"`{slug}` is required, so it is always enabled; listing it in default_enabled is redundant",
            )
        for dependency in spec.depends_on:
            if dependency in enabled_set or dependency in ctx.required or dependency not in ctx.modules:
                continue
            yield error(
                "default-enabled-closure",
                path,
                f"`{slug}` is enabled by default but its dependency `{dependency}` is neither enabled nor "
                f'required; add "{dependency}" to default_enabled',
            )
