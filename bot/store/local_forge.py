"""The local forge's records (an aggregate of its own): change requests, their reviews and comments,
reactions, and which commits modbot made. Checks, statuses, deployments and runs are in
`bot.store.local_forge_checks`; `LocalForgeStore` is both.

The git repository stays the system of record for files, branches, commits and tags; these rows are the
rest of what a forge keeps. Each method is one transaction. Numbers of change requests are given out per
repository inside the write transaction (SQLite: one writer; PostgreSQL: the unique constraint makes a
racing second insert fail rather than reuse a number).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, func, select, update

from bot.domain.forge_records import REVIEW_STATES, ChangeRequestRecord, CommentRecord, ReviewRecord
from bot.store.base import StoreBase
from bot.store.local_forge_checks import Announcer, LocalChecksMixin, as_record
from bot.store.local_forge_tables import (
    LF_BOT_COMMITS,
    LF_CHANGE_REQUESTS,
    LF_COMMENTS,
    LF_REACTIONS,
    LF_REVIEWS,
)
from bot.store.prs import normalize_repository
from bot.store.values import RecordNotFoundError, check_number

__all__ = ["LocalForgeConflict", "LocalForgeStore", "as_record"]

_CR = LF_CHANGE_REQUESTS.c


class LocalForgeConflict(ValueError):
    """The change is refused by the forge's rules (a second open change request for one branch, …)."""


class LocalForgeStore(LocalChecksMixin, StoreBase):
    # --- change requests -----------------------------------------------------------------------
    def open_change_request(
        self,
        repository: str,
        *,
        title: str,
        body: str,
        author: str,
        head_ref: str,
        head_repository: str | None,
        base_ref: str,
        head_sha: str,
        base_sha: str,
        draft: bool = False,
        announce: Announcer[ChangeRequestRecord] | None = None,
    ) -> ChangeRequestRecord:
        repo = normalize_repository(repository)
        if not title.strip():
            raise ValueError("a change request needs a title")
        now = self.now()
        with self.write() as conn:
            self._serialize(conn, repo)
            if self._open_for_branch(conn, repo, head_ref, head_repository) is not None:
                raise LocalForgeConflict(f"A change request already exists for {head_ref}.")
            number = (
                conn.execute(select(func.max(_CR.number)).where(_CR.repository == repo)).scalar_one_or_none()
                or 0
            ) + 1
            values = {
                "repository": repo,
                "number": number,
                "title": title[:500],
                "body": body,
                "author": author,
                "head_ref": head_ref,
                "head_repository": head_repository.lower() if head_repository else None,
                "base_ref": base_ref,
                "head_sha": head_sha,
                "base_sha": base_sha,
                "state": "open",
                "merged": False,
                "draft": draft,
                "merge_commit_sha": None,
                "merged_by": None,
                "created_at": now,
                "updated_at": now,
                "closed_at": None,
            }
            conn.execute(LF_CHANGE_REQUESTS.insert().values(**values))
            record = as_record(ChangeRequestRecord, values)
            if announce is not None:
                self._announce(conn, announce(record))
        return record

    def get_change_request(self, repository: str, number: int) -> ChangeRequestRecord | None:
        repo = normalize_repository(repository)
        check_number("change request number", number, required=True)
        with self.read() as conn:
            row = conn.execute(
                select(LF_CHANGE_REQUESTS).where(_CR.repository == repo, _CR.number == number)
            ).first()
        return as_record(ChangeRequestRecord, row) if row is not None else None

    def find_open_change_request(
        self, repository: str, head_ref: str, head_repository: str | None = None
    ) -> ChangeRequestRecord | None:
        repo = normalize_repository(repository)
        with self.read() as conn:
            return self._open_for_branch(conn, repo, head_ref, head_repository)

    def open_change_requests_from(self, head_repository: str, head_ref: str) -> list[ChangeRequestRecord]:
        """The open change requests, in any repository, whose head is ``head_ref`` of the (fork)
        repository ``head_repository``."""
        fork = normalize_repository(head_repository)
        with self.read() as conn:
            rows = conn.execute(
                select(LF_CHANGE_REQUESTS)
                .where(_CR.head_repository == fork, _CR.head_ref == head_ref, _CR.state == "open")
                .order_by(_CR.id)
            ).all()
        return [as_record(ChangeRequestRecord, row) for row in rows]

    def list_change_requests(self, repository: str, *, state: str | None = None) -> list[ChangeRequestRecord]:
        repo = normalize_repository(repository)
        query = select(LF_CHANGE_REQUESTS).where(_CR.repository == repo)
        if state is not None:
            query = query.where(_CR.state == state)
        with self.read() as conn:
            rows = conn.execute(query.order_by(_CR.number)).all()
        return [as_record(ChangeRequestRecord, row) for row in rows]

    def update_change_request(
        self,
        repository: str,
        number: int,
        *,
        expected_head_sha: str | None = None,
        announce: Announcer[ChangeRequestRecord] | None = None,
        **changes: Any,
    ) -> ChangeRequestRecord:
        """Change the named fields (title, body, head_sha, base_sha, state, merged, merge_commit_sha,
        merged_by, closed_at); with ``expected_head_sha`` only if the recorded head is still that one
        (LocalForgeConflict otherwise: someone pushed meanwhile)."""
        allowed = {
            "title",
            "body",
            "head_sha",
            "base_sha",
            "state",
            "merged",
            "merge_commit_sha",
            "merged_by",
        }
        unknown = set(changes) - allowed - {"closed_at"}
        if unknown:
            raise ValueError(f"not a change request field: {sorted(unknown)}")
        repo = normalize_repository(repository)
        check_number("change request number", number, required=True)
        where = [_CR.repository == repo, _CR.number == number]
        if expected_head_sha is not None:
            where.append(_CR.head_sha == expected_head_sha)
        with self.write() as conn:
            if changes.get("state") == "open":  # a reopening: still one open change request per branch
                self._serialize(conn, repo)
                current = conn.execute(select(LF_CHANGE_REQUESTS).where(*where[:2])).first()
                if current is not None and current.state != "open":
                    other = self._open_for_branch(conn, repo, current.head_ref, current.head_repository)
                    if other is not None:
                        raise LocalForgeConflict(
                            f"change request #{other.number} is open for {other.head_ref}"
                        )
            done = conn.execute(
                update(LF_CHANGE_REQUESTS).where(*where).values(**changes, updated_at=self.now())
            )
            row = conn.execute(select(LF_CHANGE_REQUESTS).where(*where[:2])).first()
            if row is None:
                raise RecordNotFoundError(f"no change request #{number} in {repo}")
            if done.rowcount != 1:
                raise LocalForgeConflict(f"change request #{number} has a new head; read it again")
            record = as_record(ChangeRequestRecord, row)
            if announce is not None:
                self._announce(conn, announce(record))
        return record

    def _serialize(self, conn: Connection, repo: str) -> None:
        """PostgreSQL: one opening of a change request per repository at a time (numbers and the one-open-
        per-branch rule are read-then-write); SQLite's writer lock already does it."""
        if self.is_postgresql:
            key = f"modbot:lf:{repo}"
            conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))

    @staticmethod
    def _open_for_branch(
        conn: Connection, repo: str, head_ref: str, head_repository: str | None
    ) -> ChangeRequestRecord | None:
        query = select(LF_CHANGE_REQUESTS).where(
            _CR.repository == repo, _CR.head_ref == head_ref, _CR.state == "open"
        )
        head_repo = head_repository.lower() if head_repository else None
        query = query.where(
            _CR.head_repository.is_(None) if head_repo is None else _CR.head_repository == head_repo
        )
        row = conn.execute(query.order_by(_CR.number).limit(1)).first()
        return as_record(ChangeRequestRecord, row) if row is not None else None

    # --- reviews -------------------------------------------------------------------------------
    def add_review(
        self, repository: str, number: int, *, author: str, state: str, commit_sha: str, body: str = ""
    ) -> ReviewRecord:
        if state not in REVIEW_STATES:
            raise ValueError(f"review state must be one of {list(REVIEW_STATES)}, not {state!r}")
        repo = normalize_repository(repository)
        values = {
            "repository": repo,
            "number": number,
            "author": author,
            "state": state,
            "commit_sha": commit_sha,
            "body": body,
            "submitted_at": self.now(),
        }
        with self.write() as conn:
            new_id = conn.execute(LF_REVIEWS.insert().values(**values)).inserted_primary_key
        return as_record(ReviewRecord, {**values, "id": int(new_id[0])})  # type: ignore[index]

    def list_reviews(self, repository: str, number: int) -> list[ReviewRecord]:
        repo = normalize_repository(repository)
        c = LF_REVIEWS.c
        with self.read() as conn:
            rows = conn.execute(
                select(LF_REVIEWS).where(c.repository == repo, c.number == number).order_by(c.id)
            ).all()
        return [as_record(ReviewRecord, row) for row in rows]

    # --- comments and reactions ----------------------------------------------------------------
    def add_comment(
        self,
        repository: str,
        number: int,
        body: str,
        *,
        author: str,
        author_type: str = "User",
        announce: Announcer[CommentRecord] | None = None,
    ) -> CommentRecord:
        repo = normalize_repository(repository)
        now = self.now()
        values = {
            "repository": repo,
            "number": number,
            "author": author,
            "author_type": author_type,
            "body": body,
            "created_at": now,
            "updated_at": now,
        }
        with self.write() as conn:
            new_id = conn.execute(LF_COMMENTS.insert().values(**values)).inserted_primary_key
            record = as_record(CommentRecord, {**values, "id": int(new_id[0])})  # type: ignore[index]
            if announce is not None:
                self._announce(conn, announce(record))
        return record

    def update_comment(self, repository: str, comment_id: int, body: str) -> CommentRecord:
        repo = normalize_repository(repository)
        c = LF_COMMENTS.c
        with self.write() as conn:
            conn.execute(
                update(LF_COMMENTS)
                .where(c.repository == repo, c.id == comment_id)
                .values(body=body, updated_at=self.now())
            )
            row = conn.execute(select(LF_COMMENTS).where(c.repository == repo, c.id == comment_id)).first()
        if row is None:
            raise RecordNotFoundError(f"no comment {comment_id} in {repo}")
        return as_record(CommentRecord, row)

    def get_comment(self, repository: str, comment_id: int) -> CommentRecord | None:
        repo = normalize_repository(repository)
        c = LF_COMMENTS.c
        with self.read() as conn:
            row = conn.execute(select(LF_COMMENTS).where(c.repository == repo, c.id == comment_id)).first()
        return as_record(CommentRecord, row) if row is not None else None

    def list_comments(self, repository: str, number: int) -> list[CommentRecord]:
        repo = normalize_repository(repository)
        c = LF_COMMENTS.c
        with self.read() as conn:
            rows = conn.execute(
                select(LF_COMMENTS).where(c.repository == repo, c.number == number).order_by(c.id)
            ).all()
        return [as_record(CommentRecord, row) for row in rows]

    def add_reaction(self, comment_id: int, *, author: str, content: str) -> bool:
        """Idempotent: the same reaction by the same person twice is one; True when it is new."""
        values = {"comment_id": comment_id, "author": author, "content": content, "created_at": self.now()}
        with self.write() as conn:
            done = conn.execute(self.insert(LF_REACTIONS).values(**values).on_conflict_do_nothing())
        return done.rowcount == 1

    def reactions(self, comment_id: int) -> list[tuple[str, str]]:
        c = LF_REACTIONS.c
        with self.read() as conn:
            rows = conn.execute(
                select(c.author, c.content).where(c.comment_id == comment_id).order_by(c.id)
            ).all()
        return [(row.author, row.content) for row in rows]

    # --- commits modbot made -------------------------------------------------------------------
    def record_bot_commit(self, repository: str, sha: str) -> None:
        values = {"repository": normalize_repository(repository), "sha": sha}
        with self.write() as conn:
            conn.execute(self.insert(LF_BOT_COMMITS).values(**values).on_conflict_do_nothing())

    def bot_commits(self, repository: str, shas: Collection[str]) -> set[str]:
        if not shas:
            return set()
        repo = normalize_repository(repository)
        c = LF_BOT_COMMITS.c
        with self.read() as conn:
            rows = conn.execute(select(c.sha).where(c.repository == repo, c.sha.in_(list(shas)))).all()
        return {row.sha for row in rows}
