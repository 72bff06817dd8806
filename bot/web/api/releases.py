"""``GET /admin/releases``: the releases cache (the ``release/*`` tags' records), newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from bot.app.audit import audit_safely
from bot.domain.ids import RELEASE_ID_PATTERN, REPO_PATTERN, is_release_id
from bot.store import ReleaseInfo
from bot.web.api.auditing import api_actor
from bot.web.api.auth import Caller
from bot.web.api.context import SettingsDep, StoreDep
from bot.web.api.fields import MAX_PAGE
from bot.web.api.guards import refuse_invalid, repository_for
from bot.web.api.problems import ApiRoute, responses

__all__ = ["ReleaseList", "ReleaseView", "list_releases", "router"]

router = APIRouter(prefix="/admin", tags=["builds"], route_class=ApiRoute)


class ReleaseView(BaseModel):
    release_id: str
    commit_sha: str
    manifest_hash: str
    modules: list[str]
    image: str
    build_key: str
    build_id: str | None
    previous_release: str | None
    created_at: datetime


class ReleaseList(BaseModel):
    releases: list[ReleaseView]
    next_before: str | None = Field(description="pass as `before` for the next (older) page; null: no more")


@router.get(
    "/releases",
    summary="Released builds (the releases cache), newest first",
    response_model=ReleaseList,
    responses=responses(403, 422),
)
def list_releases(
    *,
    token: Caller,
    store: StoreDep,
    settings: SettingsDep,
    repository: Annotated[str | None, Query(pattern=REPO_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    before: Annotated[
        str | None,
        Query(pattern=RELEASE_ID_PATTERN, description="only older than this id"),
    ] = None,
) -> ReleaseList:
    repo = repository_for(store, settings, token, repository, "release.list")
    if before is not None and not is_release_id(before):
        refuse_invalid(store, token, "release.list", repo, [f"`before`: {before} is not a release id"])
    releases = store.releases(repo, limit=limit, before=before)
    audit_safely(
        store,
        api_actor(token),
        "release.list",
        repo,
        details={"token_id": token.id, "limit": limit, "count": len(releases)},
        reason="",
    )
    return ReleaseList(
        releases=[_release_view(r) for r in releases],
        next_before=releases[-1].release_id if len(releases) == limit else None,
    )


def _release_view(info: ReleaseInfo) -> ReleaseView:
    return ReleaseView.model_validate(info, from_attributes=True)
