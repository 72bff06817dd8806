"""Who looks at a console page: the `Viewer`, and the FastAPI dependencies that establish it.

`page_viewer` (GET pages): the signed-in person, or a redirect to the sign-in page. `form_viewer` (every
state-changing POST): the same, and the CSRF token of the form's ``csrf_token`` field must be the
session's own (constant-time compare); otherwise the request is refused with the 403 page, the refusal
is audited, and nothing else happens. A person with no role on the repository (or whose role cannot be
asked) sees the 403 page: the console shows nothing to someone the repository would not."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import Depends, Form, Request

from bot.app.audit import audit_safely
from bot.app.chatops.authorize import permission_at_least
from bot.forge import Permission
from bot.web.console.session import Session
from bot.web.console.state import ConsoleState, console_state

__all__ = [
    "ANONYMOUS",
    "ConsoleForbidden",
    "ConsoleRedirect",
    "FormViewer",
    "PageViewer",
    "Viewer",
    "audit_console",
    "check_csrf",
    "form_viewer",
    "page_viewer",
    "session_of",
]

log = logging.getLogger(__name__)

ANONYMOUS = "console:anonymous"  # the audit actor of a refused request with no valid session


@dataclass(frozen=True)
class Viewer:
    login: str
    kind: Literal["github", "local"]
    role: Permission | None  # the repository role, for display (every action asks afresh)

    @property
    def may_read(self) -> bool:
        return self.role is not None and self.role != "none"

    def at_least(self, role: Permission) -> bool:
        """Whether the shown role reaches ``role`` (for enabling buttons; the action itself is decided
        by `authorize` with the role asked afresh)."""
        return self.role is not None and permission_at_least(self.role, role)


class ConsoleRedirect(Exception):
    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class ConsoleForbidden(Exception):
    """``reason`` is a key the 403 template words (csrf, no_role, role_unknown)."""

    def __init__(self, reason: str, viewer: Viewer | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.viewer = viewer


def session_of(request: Request, state: ConsoleState) -> Session | None:
    """The request's session (also kept on ``request.state`` for rendering the CSRF field)."""
    cached = getattr(request.state, "console_session", None)
    if isinstance(cached, Session):
        return cached
    session = state.codec.read(request)
    request.state.console_session = session
    return session


def _login_redirect(request: Request) -> ConsoleRedirect:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return ConsoleRedirect(f"/console/login?next={quote(target, safe='')}")


def _viewer(request: Request, state: ConsoleState) -> Viewer:
    session = session_of(request, state)
    if session is None or session.login is None or session.kind is None:
        raise _login_redirect(request)
    role = state.display_role(session.login, session.kind)
    if session.kind == "local" and role is None:  # the account was removed: its sessions end
        raise _login_redirect(request)
    viewer = Viewer(login=session.login, kind=session.kind, role=role)
    if role is None:
        raise ConsoleForbidden("role_unknown", viewer)
    if role == "none":
        raise ConsoleForbidden("no_role", viewer)
    return viewer


def page_viewer(request: Request, state: Annotated[ConsoleState, Depends(console_state)]) -> Viewer:
    """The signed-in viewer of a GET page (a plain ``def``: asking the role may call the forge)."""
    return _viewer(request, state)


def form_viewer(
    request: Request,
    state: Annotated[ConsoleState, Depends(console_state)],
    csrf_token: Annotated[str | None, Form(max_length=200)] = None,
) -> Viewer:
    """The signed-in viewer of a POST whose CSRF token is the session's own. The token is checked
    before anything else, the session's validity included, so a forged post learns nothing."""
    check_csrf(request, state, csrf_token)
    return _viewer(request, state)


def check_csrf(request: Request, state: ConsoleState, csrf_token: str | None) -> Session:
    """The session whose CSRF token ``csrf_token`` is; otherwise the refusal is audited and the 403
    page answers (also for the sign-in and sign-out forms, which have no signed-in viewer yet)."""
    session = session_of(request, state)
    if (
        session is None
        or not csrf_token
        or not hmac.compare_digest(csrf_token.encode("utf-8"), session.csrf.encode("utf-8"))
    ):
        actor = session.login if session is not None and session.login else ANONYMOUS
        audit_console(
            state,
            actor,
            "console.csrf_refused",
            state.repository,
            {
                "path": request.url.path[:300],
                "outcome": "refused",
                "csrf": "missing" if not csrf_token else "wrong",
            },
        )
        raise ConsoleForbidden("csrf")
    return session


def audit_console(
    state: ConsoleState, actor: str, action: str, target: str | None, details: dict[str, object]
) -> None:
    """An audit entry of what the console alone sees (sign-in, a refused form, an export); the store's
    failure is logged, never shown as a traceback. Actions audit themselves in the use cases."""
    audit_safely(state.store, actor, action, target, details=dict(details), reason="")


PageViewer = Annotated[Viewer, Depends(page_viewer)]
FormViewer = Annotated[Viewer, Depends(form_viewer)]
