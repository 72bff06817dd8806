"""Patterns and bounds the admin API's requests share."""

from __future__ import annotations

from bot.domain.records.common import MAX_PAGE

__all__ = ["MAX_ID", "MAX_PAGE"]

# the repository, slug, environment and release-id patterns are bot.domain.ids'; MAX_PAGE is the store's
# page limit (every listing checks it: bot/domain/records/checks.py), so the API accepts what it accepts

MAX_ID = 2**63 - 1  # ids are 64-bit database integers
