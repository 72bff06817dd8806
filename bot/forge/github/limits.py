"""The limits GitHub enforces, checked before a call (by `GitHubForge`, and identically by the fake
GitHub of the tests) so a request GitHub would refuse is never sent."""

from __future__ import annotations

from bot.domain.text import cut, shorten
from bot.forge.ports import CHECK_OUTPUT_LIMIT, COMMENT_LIMIT, STATUS_DESCRIPTION_LIMIT

__all__ = [
    "CHECK_CONCLUSIONS",
    "CHECK_OUTPUT_LIMIT",
    "CHECK_STATUSES",
    "COMMENT_LIMIT",
    "COMMIT_STATES",
    "DEPLOYMENT_STATES",
    "ENVIRONMENT_NAME_LIMIT",
    "MAX_ANNOTATIONS_PER_REQUEST",
    "MAX_PULL_FILES",
    "REACTIONS",
    "STATUS_DESCRIPTION_LIMIT",
    "check_comment_body",
    "check_run_fields",
    "status_description",
    "truncate_output",
    "validate_environment",
]

MAX_ANNOTATIONS_PER_REQUEST = 50  # check run annotations per create/update request
MAX_PULL_FILES = 3_000  # GET /pulls/{n}/files lists at most this many files
REACTIONS = frozenset({"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"})
CHECK_STATUSES = frozenset({"queued", "in_progress", "completed"})
CHECK_CONCLUSIONS = frozenset(
    {"action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out"}
)
COMMIT_STATES = frozenset({"error", "failure", "pending", "success"})
DEPLOYMENT_STATES = frozenset({"error", "failure", "inactive", "in_progress", "queued", "pending", "success"})
ENVIRONMENT_NAME_LIMIT = 255  # characters in a deployment environment's name


def validate_environment(environment: str) -> str:
    """A deployment environment's name: 1-255 characters, no surrounding or control whitespace."""
    if (
        not isinstance(environment, str)
        or not environment
        or len(environment) > ENVIRONMENT_NAME_LIMIT
        or environment != environment.strip()
        or not environment.isprintable()
    ):
        raise ValueError(
            f"not a deployment environment name (1-{ENVIRONMENT_NAME_LIMIT} printable characters): "
            f"{environment!r}"
        )
    return environment


def check_comment_body(body: str) -> str:
    if len(body) > COMMENT_LIMIT:
        raise ValueError(
            f"comment body has {len(body)} characters; GitHub accepts at most {COMMENT_LIMIT} "
            "(truncate it with a note before posting)"
        )
    return body


def truncate_output(text: str, limit: int = CHECK_OUTPUT_LIMIT) -> str:
    return cut(text, limit, "\n\n… (truncated: GitHub limits check output to 65,535 characters)")


def status_description(description: str) -> str:
    return shorten(description, STATUS_DESCRIPTION_LIMIT)


def check_run_fields(status: str | None, conclusion: str | None) -> None:
    if status is not None and status not in CHECK_STATUSES:
        raise ValueError(f"check run status must be one of {sorted(CHECK_STATUSES)}, not {status!r}")
    if conclusion is not None and conclusion not in CHECK_CONCLUSIONS:
        raise ValueError(
            f"check run conclusion must be one of {sorted(CHECK_CONCLUSIONS)}, not {conclusion!r}"
        )
    if status == "completed" and conclusion is None:
        raise ValueError("a completed check run needs a conclusion")
    if conclusion is not None and status not in (None, "completed"):
        raise ValueError(f"a check run with a conclusion is completed, not {status!r}")
