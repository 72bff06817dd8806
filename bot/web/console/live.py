"""Live updates (``/console/events``): a server-sent event ``changed`` whenever the audit log grows.
Every change modbot makes (a deploy's stages, a build's progress, a lock) writes an audit entry, so
the newest entry's id is a cheap, complete "something changed" signal; the page then fetches itself
again (static/console.js). One stream lives `STREAM_SECONDS` (the browser's EventSource reconnects after
the ``retry`` it is told), so stopping modbot never waits long for an open console tab."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from bot.web.console.state import ConsoleState, console_state
from bot.web.console.viewer import PageViewer

__all__ = ["router"]

router = APIRouter()
POLL_SECONDS: Final = 1.0
KEEPALIVE_SECONDS: Final = 15.0
# short streams: uvicorn's shutdown waits for open answers, so a console tab must not hold it long
STREAM_SECONDS: Final = 15.0


def _newest_change(state: ConsoleState) -> int:
    entries = state.store.query_audit(limit=1).entries
    return entries[0].id if entries else 0


@router.get("/console/events", include_in_schema=False)
async def events(
    request: Request, viewer: PageViewer, state: Annotated[ConsoleState, Depends(console_state)]
) -> StreamingResponse:
    del viewer  # signed in with a role: checked by the dependency

    async def stream() -> AsyncIterator[str]:
        seen = await run_in_threadpool(_newest_change, state)
        yield "retry: 3000\n\n"
        waited = quiet = 0.0
        while waited < STREAM_SECONDS and not state.runtime.stop.is_set():
            await asyncio.sleep(POLL_SECONDS)
            waited += POLL_SECONDS
            quiet += POLL_SECONDS
            if await request.is_disconnected():
                return
            newest = await run_in_threadpool(_newest_change, state)
            if newest != seen:
                seen, quiet = newest, 0.0
                yield f"event: changed\ndata: {newest}\n\n"
            elif quiet >= KEEPALIVE_SECONDS:
                quiet = 0.0
                yield ": keep-alive\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
