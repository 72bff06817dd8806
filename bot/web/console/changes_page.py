"""The Change requests pages (single-host mode): the local forge's change requests, open first and
paginated; one change request with its body, comments (the sticky validation comment among them),
reviews and checks; and the forms a person uses on it: Approve, Request changes, Merge, Close.

Each form is a CSRF-checked POST that calls the local forge's own operation as the signed-in local
account, so the forge's role rules hold unchanged (write to approve or merge, never one's own change;
close: the author or a writer). A refusal shows the forge's reason and changes nothing; every action is
audited once (``change.<action>``) with the viewer as actor, whatever its outcome.

With GitHub as the forge these pages are not offered: they link to the pull requests on GitHub.
`local_forge` is the one place that decides."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse

from bot.app.review.report import CHECK_NAME
from bot.forge import ForgeError
from bot.forge.local import LocalForge
from bot.pipeline.release import RELEASE_STATUS_CONTEXT
from bot.web.api.views import github_web_url
from bot.web.console.render import render_page
from bot.web.console.state import ConsoleState, console_state
from bot.web.console.viewer import FormViewer, PageViewer, Viewer, audit_console

__all__ = ["PAGE_SIZE", "local_forge", "router"]

router = APIRouter()
State = Annotated[ConsoleState, Depends(console_state)]
Number = Annotated[int, Path(ge=1, le=2**31 - 1)]
ChangeAction = Literal["approve", "request_changes", "merge", "close"]
PAGE_SIZE: Final = 25
# modbot's verdicts on a head: the manifest review is a check run in App mode and a commit status with
# the same name otherwise (single-host mode among them); the release status is always a commit status
STATUS_CONTEXTS: Final = (CHECK_NAME, RELEASE_STATUS_CONTEXT)
CHECK_NAMES: Final = (CHECK_NAME,)


def local_forge(state: ConsoleState) -> LocalForge | None:
    """The local forge when the console's repository is hosted by modbot itself; None with GitHub (or
    no forge yet): then the change requests are GitHub's pull requests, and the console links there."""
    try:
        forge = state.forge()
    except ForgeError:
        return None
    return forge if isinstance(forge, LocalForge) else None


_MARKER = re.compile(r"^<!--[^\n]*?-->[ \t]*\n?", re.MULTILINE)


def _without_markers(body: str) -> str:
    """A comment as a person reads it on GitHub: modbot's hidden markers (``<!-- modbot:... -->``, how it
    finds its sticky comment again) are not shown."""
    return _MARKER.sub("", body).strip("\n")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a form did: ``done`` (its action) or ``refused`` with the forge's reason."""

    action: str
    ok: bool
    reason: str = ""


def _on_github(request: Request, viewer: Viewer, state: ConsoleState, number: int | None) -> HTMLResponse:
    base = f"{github_web_url(state.settings)}/{state.repository or ''}"
    url = f"{base}/pull/{number}" if number is not None else f"{base}/pulls"
    return render_page(request, "console/changes_github.html.j2", {"url": url}, viewer=viewer)


@router.get("/console/changes", include_in_schema=False)
def changes(
    request: Request,
    viewer: PageViewer,
    state: State,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    forge = local_forge(state)
    if forge is None or state.repository is None:
        return _on_github(request, viewer, state, None)
    records = forge.records.list_change_requests(state.repository)
    ordered = sorted(records, key=lambda r: (r.state != "open", -r.number))  # open first, newest first
    shown = ordered[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return render_page(
        request,
        "console/changes.html.j2",
        {
            "changes": shown,
            "page": page,
            "has_next": len(ordered) > page * PAGE_SIZE,
            "open_count": sum(1 for r in records if r.state == "open"),
            "repository": state.repository,
        },
        viewer=viewer,
    )


def _detail(
    request: Request,
    viewer: Viewer,
    state: ConsoleState,
    forge: LocalForge,
    number: int,
    *,
    outcome: Outcome | None = None,
    status: int = 200,
) -> HTMLResponse:
    repo = state.repository
    assert repo is not None
    record = forge.records.get_change_request(repo, number)
    if record is None:
        return render_page(request, "console/not_found.html.j2", {}, viewer=viewer, status=404)
    pull = forge.get_pull(repo, number)  # the head as it is in git now
    checks = [c for name in CHECK_NAMES if (c := forge.find_check_run(repo, pull.head_sha, name))]
    statuses = [s for ctx in STATUS_CONTEXTS if (s := forge.latest_commit_status(repo, pull.head_sha, ctx))]
    mine = viewer.login.lower() == record.author.lower()
    return render_page(
        request,
        "console/change.html.j2",
        {
            "change": record,
            "body": _without_markers(record.body),
            "pull": pull,
            "comments": [(c, _without_markers(c.body)) for c in forge.records.list_comments(repo, number)],
            "reviews": forge.records.list_reviews(repo, number),
            "checks": checks,
            "statuses": statuses,
            "outcome": outcome,
            "is_open": record.state == "open",
            "may_write": viewer.kind == "local" and viewer.at_least("write"),
            "mine": mine,
        },
        viewer=viewer,
        status=status,
    )


@router.get("/console/changes/{number}", include_in_schema=False)
def change(request: Request, number: Number, viewer: PageViewer, state: State) -> HTMLResponse:
    forge = local_forge(state)
    if forge is None or state.repository is None:
        return _on_github(request, viewer, state, number)
    return _detail(request, viewer, state, forge, number)


def _act(
    forge: LocalForge, repo: str, number: int, action: ChangeAction, *, by: str, head_sha: str | None
) -> None:
    if action == "merge":
        forge.merge_pull(repo, number, by=by, expected_head_sha=head_sha)
    elif action == "close":
        forge.set_pull_state(repo, number, "closed", by=by)
    else:
        forge.submit_review(repo, number, by=by, action=action)


@router.post("/console/changes/{number}/{action}", include_in_schema=False)
def change_action(  # noqa: PLR0917 - FastAPI passes each parameter
    request: Request,
    number: Number,
    action: ChangeAction,
    viewer: FormViewer,
    state: State,
    head_sha: Annotated[str | None, Form(pattern=r"^[0-9a-f]{40}([0-9a-f]{24})?$")] = None,
) -> HTMLResponse:
    forge = local_forge(state)
    repo = state.repository
    if forge is None or repo is None:
        return render_page(request, "console/not_found.html.j2", {}, viewer=viewer, status=404)
    if forge.records.get_change_request(repo, number) is None:
        return render_page(request, "console/not_found.html.j2", {}, viewer=viewer, status=404)
    target = f"{repo}#{number}"
    try:
        _act(forge, repo, number, action, by=viewer.login, head_sha=head_sha)
    except (ForgeError, ValueError) as exc:
        reason = exc.message if isinstance(exc, ForgeError) else str(exc)
        audit_console(
            state, viewer.login, f"change.{action}", target, {"outcome": "refused", "reason": reason[:300]}
        )
        status = exc.status if isinstance(exc, ForgeError) and exc.status in (403, 405, 409, 422) else 422
        outcome = Outcome(action, ok=False, reason=reason)
        return _detail(request, viewer, state, forge, number, outcome=outcome, status=status)
    audit_console(state, viewer.login, f"change.{action}", target, {"outcome": "done"})
    return _detail(request, viewer, state, forge, number, outcome=Outcome(action, ok=True))
