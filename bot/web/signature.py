"""X-Hub-Signature-256: HMAC-SHA256 of the raw body, checked against every configured secret.

Several secrets are accepted so one can be rotated without downtime. Each comparison is
constant-time, and every secret is tried (no early exit) so timing does not reveal which one
matched.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    return PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_matches(header: str | None, body: bytes, secrets: Sequence[str]) -> bool:
    if not header or not secrets or not header.startswith(PREFIX):
        return False
    given = header.encode("ascii", "replace")
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(sign(secret, body).encode("ascii"), given)
    return matched
