"""The PR review texts: verdict, delta, problems with links to exact lines, limits."""

from __future__ import annotations

from bot.app.review.report import (
    COMMENT_LIMIT,
    MARKER,
    check_run_output,
    render_comment,
    review_manifest,
    status_description,
)
from tests.corpus import HISTORY, version_number

URL = "https://github.com/rustok/rustok"
SHA_A, SHA_B = "a" * 40, "b" * 40


def raw(number: int) -> bytes:
    return next(p for p in HISTORY if version_number(p) == number).read_bytes()


def review(base: bytes | None, head: bytes | None):  # type: ignore[no-untyped-def]
    return review_manifest(base, head, manifest_path="modules.toml", base_sha=SHA_A, head_sha=SHA_B)


def test_valid_pr_comment() -> None:
    result = review(raw(37), raw(38))
    assert result.passed and result.conclusion == "success"
    body = render_comment(result, repo_html_url=URL, commands=["/validate"])
    assert body.startswith(MARKER)
    assert "✅ modbot: `modules.toml` is valid" in body
    assert "`+events,+iggy_connector,-social_graph`" in body
    assert "| ➕ | `events` | installed |" in body
    assert f"manifest_hash: `{result.head.manifest_hash}`" in body  # type: ignore[union-attr]
    assert "- `/validate`" in body
    assert result.headline == "modules.toml is valid: +events,+iggy_connector,-social_graph"


def test_invalid_pr_links_problems_to_the_exact_line() -> None:
    result = review(raw(18), raw(19))
    assert not result.passed and result.conclusion == "failure"
    body = render_comment(result, repo_html_url=URL, commands=[])
    assert "❌ modbot: `modules.toml` has 1 error" in body
    assert f"[settings.default_enabled[3]:68]({URL}/blob/{SHA_B}/modules.toml#L68)" in body
    assert "`default-enabled-closure`" in body
    assert "manifest_hash" not in body  # only valid manifests have one
    [annotation] = result.annotations
    assert (annotation.start_line, annotation.level, annotation.title) == (
        68,
        "failure",
        "default-enabled-closure",
    )
    output = check_run_output(result)
    assert output["title"] == "modules.toml: 1 error, 0 warnings"
    assert status_description(result) == output["title"]


def test_deleted_and_new_manifest() -> None:
    deleted = review(raw(48), None)
    assert not deleted.passed
    assert "deleted by this pull request" in render_comment(deleted, repo_html_url=URL, commands=[])
    new = review(None, raw(48))
    assert new.passed and new.delta is None
    assert "adds the manifest" in render_comment(new, repo_html_url=URL, commands=[])


def test_syntax_error_comment_has_no_delta() -> None:
    result = review(raw(48), b"schema = = 2\n")
    body = render_comment(result, repo_html_url=URL, commands=[])
    assert "`toml-syntax`" in body and "#L1)" in body
    assert "| ➕ |" not in body


def test_huge_comment_is_truncated_under_the_limit() -> None:
    modules = "\n".join(
        f'm{i} = {{ crate = "m{i}", source = "crates-io", version = "latest" }}' for i in range(3000)
    )
    head = f'schema = 2\napp = "x"\n[modules]\n{modules}\n'.encode()
    body = render_comment(review(raw(48), head), repo_html_url=URL, commands=[])
    assert len(body) <= COMMENT_LIMIT
    assert body.startswith(MARKER)
    assert "Truncated" in body and "modbot/manifest" in body


def test_hostile_values_cannot_break_the_comment() -> None:
    head = raw(48).replace(
        b'ai = { crate = "rustok-ai"',
        b'ai = { note = "</details><img src=x onerror=alert(1)>|x", crate = "rustok-ai"',
    )
    body = render_comment(review(raw(48), head), repo_html_url=URL, commands=[])
    assert "<img" not in body
    assert "&lt;img" in body
