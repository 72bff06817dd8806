"""Builds requested through the admin API (``POST /admin/builds``, the seed's admin panel).

A build is the bot's record of one request "make the manifest this module set, build and release
it": the PR it opened, the Actions run that built the merge commit, the release it produced. Its
id is ``bld_`` + a ULID (26 characters of Crockford base32: 48 bits of milliseconds, then 80 random
bits), so ids are unguessable and sort by creation time.

Life: ``queued`` → ``running`` → ``succeeded`` | ``failed`` | ``cancelled``, with a ``stage`` (pr →
build → release → done) and a ``progress`` of 0..100 for the panel. A final status sets
``finished_at`` and is final (``FinalStateError`` on any change of it), so a late or replayed event
cannot resurrect a finished build. Audit: ``build.create``, then ``build.<status>`` on each status
change, in the same transaction as the change.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any, get_args

from sqlalchemy import Connection, Row, Select, and_, func, or_, select, update

from bot.domain.build_state import build_status_change, check_progress
from bot.domain.records.builds import (
    BUILD_ID_PATTERN,
    FINAL_BUILD_STATUSES,
    BuildRecord,
    BuildStage,
    BuildStatus,
    is_build_id,
    new_build_id,
)
from bot.domain.records.checks import (
    check_actor,
    check_choice,
    check_commit_sha,
    check_id,
    check_limit,
    check_number,
    check_release_id,
    check_short_text,
    check_url,
    clean_text,
    normalize_repository,
)
from bot.domain.records.common import KEEP, SYSTEM_ACTOR, Keep, RecordNotFoundError
from bot.store.audit import AuditMixin
from bot.store.models import BUILDS

__all__ = [
    "BUILD_ID_PATTERN",
    "FINAL_BUILD_STATUSES",
    "BuildRecord",
    "BuildStage",
    "BuildStatus",
    "BuildsMixin",
    "is_build_id",
    "new_build_id",
]

_T = BUILDS
_C = _T.c
_COLUMNS = tuple(_C)
_NEWEST_FIRST = (_C.started_at.desc(), _C.build_id.desc())


def _record(row: Row[Any]) -> BuildRecord:
    return BuildRecord(**row._asdict())


def _check_build_id(build_id: str) -> str:
    if not is_build_id(build_id):
        raise ValueError(f"not a build id (bld_ + 26 characters): {str(build_id)[:60]!r}")
    return build_id


def _check_delta(modules_delta: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(modules_delta, Mapping):
        raise ValueError("modules_delta must be a JSON object")
    value = dict(modules_delta)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"modules_delta is not JSON: {error}") from None
    return value


class BuildsMixin(AuditMixin):
    def create_build(
        self,
        *,
        repository: str,
        requested_by: str,
        reason: str | None,
        manifest_ref: str | None,
        manifest_hash: str | None,
        modules_delta: Mapping[str, Any],
        pr_number: int | None,
        reuse_unfinished: bool = False,
    ) -> BuildRecord:
        """A new build, ``queued`` at stage ``pr`` (audit ``build.create``, by ``requested_by``).

        ``reuse_unfinished``: when the pull request already has an unfinished build for the same
        ``manifest_hash``, that one is returned instead (one build per PR and target). The look and the
        insert are one transaction, serialized per PR, so two identical requests at the same moment
        still make one build."""
        now = self.now()
        values = {
            "build_id": new_build_id(now),
            "repository": normalize_repository(repository),
            "release_id": None,
            "status": "queued",
            "stage": "pr",
            "progress": 0,
            "started_at": now,
            "updated_at": now,
            "finished_at": None,
            "manifest_hash": check_short_text("manifest_hash", manifest_hash, 100, required=False),
            "modules_delta": _check_delta(modules_delta),
            "requested_by": check_actor("requested_by", requested_by),
            "reason": clean_text(reason),
            "manifest_ref": check_short_text("manifest_ref", manifest_ref, 300, required=False),
            "pr_number": check_number("pr_number", pr_number, required=False),
        }
        with self.write() as conn:
            if reuse_unfinished and values["pr_number"] is not None:
                existing = self._unfinished_build(conn, values)
                if existing is not None:
                    return existing
            row = conn.execute(_T.insert().values(**values).returning(*_COLUMNS)).one()
            record = _record(row)
            self._audit_build(
                conn, record, actor=record.requested_by, action="build.create", reason=record.reason
            )
        return record

    def _unfinished_build(self, conn: Connection, values: Mapping[str, Any]) -> BuildRecord | None:
        if self.is_postgresql:
            # READ COMMITTED: without this two transactions could both find none and both insert; the
            # lock is the PR's, held until commit (SQLite's writer lock already serializes)
            key = f"modbot-build:{values['repository']}#{values['pr_number']}"
            conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))
        row = conn.execute(
            select(*_COLUMNS)
            .where(
                _C.repository == values["repository"],
                _C.pr_number == values["pr_number"],
                _C.manifest_hash == values["manifest_hash"],
                _C.status.not_in(FINAL_BUILD_STATUSES),
            )
            .order_by(_C.build_id.desc())  # ULIDs sort in creation order
            .limit(1)
        ).first()
        return None if row is None else _record(row)

    def get_build(self, build_id: str) -> BuildRecord | None:
        """The build, or None (also for a string that is not a build id: it cannot exist)."""
        if not is_build_id(build_id):
            return None
        with self.read() as conn:
            row = conn.execute(select(*_COLUMNS).where(_C.build_id == build_id)).first()
        return None if row is None else _record(row)

    def update_build(
        self,
        build_id: str,
        *,
        status: BuildStatus | Keep = KEEP,
        stage: BuildStage | Keep = KEEP,
        progress: int | Keep = KEEP,
        release_id: str | Keep | None = KEEP,
        merge_sha: str | Keep | None = KEEP,
        run_id: int | Keep | None = KEEP,
        logs_url: str | Keep | None = KEEP,
        detail: str | Keep | None = KEEP,
        pr_number: int | Keep | None = KEEP,
        manifest_hash: str | Keep | None = KEEP,
        modules_delta: Mapping[str, Any] | Keep = KEEP,
        actor: str = SYSTEM_ACTOR,
    ) -> BuildRecord:
        """Change the given fields (``KEEP``: leave as stored). A final status (succeeded, failed,
        cancelled) sets ``finished_at``; ``succeeded`` also moves to stage ``done`` and progress
        100 unless they are given. A final status never changes again: ``FinalStateError``.
        Unknown build: ``RecordNotFoundError``. Audit ``build.<status>`` on a status change."""
        _check_build_id(build_id)
        actor = check_actor("actor", actor)
        values: dict[str, Any] = {}
        if status is not KEEP:
            values["status"] = check_choice("status", status, get_args(BuildStatus))
        if stage is not KEEP:
            values["stage"] = check_choice("stage", stage, get_args(BuildStage))
        if progress is not KEEP:
            values["progress"] = check_progress(progress)
        if release_id is not KEEP:
            values["release_id"] = check_release_id("release_id", release_id, required=False)
        if merge_sha is not KEEP:
            values["merge_sha"] = check_commit_sha("merge_sha", merge_sha, required=False)
        if run_id is not KEEP:
            values["run_id"] = check_id("run_id", run_id, required=False)
        if logs_url is not KEEP:
            values["logs_url"] = check_url("logs_url", logs_url)
        if detail is not KEEP:
            values["detail"] = clean_text(detail)
        if pr_number is not KEEP:
            values["pr_number"] = check_number("pr_number", pr_number, required=False)
        if manifest_hash is not KEEP:
            values["manifest_hash"] = check_short_text("manifest_hash", manifest_hash, 100, required=False)
        if modules_delta is not KEEP:
            values["modules_delta"] = _check_delta(modules_delta)
        now = self.now()
        with self.write() as conn:
            row = conn.execute(select(*_COLUMNS).where(_C.build_id == build_id).with_for_update()).first()
            if row is None:
                raise RecordNotFoundError(f"no build {build_id}")
            before = _record(row)
            new_status = values.get("status", before.status)
            status_changed = new_status != before.status
            values.update(
                build_status_change(
                    build_id,
                    before.status,
                    new_status,
                    stage_given="stage" in values,
                    progress_given="progress" in values,
                    now=now,
                )
            )
            values["updated_at"] = now
            row = conn.execute(
                update(_T).where(_C.build_id == build_id).values(**values).returning(*_COLUMNS)
            ).one()
            record = _record(row)
            if status_changed:
                self._audit_build(
                    conn, record, actor=actor, action=f"build.{record.status}", reason=values.get("detail")
                )
        return record

    def builds_for_pr(self, repository: str, pr_number: int) -> list[BuildRecord]:
        """The builds of a pull request, newest first."""
        repo = normalize_repository(repository)
        check_number("pr_number", pr_number, required=True)
        return self._builds(select(*_COLUMNS).where(_C.repository == repo, _C.pr_number == pr_number))

    def builds_for_merge_sha(self, repository: str, merge_sha: str) -> list[BuildRecord]:
        """The builds whose PR was merged as ``merge_sha`` (the Actions run's head), newest first."""
        repo = normalize_repository(repository)
        check_commit_sha("merge_sha", merge_sha, required=True)
        return self._builds(select(*_COLUMNS).where(_C.repository == repo, _C.merge_sha == merge_sha))

    def builds(
        self,
        repository: str | None = None,
        *,
        limit: int = 50,
        statuses: Collection[str] | None = None,
        before: str | None = None,
    ) -> list[BuildRecord]:
        """The newest builds (of one repository, or all), at most ``limit`` (1..1000); ``statuses``:
        only those; ``before``: only builds listed after that one (the next page; an unknown id: none)."""
        check_limit(limit)
        query = select(*_COLUMNS)
        if repository is not None:
            query = query.where(_C.repository == normalize_repository(repository))
        if statuses is not None:
            query = query.where(
                _C.status.in_([check_choice("status", s, get_args(BuildStatus)) for s in statuses])
            )
        if before is not None:
            _check_build_id(before)
            started = select(_C.started_at).where(_C.build_id == before).scalar_subquery()
            query = query.where(
                or_(_C.started_at < started, and_(_C.started_at == started, _C.build_id < before))
            )
        return self._builds(query.limit(limit))

    def _builds(self, query: Select[Any]) -> list[BuildRecord]:
        with self.read() as conn:
            rows = conn.execute(query.order_by(*_NEWEST_FIRST)).all()
        return [_record(row) for row in rows]

    def _audit_build(
        self, conn: Connection, record: BuildRecord, *, actor: str, action: str, reason: str | None
    ) -> None:
        self._append_audit(
            conn,
            actor=actor,
            action=action,
            target=record.build_id,
            details={
                "repository": record.repository,
                "status": record.status,
                "stage": record.stage,
                "progress": record.progress,
                "release_id": record.release_id,
                "pr_number": record.pr_number,
                "run_id": record.run_id,
                "manifest_hash": record.manifest_hash,
            },
            reason=reason,
        )
