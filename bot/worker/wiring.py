"""Which handler runs for which event, with what it needs (the forge of the delivery's installation).

GitHub call and error metrics are fed by the forge provider's `ForgeStats` hooks (`modbot serve`),
which see every request, retries and admin API calls included, so nothing here counts them again."""

from __future__ import annotations

import os
import socket
from typing import Any

from bot.handlers.pull_request import handle_pull_request
from bot.runtime import Runtime
from bot.worker import Handler, Worker


def build_handlers(runtime: Runtime) -> dict[str, Handler]:
    def pull_request(job: Any) -> str:
        forge = runtime.forges.for_installation(job.installation_id)
        return handle_pull_request(
            job.payload, job.received_at, forge=forge, store=runtime.store, settings=runtime.settings
        )

    return {"pull_request": pull_request}


def build_worker(runtime: Runtime, index: int) -> Worker:
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{index}"
    return Worker(runtime.store, build_handlers(runtime), runtime.metrics, worker_id)
