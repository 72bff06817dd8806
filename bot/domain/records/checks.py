"""Checks of the values the records store (repositories, environments, release ids, shas, actors, ids,
URLs, free text).

Every check raises ``ValueError`` with a message fit for a person (the admin API answers 422 with
it); free text that people type (reasons, details) is passed through the secret redactor and cut
to size before it is stored, as audit entries are.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime, timedelta

from bot.domain.ids import is_environment_name, is_git_sha, is_release_id
from bot.domain.records.common import MAX_PAGE, MAX_REASON_CHARS
from bot.domain.text import redact_text, truncate

__all__ = [
    "check_actor",
    "check_choice",
    "check_commit_sha",
    "check_environment",
    "check_id",
    "check_limit",
    "check_number",
    "check_release_id",
    "check_short_text",
    "check_ttl",
    "check_url",
    "check_when",
    "clean_text",
    "normalize_repository",
]

_URL = re.compile(r"https?://[^\s\x00-\x1f]+")
_MAX_URL_CHARS = 2000
_REPOSITORY = re.compile(r"[A-Za-z0-9_.\-]+/[A-Za-z0-9_.\-]+")


def normalize_repository(repository: str) -> str:
    """``owner/name`` lower-cased (GitHub names are case-insensitive); anything else is refused."""
    if not _REPOSITORY.fullmatch(repository) or len(repository) > 200:
        raise ValueError(f"not an owner/name repository: {repository[:200]!r}")
    return repository.lower()


def check_environment(environment: str) -> str:
    if not is_environment_name(environment):
        raise ValueError(
            f"not an environment name: {str(environment)[:40]!r} "
            "(lower-case letters, digits and '-', starting with a letter, at most 31 characters)"
        )
    return environment


def check_release_id(name: str, release_id: str | None, *, required: bool) -> str | None:
    if release_id is None:
        if required:
            raise ValueError(f"{name} is required")
        return None
    if not isinstance(release_id, str) or not is_release_id(release_id):
        raise ValueError(f"{name} is not a release id (rel_YYYY_MM_DD_NNN): {str(release_id)[:60]!r}")
    return release_id


def check_commit_sha(name: str, sha: str | None, *, required: bool) -> str | None:
    if sha is None:
        if required:
            raise ValueError(f"{name} is required")
        return None
    if not is_git_sha(sha):
        raise ValueError(f"{name} is not a full lower-case commit sha: {str(sha)[:80]!r}")
    return sha


def check_actor(name: str, actor: str) -> str:
    """A GitHub login, ``api:<token name>`` or ``modbot``: required, one line, at most 200 characters."""
    if not isinstance(actor, str):
        raise ValueError(f"{name} is required")
    actor = actor.strip()
    if not actor or len(actor) > 200 or any(ch in actor for ch in "\r\n\x00"):
        raise ValueError(f"{name} is required (one line, at most 200 characters)")
    return actor


def check_short_text(name: str, value: str | None, limit: int, *, required: bool) -> str | None:
    """An identifier-like string (a manifest hash, a ref): one line, at most ``limit`` characters."""
    if value is None or value == "":
        if required:
            raise ValueError(f"{name} is required")
        return None
    if not isinstance(value, str) or len(value) > limit or any(ch in value for ch in "\r\n\x00"):
        raise ValueError(f"{name} must be one line of at most {limit} characters")
    return value


def check_choice(name: str, value: str, allowed: Collection[str]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(sorted(allowed))}, not {str(value)[:40]!r}")
    return value


def check_id(name: str, value: int | None, *, required: bool) -> int | None:
    """A positive 64-bit id (GitHub ids, run ids)."""
    return _check_positive(name, value, 64, required=required)


def check_number(name: str, value: int | None, *, required: bool) -> int | None:
    """An issue or pull request number: positive and 32-bit, as GitHub's are and the columns are."""
    return _check_positive(name, value, 32, required=required)


def _check_positive(name: str, value: int | None, bits: int, *, required: bool) -> int | None:
    """A positive integer that fits a signed ``bits``-bit column."""
    if value is None:
        if required:
            raise ValueError(f"{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2 ** (bits - 1):
        raise ValueError(f"{name} must be a positive {bits}-bit integer, not {value!r}")
    return value


def check_limit(limit: int) -> int:
    """A page size: 1..``MAX_PAGE`` (the audit log's page limit, shared by every listing)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    return limit


def check_url(name: str, url: str | None) -> str | None:
    if url is None:
        return None
    if not isinstance(url, str) or len(url) > _MAX_URL_CHARS or not _URL.fullmatch(url):
        raise ValueError(f"{name} must be an http(s) URL of at most {_MAX_URL_CHARS} characters")
    stored = redact_text(url)  # a URL with a password in it keeps the user, loses the password
    if len(stored) > _MAX_URL_CHARS:  # the mask can be longer than the password it hides
        raise ValueError(f"{name} must be an http(s) URL of at most {_MAX_URL_CHARS} characters")
    return stored


def check_when(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return value


def check_ttl(ttl: timedelta) -> timedelta:
    if not isinstance(ttl, timedelta) or ttl <= timedelta(0):
        raise ValueError("a lock's ttl must be a positive timedelta")
    return ttl


def clean_text(value: str | None) -> str | None:
    """Free text a person typed (a reason, a detail): trimmed, secrets redacted, cut to size;
    blank is None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("a reason must be text")
    value = value.strip()
    if not value:
        return None
    return truncate(redact_text(value), MAX_REASON_CHARS)
