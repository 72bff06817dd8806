"""The Modules page: the manifest on the default branch, the catalog, and the admin actions.

``GET /console/modules`` shows every module and every catalog entry with the buttons the manifest core
would accept (bot/app/queries/modules.py). A button leads to ``GET /console/modules/{slug}/{action}``:
the change planned on the current manifest (its delta, or the core's reasons), and the form that asks
for it. ``POST`` to the same path (CSRF-checked) opens or refreshes the pull request through the admin
API's own path (`request_module_change`: one audit entry ``module.<action>``, requested_by = the viewer)
and shows it. Opening a pull request needs the ``write`` role; the role is asked afresh on POST.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError

from bot.app.admin_requests import request_module_change
from bot.app.chatops.authorize import permission_at_least
from bot.app.proposals import Action, Intent, ModuleChange
from bot.app.queries.modules import ModulesView, Verdict, modules_view, upgrade_fields, verdict, view_ready
from bot.domain.ids import SLUG_PATTERN
from bot.forge import ForgeError, Permission
from bot.manifest.catalog import CATALOG_PATH, CatalogError, parse_catalog
from bot.manifest.edit import EditRefused
from bot.manifest.rules.modules import SLUG, slug_problem
from bot.web.console.changes_page import local_forge
from bot.web.console.render import render_page
from bot.web.console.repo_files import ManifestAtHead, read_manifest_at_head
from bot.web.console.state import ConsoleState, console_state
from bot.web.console.viewer import FormViewer, PageViewer, Viewer, audit_console

__all__ = ["router"]

router = APIRouter()
State = Annotated[ConsoleState, Depends(console_state)]
Slug = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=48)]
CHANGE_ROLE: Final[Permission] = "write"  # opening a pull request on the repository
# how long the page waits for its buttons' verdicts before it shows the modules without them (a large
# manifest's verdicts take seconds the first time; docs/performance.md)
PAGE_WAIT_SECONDS: Final = 2.0
READY_POLL_SECONDS: Final = 0.5
READY_STREAM_SECONDS: Final = 15.0  # as the console's other streams: shutdown never waits on an open tab


def _may_change(viewer: Viewer) -> bool:
    return viewer.at_least(CHANGE_ROLE)


def _read(state: ConsoleState) -> tuple[str, ManifestAtHead]:
    repo = state.repository
    if repo is None:
        raise ForgeError("console", None, "no repository: set MODBOT_REPOSITORIES to exactly one")
    return repo, read_manifest_at_head(state.forge(), repo, state.settings.manifest_path)


def _github_failed(request: Request, viewer: Viewer, error: ForgeError) -> HTMLResponse:
    return render_page(
        request, "console/github_failed.html.j2", {"error": str(error)}, viewer=viewer, status=502
    )


@router.get("/console/modules", include_in_schema=False)
def modules(request: Request, viewer: PageViewer, state: State) -> HTMLResponse:
    try:
        repo, head = _read(state)
    except ForgeError as error:
        return _github_failed(request, viewer, error)
    view: ModulesView | None = None
    if head.text is not None:
        view = modules_view(
            head.text,
            manifest_path=state.settings.manifest_path,
            catalog_raw=head.catalog,
            wait_seconds=PAGE_WAIT_SECONDS,
        )
    return render_page(
        request,
        "console/modules.html.j2",
        {
            "repository": repo,
            "head": head,
            "view": view,
            "catalog_path": CATALOG_PATH,
            "may_change": _may_change(viewer),
            "change_role": CHANGE_ROLE,
        },
        viewer=viewer,
    )


@router.get("/console/modules/events", include_in_schema=False)
async def verdicts_ready(
    request: Request, viewer: PageViewer, state: State, key: Annotated[str, Query(pattern=r"^[0-9a-f]{32}$")]
) -> Response:
    """``text/event-stream``: one event ``changed`` when the verdicts of the page's manifest are computed
    (static/console.js then fetches the page again); 204 when they already are, which stops the browser's
    EventSource."""
    del viewer  # signed in with a role: checked by the dependency
    if view_ready(key):
        return Response(status_code=204)

    async def stream() -> AsyncIterator[str]:
        yield "retry: 3000\n\n"
        waited = 0.0
        while waited < READY_STREAM_SECONDS and not state.runtime.stop.is_set():
            await asyncio.sleep(READY_POLL_SECONDS)
            waited += READY_POLL_SECONDS
            if view_ready(key):
                yield "event: changed\ndata: ready\n\n"
                return
            if await request.is_disconnected():
                return

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


class _SpecProblem(ValueError):
    pass


def _module_fields(
    action: Action,
    slug: str,
    given: dict[str, str],
    *,
    from_catalog: bool,
    head: ManifestAtHead,
    manifest_path: str,
) -> dict[str, Any]:
    """The module fields of the intent: the catalog entry's, or the form's (empty fields left out)."""
    if action not in ("install", "upgrade"):
        return {}
    if from_catalog:
        if head.catalog is None:
            raise _SpecProblem(f"the repository has no catalog ({CATALOG_PATH})")
        try:
            catalog = parse_catalog(head.catalog, manifest_dir=manifest_path.rpartition("/")[0])
        except CatalogError as error:
            raise _SpecProblem("; ".join(error.reasons)) from None
        entry = catalog.entries.get(slug)
        if entry is None:
            raise _SpecProblem(f"the catalog has no module `{slug}`")
        return entry.module_fields() if action == "install" else upgrade_fields(entry)
    return {key: value.strip() for key, value in given.items() if value.strip()}


@router.get("/console/modules/install", include_in_schema=False)
def install_form(
    request: Request, viewer: PageViewer, slug: Annotated[str, Query(max_length=100)] = ""
) -> Response:
    """The "install from crates.io / git / path" forms send the slug as a field: on to its page."""
    if not SLUG.fullmatch(slug):
        return _result(
            request, viewer, slug, "install", reasons=[slug_problem(slug) or "a slug is needed"], status=422
        )
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "slug"])
    return RedirectResponse(f"/console/modules/{slug}/install?{query}", status_code=303)


@router.get("/console/modules/{slug}/{action}", include_in_schema=False)
def confirm(  # noqa: PLR0917 - the form's fields arrive as query parameters
    request: Request,
    slug: Slug,
    action: Action,
    viewer: PageViewer,
    state: State,
    catalog: Annotated[bool, Query()] = False,
    enable: Annotated[bool, Query()] = False,
    crate: Annotated[str, Query(max_length=64)] = "",
    source: Annotated[str, Query(max_length=20)] = "",
    version: Annotated[str, Query(max_length=200)] = "",
    git: Annotated[str, Query(max_length=2000)] = "",
    rev: Annotated[str, Query(max_length=200)] = "",
    path: Annotated[str, Query(max_length=1000)] = "",
) -> HTMLResponse:
    given = {"crate": crate, "source": source, "version": version, "git": git, "rev": rev, "path": path}
    try:
        _repo, head = _read(state)
    except ForgeError as error:
        return _github_failed(request, viewer, error)
    fields: dict[str, Any] = {}
    planned: Verdict | None = None
    problem = head.problem
    if head.text is not None:
        try:
            fields = _module_fields(
                action,
                slug,
                given,
                from_catalog=catalog,
                head=head,
                manifest_path=state.settings.manifest_path,
            )
            planned = verdict(
                action,
                slug,
                head.text,
                manifest_path=state.settings.manifest_path,
                module=fields,
                enable=enable,
            )
        except (_SpecProblem, ValidationError) as error:
            problem = str(error) if isinstance(error, _SpecProblem) else _plain(error)
    return render_page(
        request,
        "console/module_confirm.html.j2",
        {
            "slug": slug,
            "action": action,
            "fields": fields,
            "from_catalog": catalog,
            "enable": enable,
            "verdict": planned,
            "problem": problem,
            "may_change": _may_change(viewer),
            "change_role": CHANGE_ROLE,
            "head": head,
            "toggle_enable_url": _with_enable(request, not enable),
        },
        viewer=viewer,
        status=200 if planned is not None else 422,
    )


def _with_enable(request: Request, enable: bool) -> str:
    """This confirmation page's address with ``enable`` set (install: also add to default_enabled)."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "enable"]
    return f"{request.url.path}?{urlencode([*kept, *([('enable', 'true')] if enable else [])])}"


def _plain(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" if e["loc"] else e["msg"] for e in error.errors()
    )


@router.post("/console/modules/{slug}/{action}", include_in_schema=False)
def change(  # noqa: PLR0917 - one form field each
    request: Request,
    slug: Slug,
    action: Action,
    viewer: FormViewer,
    state: State,
    reason: Annotated[str, Form(max_length=2000)] = "",
    catalog: Annotated[bool, Form()] = False,
    enable: Annotated[bool, Form()] = False,
    crate: Annotated[str, Form(max_length=64)] = "",
    source: Annotated[str, Form(max_length=20)] = "",
    version: Annotated[str, Form(max_length=200)] = "",
    git: Annotated[str, Form(max_length=2000)] = "",
    rev: Annotated[str, Form(max_length=200)] = "",
    path: Annotated[str, Form(max_length=1000)] = "",
) -> HTMLResponse:
    given = {"crate": crate, "source": source, "version": version, "git": git, "rev": rev, "path": path}
    state.forget_role(viewer.login)  # the role that decides is asked now, not the one shown
    role = state.display_role(viewer.login, viewer.kind)
    if role is None or not permission_at_least(role, CHANGE_ROLE):
        audit_console(
            state,
            viewer.login,
            f"module.{action}",
            state.repository,
            {"slug": slug, "source": "console", "outcome": "refused", "role": role, "needs": CHANGE_ROLE},
        )
        return _result(request, viewer, slug, action, refused_role=role or "none", status=403)
    try:
        repo, head = _read(state)
        if head.text is None:
            return _result(request, viewer, slug, action, reasons=[str(head.problem)], status=422)
        fields = _module_fields(
            action, slug, given, from_catalog=catalog, head=head, manifest_path=state.settings.manifest_path
        )
        intent = Intent(
            action=action,
            slug=slug,
            module=ModuleChange.model_validate(fields),
            enable=enable,
            requested_by=viewer.login,
            reason=reason.strip(),
        )
    except ForgeError as error:
        return _github_failed(request, viewer, error)
    except _SpecProblem as problem:
        return _result(request, viewer, slug, action, reasons=[str(problem)], status=422)
    except ValidationError as error:
        return _result(request, viewer, slug, action, reasons=[_plain(error)], status=422)
    try:
        result = request_module_change(
            state.forge(),
            state.store,
            repo,
            intent,
            manifest_path=state.settings.manifest_path,
            actor=viewer.login,
            details={"slug": slug, "source": "console", "requested_by": viewer.login},
        )
    except EditRefused as refused:
        return _result(request, viewer, slug, action, reasons=list(refused.reasons), status=422)
    except ForgeError as error:
        return _result(request, viewer, slug, action, failure=str(error), status=502)
    build_id = None
    if result.pull_number is not None and result.status != "left-alone":
        # the seed's flow: the admin watches the change go pull request → build → release on the Builds
        # page; the pipeline's events move a build found by its pull request (as for POST /admin/builds)
        build_id = state.store.create_build(
            repository=repo,
            requested_by=viewer.login,
            reason=intent.reason or None,
            manifest_ref=None,
            manifest_hash=result.delta.get("head_hash"),
            modules_delta=result.delta,
            pr_number=result.pull_number,
            reuse_unfinished=True,
        ).build_id
    return _result(request, viewer, slug, action, result=result.model_dump(), build_id=build_id, status=200)


def _result(
    request: Request,
    viewer: Viewer,
    slug: str,
    action: str,
    *,
    status: int,
    result: dict[str, Any] | None = None,
    reasons: list[str] | None = None,
    failure: str | None = None,
    refused_role: str | None = None,
    build_id: str | None = None,
) -> HTMLResponse:
    return render_page(
        request,
        "console/module_result.html.j2",
        {
            "slug": slug,
            "action": action,
            "result": result,
            "reasons": reasons or [],
            "failure": failure,
            "refused_role": refused_role,
            "change_role": CHANGE_ROLE,
            "build_id": build_id,
            # single-host mode: the change request is reviewed and merged on the console's own page
            "changes_here": local_forge(console_state(request)) is not None,
        },
        viewer=viewer,
        status=status,
    )
