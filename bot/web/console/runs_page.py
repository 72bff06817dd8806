"""The log pages of single-host mode: a run's log (``/console/runs/{id}/log``, the ``logs_url`` the runner
records) with its steps, each step's state and the tail of its log file, and the full log of one step as
text/plain; and an environment's deploy log (``/console/environments/{env}/log``, the deployer's
``log_url``).

Files are read only from the data folder's ``runs/<id>/`` and ``environments/<env>/``: ids and names
are validated by the host layout's own rules, and a step's log path (from run.json) must resolve inside
its run's folder, so no URL reaches another file. A running run's page follows it with the console's
refresh mechanism (a ``changed`` event from ``/console/runs/{id}/events``; static/console.js)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from bot.domain.ids import ENVIRONMENT_NAME_PATTERN
from bot.host.deployer import DEPLOY_LOG
from bot.host.layout import Layout, LayoutError
from bot.host.runs import Run, RunsError, RunStore
from bot.web.console.render import render_page
from bot.web.console.state import ConsoleState, console_state
from bot.web.console.viewer import PageViewer, Viewer

__all__ = ["TAIL_BYTES", "read_tail", "router"]

router = APIRouter()
State = Annotated[ConsoleState, Depends(console_state)]
RunId = Annotated[str, Path(pattern=r"^[1-9][0-9]{0,11}$")]
StepIndex = Annotated[int, Path(ge=0, le=999)]
EnvName = Annotated[str, Path(pattern=ENVIRONMENT_NAME_PATTERN)]
TAIL_BYTES: Final = 64 * 1024  # what a page shows of each log; the full text is one link away
POLL_SECONDS: Final = 1.0
STREAM_SECONDS: Final = 15.0  # as the console's other streams: shutdown never waits on an open tab


@dataclass(frozen=True, slots=True)
class Tail:
    text: str
    size: int  # the whole file's size in bytes
    cut: bool  # whether only the tail is shown


def read_tail(path: FilePath, limit: int = TAIL_BYTES) -> Tail | None:
    """The last ``limit`` bytes of ``path`` as text (None: no such file yet)."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - limit))
            data = handle.read(limit)
    except (FileNotFoundError, IsADirectoryError):
        return None
    return Tail(data.decode("utf-8", errors="replace"), size, size > limit)


def _layout(state: ConsoleState) -> Layout | None:
    host_dir = state.runtime.host_dir
    return Layout(host_dir) if host_dir is not None else None


def _run(state: ConsoleState, run_id: str) -> tuple[Layout, Run] | None:
    layout = _layout(state)
    if layout is None:
        return None
    try:
        return layout, RunStore(layout).load(run_id)
    except (RunsError, LayoutError):
        return None


def _step_log(layout: Layout, run: Run, index: int) -> FilePath | None:
    """The step's log file, only when it lies inside the run's own folder."""
    if index >= len(run.steps) or run.steps[index].log is None:
        return None
    folder = layout.run_dir(run.id).resolve()
    path = (folder / str(run.steps[index].log)).resolve()
    return path if path.is_relative_to(folder) else None


def _not_found(request: Request, viewer: Viewer) -> HTMLResponse:
    return render_page(request, "console/not_found.html.j2", {}, viewer=viewer, status=404)


@router.get("/console/runs/{run_id}/log", include_in_schema=False)
def run_log(request: Request, run_id: RunId, viewer: PageViewer, state: State) -> HTMLResponse:
    found = _run(state, run_id)
    if found is None:
        return _not_found(request, viewer)
    layout, run = found
    tails = []
    for index in range(len(run.steps)):
        path = _step_log(layout, run, index)
        tails.append(read_tail(path) if path is not None else None)
    return render_page(
        request,
        "console/run_log.html.j2",
        {
            "run": run,
            "steps": list(zip(run.steps, tails, strict=True)),
            "running": run.state != "completed",
            "events_url": f"/console/runs/{run.id}/events",
            "tail_kib": TAIL_BYTES // 1024,
        },
        viewer=viewer,
    )


@router.get("/console/runs/{run_id}/steps/{index}/log.txt", include_in_schema=False)
def step_log_text(run_id: RunId, index: StepIndex, viewer: PageViewer, state: State) -> Response:
    del viewer  # signed in with a role: checked by the dependency
    found = _run(state, run_id)
    path = _step_log(*found, index) if found is not None else None
    if path is None or not path.is_file():
        return PlainTextResponse("there is no such log\n", status_code=404)
    return PlainTextResponse(path.read_text(encoding="utf-8", errors="replace"), headers=_NO_STORE)


_NO_STORE: Final = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _fingerprint(layout: Layout, run_id: str) -> str:
    """run.json and the size of each file of the run's logs: what the page shows, hashed short."""
    folder = layout.run_dir(run_id)
    try:
        seen = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))]
    except OSError:
        seen = []
    return hashlib.sha256(repr(seen).encode("utf-8")).hexdigest()[:20]


@router.get("/console/runs/{run_id}/events", include_in_schema=False)
async def run_events(request: Request, run_id: RunId, viewer: PageViewer, state: State) -> Response:
    """``text/event-stream``: ``changed`` each time the run's record or logs change, until it completes;
    a completed run answers 204 (the browser's EventSource stops)."""
    del viewer  # signed in with a role: checked by the dependency
    found = await run_in_threadpool(_run, state, run_id)
    if found is None:
        return Response("there is no such run\n", status_code=404, media_type="text/plain")
    layout, run = found
    if run.state == "completed":
        return Response(status_code=204)

    async def stream() -> AsyncIterator[str]:
        seen = await run_in_threadpool(_fingerprint, layout, run_id)
        waited = 0.0
        yield "retry: 3000\n\n"
        while waited < STREAM_SECONDS and not state.runtime.stop.is_set():
            await asyncio.sleep(POLL_SECONDS)
            waited += POLL_SECONDS
            now = await run_in_threadpool(_fingerprint, layout, run_id)
            if now != seen:
                yield f"event: changed\ndata: {run_id}\n\n"
                return  # the page fetches itself again; its region opens a new stream
            if await request.is_disconnected():
                return

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _deploy_log(state: ConsoleState, environment: str) -> FilePath | None:
    layout = _layout(state)
    if layout is None:
        return None
    try:
        return layout.environment_dir(environment) / DEPLOY_LOG
    except LayoutError:
        return None


@router.get("/console/environments/{environment}/log", include_in_schema=False)
def environment_log(request: Request, environment: EnvName, viewer: PageViewer, state: State) -> HTMLResponse:
    path = _deploy_log(state, environment)
    if path is None:
        return _not_found(request, viewer)
    return render_page(
        request,
        "console/environment_log.html.j2",
        {"environment": environment, "tail": read_tail(path), "tail_kib": TAIL_BYTES // 1024},
        viewer=viewer,
    )


@router.get("/console/environments/{environment}/log.txt", include_in_schema=False)
def environment_log_text(environment: EnvName, viewer: PageViewer, state: State) -> Response:
    del viewer  # signed in with a role: checked by the dependency
    path = _deploy_log(state, environment)
    if path is None or not path.is_file():
        return PlainTextResponse("there is no such log\n", status_code=404)
    return PlainTextResponse(path.read_text(encoding="utf-8", errors="replace"), headers=_NO_STORE)
