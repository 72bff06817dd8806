"""Pages to HTML: `render_page` for a signed-in viewer, `render_public` for the pages anyone sees
(sign-in, errors). Every template extends ``console/base.html.j2`` and gets: ``_``/``ngettext`` (the
request's language), ``csrf_input()`` (the hidden field of the session's token), ``viewer``, ``lang``,
``nav`` (the pages, in menu order) and ``static_url(name)``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from bot.web.console.i18n import LANG_COOKIE, language_of
from bot.web.console.session import Session
from bot.web.console.state import console_state
from bot.web.console.viewer import Viewer

__all__ = ["NAV", "NavItem", "render_page", "render_public"]


@dataclass(frozen=True, slots=True)
class NavItem:
    key: str  # the template words it (console/base.html.j2, `nav_labels`)
    href: str


NAV: Final = (
    NavItem("overview", "/console/"),
    NavItem("modules", "/console/modules"),
    NavItem("builds", "/console/builds"),
    NavItem("releases", "/console/releases"),
    NavItem("changes", "/console/changes"),
    NavItem("audit", "/console/audit"),
)


def request_language(request: Request) -> str:
    return language_of(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def _csrf_input(session: Session | None) -> Markup:
    if session is None:
        return Markup("")
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(escape(session.csrf))


def _render(
    request: Request,
    template: str,
    context: Mapping[str, object],
    *,
    viewer: Viewer | None,
    session: Session | None,
    status: int,
) -> HTMLResponse:
    state = console_state(request)
    lang = request_language(request)
    page = state.environments[lang].get_template(template)
    html = page.render(
        {
            **context,
            "viewer": viewer,
            "lang": lang,
            "nav": NAV,
            "current_path": request.url.path,
            "csrf_input": lambda: _csrf_input(session),
        }
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["Content-Language"] = lang
    response.headers["Cache-Control"] = "no-store"  # pages show who may do what: never from a cache
    return response


def render_page(
    request: Request,
    template: str,
    context: Mapping[str, object],
    *,
    viewer: Viewer,
    status: int = 200,
) -> HTMLResponse:
    session = getattr(request.state, "console_session", None)
    return _render(
        request,
        template,
        context,
        viewer=viewer,
        session=session if isinstance(session, Session) else None,
        status=status,
    )


def render_public(
    request: Request,
    template: str,
    context: Mapping[str, object],
    *,
    session: Session | None = None,
    viewer: Viewer | None = None,
    status: int = 200,
) -> HTMLResponse:
    return _render(request, template, context, viewer=viewer, session=session, status=status)
