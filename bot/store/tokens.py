"""Admin API bearer tokens: ``mbt_`` + 32 random bytes (URL-safe base64), shown once.

Only the token's SHA-256 is stored. A token has 256 random bits, so a fast hash is the right tool
(a slow password hash protects low-entropy secrets; here it would only slow every request). The
lookup is by hash, then the hashes are compared in constant time. Creating and revoking a token
writes an audit entry in the same transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select, update

from bot.domain.records.tokens import TOKEN_PREFIX, TOKEN_SHAPE, AdminToken
from bot.store.audit import AuditMixin
from bot.store.models import ADMIN_TOKENS

__all__ = ["TOKEN_PREFIX", "AdminToken", "TokenMixin", "hash_token"]

_T = ADMIN_TOKENS
_C = _T.c


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_PUBLIC_COLUMNS = (_C.id, _C.name, _C.created_at, _C.last_used_at, _C.revoked_at)


class TokenMixin(AuditMixin):
    def create_admin_token(
        self, name: str, *, actor: str, reason: str | None = None
    ) -> tuple[AdminToken, str]:
        """A new token named ``name``: returns its record and the token, which is not stored
        and cannot be shown again."""
        name = name.strip()
        if not name or len(name) > 100:
            raise ValueError("a token name is required (at most 100 characters)")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self.now()
        with self.write() as conn:
            row = conn.execute(
                _T.insert()
                .values(name=name, token_sha256=hash_token(token), created_at=now)
                .returning(*_PUBLIC_COLUMNS)
            ).one()
            record = AdminToken(**row._asdict())
            self._append_audit(
                conn,
                actor=actor,
                action="admin_token.create",
                target=f"admin_token:{record.id}",
                details={"name": name},
                reason=reason,
            )
        return record, token

    def verify_admin_token(self, token: str) -> AdminToken | None:
        """The active token's record if ``token`` is valid (and its last use is now), else None."""
        if not TOKEN_SHAPE.fullmatch(token):
            return None
        digest = hash_token(token)
        with self.read() as conn:  # a flood of wrong tokens must not take the SQLite write lock
            row = conn.execute(
                select(_C.token_sha256, *_PUBLIC_COLUMNS).where(
                    _C.token_sha256 == digest, _C.revoked_at.is_(None)
                )
            ).first()
        if row is None or not hmac.compare_digest(row.token_sha256, digest):
            return None
        now = self.now()
        with self.write() as conn:
            used = conn.execute(
                update(_T).where(_C.id == row.id, _C.revoked_at.is_(None)).values(last_used_at=now)
            )
            if used.rowcount != 1:  # revoked meanwhile
                return None
        return AdminToken(
            id=row.id, name=row.name, created_at=row.created_at, last_used_at=now, revoked_at=None
        )

    def list_admin_tokens(self, *, include_revoked: bool = False) -> list[AdminToken]:
        query = select(*_PUBLIC_COLUMNS).order_by(_C.id)
        if not include_revoked:
            query = query.where(_C.revoked_at.is_(None))
        with self.read() as conn:
            return [AdminToken(**row._asdict()) for row in conn.execute(query)]

    def revoke_admin_token(self, token_id: int, *, actor: str, reason: str | None = None) -> bool:
        """Revoke a token by id; False if there is no such active token."""
        now = self.now()
        with self.write() as conn:
            result = conn.execute(
                update(_T).where(_C.id == token_id, _C.revoked_at.is_(None)).values(revoked_at=now)
            )
            if result.rowcount != 1:
                return False
            self._append_audit(
                conn,
                actor=actor,
                action="admin_token.revoke",
                target=f"admin_token:{token_id}",
                details=None,
                reason=reason,
            )
        return True
