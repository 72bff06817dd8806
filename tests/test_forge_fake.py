"""`FakeForge`'s own model (what the contract suite cannot show with GitHub mocks): git history, the
admin-action flow on a bot branch, and the bookkeeping handler tests read."""

from __future__ import annotations

import pytest

from bot.forge import ForgeError, count_calls
from tests.fakes import FakeForge

REPO = "octo/modules"
BOT = "modbot[bot]"


@pytest.fixture
def fake() -> FakeForge:
    forge = FakeForge(bot_login=BOT)
    forge.add_repo(REPO, files={"modules.toml": b"schema = 1\n"})
    return forge


def test_files_follow_branches_tags_and_shas(fake: FakeForge) -> None:
    base = fake.branch_head(REPO, "main")
    head = fake.commit(REPO, "feature", {"modules.toml": b"schema = 2\n"})
    fake.create_ref(REPO, "tags/v1", base)
    assert fake.get_file(REPO, "modules.toml", "feature") == b"schema = 2\n"
    assert fake.get_file(REPO, "modules.toml", head) == b"schema = 2\n"
    assert fake.get_file(REPO, "modules.toml", "v1") == b"schema = 1\n"
    assert fake.get_file(REPO, "modules.toml", "refs/tags/v1") == b"schema = 1\n"
    assert fake.get_file(REPO, "modules.toml", "nope") is None
    fake.commit(REPO, "feature", {"modules.toml": None})
    assert fake.get_file(REPO, "modules.toml", "feature") is None


def test_pull_touches_uses_the_diff(fake: FakeForge) -> None:
    fake.commit(REPO, "docs", {"README.md": b"hi"})
    fake.commit(REPO, "change", {"modules.toml": b"schema = 2\n"})
    docs = fake.add_pull(REPO, "docs")
    change = fake.add_pull(REPO, "change")
    assert not fake.pull_touches(REPO, docs.number, "modules.toml")
    assert fake.pull_touches(REPO, change.number, "modules.toml")
    huge = fake.add_pull(REPO, "docs", files=[f"f{i}" for i in range(3000)])
    assert fake.pull_touches(REPO, huge.number, "modules.toml")  # GitHub lists no more: conservatively yes


def test_the_admin_action_flow_and_a_person_pushing(fake: FakeForge) -> None:
    base = fake.branch_head(REPO, "main")
    with count_calls() as counter:
        fake.create_branch(REPO, "modbot/install-forum", base)
        sha = fake.commit_file(
            REPO, "modbot/install-forum", "modules.toml", b"forum\n", message="m", parent_sha=base
        )
        pull = fake.create_pull(
            REPO, head="modbot/install-forum", base="main", title="Install forum", body="why"
        )
    assert counter.calls == 1 + 5 + 1
    assert (pull.head_sha, pull.author) == (sha, BOT)
    assert fake.get_file(REPO, "modules.toml", "modbot/install-forum") == b"forum\n"
    assert all(c.made_by(BOT) for c in fake.branch_commits_authors(REPO, "main", "modbot/install-forum"))
    with pytest.raises(ForgeError, match="already exists"):
        fake.create_pull(REPO, head="modbot/install-forum", base="main", title="again", body="")

    # main moves on; the bot regenerates its branch as one fresh commit on the new base (force)
    new_base = fake.commit(REPO, "main", {"other": b"x"})
    with pytest.raises(ForgeError, match="not a fast forward"):
        fake.commit_file(
            REPO, "modbot/install-forum", "modules.toml", b"forum 2\n", message="m", parent_sha=new_base
        )
    fresh = fake.commit_file(
        REPO,
        "modbot/install-forum",
        "modules.toml",
        b"forum 2\n",
        message="m",
        parent_sha=new_base,
        force=True,
    )
    found = fake.find_open_pull_by_branch(REPO, "modbot/install-forum")
    assert found is not None and (found.head_sha, found.base_sha) == (fresh, new_base)
    assert len(fake.branch_commits_authors(REPO, "main", "modbot/install-forum")) == 1

    # a person pushes to the bot's branch: the bot must see it
    fake.commit(REPO, "modbot/install-forum", {"modules.toml": b"hand edit\n"}, author="alice")
    authors = fake.branch_commits_authors(REPO, "main", "modbot/install-forum")
    assert [c.made_by(BOT) for c in authors] == [True, False]


def test_comments_reactions_checks_statuses(fake: FakeForge) -> None:
    fake.commit(REPO, "feature", {"modules.toml": b"x"})
    pull = fake.add_pull(REPO, "feature")
    fake.add_comment(REPO, pull.number, "<!-- m --> forged", author="mallory")
    assert fake.find_comment(REPO, pull.number, "<!-- m -->") is None
    mine = fake.create_comment(REPO, pull.number, "<!-- m --> v1")
    assert fake.find_comment(REPO, pull.number, "<!-- m -->") == mine
    fake.update_comment(REPO, mine.id, "<!-- m --> v2")
    assert [c.body for c in fake.comments(REPO, pull.number)] == ["<!-- m --> forged", "<!-- m --> v2"]
    fake.add_reaction(REPO, mine.id, "eyes")
    fake.add_reaction(REPO, mine.id, "eyes")
    assert fake.reactions(REPO, mine.id) == ["eyes"]
    with pytest.raises(ForgeError) as info:
        fake.update_comment(REPO, 424242, "x")
    assert info.value.status == 404

    run = fake.create_check_run(REPO, pull.head_sha, "modbot/manifest", status="in_progress")
    fake.update_check_run(REPO, run.id, conclusion="success", title="ok", summary="valid")
    [stored] = fake.check_runs(REPO)
    assert (stored.status, stored.conclusion, stored.summary) == ("completed", "success", "valid")
    fake.set_commit_status(REPO, pull.head_sha, "success", context="modbot/manifest", description="d" * 200)
    [status] = fake.statuses(REPO, pull.head_sha)
    assert len(status.description) == 140
    with pytest.raises(ForgeError):
        fake.set_commit_status(REPO, "f" * 40, "success", context="c", description="d")


def test_injected_failures_and_the_call_log(fake: FakeForge) -> None:
    fake.fail_next("get_file", ForgeError("get_file", 502, "Bad gateway", attempts=5))
    with pytest.raises(ForgeError, match="Bad gateway"):
        fake.get_file(REPO, "modules.toml", "main")
    assert fake.get_file(REPO, "modules.toml", "main") == b"schema = 1\n"
    assert fake.operations() == ["get_file", "get_file"] and fake.api_calls == 2
    with pytest.raises(ForgeError) as info:
        fake.get_pull("octo/unknown", 1)
    assert info.value.status == 404
    fake.set_permission(REPO, "Bob", "write", "maintain")
    assert fake.get_permission(REPO, "bob") == "maintain"
