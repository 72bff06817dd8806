"""Overview (``/console/``): per environment, the release it runs (id, modules, since when, by whom,
health from its last smoke), the deployment in flight, lock and freeze, and the release a rollback
would return to. The query is the admin API's (bot/app/queries/environments.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from bot.app.queries.environments import EnvironmentStatus, environments_overview, rollback_target
from bot.forge import Forge, ForgeError
from bot.store import ReleaseInfo
from bot.web.console.render import render_page
from bot.web.console.state import ConsoleState, console_state
from bot.web.console.viewer import PageViewer

__all__ = ["router"]

router = APIRouter()
State = Annotated[ConsoleState, Depends(console_state)]
Health = Literal["healthy", "unhealthy", "unknown"]


@dataclass(frozen=True, slots=True)
class EnvironmentCard:
    status: EnvironmentStatus
    release: ReleaseInfo | None  # the current release's record (its modules), when the store has it
    rollback_to: str | None
    health: Health


def health_of(status: EnvironmentStatus) -> Health:
    """From the last smoke the store knows of: a deployment finishes ``success`` only after its smoke
    passed; the newest one failing in its smoke stage means what runs there did not pass it."""
    latest = status.latest
    if (
        latest is not None
        and latest.finished
        and latest.status in ("failure", "error")
        and latest.stage == "smoke"
    ):
        return "unhealthy"
    if status.current is not None and status.current.stage == "done":
        return "healthy"
    return "unknown"


def _forge(state: ConsoleState) -> Forge | None:
    try:
        return state.forge()
    except ForgeError:
        return None


@router.get("/console", include_in_schema=False)
def console_root() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=308)


@router.get("/console/", include_in_schema=False)
def overview_page(request: Request, viewer: PageViewer, state: State) -> HTMLResponse:
    repo = state.repository
    assert repo is not None  # a console without a repository shows nothing (include_console)
    overview = environments_overview(state.store, _forge(state), repo, state.settings.policy_path)
    cards = []
    for status in overview.environments:
        current = status.current.release_id if status.current else None
        cards.append(
            EnvironmentCard(
                status=status,
                release=state.store.get_release(repo, current) if current else None,
                rollback_to=rollback_target(state.store, repo, status.name, current),
                health=health_of(status),
            )
        )
    return render_page(
        request,
        "console/overview.html.j2",
        {"repository": repo, "cards": cards, "policy_error": overview.policy_error},
        viewer=viewer,
    )
