"""The releases cache: a local copy of the ``release/*`` tags' records, so "which releases exist" and
"which release is at this commit" need no API call. Release ids sort as text in time order. The tags
stay the system of record (``modbot releases sync`` refreshes the cache from them); writing the cache
is not audited.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select

from bot.domain.records.checks import (
    check_commit_sha,
    check_limit,
    check_release_id,
    check_short_text,
    check_when,
    normalize_repository,
)
from bot.domain.records.releases import ReleaseInfo
from bot.store.base import StoreBase
from bot.store.models import RELEASES

__all__ = ["ReleasesMixin"]

_R = RELEASES

_RELEASE_COLUMNS = tuple(c for c in _R.c if c.name != "id")


def _release(row: Row[Any]) -> ReleaseInfo:
    values = row._asdict()
    values["modules"] = tuple(values["modules"])
    return ReleaseInfo(**values)


class ReleasesMixin(StoreBase):
    # -- releases cache ----------------------------------------------------------------------------

    def upsert_release(self, info: ReleaseInfo) -> None:
        """Store (or refresh) a release's cache entry; idempotent by (repository, release_id)."""
        values = {
            "repository": normalize_repository(info.repository),
            "release_id": check_release_id("release_id", info.release_id, required=True),
            "commit_sha": check_commit_sha("commit_sha", info.commit_sha, required=True),
            "manifest_hash": check_short_text("manifest_hash", info.manifest_hash, 100, required=True),
            "modules": _modules(info.modules),
            "image": check_short_text("image", info.image, 500, required=True),
            "build_key": check_short_text("build_key", info.build_key, 100, required=True),
            "build_id": check_short_text("build_id", info.build_id, 128, required=False),
            "previous_release": check_release_id("previous_release", info.previous_release, required=False),
            "created_at": check_when("created_at", info.created_at),
        }
        statement = self.insert(_R).values(**values)
        refreshed = {
            name: value for name, value in values.items() if name not in ("repository", "release_id")
        }
        with self.write() as conn:
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[_R.c.repository, _R.c.release_id], set_=refreshed
                )
            )

    def get_release(self, repository: str, release_id: str) -> ReleaseInfo | None:
        repo = normalize_repository(repository)
        check_release_id("release_id", release_id, required=True)
        with self.read() as conn:
            row = conn.execute(
                select(*_RELEASE_COLUMNS).where(_R.c.repository == repo, _R.c.release_id == release_id)
            ).first()
        return None if row is None else _release(row)

    def releases(self, repository: str, *, limit: int = 100, before: str | None = None) -> list[ReleaseInfo]:
        """Newest release id first (ids sort as text in time order), at most ``limit`` (1..1000);
        ``before``: only ids older than that one (the next page)."""
        repo = normalize_repository(repository)
        check_limit(limit)
        query = select(*_RELEASE_COLUMNS).where(_R.c.repository == repo)
        if before is not None:
            query = query.where(_R.c.release_id < check_release_id("before", before, required=True))
        with self.read() as conn:
            rows = conn.execute(query.order_by(_R.c.release_id.desc()).limit(limit)).all()
        return [_release(row) for row in rows]

    def releases_at_commit(self, repository: str, commit_sha: str) -> list[ReleaseInfo]:
        """The releases made from ``commit_sha``, newest id first."""
        repo = normalize_repository(repository)
        check_commit_sha("commit_sha", commit_sha, required=True)
        with self.read() as conn:
            rows = conn.execute(
                select(*_RELEASE_COLUMNS)
                .where(_R.c.repository == repo, _R.c.commit_sha == commit_sha)
                .order_by(_R.c.release_id.desc())
            ).all()
        return [_release(row) for row in rows]


def _modules(modules: tuple[str, ...]) -> list[str]:
    if isinstance(modules, str) or not all(isinstance(m, str) and 0 < len(m) <= 200 for m in modules):
        raise ValueError("modules must be a sequence of module names")
    return list(modules)
