"""The review of a PR's manifest: validate the head, diff against the base, and say it in the
forms GitHub shows (the sticky comment, a check run, a commit status). Pure: bytes in, text out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bot.domain.text import shorten, truncate_markdown
from bot.forge import COMMENT_LIMIT, Annotation
from bot.forge.ports import CHECK_OUTPUT_LIMIT, STATUS_DESCRIPTION_LIMIT
from bot.manifest.delta import ModulesDelta, compute_delta
from bot.manifest.problems import Problem
from bot.manifest.validate import ValidationResult, validate_bytes
from bot.render import render

MARKER = "<!-- modbot:manifest-review -->"
CHECK_NAME = "modbot/manifest"


@dataclass(frozen=True, slots=True)
class ManifestReview:
    manifest_path: str
    base_sha: str
    head_sha: str
    head: ValidationResult | None  # None: the PR deletes the manifest
    base: ValidationResult | None  # None: the manifest is new in this PR
    delta: ModulesDelta | None = field(default=None)

    @property
    def passed(self) -> bool:
        return self.head is not None and self.head.valid

    @property
    def conclusion(self) -> Literal["success", "failure"]:
        return "success" if self.passed else "failure"

    @property
    def error_count(self) -> int:
        return len(self.head.errors) if self.head else 0

    @property
    def warning_count(self) -> int:
        return len(self.head.problems) - self.error_count if self.head else 0

    @property
    def headline(self) -> str:
        """One line, for the check run title and the commit status."""
        if self.head is None:
            return f"{self.manifest_path} is deleted by this pull request"
        if not self.passed:
            counts = f"{_count(self.error_count, 'error')}, {_count(self.warning_count, 'warning')}"
            return f"{self.manifest_path}: {counts}"
        summary = self.delta.summary if self.delta else "new manifest"
        return f"{self.manifest_path} is valid: {summary}"

    @property
    def annotations(self) -> tuple[Annotation, ...]:
        if self.head is None:
            return ()
        return tuple(
            Annotation(
                path=self.manifest_path,
                start_line=p.line,
                end_line=p.line,
                level="failure" if p.is_error else "warning",
                message=f"{p.path}: {p.message}" if p.path else p.message,
                title=p.rule,
            )
            for p in self.head.problems
            if p.line is not None
        )


def review_manifest(
    base_raw: bytes | None,
    head_raw: bytes | None,
    *,
    manifest_path: str,
    base_sha: str,
    head_sha: str,
) -> ManifestReview:
    manifest_dir = manifest_path.rpartition("/")[0]
    head = validate_bytes(head_raw, manifest_dir=manifest_dir) if head_raw is not None else None
    base = validate_bytes(base_raw, manifest_dir=manifest_dir) if base_raw is not None else None
    delta = None
    if head is not None and base is not None and head.manifest is not None and base.manifest is not None:
        delta = compute_delta(base.manifest, head.manifest)
    return ManifestReview(manifest_path, base_sha, head_sha, head, base, delta)


def problem_link(repo_html_url: str | None, review: ManifestReview, problem: Problem) -> str | None:
    if problem.line is None or repo_html_url is None:  # a forge without web pages: no link
        return None
    return f"{repo_html_url}/blob/{review.head_sha}/{review.manifest_path}#L{problem.line}"


def render_comment(review: ManifestReview, *, repo_html_url: str | None, commands: list[str]) -> str:
    """The sticky comment, under GitHub's 65,536-character limit."""
    body = render(
        "comments/manifest_review.md.j2",
        marker=MARKER,
        review=review,
        repo_html_url=repo_html_url,
        link=lambda problem: problem_link(repo_html_url, review, problem),
        commands=commands,
    )
    return truncate_markdown(body, COMMENT_LIMIT, f"The full report is in the `{CHECK_NAME}` check run.")


def check_run_output(review: ManifestReview) -> dict[str, str]:
    """title, summary and text of the `modbot/manifest` check run."""
    summary = render("comments/manifest_check_summary.md.j2", review=review)
    text = render("comments/modules_delta.md.j2", delta=review.delta) if review.delta else ""
    return {
        "title": review.headline[:255],
        "summary": truncate_markdown(summary, CHECK_OUTPUT_LIMIT, "Truncated: see the annotations."),
        "text": truncate_markdown(text, CHECK_OUTPUT_LIMIT, "Truncated."),
    }


def status_description(review: ManifestReview) -> str:
    return shorten(review.headline, STATUS_DESCRIPTION_LIMIT)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"
