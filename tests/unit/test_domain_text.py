"""bot/domain/text.py: one set of secret rules for logs, errors and stored text; cutting text to a limit."""

from __future__ import annotations

from bot.domain.text import cut, cut_at_line, redact_text, shorten, truncate
from bot.forge.github import redact

ADMIN_TOKEN = "mbt_" + "k" * 43
SIGNATURE = "sha256=" + "0" * 64
INSTALLATION_ANSWER = '{"token": "v1.0123456789abcdef", "expires_at": "2026-01-01T00:00:00Z"}'


def test_the_forge_and_the_store_mask_the_same_secrets() -> None:
    # Before bot/domain/text.py the GitHub client's redaction missed admin tokens, URL passwords and
    # webhook signatures, and the store's missed a {"token": ...} answer whose token has no known shape.
    text = (
        f"admin {ADMIN_TOKEN} url https://bot:hunter2@ghe.example/api sig {SIGNATURE} {INSTALLATION_ANSWER}"
    )
    for cleaned, mask in ((redact(text), "***"), (redact_text(text), "[redacted]")):
        for secret in (ADMIN_TOKEN, "hunter2", SIGNATURE, "v1.0123456789abcdef"):
            assert secret not in cleaned, (mask, cleaned)
        assert f"https://bot:{mask}@ghe.example/api" in cleaned
        assert f'"token": "{mask}"' in cleaned
        assert '"expires_at": "2026-01-01T00:00:00Z"' in cleaned


def test_a_scheme_word_stays_and_plain_text_is_untouched() -> None:
    assert redact_text("Authorization: Bearer " + "d" * 30) == "Authorization: Bearer [redacted]"
    plain = "GitHub 502 on /repos/acme/site/pulls/7 (token expired)"
    assert redact(plain) == redact_text(plain) == plain


def test_cutting_keeps_the_note_within_the_limit() -> None:
    assert cut("short", 10, "!") == "short"
    assert cut("x" * 20, 10, "…!") == "x" * 8 + "…!"
    assert len(truncate("y" * 5000)) == 2000 and truncate("y" * 5000).endswith("5000 characters in all]")
    assert cut_at_line("one\ntwo\nthree\n", 12, "\n+") == "one\ntwo\n+"
    assert shorten("abcdef", 4) == "abc…" and shorten("abc", 4) == "abc"


def test_a_url_password_without_a_user_is_masked() -> None:
    # redis://:PASSWORD@host is how a password-only URL is written; the user part was required before
    for cleaned, mask in ((redact(URL_NO_USER), "***"), (redact_text(URL_NO_USER), "[redacted]")):
        assert "hunter2" not in cleaned and f"redis://:{mask}@cache.internal:6379/0" in cleaned


URL_NO_USER = "cannot reach redis://:hunter2@cache.internal:6379/0 (timeout)"
