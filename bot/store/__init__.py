"""The bot's durable state: webhook deliveries and their jobs, PR state, admin tokens, audit log,
environment locks, deployment history, a releases cache and admin builds.

SQLite file by default, PostgreSQL for several replicas. No web or GitHub code here: the webhook,
the worker and the admin API are given a ``Store``. See docs/store.md.
"""

from bot.store.audit import AUDIT_OUTCOMES, AuditEntry, AuditOutcome, AuditPage
from bot.store.builds import (
    BUILD_ID_PATTERN,
    FINAL_BUILD_STATUSES,
    BuildRecord,
    BuildStage,
    BuildStatus,
    is_build_id,
    new_build_id,
)
from bot.store.deploys import (
    FINAL_DEPLOY_STATUSES,
    DeployKind,
    DeploymentRecord,
    DeploySource,
    DeployStage,
    DeployStatus,
    EnvironmentLock,
    EnvironmentState,
    LockHeld,
    LockLost,
    LockPurpose,
    ReleaseInfo,
)
from bot.store.engine import DEFAULT_DATABASE_URL, UnsupportedDatabaseError, describe_url, make_engine
from bot.store.local_forge import LocalForgeConflict, LocalForgeStore
from bot.store.migrate import SchemaTooNewError, current_revision, head_revision, upgrade_to_head
from bot.store.models import DeliveryStatus
from bot.store.prs import KEEP, PrState
from bot.store.queue import (
    DeadLetter,
    DeadLetterPage,
    DeliveryInfo,
    Job,
    LeaseLostError,
    RecordOutcome,
    default_backoff,
)
from bot.store.store import Store, open_store
from bot.store.tokens import TOKEN_PREFIX, AdminToken
from bot.store.users import ACCOUNT_ROLES, AccountRole, ConsoleUser, DuplicateUserError
from bot.store.values import SYSTEM_ACTOR, FinalStateError, RecordNotFoundError, environment_target

__all__ = [
    "ACCOUNT_ROLES",
    "AUDIT_OUTCOMES",
    "BUILD_ID_PATTERN",
    "DEFAULT_DATABASE_URL",
    "FINAL_BUILD_STATUSES",
    "FINAL_DEPLOY_STATUSES",
    "KEEP",
    "SYSTEM_ACTOR",
    "TOKEN_PREFIX",
    "AccountRole",
    "AdminToken",
    "AuditEntry",
    "AuditOutcome",
    "AuditPage",
    "BuildRecord",
    "BuildStage",
    "BuildStatus",
    "ConsoleUser",
    "DeadLetter",
    "DeadLetterPage",
    "DeliveryInfo",
    "DeliveryStatus",
    "DeployKind",
    "DeploySource",
    "DeployStage",
    "DeployStatus",
    "DeploymentRecord",
    "DuplicateUserError",
    "EnvironmentLock",
    "EnvironmentState",
    "FinalStateError",
    "Job",
    "LeaseLostError",
    "LocalForgeConflict",
    "LocalForgeStore",
    "LockHeld",
    "LockLost",
    "LockPurpose",
    "PrState",
    "RecordNotFoundError",
    "RecordOutcome",
    "ReleaseInfo",
    "SchemaTooNewError",
    "Store",
    "UnsupportedDatabaseError",
    "current_revision",
    "default_backoff",
    "describe_url",
    "environment_target",
    "head_revision",
    "is_build_id",
    "make_engine",
    "new_build_id",
    "open_store",
    "upgrade_to_head",
]
