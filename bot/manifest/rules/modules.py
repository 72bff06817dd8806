"""Each module on its own: slug, crate name, and the fields its source needs or forbids."""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.manifest.cargo import (
    check_crate_name,
    check_feature_name,
    check_git_rev,
    check_git_url,
    check_relative_path,
    check_version_req,
    unsafe_word_problem,
)
from bot.manifest.context import RuleContext
from bot.manifest.model import ModuleSpec
from bot.manifest.problems import Problem, error, join_path, warning

SLUG = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")
MAX_SLUG_LENGTH = 48

# For each source: the location fields it needs, and the ones that would be silently ignored.
_NEEDS = {"crates-io": ("version",), "git": ("git",), "path": ("path",)}
_FORBIDS = {
    "crates-io": ("git", "rev", "path"),
    "git": ("version", "path"),
    "path": ("version", "git", "rev"),
}


def slug_problem(slug: str) -> str | None:
    if len(slug) > MAX_SLUG_LENGTH:
        return f"slug `{slug[:MAX_SLUG_LENGTH]}...` is {len(slug)} characters; at most {MAX_SLUG_LENGTH}"
    if not SLUG.fullmatch(slug):
        return (
            f"slug {slug!r} is not valid: use lowercase letters and digits in words joined by single "
            "underscores, e.g. `page_builder`"
        )
    return None


def check(ctx: RuleContext) -> Iterator[Problem]:
    for slug in ctx.typed.slugs:
        problem = slug_problem(slug)
        if problem:
            yield error("slug", join_path("modules", slug), problem)
    for slug, spec in ctx.modules.items():
        yield from check_spec(slug, spec, ctx.manifest_dir)


def check_spec(slug: str, spec: ModuleSpec, manifest_dir: str) -> Iterator[Problem]:
    """One module's own problems (the catalog checks its entries with it too: bot/manifest/catalog.py)."""
    base = ("modules", slug)
    crate_problem = check_crate_name(spec.crate)
    if crate_problem:
        yield error("crate-name", join_path(*base, "crate"), crate_problem)
    for key in _NEEDS[spec.source]:
        if getattr(spec, key) is None:
            yield error(
                "source-fields",
                join_path(*base, key),
                f"module `{slug}` has source = {spec.source!r} and needs `{key}`",
            )
    for key in _FORBIDS[spec.source]:
        if getattr(spec, key) is not None:
            yield error(
                "source-fields",
                join_path(*base, key),
                f"module `{slug}` has source = {spec.source!r}, which does not use `{key}`; remove it "
                f"or change the source",
            )
    if spec.version is not None and spec.source == "crates-io":
        problem = check_version_req(spec.version)
        if problem:
            yield error("version-req", join_path(*base, "version"), problem)
    if spec.git is not None:
        problem = check_git_url(spec.git)
        if problem:
            yield error("git-url", join_path(*base, "git"), problem)
    if spec.rev is not None:
        problem = check_git_rev(spec.rev)
        if problem:
            yield error("git-rev", join_path(*base, "rev"), problem)
    if spec.path is not None:
        problem = check_relative_path(spec.path, manifest_dir=manifest_dir) or unsafe_word_problem(spec.path)
        if problem:
            yield error("path", join_path(*base, "path"), problem)
    seen: set[str] = set()
    for index, feature in enumerate(spec.features):
        if feature in seen:
            path = join_path(*base, "features", index)
            yield warning("features", path, f"feature {feature!r} is listed twice; list it once")
            continue
        seen.add(feature)
        problem = check_feature_name(feature)
        if problem:
            yield error("features", join_path(*base, "features", index), problem)
