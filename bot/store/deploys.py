"""Deploys: environment locks, the deployment history and a cache of releases.

**Locks.** One deploy or rollback per environment at a time. A lock is a row keyed by
(repository, environment); taking it is ``INSERT … ON CONFLICT DO NOTHING`` and, when a row is
there, reading it ``FOR UPDATE``: a live lock refuses (``LockHeld``), an expired one is taken over
in the same transaction. On PostgreSQL the unique key and the row lock make two concurrent
acquirers serialize (the second sees the first's committed row); on SQLite the write transaction
holds the database's write lock. Releasing deletes the row; the audit log keeps the history.
A release names what it releases (the GitHub Deployment id, or the holder), so a late event of an
old deploy cannot free the lock of a newer one; ``force`` (``/unlock``) releases whatever holds it.

**History.** One row per deploy or rollback, started by the bot (``record_deployment``) or seen on
GitHub (``upsert_github_deployment``, idempotent by the GitHub Deployment id and never moving a
final status). GitHub's Deployments and the ``release/*`` tags stay the system of record:
``modbot releases sync`` can rebuild these tables from them.

**Releases.** A local copy of the ``release/*`` tags' records, so "which releases exist" and "which
release is at this commit" need no API call. Release ids sort as text in time order.

Each method is one transaction; each change that matters appends its audit entry in that same
transaction, so the history and the state never disagree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal, cast, get_args

from sqlalchemy import Column, Connection, Row, and_, delete, or_, select, update

from bot.pipeline.release import ReleaseRecord
from bot.store.audit import AuditMixin
from bot.store.models import DEPLOYMENTS, ENVIRONMENT_LOCKS, RELEASES
from bot.store.prs import KEEP, Keep, normalize_repository
from bot.store.values import (
    SYSTEM_ACTOR,
    FinalStateError,
    RecordNotFoundError,
    check_actor,
    check_choice,
    check_commit_sha,
    check_environment,
    check_id,
    check_limit,
    check_number,
    check_release_id,
    check_short_text,
    check_ttl,
    check_url,
    check_when,
    clean_text,
    environment_target,
)

__all__ = [
    "FINAL_DEPLOY_STATUSES",
    "DeployKind",
    "DeploySource",
    "DeployStage",
    "DeployStatus",
    "DeploymentRecord",
    "DeploysMixin",
    "EnvironmentLock",
    "EnvironmentState",
    "LockHeld",
    "LockLost",
    "LockPurpose",
    "ReleaseInfo",
]

LockPurpose = Literal["deploy", "rollback"]
DeployKind = Literal["deploy", "rollback", "auto_rollback"]
DeployStatus = Literal["queued", "in_progress", "success", "failure", "error", "inactive"]
DeployStage = Literal["queued", "deploy", "smoke", "done"]
DeploySource = Literal["comment", "api", "cli", "github", "console"]

FINAL_DEPLOY_STATUSES: Final = frozenset({"success", "failure", "error", "inactive"})
# Order in which a deployment moves on; an upsert from GitHub never moves one back.
_STATUS_RANK: Final = {"queued": 0, "in_progress": 1, **dict.fromkeys(FINAL_DEPLOY_STATUSES, 2)}
_STAGE_RANK: Final = {"queued": 0, "deploy": 1, "smoke": 2, "done": 3}

_ACQUIRE_ROUNDS = 5

_L = ENVIRONMENT_LOCKS
_D = DEPLOYMENTS
_R = RELEASES


# -- values ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnvironmentLock:
    repository: str  # owner/name, lower-cased
    environment: str
    holder: str  # who took it: a GitHub login or "api:<token name>"
    purpose: LockPurpose
    release_id: str | None
    deployment_id: int | None  # the GitHub Deployment id, once created
    reason: str | None
    acquired_at: datetime
    expires_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The lock as JSON values (audit details, API and CLI answers)."""
        return {
            "holder": self.holder,
            "purpose": self.purpose,
            "release_id": self.release_id,
            "deployment_id": self.deployment_id,
            "acquired_at": self.acquired_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }

    def describe(self) -> str:
        """``alice (deploy of rel_2026_01_01_001) since 12:00:00 UTC, until 13:00:00 UTC``."""
        what = self.purpose + (f" of {self.release_id}" if self.release_id else "")
        return (
            f"{self.holder} ({what}) since {self.acquired_at:%Y-%m-%d %H:%M:%S} UTC, "
            f"until {self.expires_at:%Y-%m-%d %H:%M:%S} UTC"
        )


class LockHeld(Exception):
    """The environment is locked by someone else; ``lock`` is the live lock that refused."""

    def __init__(self, lock: EnvironmentLock) -> None:
        self.lock = lock
        super().__init__(f"{lock.environment} of {lock.repository} is locked by {lock.describe()}")


class LockLost(RuntimeError):
    """The lock a caller took is no longer its own: it expired, was released or was taken over."""


@dataclass(frozen=True, slots=True)
class DeploymentRecord:
    id: int
    repository: str  # owner/name, lower-cased
    environment: str
    release_id: str
    commit_sha: str
    kind: DeployKind
    status: DeployStatus
    stage: DeployStage
    requested_by: str
    reason: str | None
    github_deployment_id: int | None
    previous_release: str | None
    manifest_hash: str | None
    source: DeploySource  # "comment" | "api" | "cli" | "github" (seen on GitHub, not started by us)
    issue_number: int | None  # where progress is reported
    reply_comment_id: int | None
    logs_url: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in FINAL_DEPLOY_STATUSES


@dataclass(frozen=True, slots=True)
class EnvironmentState:
    """What runs in one environment now, what was asked last, and who holds it."""

    environment: str
    current: DeploymentRecord | None  # the newest successful deployment
    latest: DeploymentRecord | None  # the newest deployment, whatever its status (maybe in flight)
    lock: EnvironmentLock | None  # the live lock, if any


@dataclass(frozen=True, slots=True)
class ReleaseInfo:
    repository: str
    release_id: str
    commit_sha: str
    manifest_hash: str
    modules: tuple[str, ...]
    image: str
    build_key: str
    build_id: str | None
    previous_release: str | None
    created_at: datetime

    @classmethod
    def from_record(cls, repository: str, record: ReleaseRecord) -> ReleaseInfo:
        """The cache entry for a ``release/<id>`` tag's record (``created_at`` is its UTC text)."""
        try:
            created = dt.datetime.strptime(record.created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            raise ValueError(
                f"release {record.release_id}: created_at is not UTC time text: {record.created_at[:40]!r}"
            ) from None
        return cls(
            repository=repository,
            release_id=record.release_id,
            commit_sha=record.git_sha,
            manifest_hash=record.manifest_hash,
            modules=tuple(record.modules),
            image=record.image,
            build_key=record.build_key,
            build_id=record.build_id,
            previous_release=record.previous_release,
            created_at=created,
        )


# -- rows -> values ----------------------------------------------------------------------------------

_LOCK_COLUMNS: tuple[Column[Any], ...] = (
    _L.c.repository,
    _L.c.environment,
    _L.c.holder,
    _L.c.purpose,
    _L.c.release_id,
    _L.c.deployment_id,
    _L.c.reason,
    _L.c.acquired_at,
    _L.c.expires_at,
)
_DEPLOYMENT_COLUMNS = tuple(_D.c)
_RELEASE_COLUMNS = tuple(c for c in _R.c if c.name != "id")
_NEWEST_FIRST = (_D.c.created_at.desc(), _D.c.id.desc())


def _lock(row: Row[Any]) -> EnvironmentLock:
    """The lock in a row of ``_LOCK_COLUMNS`` (a row may carry more, such as its ``id``)."""
    return EnvironmentLock(**{column.name: getattr(row, column.name) for column in _LOCK_COLUMNS})


def _deployment(row: Row[Any]) -> DeploymentRecord:
    return DeploymentRecord(**row._asdict())


def _release(row: Row[Any]) -> ReleaseInfo:
    values = row._asdict()
    values["modules"] = tuple(values["modules"])
    return ReleaseInfo(**values)


def _check_status(status: str) -> DeployStatus:
    return cast(DeployStatus, check_choice("status", status, get_args(DeployStatus)))


def _check_stage(stage: str) -> DeployStage:
    return cast(DeployStage, check_choice("stage", stage, get_args(DeployStage)))


class DeploysMixin(AuditMixin):
    # -- environment locks -------------------------------------------------------------------------

    def acquire_lock(
        self,
        repository: str,
        environment: str,
        *,
        holder: str,
        purpose: LockPurpose,
        ttl: timedelta,
        release_id: str | None = None,
        reason: str | None = None,
    ) -> EnvironmentLock:
        """Take the environment's lock for ``ttl``, or raise ``LockHeld`` naming the live holder.

        Atomic on both databases: of two concurrent callers exactly one wins. An expired lock is
        taken over (audit ``lock.expired`` for it, then ``lock.acquire``). The same holder asking
        again while its lock is live is refused too: one deploy at a time, even by one person.
        """
        repo = normalize_repository(repository)
        env = check_environment(environment)
        holder = check_actor("holder", holder)
        check_choice("purpose", purpose, get_args(LockPurpose))
        ttl = check_ttl(ttl)
        check_release_id("release_id", release_id, required=False)
        now = self.now()
        lock = EnvironmentLock(
            repository=repo,
            environment=env,
            holder=holder,
            purpose=purpose,
            release_id=release_id,
            deployment_id=None,
            reason=clean_text(reason),
            acquired_at=now,
            expires_at=now + ttl,
        )
        values = {column.name: getattr(lock, column.name) for column in _LOCK_COLUMNS}
        key = and_(_L.c.repository == repo, _L.c.environment == env)
        with self.write() as conn:
            # A row seen by the INSERT can be deleted (released) before the SELECT reads it: try
            # again then. Each round either wins, refuses, or saw the row vanish.
            for _ in range(_ACQUIRE_ROUNDS):
                inserted = conn.execute(
                    self.insert(_L)
                    .values(**values)
                    .on_conflict_do_nothing(index_elements=[_L.c.repository, _L.c.environment])
                    .returning(_L.c.id)
                ).first()
                if inserted is None:
                    row = conn.execute(select(_L.c.id, *_LOCK_COLUMNS).where(key).with_for_update()).first()
                    if row is None:
                        continue
                    current = _lock(row)
                    if current.expires_at > now:
                        raise LockHeld(current)
                    self._audit_expired(conn, current, replaced_by=holder)
                    conn.execute(update(_L).where(_L.c.id == row.id).values(**values))
                self._append_audit(
                    conn,
                    actor=holder,
                    action="lock.acquire",
                    target=environment_target(repo, env),
                    details=lock.to_json(),
                    reason=lock.reason,
                )
                return lock
        raise RuntimeError(f"the lock on {env} of {repo} kept changing; try again")

    def attach_lock_deployment(
        self,
        repository: str,
        environment: str,
        *,
        holder: str,
        acquired_at: datetime,
        deployment_id: int,
    ) -> None:
        """Record the GitHub Deployment a lock's deploy created, so only that deployment's final
        status releases it. The lock must still be the live one identified by (``holder``,
        ``acquired_at``); otherwise ``LockLost``."""
        repo = normalize_repository(repository)
        env = check_environment(environment)
        holder = check_actor("holder", holder)
        check_when("acquired_at", acquired_at)
        check_id("deployment_id", deployment_id, required=True)
        now = self.now()
        with self.write() as conn:
            result = conn.execute(
                update(_L)
                .where(
                    _L.c.repository == repo,
                    _L.c.environment == env,
                    _L.c.holder == holder,
                    _L.c.acquired_at == acquired_at,
                    _L.c.expires_at > now,
                )
                .values(deployment_id=deployment_id)
            )
            if result.rowcount != 1:
                raise LockLost(
                    f"the lock on {env} of {repo} taken by {holder} at {acquired_at:%Y-%m-%d %H:%M:%S} UTC "
                    "is no longer held (it expired, was released or was taken over)"
                )
            self._append_audit(
                conn,
                actor=holder,
                action="lock.attach",
                target=environment_target(repo, env),
                details={"deployment_id": deployment_id},
                reason=None,
            )

    def release_lock(
        self,
        repository: str,
        environment: str,
        *,
        actor: str,
        reason: str | None,
        deployment_id: int | None = None,
        force: bool = False,
    ) -> EnvironmentLock | None:
        """Release the environment's lock; returns the released lock, or None if nothing was.

        Which lock may be released: with ``force`` (``/unlock``), whatever holds it; with a
        ``deployment_id``, only the lock of that GitHub Deployment (a stale event of an old deploy
        must not free a newer deploy's lock); otherwise only a lock held by ``actor``. An expired
        lock is not held: it is cleared (audit ``lock.expired``) and None is returned.
        Audit: ``lock.release``, or ``lock.unlock`` when forced, with who and why.
        """
        repo = normalize_repository(repository)
        env = check_environment(environment)
        actor = check_actor("actor", actor)
        check_id("deployment_id", deployment_id, required=False)
        reason = clean_text(reason)
        now = self.now()
        with self.write() as conn:
            row = conn.execute(
                select(_L.c.id, *_LOCK_COLUMNS)
                .where(_L.c.repository == repo, _L.c.environment == env)
                .with_for_update()
            ).first()
            if row is None:
                return None
            lock = _lock(row)
            if lock.expires_at <= now:
                conn.execute(delete(_L).where(_L.c.id == row.id))
                self._audit_expired(conn, lock, replaced_by=None)
                return None
            if not force:
                if deployment_id is not None and lock.deployment_id != deployment_id:
                    return None
                if deployment_id is None and lock.holder.lower() != actor.lower():
                    return None
            conn.execute(delete(_L).where(_L.c.id == row.id))
            self._append_audit(
                conn,
                actor=actor,
                action="lock.unlock" if force else "lock.release",
                target=environment_target(repo, env),
                details=lock.to_json(),
                reason=reason,
            )
            return lock

    def get_lock(self, repository: str, environment: str) -> EnvironmentLock | None:
        """The environment's live lock (an expired one is None)."""
        repo = normalize_repository(repository)
        env = check_environment(environment)
        now = self.now()
        with self.read() as conn:
            row = conn.execute(
                select(*_LOCK_COLUMNS).where(
                    _L.c.repository == repo, _L.c.environment == env, _L.c.expires_at > now
                )
            ).first()
        return None if row is None else _lock(row)

    def list_locks(self, repository: str) -> list[EnvironmentLock]:
        """The repository's live locks, by environment."""
        repo = normalize_repository(repository)
        now = self.now()
        with self.read() as conn:
            rows = conn.execute(
                select(*_LOCK_COLUMNS)
                .where(_L.c.repository == repo, _L.c.expires_at > now)
                .order_by(_L.c.environment)
            ).all()
        return [_lock(row) for row in rows]

    def _audit_expired(self, conn: Connection, lock: EnvironmentLock, *, replaced_by: str | None) -> None:
        details = lock.to_json()
        if replaced_by is not None:
            details["replaced_by"] = replaced_by
        self._append_audit(
            conn,
            actor=SYSTEM_ACTOR,
            action="lock.expired",
            target=environment_target(lock.repository, lock.environment),
            details=details,
            reason=None,
        )

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
        if status == "success":
            stage = "done"
        now = self.now()
        values = {
            "repository": repo,
            "environment": check_environment(environment),
            "release_id": check_release_id("release_id", release_id, required=True),
            "commit_sha": check_commit_sha("commit_sha", commit_sha, required=True),
            "kind": check_choice("kind", kind, get_args(DeployKind)),
            "status": _check_status(status),
            "stage": _check_stage(stage),
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
            "finished_at": now if status in FINAL_DEPLOY_STATUSES else None,
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
            values["status"] = _check_status(status)
        if stage is not KEEP:
            values["stage"] = _check_stage(stage)
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
            if status_changed and before.finished:
                raise FinalStateError(
                    f"deployment record {record_id} finished with {before.status!r}; "
                    f"it cannot become {new_status!r}"
                )
            if status_changed and new_status in FINAL_DEPLOY_STATUSES:
                values["finished_at"] = now
                if new_status == "success" and stage is KEEP:
                    values["stage"] = "done"
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
        status = _check_status(status)
        if stage is not None:
            stage = _check_stage(stage)
        logs_url = check_url("logs_url", logs_url)
        manifest_hash = check_short_text("manifest_hash", manifest_hash, 100, required=False)
        check_release_id("previous_release", previous_release, required=False)
        if finished_at is not None:
            check_when("finished_at", finished_at)
        actor = check_actor("actor", actor)
        now = self.now()
        final = status in FINAL_DEPLOY_STATUSES
        new_values = {
            "repository": repo,
            "environment": check_environment(environment),
            "release_id": check_release_id("release_id", release_id, required=True),
            "commit_sha": check_commit_sha("commit_sha", commit_sha, required=True),
            "kind": check_choice("kind", kind, get_args(DeployKind)),
            "status": status,
            "stage": stage or _stage_for(status, "queued"),
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
            changes: dict[str, Any] = {}
            if not before.finished and _STATUS_RANK[status] >= _STATUS_RANK[before.status]:
                if status != before.status:
                    changes["status"] = status
                    if final:
                        changes["finished_at"] = finished_at or now
                candidate = stage or _stage_for(status, before.stage)
                if _STAGE_RANK[candidate] > _STAGE_RANK[before.stage]:
                    changes["stage"] = candidate
                if logs_url is not None and logs_url != before.logs_url:
                    changes["logs_url"] = logs_url
            for name, value in (
                ("manifest_hash", manifest_hash),
                ("previous_release", previous_release),
                ("logs_url", logs_url),
            ):
                if value is not None and getattr(before, name) is None:
                    changes[name] = value
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
                row.environment: _lock(row)
                for row in conn.execute(
                    select(*_LOCK_COLUMNS).where(_L.c.repository == repo, _L.c.expires_at > now)
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

    # -- releases cache ----------------------------------------------------------------------------

    def upsert_release(self, info: ReleaseInfo) -> None:
        """Store (or refresh) a release's cache entry; idempotent by (repository, release_id)."""
        values = {
            "repository": normalize_repository(info.repository),
            "release_id": check_release_id("release_id", info.release_id, required=True),
            "commit_sha": check_commit_sha("commit_sha", info.commit_sha, required=True),
            "manifest_hash": check_short_text("manifest_hash", info.manifest_hash, 100, required=True),
            "modules": _modules(info.modules),
            "image": check_short_text("image", info.image, 500, required=True),
            "build_key": check_short_text("build_key", info.build_key, 100, required=True),
            "build_id": check_short_text("build_id", info.build_id, 128, required=False),
            "previous_release": check_release_id("previous_release", info.previous_release, required=False),
            "created_at": check_when("created_at", info.created_at),
        }
        statement = self.insert(_R).values(**values)
        refreshed = {
            name: value for name, value in values.items() if name not in ("repository", "release_id")
        }
        with self.write() as conn:
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[_R.c.repository, _R.c.release_id], set_=refreshed
                )
            )

    def get_release(self, repository: str, release_id: str) -> ReleaseInfo | None:
        repo = normalize_repository(repository)
        check_release_id("release_id", release_id, required=True)
        with self.read() as conn:
            row = conn.execute(
                select(*_RELEASE_COLUMNS).where(_R.c.repository == repo, _R.c.release_id == release_id)
            ).first()
        return None if row is None else _release(row)

    def releases(self, repository: str, *, limit: int = 100, before: str | None = None) -> list[ReleaseInfo]:
        """Newest release id first (ids sort as text in time order), at most ``limit`` (1..1000);
        ``before``: only ids older than that one (the next page)."""
        repo = normalize_repository(repository)
        check_limit(limit)
        query = select(*_RELEASE_COLUMNS).where(_R.c.repository == repo)
        if before is not None:
            query = query.where(_R.c.release_id < check_release_id("before", before, required=True))
        with self.read() as conn:
            rows = conn.execute(query.order_by(_R.c.release_id.desc()).limit(limit)).all()
        return [_release(row) for row in rows]

    def releases_at_commit(self, repository: str, commit_sha: str) -> list[ReleaseInfo]:
        """The releases made from ``commit_sha``, newest id first."""
        repo = normalize_repository(repository)
        check_commit_sha("commit_sha", commit_sha, required=True)
        with self.read() as conn:
            rows = conn.execute(
                select(*_RELEASE_COLUMNS)
                .where(_R.c.repository == repo, _R.c.commit_sha == commit_sha)
                .order_by(_R.c.release_id.desc())
            ).all()
        return [_release(row) for row in rows]


def _stage_for(status: str, stage_now: str) -> DeployStage:
    """The stage a status implies: queued → queued, in_progress → deploy, success → done; any other
    final status leaves the stage where the deployment stopped."""
    if status == "queued":
        return "queued"
    if status == "in_progress":
        return "deploy"
    if status == "success":
        return "done"
    return _check_stage(stage_now)


def _modules(modules: tuple[str, ...]) -> list[str]:
    if isinstance(modules, str) or not all(isinstance(m, str) and 0 < len(m) <= 200 for m in modules):
        raise ValueError("modules must be a sequence of module names")
    return list(modules)
