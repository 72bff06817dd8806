"""The releases cache's record: a copy of one ``release/<id>`` tag's record."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = ["ReleaseInfo", "ReleaseTagRecord"]


class ReleaseTagRecord(Protocol):
    """What a release tag's record says (``bot.pipeline.release.ReleaseRecord`` is one): named here
    so that the records need nothing of the pipeline layer above them."""

    @property
    def release_id(self) -> str: ...
    @property
    def git_sha(self) -> str: ...
    @property
    def manifest_hash(self) -> str: ...
    @property
    def modules(self) -> Sequence[str]: ...
    @property
    def image(self) -> str: ...
    @property
    def build_key(self) -> str: ...
    @property
    def build_id(self) -> str | None: ...
    @property
    def previous_release(self) -> str | None: ...
    @property
    def created_at(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ReleaseInfo:
    repository: str
    release_id: str
    commit_sha: str
    manifest_hash: str
    modules: tuple[str, ...]
    image: str
    build_key: str
    build_id: str | None
    previous_release: str | None
    created_at: datetime

    @classmethod
    def from_record(cls, repository: str, record: ReleaseTagRecord) -> ReleaseInfo:
        """The cache entry for a ``release/<id>`` tag's record (``created_at`` is its UTC text)."""
        try:
            created = dt.datetime.strptime(record.created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            raise ValueError(
                f"release {record.release_id}: created_at is not UTC time text: {record.created_at[:40]!r}"
            ) from None
        return cls(
            repository=repository,
            release_id=record.release_id,
            commit_sha=record.git_sha,
            manifest_hash=record.manifest_hash,
            modules=tuple(record.modules),
            image=record.image,
            build_key=record.build_key,
            build_id=record.build_id,
            previous_release=record.previous_release,
            created_at=created,
        )
