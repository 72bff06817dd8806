"""End to end on one machine: a change request opened on the local forge is queued as a typed event in
the store's durable queue, the worker's own dispatch hands it to the same review use case a GitHub
webhook goes to, and the review is published on the local forge (sticky comment and check run) for
RusToK's real modules.toml. Real git, a real SQLite store, no GitHub."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.app.review.report import CHECK_NAME, MARKER
from bot.config import BotSettings
from bot.forge.local import LocalForge
from bot.store import LocalForgeStore, Store, open_store
from bot.worker.wiring import dispatch
from tests.corpus import LATEST, ROOT, read

REPO = "acme/site"
BOT = "modbot"


@pytest.fixture
def forge_and_store(tmp_path: Path) -> tuple[LocalForge, Store]:
    store = open_store(f"sqlite:///{tmp_path / 'modbot.sqlite3'}")
    forge = LocalForge(
        tmp_path / "repos",
        LocalForgeStore(store.engine),
        {"alice": "write"}.get,
        bot_login=BOT,
    )
    git = forge.create_repository(REPO)
    me = forge.identity("alice")
    tree = git.tree_with_files(None, {"modules.toml": read(LATEST).encode()})
    git.update_ref("refs/heads/main", git.commit_tree(tree, [], "first\n", author=me, committer=me), None)
    return forge, store


def propose(forge: LocalForge, branch: str, manifest: str) -> int:
    git = forge.create_repository(REPO)
    main = git.resolve("main")
    assert main is not None
    me = forge.identity("alice")
    tree = git.tree_with_files(main, {"modules.toml": manifest.encode()})
    git.update_ref(
        f"refs/heads/{branch}", git.commit_tree(tree, [main], "change\n", author=me, committer=me), None
    )
    return forge.open_change_request(
        REPO, head=branch, base="main", title=branch, body="", author="alice"
    ).number


def run_queued_jobs(forge: LocalForge, store: Store) -> list[tuple[str, str]]:
    """What the worker does with each queued job: dispatch it to its use case (here with the local forge)."""
    settings = BotSettings(github_token=SecretStr("unused"), bot_login=BOT)
    outcomes = []
    while (job := store.claim_next("test-worker")) is not None:
        outcome = dispatch(
            job.event, job.payload, job.received_at, forge=forge, store=store, settings=settings
        )
        store.complete(job)
        outcomes.append((job.event, outcome))
    return outcomes


def test_a_change_request_is_reviewed_through_the_queue_and_published_on_the_local_forge(
    forge_and_store: tuple[LocalForge, Store],
) -> None:
    forge, store = forge_and_store
    manifest = read(LATEST)
    broken = manifest.replace(
        "[modules]\n", '[modules]\nguestbook = { crate = "rustok-guestbook", source = "nowhere" }\n', 1
    )
    assert broken != manifest
    number = propose(forge, "install-guestbook", broken)

    outcomes = run_queued_jobs(forge, store)

    assert [(event, outcome.split(" ")[0]) for event, outcome in outcomes] == [
        ("forge:change_request", "reviewed"),
        ("forge:comment", "ignored:"),  # our own sticky comment's event
    ]
    comment = forge.find_comment(REPO, number, MARKER)
    assert comment is not None and comment.author == BOT and "guestbook" in comment.body
    head = forge.get_pull(REPO, number).head_sha
    # the review publishes a check run in App mode and a commit status otherwise (it asks the settings,
    # not yet the forge's capabilities): here a status
    status = forge.latest_commit_status(REPO, head, CHECK_NAME)
    assert status is not None and status.state == "failure"

    fixed = manifest.replace(
        "[modules]\n",
        '[modules]\nguestbook = { crate = "rustok-guestbook", source = "path", path = "crates/rustok-guestbook" }\n',
        1,
    )
    git = forge.create_repository(REPO)
    me = forge.identity("alice")
    tree = git.tree_with_files(head, {"modules.toml": fixed.encode()})
    new = git.commit_tree(tree, [head], "fix\n", author=me, committer=me)
    git.update_ref("refs/heads/install-guestbook", new, head)
    forge.pushed(REPO, "refs/heads/install-guestbook", head, new)  # what the post-receive hook does

    run_queued_jobs(forge, store)

    updated = forge.find_comment(REPO, number, MARKER)
    assert updated is not None and updated.id == comment.id and updated.body != comment.body  # sticky
    again = forge.latest_commit_status(REPO, new, CHECK_NAME)
    assert again is not None and again.state == "success"


def test_a_command_in_a_comment_is_answered_by_the_same_rules_with_local_roles(
    forge_and_store: tuple[LocalForge, Store],
) -> None:
    """A reader's `/deploy staging` on a local change request: refused by the `permission` rule, with the
    role read from the local accounts; a writer's malformed command gets the usage reply."""
    forge, store = forge_and_store
    forge.role_of = {"alice": "write", "carol": "read"}.get
    main = forge.branch_head(REPO, "main")
    policy = (ROOT / "examples" / "rustok-mini" / ".github" / "modbot.toml").read_bytes()
    forge.commit_file(REPO, "main", ".github/modbot.toml", policy, message="policy", parent_sha=main)
    number = propose(forge, "tweak", read(LATEST) + "\n")
    run_queued_jobs(forge, store)

    forge.add_comment(REPO, number, "/deploy staging", by="carol")
    forge.add_comment(REPO, number, "/deploy", by="alice")
    outcomes = [
        outcome for event, outcome in run_queued_jobs(forge, store) if not outcome.startswith("ignored")
    ]

    assert outcomes == ["/deploy: refused (permission)", "answered: usage command"]
    replies = [c.body for c in forge.records.list_comments(REPO, number) if c.author == BOT][-2:]
    assert "rule `permission`" in replies[0] and "your role is read" in replies[0]
    assert "`/deploy` needs an environment" in replies[1]
