"""``POST /admin/modules/{slug}/{action}``: an admin action becomes a pull request.

Every authenticated call, accepted or refused, appends one audit entry (actor
``api:<token name> (<requested_by>)``). The endpoint is a plain ``def``, so FastAPI runs the blocking
store and GitHub work in its thread pool, off the event loop. Its problems keep the PLAIN dialect
(``{"detail"}``, ``{"detail", "reasons"}`` when refused): see bot/web/api/problems.py.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.app.admin_requests import request_module_change
from bot.app.audit import audit_safely
from bot.app.proposals import Action, Intent, ModuleChange, ProposeResult
from bot.domain.ids import REPO_PATTERN, SLUG_PATTERN
from bot.forge import ForgeError
from bot.manifest.edit import EditRefused
from bot.web.api.auditing import api_actor
from bot.web.api.auth import Caller
from bot.web.api.context import ForgesDep, SettingsDep, StoreDep
from bot.web.api.fields import MAX_ID
from bot.web.api.guards import only_repository, repository_needed, retry_after_header
from bot.web.api.problems import (
    INTERNAL,
    NOT_VALID,
    ApiProblem,
    PlainRoute,
    Problem,
    Refusal,
    describe_errors,
)

__all__ = ["AdminActionRequest", "propose", "router"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/admin", tags=["admin"], route_class=PlainRoute)


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
def propose(  # noqa: PLR0917 - FastAPI passes each parameter and dependency
    slug: Annotated[str, Path(pattern=SLUG_PATTERN, max_length=48, description="the module slug")],
    action: Annotated[Action, Path(description="what to do with the module")],
    body: AdminActionRequest,
    response: Response,
    token: Caller,
    store: StoreDep,
    settings: SettingsDep,
    forges: ForgesDep,
) -> ProposeResult:
    actor = api_actor(token, body.requested_by)
    audit_action = f"module.{action}"
    repo = body.repository or only_repository(settings.repositories)
    details: dict[str, Any] = {"slug": slug, "token_id": token.id, "requested_by": body.requested_by}

    def refuse(status: int, detail: str, reasons: list[str] | None = None) -> ApiProblem:
        outcome = "refused" if status in {403, 422} else "failed"
        audit_safely(
            store,
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
            return ApiProblem(422, Refusal(detail=detail, reasons=reasons))
        return ApiProblem(status, Problem(detail=detail))

    if repo is None:
        raise refuse(422, NOT_VALID, [repository_needed(settings.repositories)])
    if not settings.allows_repository(repo):
        raise refuse(403, f"{repo} is not among the repositories this bot manages (MODBOT_REPOSITORIES)")
    if settings.auth_mode == "app" and body.installation_id is None:
        raise refuse(422, NOT_VALID, ["`installation_id` is required: the bot runs as a GitHub App"])
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
        raise refuse(422, NOT_VALID, describe_errors(error.errors())) from None
    try:
        forge = forges.for_installation(body.installation_id)
    except ForgeError as error:
        log.warning("admin %s %s on %s: %s", action, slug, repo, error)
        failed = refuse(502, str(error))
        failed.headers.update(retry_after_header(error))
        raise failed from None
    except Exception:
        log.exception("admin %s %s on %s failed", action, slug, repo)
        raise refuse(500, INTERNAL) from None
    try:
        result = request_module_change(
            forge,
            store,
            repo,
            intent,
            manifest_path=settings.manifest_path,
            actor=actor,
            details=details,
        )
    except EditRefused as refused:  # audited by the use case
        raise ApiProblem(
            422,
            Refusal(
                detail=f"modbot refused to {action} `{slug}`; nothing was opened",
                reasons=list(refused.reasons),
            ),
        ) from None
    except ForgeError as error:  # audited by the use case
        log.warning("admin %s %s on %s: %s", action, slug, repo, error)
        raise ApiProblem(502, Problem(detail=str(error)), headers=retry_after_header(error)) from None
    except Exception:
        log.exception("admin %s %s on %s failed", action, slug, repo)
        raise refuse(500, INTERNAL) from None
    response.status_code = 201 if result.status == "opened" else 200
    return result
