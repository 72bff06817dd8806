"""The admin API's one error shape and its one exception handler.

Every answer that is not a success is a `Problem`: a ``detail`` a person can act on, plus ``reasons``
where ``POST /admin/modules/…`` had them (`Refusal`), or the stable ``error`` code, ``message``,
``next_step`` and ``reasons`` the builds endpoints have always answered (`ApiError`, whose ``detail`` is
its ``message`` and stays off the wire, so those answers keep their exact keys). The refinements are
subclasses of `Problem`, so one exception carries any of them, one handler answers it, and the OpenAPI
document keeps each answer's exact required fields. How
an endpoint words the problems every endpoint can have (no token, an unreadable request, a bug) is
its `Dialect`: the modules endpoint answers ``{"detail"}`` / ``{"detail", "reasons"}`` as it always did,
the others with their stable ``error`` codes. Endpoints raise `ApiProblem`; `ApiRoute` answers it.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, ClassVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.web.api.auditing import audit_unreadable_request

__all__ = [
    "API_ERRORS",
    "CHALLENGE",
    "DIALECT_SCOPE_KEY",
    "INTERNAL",
    "NOT_VALID",
    "REFUSAL_STATUS",
    "UNAUTHORIZED",
    "ApiError",
    "ApiProblem",
    "ApiRoute",
    "Dialect",
    "PlainRoute",
    "Problem",
    "Refusal",
    "coded_problem",
    "describe_errors",
    "dialect_of",
    "request_problems",
    "responses",
]

log = logging.getLogger(__name__)

CHALLENGE = {"WWW-Authenticate": "Bearer"}
UNAUTHORIZED = "a valid admin token is required (Authorization: Bearer mbt_…)"
INTERNAL = "internal error; the bot's log has the details"
NOT_VALID = "the request is not valid"
DIALECT_SCOPE_KEY = "modbot.problem_dialect"

# A refused command's HTTP status, by the deciding rule (docs/admin-api.md): a lock or the state of the
# releases is a conflict to wait out or resolve (409), a bad environment name is a bad request (422), and
# everything about who may do what, or the policy, is forbidden (403).
REFUSAL_STATUS: dict[str, int] = {
    "locked": 409,
    "no_release": 409,
    "no_previous_release": 409,
    "not_older": 409,
    "not_merged": 409,
    "build_failed": 409,
    "build_running": 409,
    "unknown_environment": 422,
    "permission": 403,
    "frozen": 403,
    "not_approved": 403,
    "policy_invalid": 403,
    "no_policy": 403,
    "bot_ignored": 403,
}
# The API's own error codes; a refused command answers with the rule id that refused it (REFUSAL_STATUS).
API_ERRORS = (
    "unauthorized",
    "invalid_request",
    "not_found",
    "forbidden_repository",
    "edit_refused",
    "nothing_to_build",
    "branch_taken",
    "no_release",
    "not_current",
    "deploy_failed",
    "rollback_failed",
    "github_error",
    "internal",
)


# --- the one shape (the OpenAPI document is generated from these) -------------------------------------------
class Problem(BaseModel):
    """An error with a message a person can act on."""

    detail: str


class Refusal(Problem):
    """The action was refused; nothing was opened or changed."""

    reasons: list[str]


class ApiError(Problem):
    """Every answer that is not a success: a stable code, what happened, and what to do next."""

    # `message` says it on the wire: these answers have never had a `detail` key, and their keys are
    # part of the contract (tests/unit/test_builds_api.py pins them)
    detail: str = Field(exclude=True)
    error: str = Field(
        description=f"stable code: {', '.join(API_ERRORS)}, "
        f"or the chat-ops rule that refused the command ({', '.join(REFUSAL_STATUS)})",
        examples=["locked"],
    )
    message: str = Field(description="what happened, for a person")
    next_step: str = Field(default="", description="what to do next (empty: nothing)")
    reasons: list[str] = Field(default_factory=list, description="each problem, when there are several")


class ApiProblem(Exception):
    """An answer that is not a success; raised anywhere in an endpoint or dependency, answered by ApiRoute."""

    def __init__(self, status: int, problem: Problem, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(problem.detail)
        self.status = status
        self.problem = problem
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        return JSONResponse(self.problem.model_dump(), status_code=self.status, headers=self.headers or None)


def coded_problem(
    status: int,
    error: str,
    /,
    message: str,
    next_step: str = "",
    reasons: list[str] | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> ApiProblem:
    """An `ApiError` answer (its ``detail``, for the log and the code, is its ``message``)."""
    body = ApiError(detail=message, error=error, message=message, next_step=next_step, reasons=reasons or [])
    return ApiProblem(status, body, headers=headers)


class Dialect(enum.Enum):
    """How an endpoint words the problems any endpoint can have. PLAIN: ``POST /admin/modules/…``
    (``detail``, and ``reasons`` for a refusal); CODED: every other endpoint (`ApiError`)."""

    PLAIN = "plain"
    CODED = "coded"

    def unauthorized(self) -> ApiProblem:
        if self is Dialect.PLAIN:
            return ApiProblem(401, Problem(detail=UNAUTHORIZED), headers=CHALLENGE)
        return coded_problem(
            401,
            "unauthorized",
            UNAUTHORIZED,
            "create one with `modbot admin token create NAME`",
            headers=CHALLENGE,
        )

    def invalid_request(self, reasons: list[str], next_step: str = "") -> ApiProblem:
        """422: the request cannot be acted on (``next_step``: the CODED wording only)."""
        if self is Dialect.PLAIN:
            return ApiProblem(422, Refusal(detail=NOT_VALID, reasons=reasons))
        return coded_problem(422, "invalid_request", NOT_VALID, next_step, reasons)

    def internal(self) -> ApiProblem:
        if self is Dialect.PLAIN:
            return ApiProblem(500, Problem(detail=INTERNAL))
        return coded_problem(500, "internal", INTERNAL)


def dialect_of(request: Request) -> Dialect:
    """The dialect of the endpoint answering ``request`` (set by ApiRoute before anything else runs)."""
    dialect = request.scope.get(DIALECT_SCOPE_KEY)
    return dialect if isinstance(dialect, Dialect) else Dialect.CODED


class ApiRoute(APIRoute):
    """The one exception handler of the admin API: `ApiProblem` → its answer; a bad body, path or query
    → 422 with its reasons (audited as `request.invalid`), but only for a valid token (FastAPI checks
    the request before the auth dependency runs, so without this a bad body would be described to
    anyone); anything else → 500, never a traceback."""

    dialect: ClassVar[Dialect] = Dialect.CODED

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        dialect = self.dialect

        async def answer(request: Request) -> Response:
            request.scope[DIALECT_SCOPE_KEY] = dialect
            try:
                return await handler(request)
            except ApiProblem as problem:
                return problem.response()
            except (RequestValidationError, StarletteHTTPException) as error:
                reasons = request_problems(error)
                if reasons is None:
                    raise
                if not await audit_unreadable_request(request, reasons):
                    return dialect.unauthorized().response()
                return dialect.invalid_request(
                    reasons, "fix the fields named in `reasons` and send it again"
                ).response()
            except Exception:
                log.exception("admin API: %s %s failed", request.method, request.url.path)
                return dialect.internal().response()

        return answer


class PlainRoute(ApiRoute):
    dialect = Dialect.PLAIN


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of a CODED endpoint (401 and 500 always)."""
    described = {
        401: "no or invalid admin token",
        403: "this bot does not manage that repository, or a chat-ops rule refused it",
        404: "no such build",
        409: "the request conflicts with the state (a lock, no release yet, …)",
        422: "the request is not valid, or the change was refused",
        500: "a bug in modbot (never a traceback)",
        502: "GitHub failed or refused; nothing more was done",
    }
    return {code: {"model": ApiError, "description": described[code]} for code in (*codes, 401, 500)}


def request_problems(error: RequestValidationError | StarletteHTTPException) -> list[str] | None:
    """What is wrong with a request FastAPI could not read: its validation errors, or for a body it could
    not even parse (FastAPI's 400, e.g. bytes that are not UTF-8) one reason. None: not a request
    problem (another HTTPException), to be raised as it is."""
    if isinstance(error, RequestValidationError):
        return describe_errors(error.errors())
    if error.status_code == 400:
        return ["`body`: not JSON text (UTF-8)"]
    return None


def describe_errors(errors: Any) -> list[str]:
    """Pydantic/FastAPI errors as one line each, without echoing the input (it may hold anything). A
    location may name a key the caller sent (a module slug): it is cut short and kept on one line."""
    reasons = []
    for error in errors:
        loc = [_shown_key(str(part)) for part in error.get("loc", ()) if part not in {"body", "path"}]
        where = ".".join(loc) or "body"
        reasons.append(f"`{where}`: {str(error.get('msg', 'invalid')).removeprefix('Value error, ')}")
    return reasons or [NOT_VALID]


def _shown_key(part: str, limit: int = 48) -> str:
    printable = "".join(char if char.isprintable() and char != "`" else "?" for char in part)
    return printable if len(printable) <= limit else printable[:limit] + "…"
