"""Dead letters, deliveries whose job gave up: ``GET /admin/dead-letters`` lists them and
``POST /admin/dead-letters/retry`` runs them again with a fresh attempt budget."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from bot.app.audit import audit_safely
from bot.store import DeadLetter
from bot.web.api.auditing import api_actor
from bot.web.api.auth import Caller
from bot.web.api.context import RuntimeDep, StoreDep
from bot.web.api.fields import MAX_ID, MAX_PAGE
from bot.web.api.guards import refuse_invalid
from bot.web.api.problems import ApiRoute, responses

__all__ = [
    "DeadLetterList",
    "DeadLetterRetry",
    "DeadLetterRetryResult",
    "DeadLetterView",
    "list_dead_letters",
    "retry_dead_letters",
    "router",
]

router = APIRouter(prefix="/admin", tags=["builds"], route_class=ApiRoute)


class DeadLetterView(BaseModel):
    """A delivery whose job gave up (failed): a permanent error, or every attempt used."""

    delivery_id: str = Field(description="GitHub's X-GitHub-Delivery")
    event: str
    action: str | None
    repository: str | None
    installation_id: int | None
    received_at: datetime
    attempts: int = Field(description="attempts made before it gave up")
    failed_at: datetime | None
    last_error: str | None = Field(description="redacted, at most 2,000 characters")


class DeadLetterList(BaseModel):
    dead_letters: list[DeadLetterView]
    next_cursor: int | None = Field(description="pass as `cursor` for the next (older) page; null: no more")


class DeadLetterRetry(BaseModel):
    """Which dead letters to run again: those named, or all of them."""

    model_config = ConfigDict(extra="forbid")

    delivery_ids: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None, min_length=1, max_length=1000, description="X-GitHub-Delivery ids"
    )
    all: bool = Field(default=False, description="every dead letter (instead of `delivery_ids`)")
    reason: str = Field(default="", max_length=2000, description="why; kept in the audit log")


class DeadLetterRetryResult(BaseModel):
    retried: list[str] = Field(description="pending again, due now, with a fresh attempt budget")
    not_dead_letters: list[str] = Field(description="named but unknown or not failed: left alone")


@router.get(
    "/dead-letters",
    summary="Deliveries whose job gave up (failed), newest first",
    response_model=DeadLetterList,
    responses=responses(422),
)
def list_dead_letters(
    token: Caller,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="`next_cursor` of the previous page")
    ] = None,
) -> DeadLetterList:
    page = store.dead_letters(limit=limit, cursor=cursor)
    audit_safely(
        store,
        api_actor(token),
        "delivery.dead_letters",
        None,
        details={"token_id": token.id, "count": len(page.dead_letters)},
        reason="",
    )
    return DeadLetterList(
        dead_letters=[_dead_letter_view(d) for d in page.dead_letters], next_cursor=page.next_cursor
    )


@router.post(
    "/dead-letters/retry",
    summary="Run dead letters again, with a fresh attempt budget",
    response_model=DeadLetterRetryResult,
    responses=responses(422),
)
def retry_dead_letters(body: DeadLetterRetry, token: Caller, runtime: RuntimeDep) -> DeadLetterRetryResult:
    store = runtime.store
    if body.all == (body.delivery_ids is not None):
        refuse_invalid(
            store, token, "delivery.retry", None, ["give either `delivery_ids` or `all: true`, not both"]
        )
    asked = None if body.all else list(dict.fromkeys(body.delivery_ids or ()))
    retried = store.retry_dead_letters(asked, actor=api_actor(token), reason=body.reason or None)
    runtime.wake.set()  # this process's workers take them now
    done = set(retried)  # up to 1,000 ids named: not a scan of the list per id
    return DeadLetterRetryResult(retried=retried, not_dead_letters=[d for d in asked or () if d not in done])


def _dead_letter_view(letter: DeadLetter) -> DeadLetterView:
    return DeadLetterView(
        delivery_id=letter.delivery_id,
        event=letter.event,
        action=letter.action,
        repository=letter.repository,
        installation_id=letter.installation_id,
        received_at=letter.received_at,
        attempts=letter.attempts,
        failed_at=letter.failed_at,
        last_error=letter.last_error,
    )
