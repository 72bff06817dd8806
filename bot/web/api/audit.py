"""``GET /admin/audit``: the audit log, newest first, filtered and paged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from bot.app.audit import audit_safely
from bot.store import AuditEntry
from bot.web.api.auditing import api_actor
from bot.web.api.auth import Caller
from bot.web.api.context import StoreDep
from bot.web.api.fields import MAX_ID, MAX_PAGE
from bot.web.api.problems import ApiRoute, responses

__all__ = ["AuditEntryView", "AuditPageView", "read_audit", "router"]

router = APIRouter(prefix="/admin", tags=["builds"], route_class=ApiRoute)


class AuditEntryView(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    details: dict[str, Any] | None
    reason: str | None


class AuditPageView(BaseModel):
    entries: list[AuditEntryView]
    next_cursor: int | None = Field(description="pass as `cursor` for the next (older) page; null: no more")


@router.get(
    "/audit",
    summary="The audit log, newest first, filtered and paged",
    response_model=AuditPageView,
    responses=responses(422),
)
def read_audit(  # noqa: PLR0917 - FastAPI passes each query parameter
    token: Caller,
    store: StoreDep,
    actor: Annotated[
        str | None, Query(min_length=1, max_length=200, description="exactly this actor")
    ] = None,
    action: Annotated[str | None, Query(min_length=1, max_length=100, description="e.g. deploy")] = None,
    target: Annotated[
        str | None, Query(min_length=1, max_length=300, description="e.g. owner/name:prod")
    ] = None,
    since: Annotated[datetime | None, Query(description="entries at or after this time (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="`next_cursor` of the previous page")
    ] = None,
) -> AuditPageView:
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)  # a time without a zone is UTC, as every time here
    page = store.query_audit(
        actor=actor, action=action, target=target, since=since, limit=limit, cursor=cursor
    )
    audit_safely(
        store,
        api_actor(token),
        "audit.read",
        None,
        details={
            "token_id": token.id,
            "filters": {"actor": actor, "action": action, "target": target},
            "count": len(page.entries),
        },
        reason="",
    )
    return AuditPageView(entries=[_audit_view(e) for e in page.entries], next_cursor=page.next_cursor)


def _audit_view(entry: AuditEntry) -> AuditEntryView:
    return AuditEntryView.model_validate(entry, from_attributes=True)
