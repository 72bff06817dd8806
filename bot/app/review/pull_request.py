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
from typing import Literal, cast

from bot.app.chatops.parse import COMMANDS as CHATOPS_COMMANDS
from bot.app.review.report import (
    CHECK_NAME,
    MARKER,
    ManifestReview,
    check_run_output,
    render_comment,
    review_manifest,
    status_description,
)
from bot.config import BotSettings
from bot.forge import CheckRun, Forge, ForgeError
from bot.forge.events import ChangeRequestEvent
from bot.store import KEEP, Store

log = logging.getLogger(__name__)

REVIEW_ACTIONS = frozenset({"opened", "synchronize", "reopened", "ready_for_review", "edited"})
# the sticky comment lists every chat-ops command by its usage (bot.app.chatops.parse.COMMANDS)
COMMANDS = [spec.usage for spec in CHATOPS_COMMANDS.values()]


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    """What a review of a PR's manifest did (`review_pull_request`)."""

    status: Literal["reviewed", "not_touched", "superseded"]
    message: str  # the handler's one-line outcome
    conclusion: str | None = None  # reviewed: success | failure
    headline: str | None = None  # reviewed: the check run's title


def handle_pull_request(
    event: ChangeRequestEvent, received_at: datetime, *, forge: Forge, store: Store, settings: BotSettings
) -> str:
    action = event.action
    if action not in REVIEW_ACTIONS:
        return f"ignored: action {action!r}"
    if action == "edited" and not event.base_changed:
        return "ignored: edited without a base change"
    if event.state != "open":
        return "ignored: the pull request is not open"
    outcome = review_pull_request(
        forge,
        store,
        settings,
        repo=event.repository.full_name,
        repo_html_url=event.repository.web_url,
        number=event.number,
        head_sha=event.head_sha,
        base_sha=event.base_sha,
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
    repo_html_url: str | None,
    number: int,
    head_sha: str,
    base_sha: str,
    received_at: datetime,
    new_pull: bool = False,
) -> ReviewOutcome:
    """Review the manifest of PR `number` at `head_sha` against `base_sha` and publish the result (the
    sticky comment, then the check run or commit status): the path of every `pull_request` event and
    of the `/validate` command. `new_pull`: the PR was just opened (see `_publish_comment`)."""
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

    # Claim this head before publishing: a newer head stored meanwhile wins and we stay silent. The
    # claim is also the record that something may be written: a run that finds this head claimed
    # already (a retry, a crash, a second delivery) looks for what the earlier one wrote.
    expected = state.head_sha if state is not None else None
    same_head = expected == head_sha
    if not store.save_pr_state(
        repo,
        number,
        head_sha=head_sha,
        expected_head_sha=expected,
        check_run_id=KEEP if same_head else None,  # the stored run is the stored head's
    ):
        return ReviewOutcome("superseded", "superseded: a newer head was stored while this one was reviewed")

    body = render_comment(review, repo_html_url=repo_html_url, commands=COMMANDS)
    _publish_comment(
        forge,
        store,
        repo,
        number,
        body,
        head_sha=head_sha,
        known_id=state.comment_id if state else None,
        may_exist=state is not None or not new_pull,
    )
    if settings.auth_mode == "app":
        _publish_check_run(
            forge,
            store,
            repo,
            number,
            review,
            known_id=state.check_run_id if state is not None and same_head else None,
            may_exist=same_head,
        )
    else:
        _publish_status(forge, repo, review, may_exist=same_head)
    head_hash = review.head.manifest_hash if review.head else None
    store.save_pr_state(repo, number, head_sha=head_sha, expected_head_sha=head_sha, manifest_hash=head_hash)
    return ReviewOutcome(
        "reviewed",
        f"reviewed {head_sha[:7]}: {review.conclusion}",
        conclusion=review.conclusion,
        headline=review.headline,
    )


def _publish_comment(
    forge: Forge,
    store: Store,
    repo: str,
    number: int,
    body: str,
    *,
    head_sha: str,
    known_id: int | None,
    may_exist: bool,
) -> None:
    """Edit the sticky comment in place, else write it and record its id at once (before anything else
    is written: a retry must find it, not write a second one). Found by its marker whenever an earlier
    run may have written it; only a PR just opened and never claimed in the store cannot have one (every
    run claims the PR, in the same database as its job, before it writes)."""
    comment_id = known_id
    if comment_id is None and may_exist:
        existing = forge.find_comment(repo, number, MARKER)
        comment_id = existing.id if existing else None
    if comment_id is not None:
        try:
            updated = forge.update_comment(repo, comment_id, body).id
        except ForgeError as exc:
            if exc.status != 404:
                raise
            log.info("sticky comment %s on %s#%s was deleted; writing a new one", comment_id, repo, number)
        else:
            if updated != known_id:
                store.save_pr_state(
                    repo, number, head_sha=head_sha, expected_head_sha=head_sha, comment_id=updated
                )
            return
    created = forge.create_comment(repo, number, body).id
    store.save_pr_state(repo, number, head_sha=head_sha, expected_head_sha=head_sha, comment_id=created)


def _publish_check_run(
    forge: Forge,
    store: Store,
    repo: str,
    number: int,
    review: ManifestReview,
    *,
    known_id: int | None,
    may_exist: bool,
) -> None:
    """One `modbot/manifest` check run per head: updated when this head has one (its id recorded, or
    found by name and head when an earlier run may have created it), else created and recorded.
    GitHub appends each request's annotations to a run's, and a head's annotations are always the same
    (they come from the head alone): only those the run does not hold yet are sent."""
    output = check_run_output(review)
    title, summary, text = output["title"], output["summary"], output["text"] or None
    run: CheckRun | None = None
    if known_id is None and may_exist:
        run = forge.find_check_run(repo, review.head_sha, CHECK_NAME)
    if known_id is not None or run is not None:
        run_id = known_id if known_id is not None else cast(CheckRun, run).id
        held = len(review.annotations) if run is None else run.annotations_count
        try:
            forge.update_check_run(
                repo,
                run_id,
                status="completed",
                conclusion=review.conclusion,
                title=title,
                summary=summary,
                text=text,
                annotations=review.annotations[held:],
            )
        except ForgeError as exc:
            if exc.status != 404:
                raise
            log.info("check run %s on %s was deleted; creating a new one", run_id, repo)
        else:
            if run_id != known_id:
                store.save_pr_state(
                    repo,
                    number,
                    head_sha=review.head_sha,
                    expected_head_sha=review.head_sha,
                    check_run_id=run_id,
                )
            return
    created = forge.create_check_run(
        repo,
        review.head_sha,
        CHECK_NAME,
        status="completed",
        conclusion=review.conclusion,
        title=title,
        summary=summary,
        text=text,
        annotations=review.annotations,
    )
    store.save_pr_state(
        repo, number, head_sha=review.head_sha, expected_head_sha=review.head_sha, check_run_id=created.id
    )


def _publish_status(forge: Forge, repo: str, review: ManifestReview, *, may_exist: bool) -> None:
    """The commit status of `modbot/manifest` (token mode). Each POST adds a status to the commit, so
    when an earlier run may have set it already, it is read first and not set again."""
    description = status_description(review)
    if may_exist:
        latest = forge.latest_commit_status(repo, review.head_sha, CHECK_NAME)
        if latest is not None and (latest.state, latest.description) == (review.conclusion, description):
            return
    forge.set_commit_status(
        repo, review.head_sha, review.conclusion, context=CHECK_NAME, description=description
    )
