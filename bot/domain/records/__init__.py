"""The values the store's aggregates take and give back: records, statuses, the errors of a record's
life (``LockHeld``, ``FinalStateError``, …) and the checks of what they hold.

Pure (no SQLAlchemy, nothing above ``bot.domain``): the use cases pass and receive these through the
store protocols (``bot/app/ports/store.py``) without importing the database adapter; ``bot.store``
implements those protocols and re-exports these names for its other callers. docs/store.md.
"""

from bot.domain.records.audit import AUDIT_OUTCOMES, AuditEntry, AuditOutcome, AuditPage
from bot.domain.records.builds import (
    BUILD_ID_PATTERN,
    FINAL_BUILD_STATUSES,
    BuildRecord,
    BuildStage,
    BuildStatus,
    is_build_id,
    new_build_id,
)
from bot.domain.records.common import (
    KEEP,
    MAX_PAGE,
    MAX_REASON_CHARS,
    SYSTEM_ACTOR,
    FinalStateError,
    Keep,
    RecordNotFoundError,
    environment_target,
)
from bot.domain.records.deployments import (
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
)
from bot.domain.records.prs import PrState
from bot.domain.records.queue import (
    DEFAULT_MAX_ATTEMPTS,
    FINISHED_STATUSES,
    DeadLetter,
    DeadLetterPage,
    DeliveryInfo,
    DeliveryStatus,
    IncomingDelivery,
    Job,
    LeaseLostError,
    RecordOutcome,
    default_backoff,
)
from bot.domain.records.releases import ReleaseInfo, ReleaseTagRecord
from bot.domain.records.tokens import TOKEN_PREFIX, AdminToken
from bot.domain.records.users import ACCOUNT_ROLES, AccountRole, ConsoleUser, DuplicateUserError

__all__ = [
    "ACCOUNT_ROLES",
    "AUDIT_OUTCOMES",
    "BUILD_ID_PATTERN",
    "DEFAULT_MAX_ATTEMPTS",
    "FINAL_BUILD_STATUSES",
    "FINAL_DEPLOY_STATUSES",
    "FINISHED_STATUSES",
    "KEEP",
    "MAX_PAGE",
    "MAX_REASON_CHARS",
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
    "IncomingDelivery",
    "Job",
    "Keep",
    "LeaseLostError",
    "LockHeld",
    "LockLost",
    "LockPurpose",
    "PrState",
    "RecordNotFoundError",
    "RecordOutcome",
    "ReleaseInfo",
    "ReleaseTagRecord",
    "default_backoff",
    "environment_target",
    "is_build_id",
    "new_build_id",
]
