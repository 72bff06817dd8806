"""Patterns and bounds the admin API's requests share."""

from __future__ import annotations

__all__ = ["MAX_ID", "MAX_PAGE", "REPO_PATTERN", "SLUG_PATTERN"]

SLUG_PATTERN = r"^[a-z0-9]+(_[a-z0-9]+)*$"
# owner/name as `bot.forge.validate_repo` accepts it: a name is never "." or ".." (written without a
# look-ahead, which the schema's regex engine does not have).
REPO_PATTERN = (
    r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/"
    r"(?:[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}|\.[A-Za-z0-9_-][A-Za-z0-9._-]{0,98}|\.\.[A-Za-z0-9._-]{1,98})$"
)
MAX_ID = 2**63 - 1  # ids are 64-bit database integers
MAX_PAGE = 1000
