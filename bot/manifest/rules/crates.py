"""One crate per slug: two slugs naming the same crate would compile it once under two names."""

from __future__ import annotations

from collections.abc import Iterator

from bot.manifest.context import RuleContext
from bot.manifest.problems import Problem, error, join_path


def check(ctx: RuleContext) -> Iterator[Problem]:
    owner: dict[str, str] = {}
    for slug, spec in ctx.modules.items():
        # cargo treats `-` and `_` in package names as the same name
        key = spec.crate.replace("_", "-").lower()
        first = owner.setdefault(key, slug)
        if first != slug:
            yield error(
                "crate-unique",
                join_path("modules", slug, "crate"),
                f"modules `{first}` and `{slug}` both name crate {spec.crate!r}; a crate can back one "
                "module only",
            )
