"""Plain git against the local forge: ``modbot local init`` makes a repository whose post-receive hook
turns real ``git push``es into events in the store's durable queue; a push never fails because modbot
cannot record it (the updates wait in the spool); ``modbot local propose`` opens a change request."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bot.cli import main
from bot.forge.events import ChangeRequestEvent, RefCreatedEvent, RefPushedEvent, event_from_json
from bot.forge.local import LocalForge
from bot.store import LocalForgeStore, open_store

REPO = "acme/site"


def pusher_env() -> dict[str, str]:
    """A pusher's environment: not modbot's (no MODBOT_*), so the hook must know where the store is."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "MODBOT_"))}


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = pusher_env()
    env.update(
        GIT_AUTHOR_NAME="alice",
        GIT_AUTHOR_EMAIL="alice@users.modbot.local",
        GIT_COMMITTER_NAME="alice",
        GIT_COMMITTER_EMAIL="alice@users.modbot.local",
    )
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, str]:
    """(the forge's root, a clone with a first commit on main pushed, the database URL)."""
    database = f"sqlite:///{tmp_path / 'db' / 'modbot.sqlite3'}"
    (tmp_path / "db").mkdir()
    monkeypatch.setenv("MODBOT_DATABASE_URL", database)
    root = tmp_path / "repos"
    assert main(["local", "init", REPO, "--root", str(root)]) == 0
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(root / "acme" / "site.git"), str(work)], check=True)
    (work / "README.md").write_text("hello\n")
    git(work, "add", "README.md")
    git(work, "commit", "-qm", "first")
    git(work, "push", "-q", "origin", "HEAD:main")
    return root, work, database


def deliveries(database: str) -> list[tuple[str, str | None, dict[str, object]]]:
    store = open_store(database)
    try:
        with store.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT delivery_id FROM deliveries ORDER BY id").all()
        found = [store.get_delivery(row[0]) for row in rows]
    finally:
        store.dispose()
    return [(d.event, d.action, d.payload) for d in found if d is not None]


def test_a_push_becomes_an_event_and_propose_opens_a_change_request(
    site: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    root, work, database = site
    git(work, "checkout", "-qb", "install-forum")
    (work / "modules.toml").write_text("[modules]\n")
    git(work, "add", "modules.toml")
    git(work, "commit", "-qm", "install forum")
    git(work, "push", "-q", "origin", "install-forum")
    head = git(work, "rev-parse", "HEAD").stdout.strip()

    assert (
        main(
            [
                "local",
                "propose",
                REPO,
                "install-forum",
                "--title",
                "Install forum",
                "--as",
                "alice",
                "--root",
                str(root),
                "--format",
                "json",
            ]
        )
        == 0
    )
    assert '"number": 1' in capsys.readouterr().out

    (work / "modules.toml").write_text("[modules]\nforum = {}\n")
    git(work, "commit", "-qam", "fix")
    git(work, "push", "-q", "origin", "install-forum")
    new_head = git(work, "rev-parse", "HEAD").stdout.strip()

    events = deliveries(database)
    kinds = [(event, action) for event, action, _ in events]
    assert kinds == [
        ("forge:ref_created", None),  # main
        ("forge:ref_pushed", None),
        ("forge:ref_created", None),  # install-forum
        ("forge:ref_pushed", None),
        ("forge:change_request", "opened"),
        ("forge:ref_pushed", None),
        ("forge:change_request", "synchronize"),
    ]
    created, pushed = event_from_json(events[2][2]), event_from_json(events[3][2])
    assert isinstance(created, RefCreatedEvent) and (created.ref, created.ref_type) == (
        "install-forum",
        "branch",
    )
    assert isinstance(pushed, RefPushedEvent) and pushed.after == head
    update = event_from_json(events[6][2])
    assert isinstance(update, ChangeRequestEvent)
    assert (update.number, update.head_sha, update.repository.full_name) == (1, new_head, REPO)
    assert (root / "acme" / "site.git" / "modbot-pushes.spool").read_bytes() == b""  # all taken


def test_a_push_while_modbot_cannot_record_it_succeeds_and_waits_in_the_spool(
    site: tuple[Path, Path, str],
) -> None:
    root, work, database = site
    db_dir = Path(database.removeprefix("sqlite:///")).parent
    db_dir.rename(db_dir.with_name("db-away"))
    db_dir.write_text("not a directory: the store cannot be opened")  # modbot is "down"

    git(work, "checkout", "-qb", "later")
    (work / "x").write_text("x\n")
    git(work, "add", "x")
    git(work, "commit", "-qm", "x")
    pushed = git(work, "push", "origin", "later")  # check=True: the push itself succeeds
    assert "modbot: the push is in; modbot will see it later" in pushed.stderr
    spool = root / "acme" / "site.git" / "modbot-pushes.spool"
    assert b"refs/heads/later" in spool.read_bytes()

    db_dir.unlink()
    db_dir.with_name("db-away").rename(db_dir)
    assert main(["local", "hook", "post-receive", REPO, "--root", str(root), "--database", database]) == 0
    assert main(["local", "hook", "post-receive", REPO, "--root", str(root), "--database", database]) == 0
    refs = [payload["ref"] for event, _, payload in deliveries(database) if event == "forge:ref_pushed"]
    assert refs == ["refs/heads/main", "refs/heads/later"]  # recorded once, though drained twice
    assert spool.read_bytes() == b""


def test_the_hook_names_no_credentials_and_runs_no_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODBOT_DATABASE_URL", "postgresql+psycopg://modbot:s3cret@db.internal/modbot")
    root = tmp_path / "repos"
    repo = "o/x"
    assert main(["local", "init", repo, "--root", str(root)]) == 0
    hook = (root / "o" / "x.git" / "hooks" / "post-receive").read_text()
    assert "s3cret" not in hook and "shell=True" not in hook and "os.system" not in hook
    assert os.access(root / "o" / "x.git" / "hooks" / "post-receive", os.X_OK)
    assert main(["local", "init", "not a repo", "--root", str(root)]) == 2


def push_refused(work: Path, *args: str) -> str:
    env = pusher_env()
    done = subprocess.run(
        ["git", "push", "origin", *args], cwd=work, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode != 0, done.stderr
    return done.stderr


def test_refs_only_modbot_writes_are_refused_to_pushers_but_not_to_modbot(
    site: tuple[Path, Path, str],
) -> None:
    root, work, database = site
    (work / "README.md").write_text("straight to main\n")
    git(work, "commit", "-qam", "direct")
    assert "only modbot writes refs/heads/main" in push_refused(work, "HEAD:main")
    assert "refs/heads/main" in push_refused(work, ":main")  # nor deleted
    git(work, "tag", "-a", "release/rel_2026_12_07_001", "-m", "{}")
    assert "refs/tags/release/rel_2026_12_07_001" in push_refused(work, "release/rel_2026_12_07_001")
    assert "refs/tags/deploy/production" in push_refused(work, "HEAD:refs/tags/deploy/production")
    git(work, "push", "-q", "origin", "HEAD:refs/heads/feature")  # branches are for everyone

    store = open_store(database)
    try:
        forge = LocalForge(root, LocalForgeStore(store.engine), {"alice": "write"}.get)
        main_sha = forge.branch_head(REPO, "main")
        tag = forge.create_annotated_tag(REPO, "release/rel_2026_12_07_001", main_sha, "{}")  # modbot may
        assert forge.get_ref(REPO, "tags/release/rel_2026_12_07_001") == tag
    finally:
        store.dispose()


def test_pushing_to_the_default_branch_can_be_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'modbot.sqlite3'}")
    root = tmp_path / "repos"
    assert main(["local", "init", REPO, "--root", str(root), "--allow-push-to-default-branch"]) == 0
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(root / "acme" / "site.git"), str(work)], check=True)
    for n in range(2):
        (work / "README.md").write_text(f"{n}\n")
        git(work, "add", "README.md")
        git(work, "commit", "-qm", f"{n}")
        git(work, "push", "-q", "origin", "HEAD:main")
    git(work, "tag", "-a", "release/rel_2026_12_07_002", "-m", "{}")
    assert "release/rel_2026_12_07_002" in push_refused(work, "release/rel_2026_12_07_002")
