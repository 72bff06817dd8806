"""Sign-in and sign-out: GitHub's OAuth web flow (GitHub mode) or a password form (local accounts,
single-host mode), and the language switch. Every outcome is audited (``console.signin``,
``console.signin_failed``, ``console.signout``); failed password sign-ins are throttled."""

from __future__ import annotations

import hmac
import math
import secrets
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.forge import ForgeError
from bot.web.console.i18n import LANG_COOKIE, LANGUAGES
from bot.web.console.oauth import OAuthError, authorize_url, signed_in_login
from bot.web.console.render import render_public
from bot.web.console.session import Session
from bot.web.console.state import ConsoleState, console_state
from bot.web.console.viewer import audit_console, check_csrf, session_of

__all__ = ["router", "safe_next"]

router = APIRouter()
State = Annotated[ConsoleState, Depends(console_state)]
HOME = "/console/"


def safe_next(value: str | None) -> str:
    """Where to go after sign-in: a console path only (no other site, no scheme-relative URL)."""
    if (
        value
        and value.startswith("/console")
        and not value.startswith("//")
        and "\\" not in value
        and len(value) <= 1000
        and not value.startswith("/console/login")
    ):
        return value
    return HOME


def _client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _signin_page(
    request: Request,
    state: ConsoleState,
    session: Session,
    *,
    next_path: str,
    error: str | None = None,
    retry_minutes: int = 0,
    login: str = "",
    status: int = 200,
) -> Response:
    response = render_public(
        request,
        "console/signin.html.j2",
        {
            "mode": state.settings.console_sign_in,
            "next_path": next_path,
            "error": error,
            "retry_minutes": retry_minutes,
            "login_value": login,
            "repository": state.repository,
        },
        session=session,
        status=status,
    )
    state.codec.write(response, request, session)
    return response


@router.get("/console/login", include_in_schema=False)
def signin_form(
    request: Request,
    state: State,
    next: Annotated[str | None, Query(max_length=1000)] = None,
    error: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    session = session_of(request, state) or Session.fresh()
    known = {"signed_out", "state_mismatch", "code_refused", "github_unreachable", "no_role", "denied"}
    return _signin_page(
        request, state, session, next_path=safe_next(next), error=error if error in known else None
    )


@router.post("/console/login", include_in_schema=False)
def signin_with_password(  # noqa: PLR0917 - the form's fields
    request: Request,
    state: State,
    login: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str | None, Form(max_length=1000)] = None,
    csrf_token: Annotated[str | None, Form(max_length=200)] = None,
) -> Response:
    session = check_csrf(request, state, csrf_token)
    next_path = safe_next(next)
    if state.settings.console_sign_in != "local":
        return _signin_page(request, state, session, next_path=next_path, error="local_off", status=400)
    address = _client_address(request)
    wait = state.throttle.retry_after(login, address)
    if wait > 0:
        audit_console(
            state, "console:anonymous", "console.signin_failed", login[:100] or None,
            {"outcome": "refused", "error": "throttled", "address": address},
        )  # fmt: skip
        return _signin_page(
            request, state, session, next_path=next_path, error="throttled",
            retry_minutes=math.ceil(wait / 60), login=login, status=429,
        )  # fmt: skip
    user = state.store.verify_password(login, password)
    if user is None:
        state.throttle.failed(login, address)
        audit_console(
            state, "console:anonymous", "console.signin_failed", login[:100] or None,
            {"outcome": "refused", "error": "wrong_password", "address": address},
        )  # fmt: skip
        return _signin_page(
            request, state, session, next_path=next_path, error="wrong_password", login=login, status=401
        )
    state.throttle.succeeded(user.login)
    audit_console(state, user.login, "console.signin", None, {"kind": "local", "address": address})
    response = RedirectResponse(next_path, status_code=303)
    state.codec.write(response, request, session.signed_in(user.login, "local"))
    return response


@router.get("/console/login/github", include_in_schema=False)
def signin_with_github(
    request: Request,
    state: State,
    next: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    session = session_of(request, state) or Session.fresh()
    if state.settings.console_sign_in != "github":
        return _signin_page(
            request, state, session, next_path=safe_next(next), error="github_off", status=400
        )
    oauth_state = secrets.token_urlsafe(32)
    session = replace(session, oauth_state=oauth_state, next_path=safe_next(next))
    response = RedirectResponse(
        authorize_url(state.settings, state=oauth_state, redirect_uri=_callback_url(request)), status_code=303
    )
    state.codec.write(response, request, session)
    return response


def _callback_url(request: Request) -> str:
    return str(request.url_for("oauth_callback"))


@router.get("/console/oauth/callback", name="oauth_callback", include_in_schema=False)
async def oauth_callback(
    request: Request,
    state: State,
    code: Annotated[str | None, Query(max_length=200)] = None,
    oauth_state: Annotated[str | None, Query(alias="state", max_length=200)] = None,
    error: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    session = session_of(request, state)
    if (
        session is None
        or session.oauth_state is None
        or oauth_state is None
        or not hmac.compare_digest(oauth_state.encode("utf-8"), session.oauth_state.encode("utf-8"))
    ):
        await run_in_threadpool(
            audit_console, state, "console:anonymous", "console.signin_failed", None,
            {"outcome": "refused", "error": "state_mismatch", "address": _client_address(request)},
        )  # fmt: skip
        return RedirectResponse("/console/login?error=state_mismatch", status_code=303)
    next_path = safe_next(session.next_path)
    used = replace(session, oauth_state=None)  # a state is good for one callback
    if error is not None or not code:
        return _redirect_with(request, state, used, "/console/login?error=denied")
    try:
        login = await run_in_threadpool(
            signed_in_login, state.settings, code=code, redirect_uri=_callback_url(request)
        )
    except OAuthError as failure:
        return _redirect_with(request, state, used, f"/console/login?error={failure.reason}")
    role = await run_in_threadpool(_role_now, state, login)
    if role in (None, "none"):
        await run_in_threadpool(
            audit_console, state, login, "console.signin_failed", None,
            {"outcome": "refused", "error": "no_role" if role == "none" else "role_unknown"},
        )  # fmt: skip
        reason = "no_role" if role == "none" else "github_unreachable"
        return _redirect_with(request, state, used, f"/console/login?error={reason}")
    await run_in_threadpool(audit_console, state, login, "console.signin", None, {"kind": "github"})
    return _redirect_with(request, state, used.signed_in(login, "github"), next_path)


def _role_now(state: ConsoleState, login: str) -> str | None:
    state.forget_role(login)  # sign-in asks afresh
    try:
        return state.display_role(login, "github")
    except ForgeError:
        return None


def _redirect_with(request: Request, state: ConsoleState, session: Session, location: str) -> Response:
    response = RedirectResponse(location, status_code=303)
    state.codec.write(response, request, session)
    return response


@router.post("/console/logout", include_in_schema=False)
def sign_out(
    request: Request,
    state: State,
    csrf_token: Annotated[str | None, Form(max_length=200)] = None,
) -> Response:
    session = check_csrf(request, state, csrf_token)
    if session.login is not None:
        audit_console(state, session.login, "console.signout", None, {"kind": session.kind})
    response = RedirectResponse("/console/login?error=signed_out", status_code=303)
    state.codec.clear(response, request)
    return response


@router.get("/console/language/{language}", include_in_schema=False)
def switch_language(
    language: str,
    next: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    """A preference, not server state: a plain link (works with JavaScript off), kept for a year."""
    target = next if next and next.startswith("/console") and not next.startswith("//") else HOME
    response = RedirectResponse(target, status_code=303)
    if language in LANGUAGES:
        response.set_cookie(LANG_COOKIE, language, max_age=365 * 86400, path="/console", samesite="lax")
    return response
