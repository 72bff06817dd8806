"""Which GitHub App installation a repository's deliveries came from: what a caller that starts from a
repository (the web console) needs to get that installation's forge."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.store.base import StoreBase
from bot.store.models import DELIVERIES
from bot.store.prs import normalize_repository

__all__ = ["InstallationsMixin"]

_C = DELIVERIES.c


class InstallationsMixin(StoreBase):
    def installation_of(self, repository: str) -> int | None:
        """The installation id of the newest delivery from ``repository`` that named one (None: none has).
        GitHub's spelling of the name is kept in deliveries, so the match ignores case."""
        repo = normalize_repository(repository)
        with self.read() as conn:
            return conn.execute(
                select(_C.installation_id)
                .where(func.lower(_C.repository) == repo, _C.installation_id.is_not(None))
                .order_by(_C.id.desc())
                .limit(1)
            ).scalar_one_or_none()
