"""The Builds pages: the builds (queued → build → release → deploy), newest first, filtered by status and
paginated; one build with its stage timeline, logs, modules delta, who asked and why; and its live
progress as server-sent events (``GET /console/builds/{id}/events``), which static/builds.js follows.
Without JavaScript the page has a refresh link and shows the same facts."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from bot.app.queries.builds import BUILD_STATUSES, build_detail, builds_page, stage_timeline
from bot.domain.ids import REPO_PATTERN
from bot.store import BuildRecord, BuildStatus
from bot.web.api.views import pull_ref
from bot.web.console.render import render_page
from bot.web.console.state import ConsoleState, console_state
from bot.web.console.viewer import PageViewer

__all__ = ["EVENTS_POLL_SECONDS", "EVENTS_STREAM_SECONDS", "build_event", "router"]

router = APIRouter()
State = Annotated[ConsoleState, Depends(console_state)]
BuildId = Annotated[str, Path(max_length=64)]
PAGE_SIZE: Final = 25
EVENTS_POLL_SECONDS: Final = 1.0  # how often the stream reads the build (one indexed row)
EVENTS_STREAM_SECONDS: Final = (
    15.0  # then the stream ends (shutdown never waits on an open tab); the browser reconnects
)
RETRY_MILLISECONDS: Final = 3000


@router.get("/console/builds", include_in_schema=False)
def builds(  # noqa: PLR0917 - FastAPI passes each query parameter
    request: Request,
    viewer: PageViewer,
    state: State,
    status: Annotated[list[BuildStatus] | None, Query()] = None,
    before: Annotated[str | None, Query(max_length=64)] = None,
    repository: Annotated[str | None, Query(pattern=REPO_PATTERN)] = None,
) -> HTMLResponse:
    repo = repository or state.repository
    try:
        page = builds_page(state.store, repository=repo, statuses=status, limit=PAGE_SIZE, before=before)
    except ValueError:  # `before` is not a build id: the first page, said so
        return render_page(
            request,
            "console/not_found.html.j2",
            {},
            viewer=viewer,
            status=404,
        )
    chosen = status or []
    return render_page(
        request,
        "console/builds.html.j2",
        {
            "page": page,
            "statuses": BUILD_STATUSES,
            "chosen": chosen,
            "before": before,
            "filter_query": "".join(f"&status={s}" for s in chosen),
            "repository": repo,
            "pulls": {b.build_id: pull_ref(state.settings, b.repository, b.pr_number) for b in page.builds},
        },
        viewer=viewer,
    )


@router.get("/console/builds/{build_id}", include_in_schema=False)
def build(request: Request, build_id: BuildId, viewer: PageViewer, state: State) -> HTMLResponse:
    detail = build_detail(state.store, build_id)
    if detail is None:
        return render_page(request, "console/not_found.html.j2", {}, viewer=viewer, status=404)
    record = detail.build
    return render_page(
        request,
        "console/build.html.j2",
        {
            "detail": detail,
            "build": record,
            "pull": pull_ref(state.settings, record.repository, record.pr_number),
            "events_url": f"/console/builds/{record.build_id}/events?"
            + urlencode({"since": _fingerprint(record)}),
        },
        viewer=viewer,
    )


def _fingerprint(record: BuildRecord) -> str:
    """What the page shows of the build's progress, hashed short for a URL: two changes within one clock
    tick still differ."""
    shown = (
        record.updated_at,
        record.status,
        record.stage,
        record.progress,
        record.logs_url,
        record.release_id,
    )
    return hashlib.sha256(repr((*shown, record.detail)).encode("utf-8")).hexdigest()[:20]


def build_event(record: BuildRecord) -> str:
    """One server-sent event ``changed`` (what static/console.js listens for: the page fetches itself
    again), with the build's state as its data."""
    data = {
        "build_id": record.build_id,
        "status": record.status,
        "stage": record.stage,
        "progress": record.progress,
        "finished": record.finished,
        "timeline": [{"stage": s.stage, "state": s.state} for s in stage_timeline(record)],
    }
    # the id comes back as Last-Event-ID when the browser reconnects: what it has already seen
    return f"event: changed\nid: {_fingerprint(record)}\ndata: {json.dumps(data)}\n\n"


@router.get("/console/builds/{build_id}/events", include_in_schema=False)
async def build_events(
    request: Request,
    build_id: BuildId,
    viewer: PageViewer,
    state: State,
    since: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """``text/event-stream``: an event each time the build changes after ``since`` (its state as the page
    showed it), until it finishes (its last event) or the stream's time is up (the browser
    reconnects). A finished build answers 204, which tells the browser's EventSource to stop."""
    del viewer  # signed in with a role: checked by the dependency
    first = await run_in_threadpool(state.store.get_build, build_id)
    if first is None:
        return Response("there is no such build\n", status_code=404, media_type="text/plain")
    if first.finished:
        # once finished, a build never changes again (the store refuses it): nothing to follow. A page
        # shown just before it finished still says so on its next load (and has a refresh link).
        return Response(status_code=204)

    async def stream() -> AsyncIterator[str]:
        record: BuildRecord | None = first
        seen = request.headers.get("last-event-id", "")[:64] or since
        waited = 0.0
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        while record is not None:
            if _fingerprint(record) != seen:
                seen = _fingerprint(record)
                yield build_event(record)
            if record.finished or waited >= EVENTS_STREAM_SECONDS or state.runtime.stop.is_set():
                return
            await asyncio.sleep(EVENTS_POLL_SECONDS)
            waited += EVENTS_POLL_SECONDS
            if await request.is_disconnected():
                return
            record = await run_in_threadpool(state.store.get_build, build_id)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
