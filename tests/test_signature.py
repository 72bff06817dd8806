from __future__ import annotations

from bot.web.signature import sign, signature_matches

BODY = b'{"zen": "Keep it logically awesome."}'


def test_github_documented_example() -> None:
    # From GitHub's "Validating webhook deliveries" docs: secret "It's a Secret to Everybody",
    # payload "Hello, World!".
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign("It's a Secret to Everybody", b"Hello, World!") == expected
    assert signature_matches(expected, b"Hello, World!", ["It's a Secret to Everybody"])


def test_any_configured_secret_matches_for_rotation() -> None:
    header = sign("new", BODY)
    assert signature_matches(header, BODY, ["old", "new"])
    assert signature_matches(sign("old", BODY), BODY, ["old", "new"])


def test_bad_signatures_are_refused() -> None:
    good = sign("s3cret", BODY)
    assert not signature_matches(good, BODY + b" ", ["s3cret"])
    assert not signature_matches(good, BODY, ["other"])
    assert not signature_matches(None, BODY, ["s3cret"])
    assert not signature_matches("", BODY, ["s3cret"])
    assert not signature_matches(good.replace("sha256=", "sha1="), BODY, ["s3cret"])
    assert not signature_matches(good, BODY, [])  # no secret configured: nothing verifies
    assert not signature_matches("sha256=é", BODY, ["s3cret"])
