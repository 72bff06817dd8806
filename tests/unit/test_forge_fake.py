"""`FakeForge`'s own model (what the contract suite cannot show with GitHub mocks): git history, the
admin-action flow on a bot branch, and the bookkeeping handler tests read."""

from __future__ import annotations

from datetime import UTC, datetime

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


def test_annotated_tags_peel_to_their_commit(fake: FakeForge) -> None:
    first = fake.branch_head(REPO, "main")
    second = fake.commit(REPO, "main", {"modules.toml": b"schema = 2\n"})
    tag = fake.add_annotated_tag(
        REPO, "release/rel_2026_01_02_001", first, '{"release_id": "rel_2026_01_02_001"}'
    )
    assert fake.get_file(REPO, "modules.toml", "release/rel_2026_01_02_001") == b"schema = 1\n"
    ref = fake.get_ref(REPO, "tags/release/rel_2026_01_02_001")
    assert ref is not None and (ref.sha, ref.object_type) == (tag.sha, "tag")
    assert fake.get_tag_object(REPO, tag.sha).object_sha == first
    # deploy/prod may point at the tag object; moving it on to a newer commit is a fast-forward
    fake.create_ref(REPO, "tags/deploy/prod", tag.sha)
    assert fake.update_ref(REPO, "tags/deploy/prod", second).object_type == "commit"
    with pytest.raises(ForgeError, match="not a fast forward"):
        fake.update_ref(REPO, "tags/deploy/prod", tag.sha)
    with pytest.raises(ValueError, match="already exists"):
        fake.add_annotated_tag(REPO, "release/rel_2026_01_02_001", second, "again")
    with pytest.raises(ForgeError) as info:
        fake.get_tag_object(REPO, first)  # a commit is no tag object
    assert info.value.status == 404


def test_merge_pull_squashes_onto_the_moved_base(fake: FakeForge) -> None:
    fake.commit(REPO, "feature", {"modules.toml": b"schema = 2\n"})
    pull = fake.add_pull(REPO, "feature")
    fake.commit(REPO, "main", {"README.md": b"meanwhile"})
    merged = fake.merge_pull(REPO, pull.number)
    assert (merged.state, merged.merged) == ("closed", True)
    assert merged.merge_commit_sha == fake.branch_head(REPO, "main")
    assert fake.get_pull(REPO, pull.number).merge_commit_sha == merged.merge_commit_sha
    assert fake.file_at(REPO, "main", "modules.toml") == b"schema = 2\n"
    assert fake.file_at(REPO, "main", "README.md") == b"meanwhile"
    with pytest.raises(ValueError, match="not open"):
        fake.merge_pull(REPO, pull.number)


def test_reviews_default_to_the_head_and_pending_ones_are_unsubmitted(fake: FakeForge) -> None:
    fake.commit(REPO, "feature", {"modules.toml": b"x"})
    pull = fake.add_pull(REPO, "feature")
    approved = fake.add_review(REPO, pull.number, "bob")
    pending = fake.add_review(REPO, pull.number, "carol", "PENDING")
    assert (approved.commit_id, approved.state) == (pull.head_sha, "APPROVED")
    assert approved.submitted_at is not None and pending.submitted_at is None
    assert fake.list_reviews(REPO, pull.number) == [approved, pending]


def test_deployments_statuses_and_reruns_follow_github(fake: FakeForge) -> None:
    ticks = iter(range(100))
    clocked = FakeForge(bot_login=BOT, clock=lambda: datetime(2026, 1, 2, 0, next(ticks), tzinfo=UTC))
    clocked.add_repo(REPO)
    staging = clocked.create_deployment(REPO, ref="main", environment="staging", description="s", payload={})
    prod = clocked.create_deployment(REPO, ref="main", environment="prod", description="p", payload={})
    assert staging.created_at < prod.created_at
    clocked.create_deployment_status(REPO, staging.id, "success", description="")
    clocked.create_deployment_status(REPO, prod.id, "success", description="")
    # another environment's success leaves staging alone; without auto_inactive nothing is touched
    later = clocked.create_deployment(REPO, ref="main", environment="prod", description="p2", payload={})
    clocked.create_deployment_status(REPO, later.id, "success", description="", auto_inactive=False)
    assert [s.state for s in clocked.list_deployment_statuses(REPO, staging.id)] == ["success"]
    assert [s.state for s in clocked.list_deployment_statuses(REPO, prod.id)] == ["success"]
    assert [d.deployment.id for d in clocked.deployments(REPO)] == [staging.id, prod.id, later.id]

    run = clocked.add_workflow_run(REPO, head_sha="1" * 40, status="in_progress", conclusion=None)
    with pytest.raises(ForgeError, match="already running"):
        clocked.rerun_workflow_run(REPO, run.id)
    clocked.update_workflow_run(REPO, run.id, status="completed", conclusion="failure")
    clocked.rerun_workflow_run(REPO, run.id)
    assert clocked.get_workflow_run(REPO, run.id).run_attempt == 2
    [(workflow_id, path)] = clocked.repos[REPO].workflows.items()
    assert path == ".github/workflows/modbot-build.yml"
    assert [r.id for r in clocked.list_workflow_runs(REPO, workflow=workflow_id)] == [run.id]
    assert [r.id for r in clocked.list_workflow_runs(REPO, workflow=str(workflow_id))] == [run.id]


def test_injected_failures_reach_the_new_operations(fake: FakeForge) -> None:
    fake.fail_next("create_deployment", ForgeError("create_deployment", 422, "spammed"))
    fake.fail_next("is_team_member", ForgeError("is_team_member", 502, "Bad gateway", attempts=5))
    with pytest.raises(ForgeError, match="spammed"):
        fake.create_deployment(REPO, ref="main", environment="prod", description="d", payload={})
    assert fake.list_deployments(REPO) == []  # nothing was made
    with pytest.raises(ForgeError, match="Bad gateway"):
        fake.is_team_member("octo", "team", "alice")
    assert fake.operations() == ["create_deployment", "list_deployments", "is_team_member"]
    assert fake.api_calls == 3
