"""A process's worker threads: started with the server, stopped on shutdown with a short grace.

On SIGTERM or Ctrl-C (`modbot serve`'s shutdown) the workers stop taking jobs at once; a job in flight
may finish within ``grace`` seconds, and is then handed back (released: pending, due now, the attempt
not counted), so another replica or the restarted bot takes it immediately instead of after its lease.
A handler still running after that writes nothing more (its lease check fails) and dies with the
process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.worker import Worker

__all__ = ["WorkerPool"]

log = logging.getLogger(__name__)


@dataclass
class WorkerPool:
    workers: Sequence[Worker]
    stop: threading.Event
    wake: threading.Event
    _threads: list[threading.Thread] = field(default_factory=list, init=False)

    def start(self) -> WorkerPool:
        for index, worker in enumerate(self.workers):
            thread = threading.Thread(
                target=worker.run_forever,
                args=(self.stop, self.wake),
                name=f"modbot-worker-{index}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self

    def shutdown(self, grace: float) -> int:
        """Stop taking jobs, wait up to ``grace`` seconds for the jobs in flight, hand back the rest.
        Returns how many jobs were handed back."""
        self.stop.set()
        self.wake.set()
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        handed = sum(worker.hand_back() for worker in self.workers)
        for thread in self._threads:
            thread.join(timeout=1.0)  # a handler past its grace may still be in a GitHub call
        # a job claimed just as the grace ended may only now be in flight: hand it back too
        handed += sum(
            worker.hand_back()
            for worker, thread in zip(self.workers, self._threads, strict=False)
            if thread.is_alive()
        )
        if handed:
            log.warning("shutdown: handed %d job(s) in flight back to the queue", handed)
        return handed
