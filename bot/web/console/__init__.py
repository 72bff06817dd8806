"""The web console under /console (docs/console.md): server-rendered pages on the same store, the same
use cases and the same `authorize` as chat-ops and the admin API. One module per page, each with its
``router`` of module-level endpoint functions; `console_router` gathers them, `include_console` mounts
them with the static files (/console/static, served by modbot: no CDN), the security headers, the
sign-in redirect and the 403/404 pages.

The console starts only when it can sign people in safely (`BotSettings.console_problems`); otherwise
every /console page answers 503 with the reason, and the rest of modbot runs as before."""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from fastapi.staticfiles import StaticFiles

from bot.runtime import Runtime
from bot.web.api.guards import only_repository
from bot.web.console import (
    audit,
    builds_page,
    changes_page,
    live,
    modules_page,
    overview,
    releases_page,
    runs_page,
    signin,
)
from bot.web.console.errors import forbidden_page, not_found_router, redirect_to
from bot.web.console.headers import ConsoleHeaders
from bot.web.console.invalid import invalid_request_page
from bot.web.console.session import SessionCodec
from bot.web.console.state import STATIC_DIR, ConsoleState, make_environments, session_secret
from bot.web.console.viewer import ConsoleForbidden, ConsoleRedirect

__all__ = ["console_router", "include_console"]

log = logging.getLogger(__name__)

# every page's router; a new page adds one line
console_router = APIRouter(include_in_schema=False)
for _router in (
    signin.router,
    overview.router,
    modules_page.router,
    builds_page.router,
    releases_page.router,
    changes_page.router,
    runs_page.router,
    audit.router,
    live.router,
):
    console_router.include_router(_router)


def include_console(app: FastAPI, runtime: Runtime) -> None:
    problems = runtime.settings.console_problems()
    app.add_middleware(ConsoleHeaders)
    if problems:
        log.warning("the web console is off: %s", "; ".join(problems))
        _console_off(app, problems)
        return
    app.state.console = ConsoleState(
        runtime=runtime,
        codec=SessionCodec(session_secret(runtime.settings)),
        repository=only_repository(runtime.settings.repositories),
        environments=make_environments(),
    )
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    app.include_router(console_router)
    app.include_router(not_found_router)  # last: any other /console path
    app.add_exception_handler(ConsoleRedirect, redirect_to)
    app.add_exception_handler(ConsoleForbidden, forbidden_page)
    app.add_exception_handler(RequestValidationError, invalid_request_page)  # under /console only


def _console_off(app: FastAPI, problems: list[str]) -> None:
    """Fail closed, and say why: the operator reads this, in the log and on the page."""
    text = "The modbot console is off:\n" + "\n".join(f"- {p}" for p in problems) + "\n"

    @app.api_route("/console", methods=["GET", "POST"], include_in_schema=False)
    @app.api_route("/console/{rest:path}", methods=["GET", "POST"], include_in_schema=False)
    def console_off(request: Request) -> PlainTextResponse:
        del request
        return PlainTextResponse(text, status_code=503)
