"""Ids and names: release ids, environment names, commit SHAs, logins, repositories, paths in a repository.

Each rule is written once, as a regex string (for JSON Schemas and pydantic fields, which take an anchored
pattern) and as a check (for code). Pure: no I/O, no import above `bot.domain`.
"""

from __future__ import annotations

import datetime as dt
import re

__all__ = [
    "APP_LOGIN_SUFFIX",
    "CI_BUILD_ID_PATTERN",
    "ENVIRONMENT_NAME_PATTERN",
    "GIT_SHA_PATTERN",
    "IMAGE_DIGEST_PATTERN",
    "LOGIN_PATTERN",
    "RELEASE_ID_PATTERN",
    "REPO_PATTERN",
    "SHA256_HEX_PATTERN",
    "SLUG_PATTERN",
    "format_release_id",
    "is_app_login",
    "is_environment_name",
    "is_git_sha",
    "is_login",
    "is_owner",
    "is_release_id",
    "is_repo_path",
    "is_signup_login",
    "parse_release_id",
    "validate_path",
    "validate_repo",
]

# rel_YYYY_MM_DD_NNN: the UTC day it was made and a daily sequence 001-999 (bot.pipeline.release).
RELEASE_ID_PATTERN = r"^rel_[0-9]{4}_[0-9]{2}_[0-9]{2}_[0-9]{3}$"
_RELEASE_ID = re.compile(r"rel_([0-9]{4})_([0-9]{2})_([0-9]{2})_([0-9]{3})")

# An environment of the repository policy; its deploy tag is deploy/<name>.
ENVIRONMENT_NAME_PATTERN = r"^[a-z][a-z0-9-]{0,30}$"
_ENVIRONMENT_NAME = re.compile(ENVIRONMENT_NAME_PATTERN)

# A full commit id, lower-case: SHA-1 or SHA-256 (git's two object formats); never an abbreviation.
GIT_SHA_PATTERN = r"^([0-9a-f]{40}|[0-9a-f]{64})$"
_GIT_SHA = re.compile(GIT_SHA_PATTERN)

# What a release record (the JSON of a release/<id> tag) carries besides the ids above: a SHA-256 in hex
# (the manifest hash, the build key), an image digest, and the id the CI gave the run that built it.
SHA256_HEX_PATTERN = r"^[0-9a-f]{64}$"
IMAGE_DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"
CI_BUILD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,127}$"

# A module slug of modules.toml, as a schema pattern (bot.manifest.rules.modules.SLUG is the rule).
SLUG_PATTERN = r"^[a-z0-9]+(_[a-z0-9]+)*$"

# An account login as GitHub reports it: 1-39 letters, digits and hyphens, not starting with a hyphen.
# GitHub's sign-up rule is stricter (single hyphens, none at the end), but accounts made before that rule
# keep their logins ("name-", "a--b"): a login GitHub gives us must pass. An App acts as "<slug>[bot]".
APP_LOGIN_SUFFIX = "[bot]"
LOGIN_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$"
_LOGIN = re.compile(LOGIN_PATTERN)
_SIGNUP_LOGIN = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9])*")
_SIGNUP_LOGIN_MAX = 39
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_REPO = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
# owner/name as `validate_repo` accepts it: a name is never "." or ".." (written without a look-ahead,
# which a JSON Schema's regex engine does not have).
REPO_PATTERN = (
    r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/"
    r"(?:[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}|\.[A-Za-z0-9_-][A-Za-z0-9._-]{0,98}|\.\.[A-Za-z0-9._-]{1,98})$"
)


def parse_release_id(release_id: str) -> tuple[dt.date, int] | None:
    """`rel_2026_08_16_003` -> (date(2026, 8, 16), 3); None if it is not a release id."""
    match = _RELEASE_ID.fullmatch(release_id)
    if match is None:
        return None
    year, month, day, seq = (int(g) for g in match.groups())
    try:
        date = dt.date(year, month, day)
    except ValueError:
        return None
    return (date, seq) if seq >= 1 else None


def is_release_id(text: str) -> bool:
    return parse_release_id(text) is not None


def format_release_id(date: dt.date, seq: int) -> str:
    return f"rel_{date:%Y_%m_%d}_{seq:03d}"


def is_environment_name(text: str) -> bool:
    return isinstance(text, str) and _ENVIRONMENT_NAME.fullmatch(text) is not None


def is_git_sha(text: str) -> bool:
    return isinstance(text, str) and _GIT_SHA.fullmatch(text) is not None


def is_login(text: str) -> bool:
    """A person's login or an App's ``<slug>[bot]``, as GitHub reports it (see LOGIN_PATTERN)."""
    return isinstance(text, str) and _LOGIN.fullmatch(text) is not None


def is_app_login(login: str) -> bool:
    """An App's login (``<slug>[bot]``): no person's login can end so, whatever the account type says."""
    return login.endswith(APP_LOGIN_SUFFIX)


def is_signup_login(login: str) -> bool:
    """A login by GitHub's sign-up rule (letters, digits and single hyphens, none at either end, at most
    39 characters): what a person may write in the repository policy."""
    return len(login) <= _SIGNUP_LOGIN_MAX and _SIGNUP_LOGIN.fullmatch(login) is not None


def is_owner(text: str) -> bool:
    """An organization's or user's login (no ``[bot]``), e.g. the owner part of ``owner/name``."""
    return isinstance(text, str) and _OWNER.fullmatch(text) is not None


def validate_repo(repo: str) -> str:
    """``owner/name`` as GitHub writes a repository's full name; ValueError otherwise."""
    if not _REPO.fullmatch(repo) or repo.split("/", 1)[1] in {".", ".."}:
        raise ValueError(f"not a repository full name (owner/name): {repo!r}")
    return repo


def is_repo_path(path: str) -> bool:
    """A file path inside the repository: relative, ``/``-separated, no empty, ``.`` or ``..`` segment."""
    parts = path.split("/")
    bad_part = any(p in {"", ".", ".."} for p in parts)
    return bool(path) and not path.startswith("/") and "\\" not in path and not bad_part


def validate_path(path: str) -> str:
    """`path` if `is_repo_path`, else ValueError."""
    if not is_repo_path(path):
        raise ValueError(f"not a relative file path in the repository: {path!r}")
    return path
