"""Argument checks shared by every forge, so a fake refuses exactly what the real one refuses.

Untrusted parts of a URL or a git command (repositories, paths, refs, logins, team slugs, workflow
files, tag prefixes) are checked here, before any call, and refused with ValueError.
"""

from __future__ import annotations

import re

from bot.domain.ids import is_login, is_owner, validate_path, validate_repo

__all__ = [
    "check_limit",
    "normalize_ref",
    "validate_login",
    "validate_org",
    "validate_path",
    "validate_repo",
    "validate_tag_prefix",
    "validate_team_slug",
    "validate_workflow",
]

_REF_PART = re.compile(r"^[A-Za-z0-9._/+@-]+$")
_TEAM_SLUG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$")
_WORKFLOW_FILE = re.compile(r"^[A-Za-z0-9_.-]+\.ya?ml$")


def normalize_ref(ref: str) -> str:
    """``refs/tags/x`` / ``tags/x`` → ``tags/x``; only ``heads/`` and ``tags/`` refs are allowed."""
    short = ref.removeprefix("refs/")
    kind, _, name = short.partition("/")
    if (
        kind not in {"heads", "tags"}
        or not name
        or not _REF_PART.fullmatch(name)
        or ".." in name
        or "//" in name
        or name.startswith("/")
        or name.endswith(("/", ".", ".lock"))
        or "@{" in name
    ):
        raise ValueError(f"not a branch or tag ref: {ref!r}")
    return short


def validate_org(org: str) -> str:
    """An organization (or user) login, as a URL path segment."""
    if not is_owner(org):
        raise ValueError(f"not an organization name: {org!r}")
    return org


def validate_login(username: str) -> str:
    """A GitHub account login (``alice``, ``modbot[bot]``), as a URL path segment."""
    if not is_login(username):
        raise ValueError(f"not a GitHub login: {username!r}")
    return username


def validate_team_slug(team_slug: str) -> str:
    """A team's slug (``release-managers``), as a URL path segment: no ``/``, no ``..``."""
    if not isinstance(team_slug, str) or not _TEAM_SLUG.fullmatch(team_slug) or ".." in team_slug:
        raise ValueError(f"not a team slug: {team_slug!r}")
    return team_slug


def validate_workflow(workflow: str | int) -> str:
    """A workflow's id or its file name (``modbot-build.yml``, not a path), as a URL path segment."""
    if isinstance(workflow, int) and not isinstance(workflow, bool):
        if workflow < 1:
            raise ValueError(f"not a workflow id: {workflow!r}")
        return str(workflow)
    if isinstance(workflow, str) and workflow.isascii() and workflow.isdigit() and int(workflow) > 0:
        return str(int(workflow))
    if not isinstance(workflow, str) or not _WORKFLOW_FILE.fullmatch(workflow) or ".." in workflow:
        raise ValueError(
            f"not a workflow id or file name (give the file name, e.g. 'modbot-build.yml'): {workflow!r}"
        )
    return workflow


def validate_tag_prefix(prefix: str) -> str:
    """The start of a tag name (``release/``), "" for every tag."""
    if prefix == "":
        return prefix
    if (
        not isinstance(prefix, str)
        or not _REF_PART.fullmatch(prefix)
        or ".." in prefix
        or "//" in prefix
        or prefix.startswith("/")
        or "@{" in prefix
    ):
        raise ValueError(f"not a tag name prefix: {prefix!r}")
    return prefix


def check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive number of items, not {limit!r}")
    return limit
