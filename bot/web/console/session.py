"""The console's session: one cookie, signed with ``MODBOT_CONSOLE_SECRET`` (itsdangerous, as
Starlette's SessionMiddleware uses it), HttpOnly, SameSite=Lax, Secure over https, valid for
`SESSION_SECONDS` from sign-in (not sliding: a stolen cookie does not live forever).

It holds who is signed in (a login and its kind, never an OAuth token), the CSRF token of the session
and, before sign-in, the OAuth ``state``. Signing in always issues a new session id and CSRF token
(rotation: a session fixed before sign-in is worth nothing after). Signing out deletes the cookie."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, replace
from typing import Any, Final, Literal

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["SESSION_COOKIE", "SESSION_SECONDS", "Session", "SessionCodec"]

SESSION_COOKIE: Final = "modbot_session"
SESSION_SECONDS: Final = 8 * 3600
_SALT: Final = "modbot.console.session.v1"
ViewerKind = Literal["github", "local"]


@dataclass(frozen=True, slots=True)
class Session:
    sid: str
    csrf: str
    login: str | None = None
    kind: ViewerKind | None = None
    oauth_state: str | None = None
    next_path: str | None = None

    @classmethod
    def fresh(cls) -> Session:
        return cls(sid=secrets.token_urlsafe(16), csrf=secrets.token_urlsafe(32))

    def signed_in(self, login: str, kind: ViewerKind) -> Session:
        """A new session (new id, new CSRF token) for ``login``: rotation on sign-in."""
        return replace(Session.fresh(), login=login, kind=kind)


class SessionCodec:
    def __init__(self, secret: str, *, max_age: int = SESSION_SECONDS) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self.max_age = max_age

    def read(self, request: Request) -> Session | None:
        """The request's session; None when there is none, or it is forged, expired or malformed."""
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw or len(raw) > 4096:
            return None
        try:
            data: Any = self._serializer.loads(raw, max_age=self.max_age)
        except BadSignature:  # SignatureExpired is one: an expired cookie is no session
            return None
        return _session_of(data)

    def write(self, response: Response, request: Request, session: Session) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            self._serializer.dumps(asdict(session)),
            max_age=self.max_age,
            path="/console",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )

    @staticmethod
    def clear(response: Response, request: Request) -> None:
        response.delete_cookie(
            SESSION_COOKIE,
            path="/console",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )


def _session_of(data: Any) -> Session | None:
    if not isinstance(data, dict):
        return None
    text = {key: data.get(key) for key in ("sid", "csrf", "login", "kind", "oauth_state", "next_path")}
    if not all(value is None or isinstance(value, str) for value in text.values()):
        return None
    sid, csrf, login, kind = text["sid"], text["csrf"], text["login"], text["kind"]
    if sid is None or csrf is None or (login is None) != (kind is None):
        return None
    if kind is not None and kind not in ("github", "local"):
        return None
    return Session(
        sid=sid,
        csrf=csrf,
        login=login,
        kind="github" if kind == "github" else "local" if kind == "local" else None,
        oauth_state=text["oauth_state"],
        next_path=text["next_path"],
    )
