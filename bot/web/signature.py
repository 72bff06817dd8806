"""X-Hub-Signature-256: HMAC-SHA256 of the raw body, checked against every configured secret.

Several secrets are accepted so one can be rotated without downtime. Each comparison is
constant-time, and every secret is tried (no early exit) so timing does not reveal which one
matched.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    return _signature(secret.encode("utf-8"), body).decode("ascii")


def _signature(key: bytes, body: bytes) -> bytes:
    return PREFIX.encode("ascii") + hmac.digest(key, body, "sha256").hex().encode("ascii")


class Verifier:
    """The configured secrets, encoded once (the check runs for every delivery)."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self._keys = tuple(secret.encode("utf-8") for secret in secrets)

    def matches(self, header: str | None, body: bytes) -> bool:
        if not header or not self._keys or not header.startswith(PREFIX):
            return False
        given = header.encode("ascii", "replace")
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(_signature(key, body), given)
        return matched
