"""Keeping a job's lease while its handler runs, and giving the job back.

A `LeaseKeeper` renews the lease (`heartbeat`) from a thread of its own every `every` seconds, so the
lease holds however long the handler takes, including while the GitHub client sleeps between retries.
The lease is short (15 s by default) so that a worker that died is replaced quickly; renewing it often
keeps a live worker's job from being taken.

The keeper is also the job's "still mine?" check (`check`, installed as the forge's `write_fence`, which
every forge consults before each write request, retries included):
it fails once a renewal found the lease taken, once the lease ran out without a renewal (the store was
unreachable: another worker may have the job by now, so fail closed), and once the job was handed back.

`expire_abandoned` is the restart half: a bot that was killed leaves its jobs leased to its old worker
ids (``host:pid:index``); the restarted bot ends those leases at once when their process is gone, so the
jobs run again within seconds instead of after the lease.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from bot.store import LeaseLostError

__all__ = ["LeaseKeeper", "LeaseQueue", "expire_abandoned", "process_is_gone"]

log = logging.getLogger(__name__)


class LeaseQueue(Protocol):
    def heartbeat(self, job: Any, lease_seconds: float | None = None) -> Any: ...
    def release(self, job: Any) -> Any: ...


class LeaseKeeper:
    """Renews one job's lease every ``every`` seconds until `stop`; `check` raises once it is lost."""

    def __init__(
        self,
        queue: LeaseQueue,
        job: Any,
        *,
        every: float,
        taken_at: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``taken_at``: the ``clock`` reading from before the job was claimed (the lease may end
        earlier than a lease from now: the claim itself took time)."""
        self._queue = queue
        self._job = job
        self._every = every
        self._clock = clock
        self._lease_seconds = float(job.lease_seconds)
        start = clock() if taken_at is None else taken_at
        self._deadline = start + self._lease_seconds  # when the lease ends unless renewed
        self._lost: str | None = None  # why the lease is no longer ours
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._renew, name=f"modbot-lease-{job.id}", daemon=True)

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        """No more renewals (the job is about to be reported, or dropped)."""
        self._stopping.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()

    @property
    def lost(self) -> str | None:
        """Why the lease is lost, or None while it holds."""
        if self._lost is None and self._clock() >= self._deadline:
            return "the lease ran out before it could be renewed"
        return self._lost

    def check(self, operation: str = "write") -> None:
        """Raise `LeaseLostError` unless the job is still ours (the write fence: before ``operation``)."""
        reason = self.lost
        if reason is not None:
            raise LeaseLostError(
                f"job {self._job.id} (delivery {self._job.delivery_id}): {reason}; {operation} not sent"
            )

    def hand_back(self) -> bool:
        """Give the job back now (shutdown): no more writes from its handler, then `release` (pending,
        due now, the attempt not counted). False when the lease was already lost."""
        with self._lock:
            if self._lost is not None:
                return False
            self._lost = "handed back on shutdown"
        self._stopping.set()
        try:
            self._queue.release(self._job)
        except LeaseLostError:
            return False
        return True

    def _renew(self) -> None:
        while not self._stopping.wait(self._every):
            asked = self._clock()
            try:
                with self._lock:
                    if self._lost is not None:
                        return
                    self._queue.heartbeat(self._job)
            except LeaseLostError:
                self._lost = "the lease was taken by another worker"
                log.warning("job %s: lease lost; its writes stop and it will not be reported", self._job.id)
                return
            except Exception:  # the store failed: keep trying while the lease lasts
                log.warning("job %s: could not renew the lease; retrying", self._job.id, exc_info=True)
                if self._clock() >= self._deadline:
                    self._lost = "the lease ran out before it could be renewed"
                    return
                continue
            self._deadline = asked + self._lease_seconds


def process_is_gone(pid: int) -> bool:
    """True when no process has this id on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


class _AbandonedOwners(Protocol):
    def expire_abandoned_leases(self, owner_prefix: str, is_abandoned: Callable[[str], bool]) -> int: ...


def expire_abandoned(
    store: _AbandonedOwners, host: str, *, pid: int, is_gone: Callable[[int], bool] = process_is_gone
) -> int:
    """End the leases held by this host's dead workers (``host:pid:index``), before this process's
    workers start. A lease with this process's own pid is a previous incarnation's (a container's
    process is pid 1 on every start); one whose pid is alive belongs to a live bot and is kept."""

    def is_abandoned(owner: str) -> bool:
        parts = owner.removeprefix(f"{host}:").split(":")
        if len(parts) != 2 or not parts[0].isdigit():
            return False
        owner_pid = int(parts[0])
        return owner_pid == pid or is_gone(owner_pid)

    ended = store.expire_abandoned_leases(f"{host}:", is_abandoned)
    if ended:
        log.warning("took back %d job(s) leased by a previous run of this bot on %s", ended, host)
    return ended
