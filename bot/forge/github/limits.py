"""The limits GitHub enforces, checked before a call (by `GitHubForge`, and identically by the fake
GitHub of the tests) so a request GitHub would refuse is never sent. The interface's own words and
bounds, which every forge checks alike, are bot.forge.vocabulary's (re-exported here)."""

from __future__ import annotations

from bot.domain.text import cut
from bot.forge.ports import CHECK_OUTPUT_LIMIT, COMMENT_LIMIT, STATUS_DESCRIPTION_LIMIT
from bot.forge.vocabulary import (
    CHECK_CONCLUSIONS,
    CHECK_STATUSES,
    COMMIT_STATES,
    DEPLOYMENT_STATES,
    ENVIRONMENT_NAME_LIMIT,
    REACTIONS,
    check_comment_body,
    check_run_fields,
    status_description,
    validate_environment,
)

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


def truncate_output(text: str, limit: int = CHECK_OUTPUT_LIMIT) -> str:
    return cut(text, limit, "\n\n… (truncated: GitHub limits check output to 65,535 characters)")
