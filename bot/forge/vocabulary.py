"""The words and bounds of the forge interface: what every forge accepts and answers with (check run
statuses and conclusions, commit and deployment states, reactions, environment names, comment and
status lengths) and the checks of them, made by every forge before a call so that each refuses the same
input the same way. GitHub set them; a forge that cannot hold one of these declines the capability.
GitHub's own further limits (annotations per request, files per pull list): bot/forge/github/limits.py."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from bot.domain.text import shorten
from bot.forge.ports import COMMENT_LIMIT, STATUS_DESCRIPTION_LIMIT

__all__ = [
    "CHECK_CONCLUSIONS",
    "CHECK_STATUSES",
    "COMMIT_STATES",
    "DEPLOYMENT_STATES",
    "ENVIRONMENT_NAME_LIMIT",
    "REACTIONS",
    "check_comment_body",
    "check_deployment_request",
    "check_deployment_state",
    "check_run_fields",
    "deployment_payload",
    "status_description",
    "validate_environment",
]

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


def check_deployment_state(state: str) -> str:
    if state not in DEPLOYMENT_STATES:
        raise ValueError(f"deployment state must be one of {sorted(DEPLOYMENT_STATES)}, not {state!r}")
    return state


def deployment_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload as GitHub will store and return it (a JSON object); ValueError when it is not one."""
    if not isinstance(payload, Mapping):
        raise ValueError(f"a deployment payload is a JSON object, not {type(payload).__name__}")
    try:
        decoded = json.loads(json.dumps(dict(payload), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"a deployment payload must be plain JSON: {exc}") from None
    return cast(dict[str, Any], decoded)


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


def check_deployment_request(
    *, ref: str, environment: str, description: str, payload: Mapping[str, Any], task: str
) -> tuple[str, dict[str, Any]]:
    """A deployment request's fields as every forge checks them: its description (cut to a status line)
    and its payload (plain JSON) as the forge stores them; ValueError on bad input."""
    if not ref:
        raise ValueError("a deployment needs a ref (branch, tag or SHA)")
    if not task:
        raise ValueError("a deployment needs a task, e.g. 'deploy'")
    validate_environment(environment)
    return status_description(description), deployment_payload(payload)
