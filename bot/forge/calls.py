"""What every forge does around each request: count it for the task (call budgets) and check the
write fence before a write (no write from a job its worker no longer holds).

Calls made inside ``with count_calls() as counter:`` are counted per task, which is how call budgets
(e.g. "at most 5 calls for a first validation") are measured and tested.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

__all__ = ["CallCounter", "check_write_fence", "count_calls", "record_call", "write_fence"]


@dataclass
class CallCounter:
    """API calls made in one task (``with count_calls() as counter``). ``token_exchanges`` counts the
    App's installation-token requests separately: they happen about once an hour, not per task."""

    calls: int = 0
    token_exchanges: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.calls + self.token_exchanges


_COUNTERS: contextvars.ContextVar[tuple[CallCounter, ...]] = contextvars.ContextVar(
    "modbot_forge_counters", default=()
)


@contextmanager
def count_calls() -> Iterator[CallCounter]:
    """Count the forge calls made in this context (thread / asyncio task); nests."""
    counter = CallCounter()
    token = _COUNTERS.set((*_COUNTERS.get(), counter))
    try:
        yield counter
    finally:
        _COUNTERS.reset(token)


def record_call(operation: str, *, token_exchange: bool = False) -> None:
    """Called by every Forge implementation once per API request it makes."""
    for counter in _COUNTERS.get():
        if token_exchange:
            counter.token_exchanges += 1
        else:
            counter.calls += 1
        counter.by_operation[operation] = counter.by_operation.get(operation, 0) + 1


# --- the write fence: no GitHub write from a job that is no longer its worker's ---------------------------
_WRITE_FENCES: contextvars.ContextVar[tuple[Callable[[str], None], ...]] = contextvars.ContextVar(
    "modbot_forge_write_fences", default=()
)


@contextmanager
def write_fence(check: Callable[[str], None]) -> Iterator[None]:
    """Call ``check(operation)`` before every GitHub write (any request but a GET, each retry included)
    made in this context (thread / asyncio task); it raises to refuse the write. The hook for leases: the
    worker wraps a job's handler in ``write_fence`` with a check that raises once its lease on the job is
    lost, so a worker that lost a job writes nothing more for it. Nests: every fence is checked."""
    token = _WRITE_FENCES.set((*_WRITE_FENCES.get(), check))
    try:
        yield
    finally:
        _WRITE_FENCES.reset(token)


def check_write_fence(operation: str) -> None:
    """Called by every Forge implementation before each write request it sends."""
    for check in _WRITE_FENCES.get():
        check(operation)
