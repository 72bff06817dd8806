"""Releases as chat-ops needs them: from the store's cache first, else from the `release/<id>` tags on
GitHub (and then cached), and the builds a new release finishes.

GitHub's annotated `release/<id>` tags are the system of record (bot.pipeline.release); the store keeps
a copy so that "does this release exist" and "which release is at this commit" need no API call. A
tag that is not a readable release record (a lightweight tag, a message that is not a record) is no
release: it is logged and skipped, never trusted.

A default-branch commit whose build found its build key released already (install X, then uninstall
X) gets no tag of its own: the build workflow sets the commit status `modbot/release` naming the
release it reused. `built_release` resolves such a commit to that release, and only when the release
carries the commit's own composition (its manifest_hash is the hash of the commit's manifest): a
status anyone with write access could set never makes a PR deploy a different module set. The status
is GitHub's record, read when asked, so a lost store loses nothing.
"""

from __future__ import annotations

import logging
import posixpath

from bot.domain.ids import is_release_id
from bot.forge import Forge, ForgeError, Ref, TagObject
from bot.manifest.validate import validate_bytes
from bot.pipeline.release import (
    RELEASE_STATUS_CONTEXT,
    RELEASE_TAG_PREFIX,
    ReleaseError,
    parse_record,
    reused_release_in,
)
from bot.store import BuildRecord, FinalStateError, ReleaseInfo, Store

__all__ = [
    "TAGS_SEARCHED_PER_COMMIT",
    "built_release",
    "find_release",
    "finish_builds",
    "read_release_tag",
    "read_tag_object",
    "release_at_commit",
    "release_in_tag_object",
    "reused_release",
]

log = logging.getLogger(__name__)

# A commit's release is one of the newest tags (release ids sort in time order and a build tags the
# commit it just built); looking at a few bounds the calls when the store has not seen the tag yet.
TAGS_SEARCHED_PER_COMMIT = 5


def read_release_tag(forge: Forge, store: Store, repo: str, ref: Ref) -> ReleaseInfo | None:
    """The release a `refs/tags/release/<id>` ref carries, cached in the store; None when the tag is
    not a modbot release (not annotated, or its message is not a release record)."""
    tag = ref.ref.removeprefix("refs/tags/")
    if not tag.startswith(RELEASE_TAG_PREFIX) or not is_release_id(tag.removeprefix(RELEASE_TAG_PREFIX)):
        return None
    if ref.object_type != "tag":
        log.warning("%s of %s is a lightweight tag, not a release record; ignored", tag, repo)
        return None
    return read_tag_object(forge, store, repo, tag, ref.sha)


def release_in_tag_object(repo: str, tag: str, tag_object: TagObject) -> ReleaseInfo | str:
    """The release record the annotated tag object of `tag` carries, or why it is no release: not on a
    commit, a message that is not a record, or a record naming another commit than the tag's. Pure."""
    if tag_object.object_type != "commit":
        return f"points at a {tag_object.object_type}, not a commit"
    try:
        info = ReleaseInfo.from_record(repo, parse_record(tag_object.message, tag=tag))
    except (ReleaseError, ValueError) as exc:
        return f"not a readable release record ({exc})"
    if info.commit_sha != tag_object.object_sha:
        named, actual = info.commit_sha[:12], tag_object.object_sha[:12]
        return f"the record names commit {named} but the tag points at {actual}"
    return info


def read_tag_object(forge: Forge, store: Store, repo: str, tag: str, tag_sha: str) -> ReleaseInfo | None:
    """The release record in the annotated tag object `tag_sha` (named `tag`), cached in the store."""
    info = release_in_tag_object(repo, tag, forge.get_tag_object(repo, tag_sha))
    if isinstance(info, str):
        log.warning("%s of %s is no modbot release: %s; ignored", tag, repo, info)
        return None
    store.upsert_release(info)
    return info


def find_release(forge: Forge, store: Store, repo: str, release_id: str) -> ReleaseInfo | None:
    """The release `release_id`: the store's copy, else its tag on GitHub (then cached); None when
    there is no such release."""
    cached = store.get_release(repo, release_id)
    if cached is not None:
        return cached
    ref = forge.get_ref(repo, f"tags/{RELEASE_TAG_PREFIX}{release_id}")
    if ref is None:
        return None
    return read_release_tag(forge, store, repo, ref)


def release_at_commit(
    forge: Forge, store: Store, repo: str, commit_sha: str, *, ask_github: bool
) -> ReleaseInfo | None:
    """The newest release made from `commit_sha`: the store's, else (with `ask_github`) one of the
    newest `release/*` tags (at most `TAGS_SEARCHED_PER_COMMIT` tag objects read)."""
    cached = store.releases_at_commit(repo, commit_sha)
    if cached:
        return cached[0]
    if not ask_github:
        return None
    tags = [ref for ref in forge.list_tags(repo, RELEASE_TAG_PREFIX) if ref.object_type == "tag"]
    newest = sorted(tags, key=lambda ref: ref.ref, reverse=True)[:TAGS_SEARCHED_PER_COMMIT]
    for ref in newest:
        if store.get_release(repo, ref.ref.removeprefix(f"refs/tags/{RELEASE_TAG_PREFIX}")) is not None:
            continue  # cached already, and not at this commit (the store said so above)
        try:
            info = read_release_tag(forge, store, repo, ref)
        except ForgeError as exc:
            if not exc.not_found:
                raise
            continue  # deleted between the listing and the read
        if info is not None and info.commit_sha == commit_sha:
            return info
    return None


def reused_release(
    forge: Forge, store: Store, repo: str, commit_sha: str, *, manifest_path: str
) -> ReleaseInfo | None:
    """The release the build of `commit_sha` reused: the one its `modbot/release` status names, when
    that release exists and carries the composition of the commit's manifest (`manifest_path`); else
    None (no such status, or a claim that does not hold, which is logged)."""
    status = forge.latest_commit_status(repo, commit_sha, RELEASE_STATUS_CONTEXT)
    if status is None or status.state != "success":
        return None
    release_id = reused_release_in(status.description)
    if release_id is None:
        log.warning("%s of %s at %s names no release; ignored", RELEASE_STATUS_CONTEXT, repo, commit_sha[:12])
        return None
    info = find_release(forge, store, repo, release_id)
    if info is None:
        log.warning(
            "%s of %s at %s names %s, which does not exist",
            RELEASE_STATUS_CONTEXT,
            repo,
            commit_sha[:12],
            release_id,
        )
        return None
    raw = forge.get_file(repo, manifest_path, commit_sha)
    result = validate_bytes(raw, manifest_dir=posixpath.dirname(manifest_path)) if raw is not None else None
    composition = result.manifest_hash if result is not None else None
    if composition != info.manifest_hash:
        log.warning(
            "%s of %s at %s names %s, whose composition is not the commit's %s; ignored",
            RELEASE_STATUS_CONTEXT,
            repo,
            commit_sha[:12],
            release_id,
            manifest_path,
        )
        return None
    return info


def built_release(
    forge: Forge, store: Store, repo: str, commit_sha: str, *, manifest_path: str
) -> ReleaseInfo | None:
    """The release a default-branch commit whose build succeeded resolves to: the one made from it
    (its tag), else the one its build reused (`reused_release`)."""
    made = release_at_commit(forge, store, repo, commit_sha, ask_github=True)
    if made is not None:
        return made
    return reused_release(forge, store, repo, commit_sha, manifest_path=manifest_path)


def finish_builds(store: Store, info: ReleaseInfo, *, commit_sha: str | None = None) -> list[BuildRecord]:
    """Mark the unfinished builds of `commit_sha` (default: the release's own commit; a commit whose
    build reused the release is another) succeeded with that release (the admin API's
    `GET /admin/builds/{id}` then shows it); returns the builds it finished."""
    finished: list[BuildRecord] = []
    for build in store.builds_for_merge_sha(info.repository, commit_sha or info.commit_sha):
        if build.finished:
            continue
        try:
            finished.append(
                store.update_build(
                    build.build_id,
                    status="succeeded",
                    stage="done",
                    progress=100,
                    release_id=info.release_id,
                    manifest_hash=info.manifest_hash,
                )
            )
        except FinalStateError:
            continue  # finished meanwhile by another event: its outcome stands
    return finished
