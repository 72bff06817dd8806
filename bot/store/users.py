"""Local accounts of the web console (single-host mode, docs/console.md): a login, a password hash and
a role (read / write / maintain / admin) that the same `authorize` rules read as a repository role.

Passwords are hashed with the standard library's scrypt (RFC 7914): a memory-hard function, what
OWASP lists next to Argon2id for passwords, with no native dependency to install or keep up to date.
The parameters are stored with each hash, so they can be raised later without invalidating old ones.
A sign-in with an unknown login still computes one hash, so its timing does not tell which logins exist.
Every change is audited in its own transaction; the hash never leaves this module.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import cache
from typing import Final

from sqlalchemy import delete, select, update

from bot.domain.ids import is_app_login, is_login
from bot.domain.records.checks import check_actor
from bot.domain.records.common import RecordNotFoundError
from bot.domain.records.users import ACCOUNT_ROLES, AccountRole, ConsoleUser, DuplicateUserError
from bot.store.audit import AuditMixin
from bot.store.models import CONSOLE_USERS

__all__ = [
    "ACCOUNT_ROLES",
    "AccountRole",
    "ConsoleUser",
    "DuplicateUserError",
    "UsersMixin",
    "check_password",
    "hash_password",
    "password_matches",
]

MIN_PASSWORD_CHARS: Final = 12
MAX_PASSWORD_CHARS: Final = 1024  # hashing is memory-hard, not length-bound, but bodies are capped anyway
# n=2**15, r=8: 32 MiB and ~0.1 s per hash on this machine; p=1
_SCRYPT_N: Final = 2**15
_SCRYPT_R: Final = 8
_SCRYPT_P: Final = 1
_MAXMEM: Final = 64 * 1024 * 1024

_T = CONSOLE_USERS
_C = _T.c


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_password(password: str) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise ValueError(f"a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")
    return password


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash``: the parameters travel with the hash."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        check_password(password).encode("utf-8"),
        salt=salt,
        n=_SCRYPT_N,
        r=_SCRYPT_R,
        p=_SCRYPT_P,
        maxmem=_MAXMEM,
        dklen=32,
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def password_matches(password: str, stored: str) -> bool:
    """Constant-time comparison with a stored hash; a malformed hash matches nothing."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode("utf-8")[: MAX_PASSWORD_CHARS * 4],
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_MAXMEM,
            dklen=len(_unb64(expected)),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, _unb64(expected))


@cache
def _dummy_hash() -> str:
    """A hash of a random password: what an unknown login is compared against (same cost as a real one)."""
    return hash_password(secrets.token_urlsafe(24))


def _login(login: str) -> str:
    if not isinstance(login, str) or not is_login(login) or is_app_login(login):
        raise ValueError("a login has letters, digits and single hyphens (at most 39 characters)")
    return login.lower()


def _role(role: str) -> AccountRole:
    if role not in ACCOUNT_ROLES:
        raise ValueError(f"role must be one of: {', '.join(ACCOUNT_ROLES)}")
    return role


class UsersMixin(AuditMixin):
    def add_user(self, login: str, password: str, role: str, *, actor: str) -> ConsoleUser:
        login, role_ = _login(login), _role(role)
        hashed = hash_password(password)  # outside the transaction: it takes ~0.1 s
        now = self.now()
        with self.write() as conn:
            if conn.execute(select(_C.id).where(_C.login == login)).first() is not None:
                raise DuplicateUserError(f"the account {login} exists already")
            conn.execute(
                _T.insert().values(
                    login=login, password_hash=hashed, role=role_, created_at=now, password_changed_at=now
                )
            )
            self._append_audit(
                conn,
                actor=check_actor("actor", actor),
                action="console.user.add",
                target=login,
                details={"role": role_},
                reason=None,
            )
        return ConsoleUser(login=login, role=role_, created_at=now, password_changed_at=now)

    def list_users(self) -> list[ConsoleUser]:
        with self.read() as conn:
            rows = conn.execute(
                select(_C.login, _C.role, _C.created_at, _C.password_changed_at).order_by(_C.login)
            ).all()
        return [ConsoleUser(**row._asdict()) for row in rows]

    def get_user(self, login: str) -> ConsoleUser | None:
        with self.read() as conn:
            row = conn.execute(
                select(_C.login, _C.role, _C.created_at, _C.password_changed_at).where(
                    _C.login == login.lower()
                )
            ).first()
        return ConsoleUser(**row._asdict()) if row is not None else None

    def role_of(self, login: str) -> AccountRole | None:
        """The account's role, or None when there is no such account (a `Permission` value: the local
        forge's permissions capability answers from here)."""
        user = self.get_user(login)
        return user.role if user is not None else None

    def remove_user(self, login: str, *, actor: str) -> None:
        login = _login(login)
        with self.write() as conn:
            if conn.execute(delete(_T).where(_C.login == login)).rowcount == 0:
                raise RecordNotFoundError(f"no account {login}")
            self._append_audit(
                conn,
                actor=check_actor("actor", actor),
                action="console.user.remove",
                target=login,
                details=None,
                reason=None,
            )

    def set_password(self, login: str, password: str, *, actor: str) -> None:
        login = _login(login)
        hashed = hash_password(password)
        with self.write() as conn:
            changed = conn.execute(
                update(_T)
                .where(_C.login == login)
                .values(password_hash=hashed, password_changed_at=self.now())
            ).rowcount
            if changed == 0:
                raise RecordNotFoundError(f"no account {login}")
            self._append_audit(
                conn,
                actor=check_actor("actor", actor),
                action="console.user.password",
                target=login,
                details=None,
                reason=None,
            )

    def set_role(self, login: str, role: str, *, actor: str) -> ConsoleUser:
        login, role_ = _login(login), _role(role)
        with self.write() as conn:
            before = conn.execute(select(_C.role).where(_C.login == login)).scalar_one_or_none()
            if before is None:
                raise RecordNotFoundError(f"no account {login}")
            conn.execute(update(_T).where(_C.login == login).values(role=role_))
            self._append_audit(
                conn,
                actor=check_actor("actor", actor),
                action="console.user.role",
                target=login,
                details={"from": before, "to": role_},
                reason=None,
            )
        user = self.get_user(login)
        assert user is not None
        return user

    def verify_password(self, login: str, password: str) -> ConsoleUser | None:
        """The account when the password is its own, else None. Unknown and malformed logins cost one
        hash as well (no timing oracle on which accounts exist)."""
        row = None
        if isinstance(login, str) and is_login(login):
            with self.read() as conn:
                row = conn.execute(select(_T).where(_C.login == login.lower())).first()
        if row is None:
            password_matches(password, _dummy_hash())
            return None
        if not password_matches(password, row.password_hash):
            return None
        return ConsoleUser(
            login=row.login,
            role=row.role,
            created_at=row.created_at,
            password_changed_at=row.password_changed_at,
        )
