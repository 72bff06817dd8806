"""The admin API: ``POST /admin/modules/{slug}/{action}`` turns an admin action into a pull request.

Auth is a bearer token made with ``modbot admin token create`` (only its SHA-256 is stored). The token
is checked before anything else, including the body: without a valid token the answer is 401 whatever
was sent. Every authenticated call, accepted or refused, appends one audit entry (actor
``api:<token name> (<requested_by>)``; a request that cannot be read: ``request.invalid`` by
``api:<token name>``). The endpoint is a plain ``def``, so FastAPI runs the blocking
store and GitHub work in its thread pool, off the event loop. No traceback and no secret ever reaches
the caller: GitHub failures become 502 with GitHub's own message, anything unexpected a generic 500.

The builds API, releases, environments and the audit log (bot/web/builds.py) share this module's bearer
auth and helpers. See docs/admin-api.md.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.domain.ids import REPO_PATTERN, SLUG_PATTERN
from bot.forge import ForgeError
from bot.handlers.admin_actions import Action, Intent, ModuleChange, ProposeResult, propose_change
from bot.manifest.edit import EditRefused
from bot.runtime import Runtime
from bot.store import AdminToken

__all__ = [
    "BEARER",
    "CHALLENGE",
    "MAX_ID",
    "UNAUTHORIZED",
    "AdminActionRequest",
    "Problem",
    "Refusal",
    "admin_router",
    "audit_safely",
    "audit_unreadable_request",
    "describe_errors",
    "only_repository",
    "repository_needed",
    "request_problems",
    "retry_after_header",
    "verify_token",
]

log = logging.getLogger(__name__)

BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="AdminToken",
    description="A token from `modbot admin token create` (`mbt_…`), as `Authorization: Bearer mbt_…`.",
)
CHALLENGE = {"WWW-Authenticate": "Bearer"}
UNAUTHORIZED = "a valid admin token is required (Authorization: Bearer mbt_…)"
MAX_ID = 2**63 - 1  # ids are 64-bit database integers


class AdminActionRequest(BaseModel):
    """What to change, where, for whom and why."""

    model_config = ConfigDict(extra="forbid")

    repository: str | None = Field(
        default=None,
        pattern=REPO_PATTERN,
        description="owner/name; may be left out when MODBOT_REPOSITORIES names exactly one repository",
        examples=["rustok/rustok"],
    )
    installation_id: int | None = Field(
        default=None,
        gt=0,
        le=MAX_ID,
        description="the GitHub App installation on that repository (App mode only)",
    )
    module: ModuleChange | None = Field(
        default=None,
        description="install: the module spec (crate and source at least); upgrade: the fields that change; "
        "uninstall, enable, disable: none",
    )
    enable: bool = Field(default=False, description="install: also add the module to default_enabled")
    requested_by: str = Field(min_length=1, max_length=100, description="the person asking, for the PR")
    reason: str = Field(default="", max_length=2000, description="why; shown in the PR and the audit log")


class Refusal(BaseModel):
    """The action was refused; nothing was opened or changed."""

    detail: str
    reasons: list[str]


class Problem(BaseModel):
    """An error with a message a person can act on."""

    detail: str


def admin_router(runtime: Runtime) -> APIRouter:
    settings = runtime.settings

    def authenticate(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    ) -> AdminToken:
        token = verify_token(runtime, credentials.credentials if credentials else None)
        if token is None:
            raise HTTPException(401, UNAUTHORIZED, CHALLENGE)
        return token

    class AdminRoute(APIRoute):
        """Body and path errors answer like refused edits (``reasons``), but only to a caller with a
        valid token: FastAPI parses the body before running dependencies, so without this a bad body
        would be described to anyone."""

        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                try:
                    return await handler(request)
                except (RequestValidationError, StarletteHTTPException) as error:
                    reasons = request_problems(error)
                    if reasons is None:
                        raise
                    if not await audit_unreadable_request(runtime, request, reasons):
                        return JSONResponse(
                            {"detail": UNAUTHORIZED},
                            status_code=401,
                            headers=CHALLENGE,
                        )
                    return _refusal("the request is not valid", reasons)

            return guarded

    router = APIRouter(prefix="/admin", tags=["admin"], route_class=AdminRoute)

    @router.post(
        "/modules/{slug}/{action}",
        summary="Open (or refresh) the pull request for an admin action",
        response_model=ProposeResult,
        responses={
            200: {"description": "updated, unchanged or left-alone: see `status` and `message`"},
            201: {"model": ProposeResult, "description": "a new pull request was opened"},
            401: {"model": Problem, "description": "no or invalid admin token"},
            403: {"model": Problem, "description": "this bot does not manage that repository"},
            422: {"model": Refusal, "description": "refused (invalid request or edit): nothing was opened"},
            502: {"model": Problem, "description": "GitHub failed or refused; nothing more was done"},
            500: {"model": Problem, "description": "a bug in modbot (never a traceback)"},
        },
    )
    def propose(
        slug: Annotated[str, Path(pattern=SLUG_PATTERN, max_length=48, description="the module slug")],
        action: Annotated[Action, Path(description="what to do with the module")],
        body: AdminActionRequest,
        response: Response,
        token: AdminToken = Depends(authenticate),  # noqa: B008 - the annotation cannot name a local
    ) -> ProposeResult | JSONResponse:
        actor = f"api:{token.name} ({body.requested_by})"[:200]
        audit_action = f"module.{action}"
        repo = body.repository or only_repository(settings.repositories)
        details: dict[str, Any] = {"slug": slug, "token_id": token.id, "requested_by": body.requested_by}

        def refuse(status: int, detail: str, reasons: list[str] | None = None) -> JSONResponse:
            outcome = "refused" if status in {403, 422} else "failed"
            audit_safely(
                runtime,
                actor,
                audit_action,
                repo,
                details={
                    **details,
                    "outcome": outcome,
                    "detail": detail,
                    **({"reasons": reasons} if reasons else {}),
                },
                reason=body.reason,
            )
            if reasons is not None:
                return _refusal(detail, reasons)
            return JSONResponse({"detail": detail}, status_code=status)

        if repo is None:
            return refuse(422, "the request is not valid", [repository_needed(settings.repositories)])
        if not settings.allows_repository(repo):
            return refuse(403, f"{repo} is not among the repositories this bot manages (MODBOT_REPOSITORIES)")
        if settings.auth_mode == "app" and body.installation_id is None:
            return refuse(
                422,
                "the request is not valid",
                ["`installation_id` is required: the bot runs as a GitHub App"],
            )
        try:
            intent = Intent(
                action=action,
                slug=slug,
                module=body.module or ModuleChange(),
                enable=body.enable,
                requested_by=body.requested_by,
                reason=body.reason,
            )
        except ValidationError as error:
            return refuse(422, "the request is not valid", describe_errors(error.errors()))
        try:
            forge = runtime.forges.for_installation(body.installation_id)
            result = propose_change(forge, repo, intent, manifest_path=settings.manifest_path)
        except EditRefused as refused:
            return refuse(
                422, f"modbot refused to {action} `{slug}`; nothing was opened", list(refused.reasons)
            )
        except ForgeError as error:
            log.warning("admin %s %s on %s: %s", action, slug, repo, error)
            answer = refuse(502, str(error))
            answer.headers.update(retry_after_header(error))
            return answer
        except Exception:
            log.exception("admin %s %s on %s failed", action, slug, repo)
            return refuse(500, "internal error; the bot's log has the details")
        target = f"{repo}#{result.pull_number}" if result.pull_number else repo
        audit_safely(
            runtime,
            actor,
            audit_action,
            target,
            details={
                **details,
                "outcome": result.status,
                "branch": result.branch,
                "base_sha": result.base_sha,
                "commit_sha": result.commit_sha,
                "summary": result.summary,
            },
            reason=body.reason,
        )
        response.status_code = 201 if result.status == "opened" else 200
        return result

    return router


def request_problems(error: RequestValidationError | StarletteHTTPException) -> list[str] | None:
    """What is wrong with a request FastAPI could not read: its validation errors, or for a body it could
    not even parse (FastAPI's 400, e.g. bytes that are not UTF-8) one reason. None: not a request
    problem (another HTTPException), to be raised as it is."""
    if isinstance(error, RequestValidationError):
        return describe_errors(error.errors())
    if error.status_code == 400:
        return ["`body`: not JSON text (UTF-8)"]
    return None


async def audit_unreadable_request(runtime: Runtime, request: Request, reasons: list[str]) -> bool:
    """A request FastAPI could not read (bad body, path or query). With a valid admin token: its audit
    entry (`request.invalid`) is written and True (its problems may be described). Without: False
    (answer 401), and nothing is recorded. In the thread pool: it reads and writes the store."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    secret = value.strip() if scheme.lower() == "bearer" else None

    def check_and_audit() -> bool:
        token = verify_token(runtime, secret)
        if token is None:
            return False
        audit_safely(
            runtime,
            f"api:{token.name}",
            "request.invalid",
            None,
            details={
                "token_id": token.id,
                "method": request.method,
                "path": request.url.path[:300],
                "outcome": "refused",
                "reasons": reasons,
            },
            reason="",
        )
        return True

    return await run_in_threadpool(check_and_audit)


def verify_token(runtime: Runtime, token: str | None) -> AdminToken | None:
    if not token:
        return None
    try:
        return runtime.store.verify_admin_token(token)
    except Exception:  # the store is down: nobody is authenticated (fail closed), and we say why in the log
        log.exception("admin API: cannot verify a token (store unavailable)")
        return None


def audit_safely(
    runtime: Runtime, actor: str, action: str, target: str | None, *, details: dict[str, Any], reason: str
) -> None:
    try:
        runtime.store.append_audit(actor, action, target, details, reason or None)
    except Exception:
        log.exception("admin API: could not write the audit entry for %s on %s", action, target)


def retry_after_header(error: ForgeError) -> dict[str, str]:
    """GitHub's wait (whole seconds, rounded up) as a Retry-After header; none when it named none."""
    if error.retry_after is None:
        return {}
    return {"Retry-After": str(math.ceil(error.retry_after))}


def _refusal(detail: str, reasons: list[str]) -> JSONResponse:
    return JSONResponse(Refusal(detail=detail, reasons=reasons).model_dump(), status_code=422)


def only_repository(repositories: frozenset[str] | None) -> str | None:
    if repositories is not None and len(repositories) == 1:
        return next(iter(repositories))
    return None


def repository_needed(repositories: frozenset[str] | None) -> str:
    if repositories is None:
        return "`repository` is required (owner/name): MODBOT_REPOSITORIES is not set"
    return (
        f"`repository` is required (owner/name): MODBOT_REPOSITORIES names {len(repositories)} repositories"
    )


def describe_errors(errors: Any) -> list[str]:
    """Pydantic/FastAPI errors as one line each, without echoing the input (it may hold anything). A
    location may name a key the caller sent (a module slug): it is cut short and kept on one line."""
    reasons = []
    for error in errors:
        loc = [_shown_key(str(part)) for part in error.get("loc", ()) if part not in {"body", "path"}]
        where = ".".join(loc) or "body"
        reasons.append(f"`{where}`: {str(error.get('msg', 'invalid')).removeprefix('Value error, ')}")
    return reasons or ["the request is not valid"]


def _shown_key(part: str, limit: int = 48) -> str:
    printable = "".join(char if char.isprintable() and char != "`" else "?" for char in part)
    return printable if len(printable) <= limit else printable[:limit] + "…"
