"""The bot's durable state: webhook deliveries and their jobs, PR state, admin tokens, audit log.

SQLite file by default, PostgreSQL for several replicas. No web or GitHub code here: the webhook,
the worker and the admin API are given a ``Store``. See docs/store.md.
"""

from bot.store.audit import AuditEntry, AuditPage
from bot.store.engine import DEFAULT_DATABASE_URL, UnsupportedDatabaseError, describe_url, make_engine
from bot.store.migrate import SchemaTooNewError, current_revision, head_revision, upgrade_to_head
from bot.store.models import DeliveryStatus
from bot.store.prs import KEEP, PrState
from bot.store.queue import DeliveryInfo, Job, LeaseLostError, RecordOutcome, default_backoff
from bot.store.store import Store, open_store
from bot.store.tokens import TOKEN_PREFIX, AdminToken

__all__ = [
    "DEFAULT_DATABASE_URL",
    "KEEP",
    "TOKEN_PREFIX",
    "AdminToken",
    "AuditEntry",
    "AuditPage",
    "DeliveryInfo",
    "DeliveryStatus",
    "Job",
    "LeaseLostError",
    "PrState",
    "RecordOutcome",
    "SchemaTooNewError",
    "Store",
    "UnsupportedDatabaseError",
    "current_revision",
    "default_backoff",
    "describe_url",
    "head_revision",
    "make_engine",
    "open_store",
    "upgrade_to_head",
]
