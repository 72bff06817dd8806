"""pull_request events: review the PR's manifest and publish the result (sticky comment + check).

GitHub calls per validation (the issue's budget: 5 for the first, 4 for each later push):
first time = pull_touches + base file + head file + create comment + check run; later pushes
skip pull_touches (the PR is known to touch the manifest; if it stops changing it, the comment
says so) = 4. The webhook is a hint: nothing is published for a head that a newer delivery has
already superseded (compare-and-set on the stored head before publishing).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from bot.chatops.parse import COMMANDS as CHATOPS_COMMANDS
from bot.config import BotSettings
from bot.forge import Forge, ForgeError
from bot.handlers.manifest_review import (
    CHECK_NAME,
    MARKER,
    check_run_output,
    render_comment,
    review_manifest,
    status_description,
)
from bot.store import Store

log = logging.getLogger(__name__)

REVIEW_ACTIONS = frozenset({"opened", "synchronize", "reopened", "ready_for_review", "edited"})
# the sticky comment lists every chat-ops command by its usage (bot.chatops.parse.COMMANDS)
COMMANDS = [spec.usage for spec in CHATOPS_COMMANDS.values()]


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    """What a review of a PR's manifest did (`review_pull_request`)."""

    status: Literal["reviewed", "not_touched", "superseded"]
    message: str  # the handler's one-line outcome
    conclusion: str | None = None  # reviewed: success | failure
    headline: str | None = None  # reviewed: the check run's title


def handle_pull_request(
    payload: dict[str, Any], received_at: datetime, *, forge: Forge, store: Store, settings: BotSettings
) -> str:
    action = payload.get("action")
    if action not in REVIEW_ACTIONS:
        return f"ignored: action {action!r}"
    if action == "edited" and "base" not in (payload.get("changes") or {}):
        return "ignored: edited without a base change"
    pr = payload["pull_request"]
    if pr.get("state") != "open":
        return "ignored: the pull request is not open"
    outcome = review_pull_request(
        forge,
        store,
        settings,
        repo=payload["repository"]["full_name"],
        repo_html_url=payload["repository"]["html_url"],
        number=pr["number"],
        head_sha=pr["head"]["sha"],
        base_sha=pr["base"]["sha"],
        received_at=received_at,
        new_pull=action == "opened",
    )
    return outcome.message


def review_pull_request(
    forge: Forge,
    store: Store,
    settings: BotSettings,
    *,
    repo: str,
    repo_html_url: str,
    number: int,
    head_sha: str,
    base_sha: str,
    received_at: datetime,
    new_pull: bool = False,
) -> ReviewOutcome:
    """Review the manifest of PR `number` at `head_sha` against `base_sha` and publish the result (the
    sticky comment, then the check run or commit status): the path of every `pull_request` event and
    of the `/validate` command. `new_pull`: the PR was just opened, so it cannot have a comment yet."""
    path = settings.manifest_path
    state = store.get_pr_state(repo, number)
    if state is not None and state.head_sha not in (None, head_sha) and state.updated_at > received_at:
        return ReviewOutcome(
            "superseded", f"superseded: {state.head_sha} was handled after this delivery arrived"
        )
    known = state is not None and state.comment_id is not None
    if not known and not forge.pull_touches(repo, number, path):
        return ReviewOutcome("not_touched", f"ignored: the pull request does not touch {path}")

    base_raw = forge.get_file(repo, path, base_sha)
    head_raw = forge.get_file(repo, path, head_sha)
    review = review_manifest(base_raw, head_raw, manifest_path=path, base_sha=base_sha, head_sha=head_sha)

    # Claim this head before publishing: a newer head stored meanwhile wins and we stay silent.
    expected = state.head_sha if state is not None else None
    if not store.save_pr_state(repo, number, head_sha=head_sha, expected_head_sha=expected):
        return ReviewOutcome("superseded", "superseded: a newer head was stored while this one was reviewed")

    body = render_comment(review, repo_html_url=repo_html_url, commands=COMMANDS)
    comment_id = _publish_comment(
        forge, repo, number, body, known_id=state.comment_id if state else None, new_pull=new_pull
    )
    check_run_id = None
    if settings.auth_mode == "app":
        output = check_run_output(review)
        run = forge.create_check_run(
            repo,
            head_sha,
            CHECK_NAME,
            status="completed",
            conclusion=review.conclusion,
            title=output["title"],
            summary=output["summary"],
            text=output["text"] or None,
            annotations=review.annotations,
        )
        check_run_id = run.id
    else:
        forge.set_commit_status(
            repo,
            head_sha,
            review.conclusion,
            context=CHECK_NAME,
            description=status_description(review),
        )
    head_hash = review.head.manifest_hash if review.head else None
    store.save_pr_state(
        repo,
        number,
        head_sha=head_sha,
        expected_head_sha=head_sha,
        comment_id=comment_id,
        check_run_id=check_run_id,
        manifest_hash=head_hash,
    )
    return ReviewOutcome(
        "reviewed",
        f"reviewed {head_sha[:7]}: {review.conclusion}",
        conclusion=review.conclusion,
        headline=review.headline,
    )


def _publish_comment(
    forge: Forge, repo: str, number: int, body: str, *, known_id: int | None, new_pull: bool
) -> int:
    """Edit the sticky comment in place; find it by its marker when the store does not know it
    (a new PR cannot have one yet, so `opened` skips the search)."""
    comment_id = known_id
    if comment_id is None and not new_pull:
        existing = forge.find_comment(repo, number, MARKER)
        comment_id = existing.id if existing else None
    if comment_id is not None:
        try:
            return forge.update_comment(repo, comment_id, body).id
        except ForgeError as exc:
            if exc.status != 404:
                raise
            log.info("sticky comment %s on %s#%s was deleted; writing a new one", comment_id, repo, number)
    return forge.create_comment(repo, number, body).id
