"""A console request FastAPI could not read (a malformed path, query or form field: a slug that is no
slug, an unknown build status, a hand-edited URL) gets the console's own page that says what was wrong,
never FastAPI's JSON; any other path keeps FastAPI's answer (the admin API answers its own errors in its
route class, bot/web/api/problems.py)."""

from __future__ import annotations

from fastapi import Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from bot.web.console.render import render_public
from bot.web.console.state import console_state
from bot.web.console.viewer import session_of

__all__ = ["invalid_request_page"]

MAX_SHOWN = 10


async def invalid_request_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if not request.url.path.startswith("/console"):
        return await request_validation_exception_handler(request, exc)
    problems = [
        f"{error['loc'][-1]}: {error['msg']}" if error.get("loc") else str(error.get("msg"))
        for error in exc.errors()[:MAX_SHOWN]
    ]
    session = session_of(request, console_state(request))
    return render_public(
        request, "console/invalid.html.j2", {"problems": problems}, session=session, status=422
    )
