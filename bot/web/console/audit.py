"""Audit (``/console/audit``): the append-only log, newest first, filtered by who, action, environment,
outcome and time, 50 to a page (an id cursor: as fast on the last page as on the first), and the
filtered set exported as CSV or JSON, streamed page by page (memory stays flat however long the log)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Final
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from bot.domain.ids import is_environment_name
from bot.store import AUDIT_OUTCOMES, AuditEntry, AuditOutcome, environment_target
from bot.web.console.errors import not_found
from bot.web.console.render import render_page
from bot.web.console.state import ConsoleState, console_state
from bot.web.console.viewer import PageViewer, audit_console

__all__ = ["AuditFilters", "audit_filters", "router"]

router = APIRouter()
State = Annotated[ConsoleState, Depends(console_state)]
PAGE_SIZE: Final = 50
EXPORT_BATCH: Final = 1000
_CSV_COLUMNS: Final = ("id", "at", "actor", "action", "target", "details", "reason")


@dataclass(frozen=True)
class AuditFilters:
    actor: str | None = None
    action: str | None = None
    environment: str | None = None
    outcome: AuditOutcome | None = None
    since: datetime | None = None
    until: datetime | None = None
    cursor: int | None = None
    problems: tuple[str, ...] = field(default=())  # keys of the fields that were not understood

    def query(self, *, without_cursor: bool = False) -> dict[str, str]:
        """The filters as query parameters (for links: next page, export)."""
        values = {
            "actor": self.actor,
            "action": self.action,
            "environment": self.environment,
            "outcome": self.outcome,
            "since": _local(self.since),
            "until": _local(self.until),
            "cursor": None if without_cursor or self.cursor is None else str(self.cursor),
        }
        return {key: value for key, value in values.items() if value}


def _local(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M") if moment is not None else None


def _text(value: str | None, limit: int) -> str | None:
    value = (value or "").strip()
    return value if value and len(value) <= limit and "\n" not in value else None


def _moment(value: str) -> datetime:
    """A time from a datetime-local field (or ISO 8601 text), UTC when it names no zone."""
    moment = datetime.fromisoformat(value.strip())  # ValueError: the caller notes the problem
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def audit_filters(request: Request) -> AuditFilters:
    """The filters from the query; a value that is not understood is dropped and named in ``problems``
    (the page says so next to the field) rather than answered with an error page."""
    query = request.query_params
    problems = []
    outcome = query.get("outcome") or None
    if outcome is not None and outcome not in AUDIT_OUTCOMES:
        problems.append("outcome")
        outcome = None
    environment = _text(query.get("environment"), 50)
    if environment is not None and not is_environment_name(environment):
        problems.append("environment")
        environment = None
    moments: dict[str, datetime | None] = {}
    for name in ("since", "until"):
        try:
            moments[name] = _moment(query[name]) if query.get(name) else None
        except ValueError:
            problems.append(name)
            moments[name] = None
    cursor = query.get("cursor")
    return AuditFilters(
        actor=_text(query.get("actor"), 200),
        action=_text(query.get("action"), 100),
        environment=environment,
        outcome=outcome,
        since=moments["since"],
        until=moments["until"],
        cursor=int(cursor) if cursor and cursor.isdigit() and len(cursor) < 19 else None,
        problems=tuple(problems),
    )


Filters = Annotated[AuditFilters, Depends(audit_filters)]


def _page(
    state: ConsoleState, filters: AuditFilters, limit: int, cursor: int | None
) -> tuple[list[AuditEntry], int | None]:
    target = (
        environment_target(state.repository, filters.environment)
        if filters.environment is not None and state.repository is not None
        else None
    )
    page = state.store.query_audit(
        actor=filters.actor,
        action=filters.action,
        target=target,
        since=filters.since,
        until=filters.until,
        outcome=filters.outcome,
        limit=limit,
        cursor=cursor,
    )
    return page.entries, page.next_cursor


@router.get("/console/audit", include_in_schema=False)
def audit_page(request: Request, viewer: PageViewer, state: State, filters: Filters) -> HTMLResponse:
    entries, next_cursor = _page(state, filters, PAGE_SIZE, filters.cursor)
    environments = sorted(e.environment for e in state.store.environments(state.repository or ""))
    base = filters.query(without_cursor=True)
    return render_page(
        request,
        "console/audit.html.j2",
        {
            "entries": [(entry, _details_pairs(entry)) for entry in entries],
            "filters": filters,
            "actions": state.store.audit_actions(),
            "environments": environments,
            "outcomes": AUDIT_OUTCOMES,
            "next_href": f"/console/audit?{urlencode({**base, 'cursor': next_cursor})}"
            if next_cursor
            else None,
            "first_href": f"/console/audit?{urlencode(base)}" if filters.cursor else None,
            "export_query": urlencode(base),
        },
        viewer=viewer,
    )


def _details_pairs(entry: AuditEntry) -> list[tuple[str, str]]:
    """The details as key and value text, for reading (nested values as compact JSON)."""
    pairs = []
    for key, value in sorted((entry.details or {}).items()):
        text = value if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        pairs.append((str(key), text))
    return pairs


def _details_text(entry: AuditEntry) -> str:
    return orjson.dumps(entry.details, option=orjson.OPT_SORT_KEYS).decode() if entry.details else ""


def _entries(state: ConsoleState, filters: AuditFilters) -> Iterator[AuditEntry]:
    cursor = None
    while True:
        entries, cursor = _page(state, filters, EXPORT_BATCH, cursor)
        yield from entries
        if cursor is None:
            return


def _as_json(entry: AuditEntry) -> dict[str, object]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "details": entry.details,
        "reason": entry.reason,
    }


def _csv_rows(state: ConsoleState, filters: AuditFilters) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(_CSV_COLUMNS)
    for count, entry in enumerate(_entries(state, filters), 1):
        row = _as_json(entry)
        row["details"] = _details_text(entry)
        # a cell starting with = + - @ is a formula to a spreadsheet: quoted as text (CSV injection)
        writer.writerow([_csv_cell(row[column]) for column in _CSV_COLUMNS])
        if count % 200 == 0:
            yield flush()
    yield flush()


def _csv_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _json_chunks(state: ConsoleState, filters: AuditFilters) -> Iterator[bytes]:
    yield b"["
    for count, entry in enumerate(_entries(state, filters)):
        yield (b"," if count else b"") + b"\n" + orjson.dumps(_as_json(entry))
    yield b"\n]\n"


@router.get("/console/audit/export.{kind}", include_in_schema=False, response_model=None)
def export_audit(
    request: Request, kind: str, viewer: PageViewer, state: State, filters: Filters
) -> StreamingResponse | HTMLResponse:
    if kind not in ("csv", "json"):
        return not_found(request, kind)
    audit_console(state, viewer.login, "audit.export", None, {"format": kind, "filters": filters.query()})
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    body: Iterator[str] | Iterator[bytes]
    if kind == "csv":
        body, media = _csv_rows(state, filters), "text/csv; charset=utf-8"
    else:
        body, media = _json_chunks(state, filters), "application/json"
    return StreamingResponse(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="modbot-audit-{stamp}.{kind}"',
            "Cache-Control": "no-store",
        },
    )
