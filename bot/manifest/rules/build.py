"""`[build]`: the cargo profile and target, and the UI apps of schema 2."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from bot.manifest.cargo import check_profile_name, check_target_triple
from bot.manifest.context import RuleContext
from bot.manifest.problems import Problem, error, join_path


def check(ctx: RuleContext) -> Iterator[Problem]:
    build = ctx.build
    if build.profile is not None:
        problem = check_profile_name(build.profile)
        if problem:
            yield error("build-profile", "build.profile", problem)
    if build.target is not None:
        problem = check_target_triple(build.target)
        if problem:
            yield error("target-triple", "build.target", problem)
    apps: list[tuple[tuple[str | int, ...], str | None, list[str]]] = []
    if build.admin is not None:
        apps.append((("build", "admin"), build.admin.public_url, build.admin.redirect_uris))
    ids: set[str] = set()
    for index, storefront in enumerate(build.storefront):
        base: tuple[str | int, ...] = ("build", "storefront", index)
        if storefront.id in ids:
            yield error(
                "storefront-id",
                join_path(*base, "id"),
                f"two storefronts have id {storefront.id!r}; ids must be unique",
            )
        ids.add(storefront.id)
        apps.append((base, storefront.public_url, storefront.redirect_uris))
    for base, public_url, redirect_uris in apps:
        if public_url is not None and not _is_web_url(public_url):
            yield error(
                "url", join_path(*base, "public_url"), f"{public_url!r} is not an http(s) URL with a host"
            )
        for index, uri in enumerate(redirect_uris):
            if not _is_web_url(uri):
                yield error(
                    "url",
                    join_path(*base, "redirect_uris", index),
                    f"{uri!r} is not an http(s) URL with a host",
                )


def _is_web_url(value: str) -> bool:
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
