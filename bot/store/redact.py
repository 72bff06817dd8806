"""Keep secrets out of what the store persists (job errors, audit details).

Callers should never pass a secret; this is the second line of defence: anything that looks like a
GitHub token, a modbot admin token, a bearer credential, a PEM private key or a URL password is
masked, and mapping keys whose name says "secret" have their values replaced.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_ERROR_CHARS", "REDACTED", "redact_text", "redact_value", "truncate"]

REDACTED = "[redacted]"
MAX_ERROR_CHARS = 2000

_SECRET_PATTERNS = [
    # PEM blocks (GitHub App private keys)
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.DOTALL),
    # GitHub tokens: classic/user/server/refresh/oauth, fine-grained PATs
    re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"),
    # modbot admin tokens
    re.compile(r"\bmbt_[A-Za-z0-9_\-]{16,}"),
    # JWTs (GitHub App auth)
    re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]+"),
    # HTTP credentials
    re.compile(r"(?i)\b(?:bearer|token|basic)\s+[A-Za-z0-9_\-.=+/]{16,}"),
    # webhook signatures
    re.compile(r"sha256=[0-9a-f]{64}"),
]
# user:password@ in URLs (keep the user, mask the password)
_URL_PASSWORD = re.compile(
    r"(?P<scheme>\b[a-z][a-z0-9+.\-]{0,30}://)(?P<user>[^:/@\s]{1,200}):[^@/\s]{1,500}@", re.IGNORECASE
)
# Redaction scans the text several times; bound the work for huge messages (they are truncated anyway).
_MAX_SCAN_CHARS = 20_000
_SECRET_KEY_NAME = re.compile(
    r"(?i)(secret|token|password|passwd|private[_-]?key|authorization|api[_-]?key|credential)"
)


def redact_text(text: str) -> str:
    """``text`` with every secret-looking substring replaced by ``[redacted]`` (and NUL by U+FFFD).
    Text beyond the first 20,000 characters is dropped (with a note) rather than scanned."""
    if len(text) > _MAX_SCAN_CHARS:
        text = truncate(text, _MAX_SCAN_CHARS)
    text = text.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)


def redact_value(value: Any) -> Any:
    """A JSON-like value with secret-named keys masked and secret-looking strings redacted."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            redact_text(str(key)): (REDACTED if _SECRET_KEY_NAME.search(str(key)) else redact_value(item))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    return value


def truncate(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``text`` cut to ``limit`` characters, with a note saying how much was dropped."""
    if len(text) <= limit:
        return text
    note = f"… [truncated: {len(text)} characters in all]"
    return text[: max(0, limit - len(note))] + note
