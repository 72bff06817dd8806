"""Text helpers every layer shares: cutting text to a limit with a note, escaping text that is not
modbot's own for Markdown, and masking secrets.

Pure: no I/O, no import above `bot.domain`. The limits themselves (GitHub's 65,536-character comment, the
store's 2,000-character error) belong to whoever owns them; the rules for cutting and masking live here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "MAX_ERROR_CHARS",
    "REDACTED",
    "cut",
    "cut_at_line",
    "markdown_cell",
    "markdown_plain",
    "redact_text",
    "redact_value",
    "shorten",
    "truncate",
    "truncate_markdown",
]

REDACTED = "[redacted]"
MAX_ERROR_CHARS = 2000


# --- cutting text to a limit --------------------------------------------------------------------------
def cut(text: str, limit: int, note: str) -> str:
    """``text`` if it fits in ``limit`` characters, else its start and ``note``, together ``limit``."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(note))] + note


def cut_at_line(text: str, limit: int, note: str) -> str:
    """Like `cut`, but the text is cut at a line boundary (Markdown stays whole lines)."""
    if len(text) <= limit:
        return text
    end = text.rfind("\n", 0, limit - len(note))
    return text[: max(end, 0)] + note


def shorten(text: str, limit: int) -> str:
    """One line for a small field (a commit status description): cut with "…" at ``limit`` characters."""
    return cut(text, limit, "…")


def truncate(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``text`` cut to ``limit`` characters, with a note saying how much was dropped."""
    return cut(text, limit, f"… [truncated: {len(text)} characters in all]")


# --- text that is not modbot's own, made safe for Markdown --------------------------------------------
def truncate_markdown(text: str, limit: int, note: str) -> str:
    """Markdown for a forge's field of `limit` characters (a comment, a check run's report): cut at a line
    boundary with a visible note saying so, so that text + note fits."""
    tail = f"\n\n> ✂️ **Truncated** to stay under GitHub's {limit:,}-character limit. {note}\n"
    return cut_at_line(text, limit, tail)


def markdown_cell(value: Any) -> str:
    """A value from a manifest or a PR for a Markdown table cell (the templates' `cell` filter): one
    line, no HTML, `|` and backticks escaped."""
    text = "" if value is None else value if isinstance(value, str) else _plain(value)
    for char, escaped in (("\\", "\\\\"), ("|", "\\|"), ("`", "\\`"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(char, escaped)
    return " ".join(text.split())


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value) if value else "—"
    return str(value)


_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_MAX_PLAIN = 1000
# HTML, table cells and link brackets; CommonMark lets any ASCII punctuation be backslash-escaped. A
# backslash goes first: else a `\|` in the text would become `\\|`, an escaped backslash and a bare `|`.
_ESCAPES = (
    ("\\", "\\\\"),
    ("&", "&amp;"),
    ("<", "&lt;"),
    (">", "&gt;"),
    ("|", "\\|"),
    ("[", "\\["),
    ("]", "\\]"),
)


def markdown_plain(text: str | None, limit: int = _MAX_PLAIN) -> str:
    """Text that is not modbot's own, made safe for a Markdown paragraph or table cell: one line, HTML,
    `|` and link brackets escaped, no @-mention (a word joiner after the @), at most `limit`
    characters."""
    if not text:
        return ""
    one_line = " ".join(text.split())
    one_line = shorten(one_line, limit)
    for char, escaped in _ESCAPES:
        one_line = one_line.replace(char, escaped)
    return _MENTION.sub("@\u2060", one_line)


# --- keeping secrets out of logs, errors and stored text ----------------------------------------------
# Callers should never pass a secret; this is the second line of defence. A pattern's `keep` group (the
# scheme word, a JSON key) stays so that the text still says what was there.
_SECRET_PATTERNS = (
    # PEM blocks (GitHub App private keys)
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.DOTALL),
    # GitHub tokens: classic/user/server/refresh/oauth, fine-grained PATs
    re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9_]{10,}|github_pat_[A-Za-z0-9_]{10,})"),
    # modbot admin tokens
    re.compile(r"\bmbt_[A-Za-z0-9_\-]{16,}"),
    # JWTs (GitHub App auth)
    re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"),
    # HTTP credentials (an Authorization header's value)
    re.compile(r"(?i)\b(?P<keep>(?:bearer|token|basic)\s+)[A-Za-z0-9_\-.=+/]{16,}"),
    # {"token": "..."} (GitHub's access_tokens answer, whatever the token's shape)
    re.compile(r'(?i)(?P<keep>"token"\s*:\s*")[^"]+'),
    # webhook signatures
    re.compile(r"sha256=[0-9a-f]{64}"),
)
# user:password@ in URLs (keep the user, mask the password)
_URL_PASSWORD = re.compile(
    r"(?P<scheme>\b[a-z][a-z0-9+.\-]{0,30}://)(?P<user>[^:/@\s]{0,200}):[^@/\s]{1,500}@", re.IGNORECASE
)
# Redaction scans the text several times; bound the work for huge messages (they are truncated anyway).
_MAX_SCAN_CHARS = 20_000
_SECRET_KEY_NAME = re.compile(
    r"(?i)(secret|token|password|passwd|private[_-]?key|authorization|api[_-]?key|credential)"
)


def redact_text(text: str, mask: str = REDACTED) -> str:
    """``text`` with every secret-looking substring replaced by ``mask`` (and NUL by U+FFFD).
    Text beyond the first 20,000 characters is dropped (with a note) rather than scanned."""
    if len(text) > _MAX_SCAN_CHARS:
        text = truncate(text, _MAX_SCAN_CHARS)
    text = text.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL

    def masked(match: re.Match[str]) -> str:
        return (match.groupdict().get("keep") or "") + mask

    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(masked, text)
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{mask}@", text)


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
