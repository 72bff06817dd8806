"""The console's local accounts (single-host mode): an account's record (never its password hash) and the
roles an account may have, read by the same `authorize` rules as a repository role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

__all__ = ["ACCOUNT_ROLES", "AccountRole", "ConsoleUser", "DuplicateUserError"]

AccountRole = Literal["read", "write", "maintain", "admin"]
ACCOUNT_ROLES: tuple[AccountRole, ...] = get_args(AccountRole)


class DuplicateUserError(ValueError):
    """An account with this login exists already."""


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """An account (never its hash)."""

    login: str
    role: AccountRole
    created_at: datetime
    password_changed_at: datetime
