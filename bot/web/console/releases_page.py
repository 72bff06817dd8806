"""The Releases page: every release (paginated, newest first) with its modules and the delta from the one
before; per environment what runs there and Deploy / Rollback buttons.

The buttons are forms (CSRF-checked) that run the chat-ops command itself (`execute`, source
``console``, actor = the viewer), so the console decides nothing: `authorize` does, as for a PR comment,
the admin API and the CLI; a refusal shows chat-ops' rule id, message and next step. Before anything is
pressed, a button the viewer's role may not press is disabled with `authorize`'s reason
(bot/app/queries/releases.py: `command_gates`).
"""

from __future__ import annotations

import logging
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse

from bot.app.commands.service import CommandRequest, CommandResult, execute
from bot.app.queries.releases import PolicyGates, command_gates, environment_now, releases_page
from bot.domain.ids import ENVIRONMENT_NAME_PATTERN, RELEASE_ID_PATTERN
from bot.forge import ForgeError
from bot.web.api.problems import REFUSAL_STATUS
from bot.web.console.render import render_page
from bot.web.console.state import ConsoleState, console_state
from bot.web.console.viewer import FormViewer, PageViewer, Viewer

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter()
State = Annotated[ConsoleState, Depends(console_state)]
PAGE_SIZE: Final = 25


@router.get("/console/releases", include_in_schema=False)
def releases(
    request: Request,
    viewer: PageViewer,
    state: State,
    before: Annotated[str | None, Query(pattern=RELEASE_ID_PATTERN)] = None,
) -> HTMLResponse:
    repo = state.repository
    if repo is None:
        return render_page(
            request, "console/github_failed.html.j2", {"error": _NO_REPOSITORY}, viewer=viewer, status=502
        )
    page = releases_page(state.store, repo, limit=PAGE_SIZE, before=before)
    gates: PolicyGates | None = None
    gates_error: str | None = None
    try:
        gates = command_gates(
            state.forge(),
            repo,
            login=viewer.login,
            kind="user",
            policy_path=state.settings.policy_path,
            rollback_target=lambda name: environment_now(state.store, repo, name).rollback_to,
        )
    except ForgeError as error:
        log.warning(
            "console releases: cannot ask GitHub for the policy or %s's role: %s", viewer.login, error
        )
        gates_error = str(error)
    environments = (
        [environment_now(state.store, repo, g.environment) for g in gates.environments] if gates else []
    )
    return render_page(
        request,
        "console/releases.html.j2",
        {
            "repository": repo,
            "page": page,
            "before": before,
            "gates": gates,
            "gate_of": {g.environment: g for g in gates.environments} if gates else {},
            "gates_error": gates_error,
            "environments": environments,
            "deploy_logs": state.runtime.host_dir is not None,  # single-host: the deployer keeps one
        },
        viewer=viewer,
    )


_NO_REPOSITORY = "no repository: set MODBOT_REPOSITORIES to exactly one"


def _run(
    request: Request,
    viewer: Viewer,
    state: ConsoleState,
    command: tuple[Literal["deploy", "rollback"], str, str | None],
    reason: str,
) -> HTMLResponse:
    action, environment, release_id = command
    repo = state.repository
    if repo is None:
        return render_page(
            request, "console/github_failed.html.j2", {"error": _NO_REPOSITORY}, viewer=viewer, status=502
        )
    request_ = CommandRequest(
        repo=repo,
        action=action,
        environment=environment,
        release_id=release_id,
        actor=viewer.login,
        actor_kind="user",
        source="console",
        reason=reason.strip() or None,
    )
    try:
        result = execute(request_, forge=state.forge(), store=state.store, settings=state.settings)
    except ValueError as error:  # a malformed request (the form's fields are checked; defensive)
        return _answer(request, viewer, request_, None, error=str(error), status=422)
    except ForgeError as error:
        return render_page(
            request, "console/github_failed.html.j2", {"error": str(error)}, viewer=viewer, status=502
        )
    decision = result.decision
    status = (200 if result.ok else 502) if decision.allowed else REFUSAL_STATUS.get(decision.rule, 409)
    return _answer(request, viewer, request_, result, error=None, status=status)


def _answer(
    request: Request,
    viewer: Viewer,
    command: CommandRequest,
    result: CommandResult | None,
    *,
    error: str | None,
    status: int,
) -> HTMLResponse:
    return render_page(
        request,
        "console/command_result.html.j2",
        {"command": command, "result": result, "error": error},
        viewer=viewer,
        status=status,
    )


EnvironmentField = Annotated[str, Form(pattern=ENVIRONMENT_NAME_PATTERN)]
ReasonField = Annotated[str, Form(max_length=2000)]


@router.post("/console/releases/deploy", include_in_schema=False)
def deploy(  # noqa: PLR0917 - one form field each
    request: Request,
    viewer: FormViewer,
    state: State,
    environment: EnvironmentField,
    release_id: Annotated[str, Form(pattern=RELEASE_ID_PATTERN)],
    reason: ReasonField = "",
) -> HTMLResponse:
    return _run(request, viewer, state, ("deploy", environment, release_id), reason)


@router.post("/console/releases/rollback", include_in_schema=False)
def rollback(  # noqa: PLR0917 - one form field each
    request: Request,
    viewer: FormViewer,
    state: State,
    environment: EnvironmentField,
    release_id: Annotated[str | None, Form(pattern=RELEASE_ID_PATTERN)] = None,
    reason: ReasonField = "",
) -> HTMLResponse:
    return _run(request, viewer, state, ("rollback", environment, release_id or None), reason)
