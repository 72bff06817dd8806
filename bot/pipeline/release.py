"""Releases: ids, the build key, and the JSON message of a `release/<id>` tag. Pure: no git here
(`bot.pipeline.git` reads and writes the tags).

- A release id is `rel_YYYY_MM_DD_NNN`: the UTC day it was made and a daily sequence 001-999. The
  next id is the newest sequence of that day plus one (gaps are never filled: an id once used, even
  by a deleted tag, may be cached somewhere). Ids sort in time order as text.
- The build key is the SHA-256 of a canonical JSON of everything that decides the image: the
  manifest_hash, the SHA-256 of Cargo.lock, the toolchain, the template version, the cargo
  arguments and the git tree ids of `build.key_paths`. A release whose tag carries the same build
  key is reused instead of building again.
- A release tag is annotated; its message is the JSON `ReleaseRecord` (one key per line).
- A commit whose build reused a release gets no tag (a second tag would be a second release of one
  image, and moving the old one would rewrite history): the build workflow records the reuse as the
  commit status `modbot/release` whose description starts with the release id
  (`reuse_status_description`), which chat-ops reads back (`reused_release_in`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.domain.ids import (
    CI_BUILD_ID_PATTERN,
    GIT_SHA_PATTERN,
    IMAGE_DIGEST_PATTERN,
    RELEASE_ID_PATTERN,
    SHA256_HEX_PATTERN,
    format_release_id,
    is_release_id,
    parse_release_id,
)

RELEASE_TAG_PREFIX = "release/"
DEPLOY_TAG_PREFIX = "deploy/"
RELEASE_FORMAT = 1
BUILD_KEY_VERSION = 1
MAX_DAILY_RELEASES = 999
# The commit status the build workflow sets on a commit whose build reused a release.
RELEASE_STATUS_CONTEXT = "modbot/release"

_IMAGE_NAME_PATTERN = (
    r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?"  # registry
    r"(/[a-z0-9]+([._-][a-z0-9]+)*)+"  # repository path
)
IMAGE_REF_PATTERN = rf"^{_IMAGE_NAME_PATTERN}@sha256:[0-9a-f]{{64}}$"


class ReleaseError(ValueError):
    """A release cannot be planned, made or read; the message says why."""


# --- ids ------------------------------------------------------------------------------------------


def next_release_id(existing: Iterable[str], now: dt.datetime) -> str:
    """The next free id for the UTC day of `now` (an aware datetime)."""
    if now.tzinfo is None:
        raise ReleaseError("the current time must carry a time zone")
    today = now.astimezone(dt.UTC).date()
    parsed = [p for p in (parse_release_id(i) for i in existing) if p is not None]
    newest = max(parsed, default=None)
    if newest is not None and newest[0] > today:
        raise ReleaseError(
            f"the newest release, {format_release_id(*newest)}, is dated after today ({today:%Y-%m-%d} UTC); "
            "a new id would sort before it. Check the clock (or --now)"
        )
    seq = max((s for d, s in parsed if d == today), default=0) + 1
    if seq > MAX_DAILY_RELEASES:
        raise ReleaseError(f"{MAX_DAILY_RELEASES} releases were already made on {today:%Y-%m-%d} (UTC)")
    return format_release_id(today, seq)


def reuse_status_description(release_id: str) -> str:
    """What the `modbot/release` status of a commit that reused `release_id` says (≤ 140 characters)."""
    return f"{release_id}: reused (the same build key, so no new build and no new tag)"


def reused_release_in(description: str | None) -> str | None:
    """The release id a `modbot/release` status names (its first word), or None when it names none."""
    words = (description or "").split(maxsplit=1)
    first = words[0].rstrip(":") if words else ""
    return first if is_release_id(first) else None


def release_sort_key(release_id: str) -> tuple[dt.date, int]:
    parsed = parse_release_id(release_id)
    return parsed if parsed is not None else (dt.date.min, 0)


# --- build key ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BuildKeyInputs:
    manifest_hash: str
    cargo_lock_sha256: str
    toolchain: str
    template_version: str
    cargo_args: tuple[str, ...]
    source_trees: tuple[tuple[str, str], ...]  # (path, git tree/blob id), in config order

    def to_json(self) -> dict[str, Any]:
        return {
            "build_key_version": BUILD_KEY_VERSION,
            "manifest_hash": self.manifest_hash,
            "cargo_lock_sha256": self.cargo_lock_sha256,
            "toolchain": self.toolchain,
            "template_version": self.template_version,
            "cargo_args": list(self.cargo_args),
            "source_trees": dict(self.source_trees),
        }

    @property
    def key(self) -> str:
        canonical = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def build_key_inputs(
    *,
    manifest_hash: str,
    cargo_lock: bytes,
    toolchain: str,
    template_version: str,
    cargo_args: Sequence[str],
    source_trees: Mapping[str, str] | Sequence[tuple[str, str]] = (),
) -> BuildKeyInputs:
    trees = tuple(source_trees.items()) if isinstance(source_trees, Mapping) else tuple(source_trees)
    return BuildKeyInputs(
        manifest_hash=manifest_hash,
        cargo_lock_sha256=hashlib.sha256(cargo_lock).hexdigest(),
        toolchain=toolchain,
        template_version=template_version,
        cargo_args=tuple(cargo_args),
        source_trees=trees,
    )


# --- the tag message ------------------------------------------------------------------------------


class ReleaseRecord(BaseModel):
    """The JSON message of an annotated `release/<release_id>` tag."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    format: int = Field(RELEASE_FORMAT, description="The release tag format version.")
    release_id: Annotated[str, Field(pattern=RELEASE_ID_PATTERN)]
    manifest_hash: Annotated[str, Field(pattern=SHA256_HEX_PATTERN)]
    modules: list[str]
    image: Annotated[str, Field(pattern=IMAGE_REF_PATTERN)]
    image_digest: Annotated[str, Field(pattern=IMAGE_DIGEST_PATTERN)]
    build_id: Annotated[str, Field(pattern=CI_BUILD_ID_PATTERN)]
    git_sha: Annotated[str, Field(pattern=GIT_SHA_PATTERN)]
    previous_release: Annotated[str, Field(pattern=RELEASE_ID_PATTERN)] | None
    build_key: Annotated[str, Field(pattern=SHA256_HEX_PATTERN)]
    template_version: str
    created_at: str
    ui_images: dict[str, Annotated[str, Field(pattern=IMAGE_REF_PATTERN)]] = Field(
        default_factory=dict, description="Headless: UI service name -> image by digest."
    )

    @property
    def tag(self) -> str:
        return RELEASE_TAG_PREFIX + self.release_id

    def to_message(self) -> str:
        """The tag message: pretty JSON (one key per line, stable order), ending in a newline."""
        return json.dumps(self.model_dump(), indent=2, ensure_ascii=False) + "\n"


def make_record(
    *,
    release_id: str,
    manifest_hash: str,
    modules: Sequence[str],
    image_repository: str,
    image_digest: str,
    build_id: str,
    git_sha: str,
    previous_release: str | None,
    build_key: str,
    template_version: str,
    created_at: dt.datetime,
    ui_images: Mapping[str, str] | None = None,
) -> ReleaseRecord:
    """Checks every value (ReleaseError names each bad one) and builds the record."""
    data = {
        "release_id": release_id,
        "manifest_hash": manifest_hash,
        "modules": sorted(modules),
        "image": f"{image_repository}@{image_digest}",
        "image_digest": image_digest,
        "build_id": build_id,
        "git_sha": git_sha,
        "previous_release": previous_release,
        "build_key": build_key,
        "template_version": template_version,
        "created_at": created_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ui_images": dict(sorted((ui_images or {}).items())),
    }
    try:
        return ReleaseRecord.model_validate(data)
    except ValidationError as exc:
        raise ReleaseError(_explain(exc, "cannot make the release")) from None


def parse_record(message: str, *, tag: str) -> ReleaseRecord:
    """A tag message -> ReleaseRecord; ReleaseError when it is not one (or disagrees with its tag)."""
    text = message.strip()
    # `git tag -s` appends a signature after the message; the JSON object ends before it
    end = text.rfind("\n}")
    if text.startswith("{") and end != -1:
        text = text[: end + 2]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReleaseError(
            f"{tag}: the tag message is not a modbot release record (not JSON: {exc})"
        ) from None
    if not isinstance(data, dict):
        raise ReleaseError(f"{tag}: the tag message is not a JSON object")
    try:
        record = ReleaseRecord.model_validate(data)
    except ValidationError as exc:
        raise ReleaseError(_explain(exc, f"{tag}: not a valid release record")) from None
    if record.format > RELEASE_FORMAT:
        raise ReleaseError(f"{tag}: release format {record.format} is newer than this modbot understands")
    if tag.startswith(RELEASE_TAG_PREFIX) and tag != record.tag:
        raise ReleaseError(f"{tag}: the message names release {record.release_id}")
    return record


def _explain(exc: ValidationError, what: str) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "message"
        shown = err.get("input")
        detail = err["msg"]
        if err["type"] == "string_pattern_mismatch":
            detail = f"{shown!r} does not match {err['ctx']['pattern']}"
        parts.append(f"{loc}: {detail}")
    return f"{what}: " + "; ".join(parts)


# --- choosing releases ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReleaseTag:
    """One `release/*` tag as found in the repository."""

    tag: str
    commit: str  # the commit the tag points at (peeled)
    record: ReleaseRecord | None  # None when the tag is not a readable release record
    problem: str | None = None

    @property
    def release_id(self) -> str:
        return self.tag.removeprefix(RELEASE_TAG_PREFIX)


def newest_first(tags: Iterable[ReleaseTag]) -> list[ReleaseTag]:
    usable = [t for t in tags if is_release_id(t.release_id)]
    return sorted(usable, key=lambda t: release_sort_key(t.release_id), reverse=True)


def release_for_build_key(tags: Iterable[ReleaseTag], build_key: str) -> ReleaseTag | None:
    """The newest readable release made from this build key."""
    for tag in newest_first(tags):
        if tag.record is not None and tag.record.build_key == build_key:
            return tag
    return None


def newest_release(tags: Iterable[ReleaseTag], *, before: str | None = None) -> ReleaseTag | None:
    """The newest readable release (with an id lower than `before`, when given)."""
    limit = release_sort_key(before) if before is not None else None
    for tag in newest_first(tags):
        if tag.record is None:
            continue
        if limit is None or release_sort_key(tag.release_id) < limit:
            return tag
    return None


def releases_at(tags: Iterable[ReleaseTag], commit: str) -> list[ReleaseTag]:
    """Readable releases whose tag points at `commit`, newest first."""
    return [t for t in newest_first(tags) if t.record is not None and t.commit == commit]
