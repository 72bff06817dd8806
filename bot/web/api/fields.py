"""Patterns and bounds the admin API's requests share."""

from __future__ import annotations

__all__ = ["MAX_ID", "MAX_PAGE"]

# the repository, slug, environment and release-id patterns are bot.domain.ids'

MAX_ID = 2**63 - 1  # ids are 64-bit database integers
MAX_PAGE = 1000
