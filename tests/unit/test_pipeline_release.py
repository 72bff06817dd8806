"""Releases: id sequencing, the build key and its reuse, the tag message round-trip, deploy tags
(resolve, promote, rollback-tag) in a real temporary git repository with a bare remote."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.cli import main
from bot.domain.ids import parse_release_id
from bot.pipeline.release import (
    ReleaseError,
    ReleaseTag,
    build_key_inputs,
    make_record,
    newest_release,
    next_release_id,
    parse_record,
    release_for_build_key,
)
from tests.corpus import ROOT

MINI = ROOT / "examples" / "rustok-mini"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
DAY = "2026-08-16T10:00:00Z"


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- ids (pure) -----------------------------------------------------------------------------------


def test_first_release_of_the_day() -> None:
    assert next_release_id([], utc(DAY)) == "rel_2026_08_16_001"


def test_same_day_increments_and_gaps_are_not_refilled() -> None:
    ids = ["rel_2026_08_16_001", "rel_2026_08_16_002", "rel_2026_08_15_009"]
    assert next_release_id(ids, utc(DAY)) == "rel_2026_08_16_003"
    assert next_release_id(["rel_2026_08_16_001", "rel_2026_08_16_005"], utc(DAY)) == "rel_2026_08_16_006"


def test_day_rollover_is_by_utc() -> None:
    ids = ["rel_2026_08_16_004"]
    assert next_release_id(ids, utc("2026-08-17T00:00:01Z")) == "rel_2026_08_17_001"
    # 23:30 in UTC-5 is already the next UTC day
    late = dt.datetime(2026, 8, 16, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert next_release_id(ids, late) == "rel_2026_08_17_001"
    # 01:00 in UTC+3 is still the previous UTC day
    early = dt.datetime(2026, 8, 17, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    assert next_release_id(ids, early) == "rel_2026_08_16_005"


def test_ids_that_are_not_release_ids_are_ignored() -> None:
    ids = ["rel_2026_08_16_000", "rel_2026_02_30_001", "rel_2026_08_16_01", "hotfix", "rel_2026_08_16_002"]
    assert next_release_id(ids, utc(DAY)) == "rel_2026_08_16_003"
    assert parse_release_id("rel_2026_02_30_001") is None
    assert parse_release_id("rel_2026_08_16_000") is None


def test_a_newer_release_than_today_is_refused_and_999_is_the_limit() -> None:
    with pytest.raises(ReleaseError, match="dated after today"):
        next_release_id(["rel_2026_08_17_001"], utc(DAY))
    with pytest.raises(ReleaseError, match="999 releases"):
        next_release_id(["rel_2026_08_16_999"], utc(DAY))
    with pytest.raises(ReleaseError, match="time zone"):
        next_release_id([], dt.datetime(2026, 8, 16))


# --- build key and records (pure) ------------------------------------------------------------------


def key(**changes: object) -> str:
    base: dict[str, object] = {
        "manifest_hash": "1" * 64,
        "cargo_lock": b"lock",
        "toolchain": "1.95.0",
        "template_version": "1",
        "cargo_args": ["-p", "rustok-server"],
        "source_trees": {"crates": "abc"},
    }
    base.update(changes)
    return build_key_inputs(**base).key  # type: ignore[arg-type]


def test_build_key_changes_with_every_input_and_only_then() -> None:
    same = key()
    assert key() == same
    assert len(same) == 64
    variants = [
        key(manifest_hash="2" * 64),
        key(cargo_lock=b"lock2"),
        key(toolchain="1.96.0"),
        key(template_version="2"),
        key(cargo_args=["-p", "rustok-server", "--release"]),
        key(source_trees={"crates": "abd"}),
        key(source_trees={}),
    ]
    assert len({same, *variants}) == len(variants) + 1


def record(release_id: str, build_key: str = "c" * 64, previous: str | None = None):  # type: ignore[no-untyped-def]
    return make_record(
        release_id=release_id,
        manifest_hash="d" * 64,
        modules=["pages", "blog"],
        image_repository="ghcr.io/rustok/rustok-mini",
        image_digest=DIGEST_A,
        build_id="123456-1",
        git_sha="e" * 40,
        previous_release=previous,
        build_key=build_key,
        template_version="1",
        created_at=utc(DAY),
    )


def test_record_round_trips_through_its_message() -> None:
    made = record("rel_2026_08_16_002", previous="rel_2026_08_16_001")
    message = made.to_message()
    data = json.loads(message)
    assert list(data)[:11] == [
        "format", "release_id", "manifest_hash", "modules", "image", "image_digest", "build_id",
        "git_sha", "previous_release", "build_key", "template_version",
    ]  # fmt: skip
    assert data["modules"] == ["blog", "pages"]
    assert data["image"] == f"ghcr.io/rustok/rustok-mini@{DIGEST_A}"
    assert data["created_at"] == "2026-08-16T10:00:00Z"
    assert parse_record(message, tag="release/rel_2026_08_16_002") == made
    signed = message + "-----BEGIN PGP SIGNATURE-----\nxyz\n-----END PGP SIGNATURE-----\n"
    assert parse_record(signed, tag="release/rel_2026_08_16_002") == made


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"image_digest": "sha256:abc"}, "image_digest"),
        ({"git_sha": "HEAD"}, "git_sha"),
        ({"build_id": "1; rm -rf /"}, "build_id"),
        ({"release_id": "rel_1"}, "release_id"),
        ({"image_repository": "Ghcr.io/x y"}, "image"),
    ],
)
def test_make_record_checks_formats_strictly(change: dict[str, str], needle: str) -> None:
    args: dict[str, object] = {
        "release_id": "rel_2026_08_16_001",
        "manifest_hash": "d" * 64,
        "modules": [],
        "image_repository": "ghcr.io/rustok/rustok-mini",
        "image_digest": DIGEST_A,
        "build_id": "1",
        "git_sha": "e" * 40,
        "previous_release": None,
        "build_key": "c" * 64,
        "template_version": "1",
        "created_at": utc(DAY),
        **change,
    }
    with pytest.raises(ReleaseError, match=needle):
        make_record(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("message", "needle"),
    [
        ("release notes", "not JSON"),
        ("[1]", "not a JSON object"),
        ('{"release_id": "rel_2026_08_16_001"}', "manifest_hash"),
    ],
)
def test_parse_record_refuses_what_is_not_a_record(message: str, needle: str) -> None:
    with pytest.raises(ReleaseError, match=needle):
        parse_record(message, tag="release/rel_2026_08_16_001")


def test_parse_record_refuses_a_message_naming_another_release_or_a_newer_format() -> None:
    message = record("rel_2026_08_16_001").to_message()
    with pytest.raises(ReleaseError, match="names release rel_2026_08_16_001"):
        parse_record(message, tag="release/rel_2026_08_16_002")
    newer = message.replace('"format": 1', '"format": 2')
    with pytest.raises(ReleaseError, match="newer"):
        parse_record(newer, tag="release/rel_2026_08_16_001")


def test_choosing_releases() -> None:
    tags = [
        ReleaseTag("release/rel_2026_08_15_001", "c1", record("rel_2026_08_15_001", "a" * 64)),
        ReleaseTag("release/rel_2026_08_16_002", "c2", record("rel_2026_08_16_002", "b" * 64)),
        ReleaseTag("release/rel_2026_08_16_001", "c3", record("rel_2026_08_16_001", "a" * 64)),
        ReleaseTag("release/rel_2026_08_16_003", "c4", None, "unreadable"),
    ]
    found = release_for_build_key(tags, "a" * 64)
    assert found is not None and found.release_id == "rel_2026_08_16_001"  # the newest with that key
    assert release_for_build_key(tags, "f" * 64) is None
    newest = newest_release(tags)
    assert newest is not None and newest.release_id == "rel_2026_08_16_002"  # unreadable ones skipped
    before = newest_release(tags, before="rel_2026_08_16_001")
    assert before is not None and before.release_id == "rel_2026_08_15_001"


# --- in a real git repository ------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of rustok-mini as its own repository, with a bare `origin`, and no git identity
    configured anywhere (as on a fresh CI runner): modbot must still be able to tag."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(var, raising=False)
    work = tmp_path / "rustok-mini"
    shutil.copytree(MINI, work, ignore=shutil.ignore_patterns("target"))
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "init")
    remote = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git(work, "remote", "add", "origin", str(remote))
    git(work, "push", "-q", "origin", "main")
    monkeypatch.chdir(work)
    return work


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object], str]:
    code = main(["pipeline", *args, "--format", "json"] if args[0] != "release" else ["pipeline", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, (json.loads(out) if out.strip() else {}), err


def plan(capsys: pytest.CaptureFixture[str], now: str = DAY) -> dict[str, object]:
    code, data, err = cli(capsys, "release", "plan", "--now", now, "--format", "json")
    assert code == 0, err
    return data


def create(
    capsys: pytest.CaptureFixture[str], sha: str, *extra: str, now: str = DAY
) -> tuple[int, dict[str, object], str]:
    return cli(
        capsys, "release", "create", "--image-digest", DIGEST_A, "--build-id", "987-1", "--git-sha", sha,
        "--now", now, "--format", "json", *extra,
    )  # fmt: skip


def test_release_lifecycle_reuse_and_round_trip(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    first = plan(capsys)
    assert first["build_needed"] is True
    assert first["existing_release"] == "" and first["previous_release"] == ""
    assert first["release_id"] == "rel_2026_08_16_001"
    assert first["auto_deploy_environments"] == ["staging"]

    code, made, err = create(capsys, head)
    assert code == 0, err
    assert made["tag"] == "release/rel_2026_08_16_001"
    assert made["build_key"] == first["build_key"]
    assert made["previous_release"] is None
    # an annotated tag on the built commit whose message is the JSON record
    assert git(repo, "cat-file", "-t", "release/rel_2026_08_16_001") == "tag"
    assert git(repo, "rev-parse", "release/rel_2026_08_16_001^{commit}") == head
    message = json.loads(git(repo, "tag", "-l", "--format=%(contents)", "release/rel_2026_08_16_001"))
    assert message["git_sha"] == head and message["build_id"] == "987-1"
    assert message["image"] == f"ghcr.io/rustok/rustok-mini@{DIGEST_A}"
    assert message["modules"] == ["blog", "content", "outbox", "pages"]
    assert git(repo, "for-each-ref", "--format=%(taggername)", "refs/tags/release/") == "modbot"

    code, shown, _ = cli(capsys, "release", "show", "rel_2026_08_16_001", "--format", "json")
    assert code == 0
    assert shown["commit"] == head
    assert {k: shown[k] for k in message} == message  # round trip

    # the same tree again: reuse, no build
    again = plan(capsys)
    assert again["build_needed"] is False
    assert again["existing_release"] == "rel_2026_08_16_001"
    assert again["existing_image"] == f"ghcr.io/rustok/rustok-mini@{DIGEST_A}"
    assert again["previous_release"] == "rel_2026_08_16_001"
    code, _, err = create(capsys, head)
    assert code == 1 and "already built from build key" in err
    code, _, err = create(capsys, head, "--allow-same-key", "--release-id", "rel_2026_08_16_001")
    assert code == 1 and "immutable" in err

    # a docs-only change outside key_paths still reuses; a code change does not
    (repo / "README.md").write_text("changed\n")
    commit_all(repo, "docs")
    assert plan(capsys)["build_needed"] is False
    lib = repo / "crates/rustok-blog/src/lib.rs"
    lib.write_text(lib.read_text() + "\n// a change\n")
    second_sha = commit_all(repo, "code")
    second = plan(capsys)
    assert second["build_needed"] is True
    assert second["release_id"] == "rel_2026_08_16_002"
    assert second["previous_release"] == "rel_2026_08_16_001"
    code, made, _ = create(capsys, second_sha)
    assert code == 0 and made["previous_release"] == "rel_2026_08_16_001"

    # install a module: the manifest hash (and so the key) changes; next day starts at 001
    assert main(["install", "forum", "--crate", "rustok-forum", "--source", "path", "--path",
                 "crates/rustok-forum", "--depends-on", "content", "--manifest", "modules.toml"]) == 0  # fmt: skip
    third_sha = commit_all(repo, "install forum")
    capsys.readouterr()
    third = plan(capsys, "2026-08-17T08:00:00Z")
    assert third["release_id"] == "rel_2026_08_17_001"
    assert third["build_needed"] is True
    assert "forum" in third["modules"]  # type: ignore[operator]
    code, made, _ = create(capsys, third_sha, now="2026-08-17T08:00:00Z")
    assert made["modules"] == ["blog", "content", "forum", "outbox", "pages"]
    assert made["previous_release"] == "rel_2026_08_16_002"


def test_install_then_uninstall_plans_a_reuse_and_the_status_that_names_it(
    capsys: pytest.CaptureFixture[str], repo: Path
) -> None:
    from bot.pipeline.release import RELEASE_STATUS_CONTEXT, reused_release_in

    head = git(repo, "rev-parse", "HEAD")
    code, _, err = create(capsys, head)
    assert code == 0, err
    install = ["install", "forum", "--crate", "rustok-forum", "--source", "path", "--path",
               "crates/rustok-forum", "--depends-on", "content", "--manifest", "modules.toml"]  # fmt: skip
    assert main(install) == 0
    installed_sha = commit_all(repo, "install forum")
    capsys.readouterr()
    installed = plan(capsys)
    assert installed["build_needed"] is True and installed["status_description"] == ""
    code, made, err = create(capsys, installed_sha)
    assert code == 0 and made["release_id"] == "rel_2026_08_16_002", err

    assert main(["uninstall", "forum", "--manifest", "modules.toml"]) == 0
    commit_all(repo, "uninstall forum")
    capsys.readouterr()
    uninstalled = plan(capsys)
    # back at the first release's build key: reused, no build, and no tag for this commit
    assert uninstalled["build_needed"] is False
    assert uninstalled["existing_release"] == "rel_2026_08_16_001"
    assert uninstalled["status_context"] == RELEASE_STATUS_CONTEXT == "modbot/release"
    description = str(uninstalled["status_description"])
    assert reused_release_in(description) == "rel_2026_08_16_001"
    assert len(description) <= 140  # a commit status description's limit


def test_gaps_unreadable_tags_and_clock(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "tag", "release/rel_2026_08_16_007", head)  # lightweight, hand-made
    data = plan(capsys)
    assert data["release_id"] == "rel_2026_08_16_008"  # the gap is kept, the id is not reused
    code, _, err = cli(capsys, "release", "plan", "--now", DAY, "--format", "json")
    assert "ignoring release/rel_2026_08_16_007: release/rel_2026_08_16_007 is a lightweight tag" in err
    code, _, err = cli(capsys, "release", "plan", "--now", "2026-08-15T10:00:00Z", "--format", "json")
    assert code == 1 and "dated after today" in err
    code, _, err = cli(capsys, "release", "show", "rel_2026_08_16_007")
    assert code == 1 and "lightweight" in err
    code, _, err = cli(capsys, "release", "show", "rel_2026_08_16_009")
    assert code == 1 and "no tag release/rel_2026_08_16_009" in err


def test_create_validates_its_inputs(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    for bad in (["--image-digest", "sha256:abc"], ["--git-sha", "HEAD"], ["--build-id", "1 2"]):
        args = {"--image-digest": DIGEST_A, "--build-id": "1", "--git-sha": head}
        args[bad[0]] = bad[1]
        with pytest.raises(SystemExit) as info:
            main(["pipeline", "release", "create", *[x for kv in args.items() for x in kv]])
        assert info.value.code == 2
    capsys.readouterr()
    code, _, err = create(capsys, "f" * 40)
    assert code == 1 and "not in this repository" in err
    code, _, err = create(capsys, head, "--ui-image", f"admin=ghcr.io/rustok/admin@{DIGEST_B}")
    assert code == 1 and "not in [[headless.ui]]" in err


def test_push_and_failed_push_leave_no_local_tag(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    code, _made, err = create(capsys, head, "--push")
    assert code == 0, err
    remote = repo.parent / "origin.git"
    assert git(remote, "rev-parse", "refs/tags/release/rel_2026_08_16_001^{commit}") == head
    lib = repo / "crates/rustok-pages/src/lib.rs"
    lib.write_text(lib.read_text() + "\n")
    sha = commit_all(repo, "x")
    code, _, err = create(capsys, sha, "--push", "--remote", "nowhere")
    assert code == 1 and "could not push" in err
    assert git(repo, "tag", "-l", "release/rel_2026_08_16_002") == ""
    with pytest.raises(SystemExit):
        main(["pipeline", "release", "create", "--image-digest", DIGEST_A, "--build-id", "1",
              "--git-sha", sha, "--remote", "--upload-pack=evil"])  # fmt: skip


def test_deploy_tags_resolve_promote_rollback(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    first_sha = git(repo, "rev-parse", "HEAD")
    assert create(capsys, first_sha)[0] == 0
    lib = repo / "crates/rustok-blog/src/lib.rs"
    lib.write_text(lib.read_text() + "\n// v2\n")
    second_sha = commit_all(repo, "v2")
    assert create(capsys, second_sha, "--allow-same-key")[0] == 0
    r1, r2 = "rel_2026_08_16_001", "rel_2026_08_16_002"

    code, _, err = cli(capsys, "resolve", "--tag", "deploy/staging")
    assert code == 1 and "there is no tag deploy/staging" in err

    code, moved, _ = cli(capsys, "promote", "--environment", "staging", "--release", r1, "--push")
    assert code == 0 and moved["previous_commit"] == "" and moved["commit"] == first_sha
    code, resolved, _ = cli(capsys, "resolve", "--ref", "refs/tags/deploy/staging")
    assert code == 0
    assert resolved["release_id"] == r1 and resolved["previous_release"] == ""
    assert resolved["image"] == f"ghcr.io/rustok/rustok-mini@{DIGEST_A}"
    assert resolved["url"] == "https://staging.rustok-mini.example.com"
    assert (
        resolved["backend"] == "kubernetes"
        and resolved["health_token_env"] == "RUSTOK_OBSERVABILITY_BEARER_TOKEN"
    )

    code, moved, _ = cli(capsys, "promote", "--environment", "staging", "--release", r2, "--push")
    assert moved["previous_commit"] == first_sha
    code, resolved, _ = cli(capsys, "resolve", "--tag", "deploy/staging")
    assert resolved["release_id"] == r2 and resolved["previous_release"] == r1
    assert resolved["previous_image"] == resolved["image"]  # same digest in this test

    # roll back: the tag moves back (force, that tag only), locally and on the remote
    code, moved, _ = cli(capsys, "rollback-tag", "--environment", "staging", "--to-release", r1, "--push")
    assert code == 0 and moved["commit"] == first_sha and moved["previous_commit"] == second_sha
    remote = repo.parent / "origin.git"
    assert git(remote, "rev-parse", "refs/tags/deploy/staging^{commit}") == first_sha
    assert git(repo, "rev-parse", "refs/tags/release/rel_2026_08_16_002^{commit}") == second_sha  # untouched
    code, resolved, _ = cli(capsys, "resolve", "--tag", "deploy/staging")
    assert resolved["release_id"] == r1 and resolved["previous_release"] == ""  # by id: none before r1
    code, resolved, _ = cli(capsys, "resolve", "--tag", "deploy/staging", "--previous-ref", second_sha)
    assert resolved["previous_release"] == r2  # what the tag pointed at before (the push's `before`)
    code, resolved, _ = cli(capsys, "resolve", "--tag", "deploy/staging", "--previous-ref", "0" * 40)
    assert resolved["previous_release"] == ""  # a new tag: fall back to the id rule

    # a deploy tag on a commit without a release, an unknown environment, a bad ref
    lib.write_text(lib.read_text() + "\n// v3\n")
    third = commit_all(repo, "v3")
    git(repo, "tag", "-f", "deploy/production", third)
    code, _, err = cli(capsys, "resolve", "--tag", "deploy/production")
    assert code == 1 and "no release/* tag points at" in err
    code, _, err = cli(capsys, "resolve", "--tag", "deploy/qa")
    assert code == 1 and 'environment "qa" is not in the config' in err
    code, _, err = cli(capsys, "resolve", "--ref", "refs/heads/deploy/staging")
    assert code == 2 and "not a tag ref" in err
    code, _, err = cli(
        capsys, "rollback-tag", "--environment", "staging", "--to-release", "rel_2026_01_01_001"
    )
    assert code == 1 and "no tag release/rel_2026_01_01_001" in err


def test_the_reuse_status_names_its_release_first_and_nothing_else_is_read_as_one() -> None:
    from bot.pipeline.release import reuse_status_description, reused_release_in

    description = reuse_status_description("rel_2026_08_16_001")
    assert reused_release_in(description) == "rel_2026_08_16_001"
    assert len(reuse_status_description("rel_2026_08_16_999")) <= 140
    for text in (
        None,
        "",
        "reused rel_2026_08_16_001",
        "rel_2026_13_01_001: reused",
        "release/rel_2026_08_16_001",
    ):
        assert reused_release_in(text) is None, text
