"""The ``Store``: one object the rest of the bot is given (the webhook, the worker, the admin API)."""

from __future__ import annotations

import logging

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from bot.store.base import Clock, utc_now
from bot.store.builds import BuildsMixin
from bot.store.deployments import DeploymentsMixin
from bot.store.engine import DEFAULT_DATABASE_URL, describe_url, make_engine
from bot.store.installations import InstallationsMixin
from bot.store.locks import LocksMixin
from bot.store.migrate import upgrade_to_head
from bot.store.prs import PrStateMixin
from bot.store.queue import DEFAULT_MAX_ATTEMPTS, QueueMixin
from bot.store.queue_operations import QueueOperationsMixin
from bot.store.releases import ReleasesMixin
from bot.store.timings import StoreTimings, milliseconds
from bot.store.tokens import TokenMixin
from bot.store.users import UsersMixin

__all__ = ["Store", "open_store"]

log = logging.getLogger(__name__)


class Store(
    QueueMixin,
    QueueOperationsMixin,
    PrStateMixin,
    TokenMixin,
    LocksMixin,
    DeploymentsMixin,
    ReleasesMixin,
    BuildsMixin,
    UsersMixin,
    InstallationsMixin,
):
    """Delivery queue, PR state, admin tokens, audit log, environment locks, deployment history,
    releases cache, builds and the console's local accounts over one SQLAlchemy engine.

    Thread-safe: every method takes its own pooled connection and runs one transaction. Create
    one per process (after any fork) and share it between threads.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        clock: Clock = utc_now,
        timings: StoreTimings | None = None,
    ) -> None:
        super().__init__(engine, clock=clock, timings=timings)
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.max_attempts = max_attempts


def open_store(
    url: str | URL = DEFAULT_DATABASE_URL,
    *,
    migrate: bool = True,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    clock: Clock = utc_now,
    timings: StoreTimings | None = None,
) -> Store:
    """Connect to ``url`` (``sqlite:///PATH`` or ``postgresql+psycopg://…``) and, by default,
    migrate the schema to this bot's head first: what ``modbot serve`` does at start-up.
    ``timings``: SQLite's waits and checkpoints (None: the defaults)."""
    if timings is None:
        engine = make_engine(url)
    else:
        engine = make_engine(
            url,
            busy_timeout_ms=milliseconds(timings.busy_timeout_seconds),
            wal_autocheckpoint_pages=timings.wal_autocheckpoint_pages,
        )
    try:
        if migrate:
            revision = upgrade_to_head(engine)
            log.info("store ready: %s (schema %s)", describe_url(engine.url), revision)
        return Store(engine, max_attempts=max_attempts, clock=clock, timings=timings)
    except BaseException:
        engine.dispose()
        raise
