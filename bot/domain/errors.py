"""Errors every layer may raise or catch."""

from __future__ import annotations

__all__ = ["PermanentError"]


class PermanentError(Exception):
    """The job can never succeed (bad payload, refused by policy): the worker fails it without retrying.
    Raised by handlers, caught by the worker: it lives below both, so neither imports the other for it."""
