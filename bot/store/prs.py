"""What the bot last wrote on each pull request: sticky comment id, check run id, head handled.

A cache that saves API calls (the sticky comment is found by id instead of by listing comments);
GitHub stays the system of record, so a lost row only costs a lookup by the hidden marker.

Stale results: two workers may handle two pushes to the same PR at once. ``save_pr_state`` is a
compare-and-set on ``head_sha``: it stores only if the head stored now is still the one the
handler read before it started (``expected_head_sha``), and says whether it won. The protocol for
a handler: read the state, *then* re-read the PR's head from GitHub, do the work, then
``save_pr_state(expected_head_sha=<head read first>)``; only a winner publishes its result. A
handler of an older head either finds the PR's head has moved on, or loses the compare-and-set to
the newer handler that stored first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select, update

from bot.domain.ids import is_git_sha
from bot.domain.records.checks import check_number, normalize_repository
from bot.domain.records.common import KEEP, Keep
from bot.domain.records.prs import PrState
from bot.store.base import StoreBase
from bot.store.models import PR_STATE

__all__ = ["KEEP", "Keep", "PrState", "PrStateMixin", "normalize_repository"]

_T = PR_STATE
_C = _T.c


def _check_number(number: int) -> None:
    check_number("pull request number", number, required=True)


class PrStateMixin(StoreBase):
    def get_pr_state(self, repository: str, number: int) -> PrState | None:
        repo = normalize_repository(repository)
        _check_number(number)
        with self.read() as conn:
            row = conn.execute(
                select(
                    _C.repository,
                    _C.number,
                    _C.comment_id,
                    _C.check_run_id,
                    _C.head_sha,
                    _C.manifest_hash,
                    _C.updated_at,
                ).where(_C.repository == repo, _C.number == number)
            ).first()
        return None if row is None else PrState(**row._asdict())

    def save_pr_state(
        self,
        repository: str,
        number: int,
        *,
        head_sha: str,
        expected_head_sha: str | None,
        comment_id: int | Keep | None = KEEP,
        check_run_id: int | Keep | None = KEEP,
        manifest_hash: str | Keep | None = KEEP,
    ) -> bool:
        """Compare-and-set: store ``head_sha`` (and the given fields) only if the stored head is
        still ``expected_head_sha`` (None: no head stored yet, e.g. a PR never seen). Returns True
        if this call won and stored, False if another handler stored a different head first.

        To update the comment or check id for the head you already own, pass the same sha as
        ``head_sha`` and ``expected_head_sha``.
        """
        repo = normalize_repository(repository)
        _check_number(number)
        for name, sha in (("head_sha", head_sha), ("expected_head_sha", expected_head_sha)):
            if sha is not None and not is_git_sha(sha):
                raise ValueError(f"{name} is not a commit sha: {sha[:80]!r}")
        values: dict[str, Any] = {"head_sha": head_sha, "updated_at": self.now()}
        for name, value in (
            ("comment_id", comment_id),
            ("check_run_id", check_run_id),
            ("manifest_hash", manifest_hash),
        ):
            if value is not KEEP:
                values[name] = value
        key = (_C.repository == repo) & (_C.number == number)
        with self.write() as conn:
            if expected_head_sha is None:
                inserted = conn.execute(
                    self.insert(_T)
                    .values(repository=repo, number=number, **values)
                    .on_conflict_do_nothing(index_elements=[_C.repository, _C.number])
                    .returning(_C.id)
                ).first()
                if inserted is not None:
                    return True
                current: ColumnElement[bool] = _C.head_sha.is_(None)
            else:
                current = _C.head_sha == expected_head_sha
            # On PostgreSQL a concurrent UPDATE of the row makes this one wait, then re-check the
            # WHERE clause against the committed row: the loser matches nothing.
            result = conn.execute(update(_T).where(key, current).values(**values))
            return result.rowcount == 1
