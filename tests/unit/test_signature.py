from __future__ import annotations

from bot.web.signature import Verifier, sign

BODY = b'{"zen": "Keep it logically awesome."}'


def test_github_documented_example() -> None:
    # From GitHub's "Validating webhook deliveries" docs: secret "It's a Secret to Everybody",
    # payload "Hello, World!".
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign("It's a Secret to Everybody", b"Hello, World!") == expected
    assert Verifier(["It's a Secret to Everybody"]).matches(expected, b"Hello, World!")


def test_any_configured_secret_matches_for_rotation() -> None:
    header = sign("new", BODY)
    assert Verifier(["old", "new"]).matches(header, BODY)
    assert Verifier(["old", "new"]).matches(sign("old", BODY), BODY)


def test_bad_signatures_are_refused() -> None:
    good = sign("s3cret", BODY)
    assert not Verifier(["s3cret"]).matches(good, BODY + b" ")
    assert not Verifier(["other"]).matches(good, BODY)
    assert not Verifier(["s3cret"]).matches(None, BODY)
    assert not Verifier(["s3cret"]).matches("", BODY)
    assert not Verifier(["s3cret"]).matches(good.replace("sha256=", "sha1="), BODY)
    assert not Verifier([]).matches(good, BODY)  # no secret configured: nothing verifies
    assert not Verifier(["s3cret"]).matches("sha256=é", BODY)
