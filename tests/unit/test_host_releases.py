"""releases/<id>/ directories, current/previous per environment and retention, on real files."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

import pytest

from bot.host.layout import Layout, LayoutError
from bot.host.releases import Releases, ReleasesError, file_digest
from bot.pipeline.release import ReleaseRecord, make_record

BINARY = "rustok-server"


def record(release_id: str, digest: str) -> ReleaseRecord:
    return make_record(
        release_id=release_id,
        manifest_hash="a" * 64,
        modules=["blog", "content"],
        image_repository="ghcr.io/rustok/rustok-mini",
        image_digest=digest,
        build_id="1-1",
        git_sha="b" * 40,
        previous_release=None,
        build_key="c" * 64,
        template_version="1",
        created_at=dt.datetime(2026, 12, 7, tzinfo=dt.UTC),
    )


@pytest.fixture
def releases(tmp_path: Path) -> Releases:
    return Releases(Layout(tmp_path / "data"), binary_name=BINARY)


def make(releases: Releases, tmp_path: Path, release_id: str) -> None:
    built = tmp_path / f"built-{release_id}"
    built.write_bytes(f"binary of {release_id}".encode())
    digest = releases.stage(release_id, built)
    releases.finalize(record(release_id, digest))


def test_a_release_is_its_binary_and_record_written_in_one_rename(releases: Releases, tmp_path: Path) -> None:
    built = tmp_path / "built"
    built.write_bytes(b"\x7fELF server")
    digest = releases.stage("rel_2026_12_07_001", built)
    assert digest == "sha256:" + hashlib.sha256(b"\x7fELF server").hexdigest()
    assert releases.get("rel_2026_12_07_001") is None  # staged is not released
    assert releases.ids() == []
    done = releases.finalize(record("rel_2026_12_07_001", digest))
    assert done.path == releases.layout.releases / "rel_2026_12_07_001"
    assert done.binary.read_bytes() == b"\x7fELF server" and os.access(done.binary, os.X_OK)
    assert releases.get("rel_2026_12_07_001") == done
    assert done.record.image_digest == digest
    assert sorted(p.name for p in releases.layout.releases.iterdir()) == ["rel_2026_12_07_001"]
    with pytest.raises(ReleasesError, match="never rewritten"):
        releases.stage("rel_2026_12_07_001", built)


def test_a_record_of_another_binary_is_refused(releases: Releases, tmp_path: Path) -> None:
    built = tmp_path / "built"
    built.write_bytes(b"one")
    releases.stage("rel_2026_12_07_001", built)
    with pytest.raises(ReleasesError, match="but the staged binary is"):
        releases.finalize(record("rel_2026_12_07_001", "sha256:" + "0" * 64))
    assert releases.get("rel_2026_12_07_001") is None


def test_recovery_finishes_a_tagged_release_and_removes_an_untagged_one(
    releases: Releases, tmp_path: Path
) -> None:
    built = tmp_path / "built"
    built.write_bytes(b"tagged")
    tagged = record("rel_2026_12_07_001", releases.stage("rel_2026_12_07_001", built))
    built.write_bytes(b"untagged")
    releases.stage("rel_2026_12_07_002", built)
    (releases.layout.releases / ".deleting-rel_2026_12_07_000").mkdir()
    finished, removed = releases.recover(lambda rid: tagged if rid == tagged.release_id else None)
    assert (finished, removed) == (["rel_2026_12_07_001"], ["rel_2026_12_07_002"])
    assert releases.ids() == ["rel_2026_12_07_001"]
    assert sorted(p.name for p in releases.layout.releases.iterdir()) == ["rel_2026_12_07_001"]


def test_switch_moves_current_and_keeps_the_previous_and_restore_puts_both_back(
    releases: Releases, tmp_path: Path
) -> None:
    for n in (1, 2, 3):
        make(releases, tmp_path, f"rel_2026_12_07_00{n}")
    first = releases.switch("staging", "rel_2026_12_07_001")
    assert (first.current, first.previous) == (None, None)
    releases.switch("staging", "rel_2026_12_07_002")
    before = releases.switch("staging", "rel_2026_12_07_003")
    pointers = releases.pointers("staging")
    assert (pointers.current, pointers.previous) == ("rel_2026_12_07_003", "rel_2026_12_07_002")
    link = releases.layout.environment_dir("staging") / "current"
    assert os.readlink(link) == "../../releases/rel_2026_12_07_003"  # relative: the folder can move
    assert (link / BINARY).read_bytes() == b"binary of rel_2026_12_07_003"
    releases.restore("staging", before)
    pointers = releases.pointers("staging")
    assert (pointers.current, pointers.previous) == ("rel_2026_12_07_002", "rel_2026_12_07_001")
    assert [p.name for p in link.parent.iterdir() if p.name.startswith(".")] == []  # no temp links left
    with pytest.raises(ReleasesError, match="no complete releases/rel_2026_12_07_009"):
        releases.switch("staging", "rel_2026_12_07_009")


def test_retention_keeps_the_newest_and_what_environments_run_and_ran(
    releases: Releases, tmp_path: Path
) -> None:
    ids = [f"rel_2026_12_07_00{n}" for n in range(1, 8)]
    for rid in ids:
        make(releases, tmp_path, rid)
    releases.switch("production", ids[0])
    releases.switch("production", ids[1])  # runs 002, previous 001
    releases.switch("staging", ids[3])  # runs 004, no previous
    removed = releases.prune(2)
    assert removed == [ids[2], ids[4]]
    assert releases.ids() == [ids[0], ids[1], ids[3], ids[5], ids[6]]
    assert releases.prune(2) == []
    with pytest.raises(ReleasesError):
        releases.prune(0)


def test_digest_reads_the_whole_file(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"x" * (3 << 20) + b"end")
    assert file_digest(big) == "sha256:" + hashlib.sha256(big.read_bytes()).hexdigest()


@pytest.mark.parametrize("bad", ["../etc", "rel_2026_12_07_001/..", "", "rel_1"])
def test_names_never_become_paths_unchecked(bad: str, tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    with pytest.raises(LayoutError):
        layout.release_dir(bad)
    with pytest.raises(LayoutError):
        layout.environment_dir(bad)


def test_recovery_never_deletes_a_binary_a_tag_names(releases: Releases, tmp_path: Path) -> None:
    built = tmp_path / "built"
    built.write_bytes(b"the binary")
    releases.stage("rel_2026_12_07_001", built)
    other = record("rel_2026_12_07_001", "sha256:" + "0" * 64)  # cannot be finished with this binary
    assert releases.recover(lambda _rid: other) == ([], [])
    assert (releases.layout.staging_dir("rel_2026_12_07_001") / BINARY).read_bytes() == b"the binary"
