"""The chat-ops replies (bot/app/chatops/replies.py): text that is not modbot's own cannot add Markdown."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.app.chatops.replies import link_target, render_deployment
from bot.domain.text import markdown_plain as plain
from bot.store import DeploymentRecord

AT = datetime(2026, 1, 2, 9, 0, tzinfo=UTC)


def failed_deploy(logs_url: str) -> DeploymentRecord:
    return DeploymentRecord(
        id=7,
        repository="rustok/rustok",
        environment="production",
        release_id="rel_2026_01_02_001",
        commit_sha="c" * 40,
        kind="deploy",
        status="failure",
        stage="smoke",
        requested_by="alice",
        reason=None,
        github_deployment_id=11,
        previous_release=None,
        manifest_hash=None,
        source="comment",
        issue_number=3,
        reply_comment_id=None,
        logs_url=logs_url,
        created_at=AT,
        updated_at=AT,
        finished_at=AT,
    )


def test_a_log_url_is_kept_as_it_is_when_it_is_an_ordinary_url() -> None:
    url = "https://github.com/rustok/rustok/actions/runs/12/job/34?pr=5&x=%20#step:3:1"
    assert link_target(url) == url


def test_a_log_url_cannot_end_its_link_and_start_markdown_of_its_own() -> None:
    hostile = "https://example.com/a)![pixel](https://tracker.example/p) | x"
    markdown = render_deployment(failed_deploy(hostile), auto_rollback=None, warnings=(), comment_id=1)
    assert "(https://tracker.example/p)" not in markdown and "![pixel]" not in markdown
    assert "[logs](https://example.com/a%29!%5Bpixel%5D%28https://tracker.example/p%29%20%7C%20x)" in markdown
    # the table row keeps its two cells
    [row] = [line for line in markdown.splitlines() if line.startswith("| Logs |")]
    assert row.count("|") == 3


def test_plain_text_cannot_unescape_a_table_pipe_or_a_bracket_with_a_backslash_of_its_own() -> None:
    assert plain("a \\| b") == "a \\\\\\| b"  # an escaped backslash, then an escaped pipe
    assert plain("\\[x](https://e.example)") == "\\\\\\[x\\](https://e.example)"
    assert plain("C:\\path") == "C:\\\\path"  # shown as typed
