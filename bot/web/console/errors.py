"""The console's 403 and 404 pages and its sign-in redirect, as exception handlers and a last route."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.web.console.render import render_public
from bot.web.console.state import console_state
from bot.web.console.viewer import ConsoleForbidden, ConsoleRedirect, Viewer, session_of

__all__ = ["forbidden_page", "not_found_router", "redirect_to"]

not_found_router = APIRouter()


async def redirect_to(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsoleRedirect)
    return RedirectResponse(exc.location, status_code=303)


def forbidden_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsoleForbidden)
    session = session_of(request, console_state(request))
    return render_public(
        request,
        "console/forbidden.html.j2",
        {"reason": exc.reason, "repository": console_state(request).repository},
        session=session,
        viewer=exc.viewer,
        status=403,
    )


@not_found_router.api_route("/console/{rest:path}", methods=["GET", "POST"], include_in_schema=False)
def not_found(request: Request, rest: str) -> HTMLResponse:
    """Any other path under /console (registered after every page)."""
    del rest
    session = session_of(request, console_state(request))
    # a signed-in person keeps the menu (their role is not asked for a page that does not exist)
    viewer = Viewer(session.login, session.kind, None) if session and session.login and session.kind else None
    return render_public(request, "console/not_found.html.j2", {}, session=session, viewer=viewer, status=404)
