""" "Is this job still mine?": the check every write to GitHub makes first.

A worker renews its job's lease while the handler runs (bot/worker/leases.py). When a renewal finds the
lease gone (the job was handed back on shutdown, or another worker took it after a stall), the job's
effects must stop: the worker installs a check around the handler with `guarded_by`, and the GitHub
client calls `check_lease()` before every request that writes (each retry included). The check raises
(the worker's `LeaseLostError`), so the handler unwinds without writing; the worker then drops the job
without reporting on it. Reads are not checked: they change nothing.

A context variable, not a parameter: the check must reach the client under any handler without every
handler passing it on. Outside a worker (the CLI, the admin API) no check is installed and nothing is
refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["check_lease", "guarded_by"]

_CHECK: ContextVar[Callable[[], None] | None] = ContextVar("modbot_lease_check", default=None)


def check_lease() -> None:
    """Raise if the job this thread works for is no longer ours; nothing outside a worker's job."""
    check = _CHECK.get()
    if check is not None:
        check()


@contextmanager
def guarded_by(check: Callable[[], None]) -> Iterator[None]:
    """Run the block with ``check`` as this context's lease check (it raises when the lease is lost)."""
    token = _CHECK.set(check)
    try:
        yield
    finally:
        _CHECK.reset(token)
