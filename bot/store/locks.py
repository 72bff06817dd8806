"""Environment locks: one deploy or rollback per environment at a time.

A lock is a row keyed by (repository, environment); taking it is ``INSERT … ON CONFLICT DO NOTHING``
and, when a row is there, reading it ``FOR UPDATE``: a live lock refuses (``LockHeld``), an expired one
is taken over in the same transaction. On PostgreSQL the unique key and the row lock make two
concurrent acquirers serialize (the second sees the first's committed row); on SQLite the write
transaction holds the database's write lock. Releasing deletes the row; the audit log keeps the
history. A release names what it releases (the GitHub Deployment id, or the holder), so a late event of
an old deploy cannot free the lock of a newer one; ``force`` (``/unlock``) releases whatever holds it.
When a lock is live and who may release it are bot/domain/deployment_state.py's rules.

Each method is one transaction; each change appends its audit entry in that same transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, get_args

from sqlalchemy import Column, Connection, Row, and_, delete, select, update

from bot.domain.deployment_state import (
    lock_is_live,
    may_release,
)
from bot.domain.records.checks import (
    check_actor,
    check_choice,
    check_environment,
    check_id,
    check_release_id,
    check_ttl,
    check_when,
    clean_text,
    normalize_repository,
)
from bot.domain.records.common import (
    SYSTEM_ACTOR,
    environment_target,
)
from bot.domain.records.deployments import (
    EnvironmentLock,
    LockHeld,
    LockLost,
    LockPurpose,
)
from bot.store.audit import AuditMixin
from bot.store.models import ENVIRONMENT_LOCKS

__all__ = ["LOCK_COLUMNS", "LocksMixin", "lock_from_row"]

_ACQUIRE_ROUNDS = 5

_L = ENVIRONMENT_LOCKS

LOCK_COLUMNS: tuple[Column[Any], ...] = (
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


def lock_from_row(row: Row[Any]) -> EnvironmentLock:
    """The lock in a row of ``LOCK_COLUMNS`` (a row may carry more, such as its ``id``)."""
    return EnvironmentLock(**{column.name: getattr(row, column.name) for column in LOCK_COLUMNS})


class LocksMixin(AuditMixin):
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
        values = {column.name: getattr(lock, column.name) for column in LOCK_COLUMNS}
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
                    row = conn.execute(select(_L.c.id, *LOCK_COLUMNS).where(key).with_for_update()).first()
                    if row is None:
                        continue
                    current = lock_from_row(row)
                    if lock_is_live(current, now):
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
                select(_L.c.id, *LOCK_COLUMNS)
                .where(_L.c.repository == repo, _L.c.environment == env)
                .with_for_update()
            ).first()
            if row is None:
                return None
            lock = lock_from_row(row)
            if not lock_is_live(lock, now):
                conn.execute(delete(_L).where(_L.c.id == row.id))
                self._audit_expired(conn, lock, replaced_by=None)
                return None
            if not may_release(lock, actor=actor, deployment_id=deployment_id, force=force):
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
                select(*LOCK_COLUMNS).where(
                    _L.c.repository == repo, _L.c.environment == env, _L.c.expires_at > now
                )
            ).first()
        return None if row is None else lock_from_row(row)

    def list_locks(self, repository: str) -> list[EnvironmentLock]:
        """The repository's live locks, by environment."""
        repo = normalize_repository(repository)
        now = self.now()
        with self.read() as conn:
            rows = conn.execute(
                select(*LOCK_COLUMNS)
                .where(_L.c.repository == repo, _L.c.expires_at > now)
                .order_by(_L.c.environment)
            ).all()
        return [lock_from_row(row) for row in rows]

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
