"""The local forge's verdicts and operations on commits: check runs, commit statuses, deployments and
their statuses, and the local runner's runs (part of `bot.store.local_forge.LocalForgeStore`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, select, update

from bot.domain.forge_records import (
    Announcement,
    CheckRecord,
    DeploymentRecordLocal,
    DeploymentStatusRecord,
    RunRecord,
    StatusRecord,
)
from bot.store.base import StoreBase
from bot.store.local_forge_tables import (
    LF_CHECKS,
    LF_DEPLOYMENT_STATUSES,
    LF_DEPLOYMENTS,
    LF_RUNS,
    LF_STATUSES,
)
from bot.store.prs import normalize_repository
from bot.store.queue import IncomingDelivery, _insert_new_deliveries
from bot.store.values import RecordNotFoundError

__all__ = ["Announcer", "LocalChecksMixin", "as_record"]


_R = TypeVar("_R")
Announcer = Callable[[_R], Sequence[Announcement]]


def as_record(cls: type[_R], row: Row[Any] | Mapping[str, Any]) -> _R:
    """A row as the record whose field names are its column names."""
    data = row._mapping if isinstance(row, Row) else row
    return cls(**{f.name: data[f.name] for f in fields(cls)})  # type: ignore[arg-type]


class LocalChecksMixin(StoreBase):
    # --- the outbox: events into the delivery queue, in the transaction of what they announce ------
    def announce(self, announcements: Sequence[Announcement]) -> None:
        """Queue events on their own (a change git made: there is no record to share a transaction)."""
        if announcements:
            with self.write() as conn:
                self._announce(conn, announcements)

    def _announce(self, conn: Connection, announcements: Sequence[Announcement]) -> None:
        """Insert each as a pending delivery (its job); an id already queued is left as it is (a replay)."""
        deliveries = [
            IncomingDelivery(a.delivery_id, a.event, a.action, a.repository, None, a.payload)
            for a in announcements
        ]
        for delivery in deliveries:
            delivery.check()
        if deliveries:
            _insert_new_deliveries(conn, deliveries, self.now())

    # --- check runs ----------------------------------------------------------------------------
    def create_check(
        self,
        repository: str,
        *,
        head_sha: str,
        name: str,
        status: str,
        conclusion: str | None,
        title: str,
        summary: str,
        text: str | None,
        annotations: Sequence[Mapping[str, Any]],
        details_url: str | None,
        external_id: str | None,
        creator: str,
    ) -> CheckRecord:
        now = self.now()
        values = {
            "repository": normalize_repository(repository),
            "head_sha": head_sha,
            "name": name,
            "status": status,
            "conclusion": conclusion,
            "title": title,
            "summary": summary,
            "text": text,
            "annotations": [dict(a) for a in annotations],
            "details_url": details_url,
            "external_id": external_id,
            "creator": creator,
            "created_at": now,
            "updated_at": now,
        }
        with self.write() as conn:
            key = conn.execute(LF_CHECKS.insert().values(**values)).inserted_primary_key
        return as_record(CheckRecord, {**values, "id": int(key[0])})  # type: ignore[index]

    def update_check(
        self,
        repository: str,
        check_id: int,
        *,
        status: str | None,
        conclusion: str | None,
        title: str,
        summary: str,
        text: str | None,
        annotations: Sequence[Mapping[str, Any]],
    ) -> CheckRecord:
        """Like GitHub: a new status / conclusion / output replaces the old; annotations are added."""
        repo = normalize_repository(repository)
        c = LF_CHECKS.c
        where = (c.repository == repo, c.id == check_id)
        with self.write() as conn:
            row = conn.execute(select(LF_CHECKS).where(*where)).first()
            if row is None:
                raise RecordNotFoundError(f"no check run {check_id} in {repo}")
            changes: dict[str, Any] = {"updated_at": self.now()}
            if status is not None:
                changes["status"] = status
            if conclusion is not None:
                changes["conclusion"] = conclusion
                changes["status"] = "completed"
            if title or summary:
                changes.update(title=title, summary=summary, text=text)
            if annotations:
                changes["annotations"] = [*row.annotations, *(dict(a) for a in annotations)]
            conn.execute(update(LF_CHECKS).where(*where).values(**changes))
            row = conn.execute(select(LF_CHECKS).where(*where)).one()
        return as_record(CheckRecord, row)

    def find_checks(self, repository: str, head_sha: str, name: str, *, creator: str) -> list[CheckRecord]:
        c = LF_CHECKS.c
        with self.read() as conn:
            rows = conn.execute(
                select(LF_CHECKS)
                .where(
                    c.repository == normalize_repository(repository),
                    c.head_sha == head_sha,
                    c.name == name,
                    c.creator == creator,
                )
                .order_by(c.id)
            ).all()
        return [as_record(CheckRecord, row) for row in rows]

    # --- commit statuses -----------------------------------------------------------------------
    def add_status(
        self,
        repository: str,
        sha: str,
        *,
        state: str,
        context: str,
        description: str,
        target_url: str | None,
        creator: str,
    ) -> StatusRecord:
        values = {
            "repository": normalize_repository(repository),
            "sha": sha,
            "state": state,
            "context": context,
            "description": description,
            "target_url": target_url,
            "creator": creator,
            "created_at": self.now(),
        }
        with self.write() as conn:
            key = conn.execute(LF_STATUSES.insert().values(**values)).inserted_primary_key
        return as_record(StatusRecord, {**values, "id": int(key[0])})  # type: ignore[index]

    def latest_status(self, repository: str, sha: str, context: str) -> StatusRecord | None:
        c = LF_STATUSES.c
        with self.read() as conn:
            row = conn.execute(
                select(LF_STATUSES)
                .where(c.repository == normalize_repository(repository), c.sha == sha, c.context == context)
                .order_by(c.id.desc())
                .limit(1)
            ).first()
        return as_record(StatusRecord, row) if row is not None else None

    # --- deployments ---------------------------------------------------------------------------
    def create_deployment(self, repository: str, **values: Any) -> DeploymentRecordLocal:
        values.update(repository=normalize_repository(repository), created_at=self.now())
        with self.write() as conn:
            key = conn.execute(LF_DEPLOYMENTS.insert().values(**values)).inserted_primary_key
        return as_record(DeploymentRecordLocal, {**values, "id": int(key[0])})  # type: ignore[index]

    def get_deployment(self, repository: str, deployment_id: int) -> DeploymentRecordLocal | None:
        c = LF_DEPLOYMENTS.c
        with self.read() as conn:
            row = conn.execute(
                select(LF_DEPLOYMENTS).where(
                    c.repository == normalize_repository(repository), c.id == deployment_id
                )
            ).first()
        return as_record(DeploymentRecordLocal, row) if row is not None else None

    def list_deployments(
        self, repository: str, *, filters: Mapping[str, str | None], limit: int
    ) -> list[DeploymentRecordLocal]:
        c = LF_DEPLOYMENTS.c
        query = select(LF_DEPLOYMENTS).where(c.repository == normalize_repository(repository))
        for name, value in filters.items():
            if value is not None:
                query = query.where(c[name] == value)
        with self.read() as conn:
            rows = conn.execute(query.order_by(c.id.desc()).limit(limit)).all()
        return [as_record(DeploymentRecordLocal, row) for row in rows]

    def add_deployment_status(
        self,
        repository: str,
        deployment_id: int,
        *,
        auto_inactive: bool,
        creator: str,
        announce: Announcer[DeploymentStatusRecord] | None = None,
        **values: Any,
    ) -> DeploymentStatusRecord:
        """A new status; with ``auto_inactive`` a success marks the environment's earlier deployments
        whose latest status is a success inactive (as GitHub does), in the same transaction."""
        repo = normalize_repository(repository)
        d, s = LF_DEPLOYMENTS.c, LF_DEPLOYMENT_STATUSES.c
        now = self.now()
        with self.write() as conn:
            target = conn.execute(
                select(d.environment).where(d.repository == repo, d.id == deployment_id)
            ).first()
            if target is None:
                raise RecordNotFoundError(f"no deployment {deployment_id} in {repo}")
            if values.get("state") == "success" and auto_inactive:
                others = conn.execute(
                    select(d.id).where(
                        d.repository == repo, d.environment == target.environment, d.id != deployment_id
                    )
                ).all()
                for other in others:
                    latest = conn.execute(
                        select(LF_DEPLOYMENT_STATUSES)
                        .where(s.deployment_id == other.id)
                        .order_by(s.id.desc())
                        .limit(1)
                    ).first()
                    if latest is not None and latest.state == "success":
                        conn.execute(
                            LF_DEPLOYMENT_STATUSES.insert().values(
                                deployment_id=other.id,
                                state="inactive",
                                description="",
                                log_url=None,
                                environment_url=latest.environment_url,
                                creator=creator,
                                created_at=now,
                            )
                        )
            row = {**values, "deployment_id": deployment_id, "creator": creator, "created_at": now}
            key = conn.execute(LF_DEPLOYMENT_STATUSES.insert().values(**row)).inserted_primary_key
            record = as_record(DeploymentStatusRecord, {**row, "id": int(key[0])})  # type: ignore[index]
            if announce is not None:
                self._announce(conn, announce(record))
        return record

    def list_deployment_statuses(self, deployment_id: int, *, limit: int) -> list[DeploymentStatusRecord]:
        s = LF_DEPLOYMENT_STATUSES.c
        with self.read() as conn:
            rows = conn.execute(
                select(LF_DEPLOYMENT_STATUSES)
                .where(s.deployment_id == deployment_id)
                .order_by(s.id.desc())
                .limit(limit)
            ).all()
        return [as_record(DeploymentStatusRecord, row) for row in rows]

    # --- the local runner's runs ---------------------------------------------------------------
    def create_run(
        self, repository: str, *, announce: Announcer[RunRecord] | None = None, **values: Any
    ) -> RunRecord:
        now = self.now()
        values.update(
            repository=normalize_repository(repository), created_at=now, updated_at=now, run_attempt=1
        )
        values.setdefault("status", "queued")
        values.setdefault("conclusion", None)
        values.setdefault("logs_url", None)
        with self.write() as conn:
            key = conn.execute(LF_RUNS.insert().values(**values)).inserted_primary_key
            record = as_record(RunRecord, {**values, "id": int(key[0])})  # type: ignore[index]
            if announce is not None:
                self._announce(conn, announce(record))
        return record

    def update_run(
        self,
        repository: str,
        run_id: int,
        *,
        only_if_status: str | None = None,
        announce: Announcer[RunRecord] | None = None,
        **changes: Any,
    ) -> RunRecord:
        """Change a run's status / conclusion / logs_url / run_attempt; with ``only_if_status`` only
        when it is in that status (RecordNotFoundError: no such run; ValueError: not in that status)."""
        repo = normalize_repository(repository)
        c = LF_RUNS.c
        where = [c.repository == repo, c.id == run_id]
        with self.write() as conn:
            row = conn.execute(select(LF_RUNS).where(*where)).first()
            if row is None:
                raise RecordNotFoundError(f"no run {run_id} in {repo}")
            if only_if_status is not None and row.status != only_if_status:
                raise ValueError(f"run {run_id} is {row.status}, not {only_if_status}")
            conn.execute(update(LF_RUNS).where(*where).values(**changes, updated_at=self.now()))
            record = as_record(RunRecord, conn.execute(select(LF_RUNS).where(*where)).one())
            if announce is not None:
                self._announce(conn, announce(record))
        return record

    def get_run(self, repository: str, run_id: int) -> RunRecord | None:
        c = LF_RUNS.c
        with self.read() as conn:
            row = conn.execute(
                select(LF_RUNS).where(c.repository == normalize_repository(repository), c.id == run_id)
            ).first()
        return as_record(RunRecord, row) if row is not None else None

    def list_runs(self, repository: str, *, filters: Mapping[str, str | None], limit: int) -> list[RunRecord]:
        c = LF_RUNS.c
        query = select(LF_RUNS).where(c.repository == normalize_repository(repository))
        for name, value in filters.items():
            if value is not None:
                query = query.where(c[name] == value)
        with self.read() as conn:
            rows = conn.execute(query.order_by(c.id.desc()).limit(limit)).all()
        return [as_record(RunRecord, row) for row in rows]
