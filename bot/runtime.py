"""Everything a running bot shares: settings, the store, the forges, metrics, the worker wake-up.

Built once by `modbot serve` (or by tests with fakes) and handed to the web app and the worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import BotSettings
from bot.forge import ForgeProvider
from bot.forge.events import ForgeEvent
from bot.metrics import Metrics
from bot.store import Store


@dataclass
class Runtime:
    settings: BotSettings
    store: Store
    forges: ForgeProvider
    metrics: Metrics = field(default_factory=Metrics)
    wake: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    # what else reacts to a forge's events once their use case ran: in single-host mode the local runner
    # and deployer (a push to the default branch builds, a moved deploy tag deploys), as GitHub Actions
    # reacts to GitHub's. Empty in GitHub mode.
    observers: list[Callable[[ForgeEvent], None]] = field(default_factory=list)
    # single-host mode: the runner's and deployer's data folder (runs/<id>/ logs, environments/<env>/
    # deploy.log), which the console's log pages read; None in GitHub mode (the logs are GitHub's)
    host_dir: Path | None = None

    def __post_init__(self) -> None:
        self.metrics.queue_depth.set_function(lambda: float(self.store.queue_depth()))
        self.metrics.dead_letters.set_function(lambda: float(self.store.dead_letter_count()))
