"""The deployment history: one row per deploy or rollback, and what runs in each environment.

Started by the bot (``record_deployment``) or seen on GitHub (``upsert_github_deployment``, idempotent
by the GitHub Deployment id and never moving a final status: bot/domain/deployment_state.py has the
progression). GitHub's Deployments stay the system of record: ``modbot releases sync`` can rebuild
this table from them.

Each method is one transaction; each status change appends its audit entry in that same transaction,
so the history and the state never disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, get_args

from sqlalchemy import Connection, Row, and_, or_, select, update

from bot.domain.deployment_state import (
    check_stage,
    check_status,
    forward_progress,
    is_final,
    stage_for,
    starting_stage,
    status_change,
)
from bot.domain.records.checks import (
    check_actor,
    check_choice,
    check_commit_sha,
    check_environment,
    check_id,
    check_limit,
    check_number,
    check_release_id,
    check_short_text,
    check_url,
    check_when,
    clean_text,
    normalize_repository,
)
from bot.domain.records.common import (
    KEEP,
    SYSTEM_ACTOR,
    Keep,
    RecordNotFoundError,
    environment_target,
)
from bot.domain.records.deployments import (
    DeployKind,
    DeploymentRecord,
    DeploySource,
    DeployStage,
    DeployStatus,
    EnvironmentState,
)
from bot.store.audit import AuditMixin
from bot.store.locks import LOCK_COLUMNS, lock_from_row
from bot.store.models import DEPLOYMENTS, ENVIRONMENT_LOCKS

__all__ = ["DeploymentsMixin"]

_L = ENVIRONMENT_LOCKS
_D = DEPLOYMENTS

_DEPLOYMENT_COLUMNS = tuple(_D.c)
_NEWEST_FIRST = (_D.c.created_at.desc(), _D.c.id.desc())


def _deployment(row: Row[Any]) -> DeploymentRecord:
    return DeploymentRecord(**row._asdict())


class DeploymentsMixin(AuditMixin):
    # -- deployment history ------------------------------------------------------------------------

    def record_deployment(
        self,
        *,
        repository: str,
        environment: str,
        release_id: str,
        commit_sha: str,
        kind: DeployKind,
        requested_by: str,
        reason: str | None,
        source: DeploySource,
        previous_release: str | None = None,
        manifest_hash: str | None = None,
        github_deployment_id: int | None = None,
        issue_number: int | None = None,
        reply_comment_id: int | None = None,
        status: DeployStatus = "queued",
        stage: DeployStage = "queued",
        logs_url: str | None = None,
        created_at: datetime | None = None,
    ) -> DeploymentRecord:
        """A new deploy or rollback (audit ``deployment.create``, by ``requested_by``). A final
        ``status`` sets ``finished_at``; ``success`` puts it at stage ``done``."""
        repo = normalize_repository(repository)
        stage = starting_stage(status, stage)
        now = self.now()
        values = {
            "repository": repo,
            "environment": check_environment(environment),
            "release_id": check_release_id("release_id", release_id, required=True),
            "commit_sha": check_commit_sha("commit_sha", commit_sha, required=True),
            "kind": check_choice("kind", kind, get_args(DeployKind)),
            "status": check_status(status),
            "stage": check_stage(stage),
            "requested_by": check_actor("requested_by", requested_by),
            "reason": clean_text(reason),
            "github_deployment_id": check_id("github_deployment_id", github_deployment_id, required=False),
            "previous_release": check_release_id("previous_release", previous_release, required=False),
            "manifest_hash": check_short_text("manifest_hash", manifest_hash, 100, required=False),
            "source": check_choice("source", source, get_args(DeploySource)),
            "issue_number": check_number("issue_number", issue_number, required=False),
            "reply_comment_id": check_id("reply_comment_id", reply_comment_id, required=False),
            "logs_url": check_url("logs_url", logs_url),
            "created_at": now if created_at is None else check_when("created_at", created_at),
            "updated_at": now,
            "finished_at": now if is_final(status) else None,
        }
        with self.write() as conn:
            if github_deployment_id is not None:
                self._refuse_known_github_id(conn, repo, github_deployment_id, record_id=None)
            row = conn.execute(_D.insert().values(**values).returning(*_DEPLOYMENT_COLUMNS)).one()
            record = _deployment(row)
            self._audit_deployment(conn, record, actor=record.requested_by, action="deployment.create")
        return record

    def update_deployment(
        self,
        record_id: int,
        *,
        status: DeployStatus | Keep = KEEP,
        stage: DeployStage | Keep = KEEP,
        logs_url: str | Keep | None = KEEP,
        github_deployment_id: int | Keep | None = KEEP,
        reply_comment_id: int | Keep | None = KEEP,
        actor: str = SYSTEM_ACTOR,
    ) -> DeploymentRecord:
        """Change a deployment's progress. A final status (success, failure, error, inactive) sets
        ``finished_at`` and is final: changing it raises ``FinalStateError``. Reaching ``success``
        moves the stage to ``done`` unless a stage is given. Audit ``deployment.<status>`` on a
        status change. ``RecordNotFoundError`` for an unknown id."""
        check_id("record_id", record_id, required=True)
        actor = check_actor("actor", actor)
        values: dict[str, Any] = {}
        if status is not KEEP:
            values["status"] = check_status(status)
        if stage is not KEEP:
            values["stage"] = check_stage(stage)
        if logs_url is not KEEP:
            values["logs_url"] = check_url("logs_url", logs_url)
        if github_deployment_id is not KEEP:
            values["github_deployment_id"] = check_id(
                "github_deployment_id", github_deployment_id, required=False
            )
        if reply_comment_id is not KEEP:
            values["reply_comment_id"] = check_id("reply_comment_id", reply_comment_id, required=False)
        now = self.now()
        with self.write() as conn:
            row = conn.execute(
                select(*_DEPLOYMENT_COLUMNS).where(_D.c.id == record_id).with_for_update()
            ).first()
            if row is None:
                raise RecordNotFoundError(f"no deployment record {record_id}")
            before = _deployment(row)
            new_status = values.get("status", before.status)
            status_changed = new_status != before.status
            values.update(
                status_change(record_id, before.status, new_status, stage_given=stage is not KEEP, now=now)
            )
            if values.get("github_deployment_id") is not None:
                self._refuse_known_github_id(
                    conn, before.repository, values["github_deployment_id"], record_id
                )
            values["updated_at"] = now
            row = conn.execute(
                update(_D).where(_D.c.id == record_id).values(**values).returning(*_DEPLOYMENT_COLUMNS)
            ).one()
            record = _deployment(row)
            if status_changed:
                self._audit_deployment(conn, record, actor=actor, action=f"deployment.{record.status}")
        return record

    def upsert_github_deployment(
        self,
        *,
        repository: str,
        github_deployment_id: int,
        environment: str,
        release_id: str,
        commit_sha: str,
        kind: DeployKind,
        requested_by: str,
        reason: str | None,
        status: DeployStatus,
        created_at: datetime,
        stage: DeployStage | None = None,
        previous_release: str | None = None,
        manifest_hash: str | None = None,
        logs_url: str | None = None,
        finished_at: datetime | None = None,
        actor: str = "github",
    ) -> DeploymentRecord:
        """Record a deployment seen on GitHub (``releases sync``, the ``deployment_status``
        handler), idempotent by (repository, ``github_deployment_id``).

        New: stored with ``source = 'github'``. Known (the bot's own, or seen before): only its
        progress moves, forward — status by queued < in_progress < final, stage by queued < deploy
        < smoke < done — and never once its status is final; empty ``manifest_hash``,
        ``previous_release`` and ``logs_url`` are filled in. Who asked, what and why stay as first
        recorded. Without ``stage`` it follows the status (queued → queued, in_progress → deploy,
        success → done, other final: where it stopped). ``finished_at`` defaults to now.

        For a deployment that succeeded and was later made ``inactive`` by a newer one, pass
        ``success``: the history should say it ran there (rollback targets come from that).
        """
        repo = normalize_repository(repository)
        check_id("github_deployment_id", github_deployment_id, required=True)
        status = check_status(status)
        if stage is not None:
            stage = check_stage(stage)
        logs_url = check_url("logs_url", logs_url)
        manifest_hash = check_short_text("manifest_hash", manifest_hash, 100, required=False)
        check_release_id("previous_release", previous_release, required=False)
        if finished_at is not None:
            check_when("finished_at", finished_at)
        actor = check_actor("actor", actor)
        now = self.now()
        final = is_final(status)
        new_values = {
            "repository": repo,
            "environment": check_environment(environment),
            "release_id": check_release_id("release_id", release_id, required=True),
            "commit_sha": check_commit_sha("commit_sha", commit_sha, required=True),
            "kind": check_choice("kind", kind, get_args(DeployKind)),
            "status": status,
            "stage": stage or stage_for(status, "queued"),
            "requested_by": check_actor("requested_by", requested_by),
            "reason": clean_text(reason),
            "github_deployment_id": github_deployment_id,
            "previous_release": previous_release,
            "manifest_hash": manifest_hash,
            "source": "github",
            "logs_url": logs_url,
            "created_at": check_when("created_at", created_at),
            "updated_at": now,
            "finished_at": (finished_at or now) if final else None,
        }
        with self.write() as conn:
            inserted = conn.execute(
                self.insert(_D)
                .values(**new_values)
                .on_conflict_do_nothing(index_elements=[_D.c.repository, _D.c.github_deployment_id])
                .returning(*_DEPLOYMENT_COLUMNS)
            ).first()
            if inserted is not None:
                record = _deployment(inserted)
                self._audit_deployment(conn, record, actor=actor, action="deployment.create")
                return record
            row = conn.execute(
                select(*_DEPLOYMENT_COLUMNS)
                .where(_D.c.repository == repo, _D.c.github_deployment_id == github_deployment_id)
                .with_for_update()
            ).one()
            before = _deployment(row)
            changes = forward_progress(
                before,
                status=status,
                stage=stage,
                logs_url=logs_url,
                manifest_hash=manifest_hash,
                previous_release=previous_release,
                finished_at=finished_at,
                now=now,
            )
            if not changes:
                return before
            changes["updated_at"] = now
            row = conn.execute(
                update(_D).where(_D.c.id == before.id).values(**changes).returning(*_DEPLOYMENT_COLUMNS)
            ).one()
            record = _deployment(row)
            if record.status != before.status:
                self._audit_deployment(conn, record, actor=actor, action=f"deployment.{record.status}")
        return record

    def get_deployment(self, record_id: int) -> DeploymentRecord | None:
        check_id("record_id", record_id, required=True)
        with self.read() as conn:
            row = conn.execute(select(*_DEPLOYMENT_COLUMNS).where(_D.c.id == record_id)).first()
        return None if row is None else _deployment(row)

    def deployment_by_github_id(self, repository: str, github_deployment_id: int) -> DeploymentRecord | None:
        repo = normalize_repository(repository)
        check_id("github_deployment_id", github_deployment_id, required=True)
        with self.read() as conn:
            row = conn.execute(
                select(*_DEPLOYMENT_COLUMNS).where(
                    _D.c.repository == repo, _D.c.github_deployment_id == github_deployment_id
                )
            ).first()
        return None if row is None else _deployment(row)

    def deployments(
        self,
        repository: str,
        *,
        environment: str | None = None,
        limit: int = 50,
        cursor: int | None = None,
    ) -> list[DeploymentRecord]:
        """Newest first (by ``created_at``, then id), at most ``limit`` (1..1000). For the next
        (older) page pass the last record's id as ``cursor``."""
        repo = normalize_repository(repository)
        check_limit(limit)
        query = select(*_DEPLOYMENT_COLUMNS).where(_D.c.repository == repo)
        if environment is not None:
            query = query.where(_D.c.environment == check_environment(environment))
        with self.read() as conn:
            if cursor is not None:
                check_id("cursor", cursor, required=True)
                anchor = conn.execute(
                    select(_D.c.created_at).where(_D.c.id == cursor, _D.c.repository == repo)
                ).first()
                if anchor is None:
                    raise ValueError(f"cursor {cursor} is not a deployment of {repo}")
                query = query.where(
                    or_(
                        _D.c.created_at < anchor.created_at,
                        and_(_D.c.created_at == anchor.created_at, _D.c.id < cursor),
                    )
                )
            rows = conn.execute(query.order_by(*_NEWEST_FIRST).limit(limit)).all()
        return [_deployment(row) for row in rows]

    def current_deployment(self, repository: str, environment: str) -> DeploymentRecord | None:
        """What runs there now: the newest deployment whose status is ``success``."""
        repo = normalize_repository(repository)
        env = check_environment(environment)
        with self.read() as conn:
            return self._newest(conn, repo, env, successful=True)

    def successful_releases(self, repository: str, environment: str) -> list[str]:
        """Release ids that succeeded in the environment, newest deployment first, each once."""
        repo = normalize_repository(repository)
        env = check_environment(environment)
        with self.read() as conn:
            ids = conn.execute(
                select(_D.c.release_id)
                .where(_D.c.repository == repo, _D.c.environment == env, _D.c.status == "success")
                .order_by(*_NEWEST_FIRST)
            ).scalars()
            return list(dict.fromkeys(ids))

    def environments(self, repository: str) -> list[EnvironmentState]:
        """Each environment with a deployment or a live lock, by name: what runs there now, the
        newest deployment (maybe in flight) and the lock."""
        repo = normalize_repository(repository)
        now = self.now()
        with self.read() as conn:
            locks = {
                row.environment: lock_from_row(row)
                for row in conn.execute(
                    select(*LOCK_COLUMNS).where(_L.c.repository == repo, _L.c.expires_at > now)
                )
            }
            names = set(
                conn.execute(select(_D.c.environment).where(_D.c.repository == repo).distinct()).scalars()
            )
            return [
                EnvironmentState(
                    environment=env,
                    current=self._newest(conn, repo, env, successful=True),
                    latest=self._newest(conn, repo, env, successful=False),
                    lock=locks.get(env),
                )
                for env in sorted(names | locks.keys())
            ]

    def _newest(self, conn: Connection, repo: str, env: str, *, successful: bool) -> DeploymentRecord | None:
        query = select(*_DEPLOYMENT_COLUMNS).where(_D.c.repository == repo, _D.c.environment == env)
        if successful:
            query = query.where(_D.c.status == "success")
        row = conn.execute(query.order_by(*_NEWEST_FIRST).limit(1)).first()
        return None if row is None else _deployment(row)

    def _refuse_known_github_id(
        self, conn: Connection, repo: str, github_deployment_id: int, record_id: int | None
    ) -> None:
        other = conn.execute(
            select(_D.c.id).where(_D.c.repository == repo, _D.c.github_deployment_id == github_deployment_id)
        ).first()
        if other is not None and other.id != record_id:
            raise ValueError(
                f"GitHub deployment {github_deployment_id} of {repo} is already deployment record {other.id}"
            )

    def _audit_deployment(
        self, conn: Connection, record: DeploymentRecord, *, actor: str, action: str
    ) -> None:
        self._append_audit(
            conn,
            actor=actor,
            action=action,
            target=environment_target(record.repository, record.environment),
            details={
                "deployment": record.id,
                "kind": record.kind,
                "release_id": record.release_id,
                "status": record.status,
                "stage": record.stage,
                "source": record.source,
                "github_deployment_id": record.github_deployment_id,
            },
            reason=record.reason if action == "deployment.create" else None,
        )
