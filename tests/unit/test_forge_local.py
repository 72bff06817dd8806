"""The local forge on real git: merges, conflicts, races, tags, forks, who may do what, and the events it
emits. (What it shares with GitHub is in tests/contract/test_forge_contract.py.)"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.forge import Capability, CapabilityDeclined, ForgeError, ForgeProvider, supports
from bot.forge.events import ChangeRequestEvent, CommentEvent, RefCreatedEvent, RefPushedEvent
from bot.forge.local import LocalForge, LocalForgeProvider
from bot.forge.local.hook import catch_up
from bot.pipeline.release import make_record, parse_record
from tests.local_forge_world import LocalWorld
from tests.store_helpers import postgres_schema

REPO = "acme/site"


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalWorld]:
    """The local forge with its records on SQLite and on PostgreSQL (the two stores modbot supports)."""
    if request.param == "sqlite":
        yield LocalWorld(tmp_path, REPO)
        return
    with postgres_schema() as url:
        built = LocalWorld(tmp_path, REPO, store_url=url)
        try:
            yield built
        finally:
            built.records.dispose()


def proposal(world: LocalWorld, branch: str, files: dict[str, bytes], *, author: str = "carol") -> int:
    world.commit(branch, files, author=author)
    pull = world.local.open_change_request(
        REPO, head=branch, base="main", title=f"Change {branch}", body="why", author=author
    )
    return pull.number


def test_a_merge_is_a_real_merge_commit_of_base_and_head(world: LocalWorld) -> None:
    number = proposal(world, "feature", {"modules.toml": b"[modules]\nforum = true\n"})
    base_before = world.git.resolve("main")
    world.commit("main", {"other.txt": b"meanwhile\n"})  # the base moved on: no fast-forward possible
    base_now = world.git.resolve("main")
    head = world.local.get_pull(REPO, number).head_sha

    merged = world.local.merge_pull(REPO, number, by="alice", expected_head_sha=head)

    assert merged.merged and merged.state == "closed" and merged.merge_commit_sha is not None
    merge_sha = world.git.resolve("main")
    assert merge_sha == merged.merge_commit_sha != base_before
    assert merge_sha is not None and base_now is not None
    meta = world.git.commits_between(base_now, merge_sha)[-1]
    assert (meta.sha, meta.parents) == (merge_sha, (base_now, head))
    assert world.local.get_file(REPO, "modules.toml", "main") == b"[modules]\nforum = true\n"
    assert world.local.get_file(REPO, "other.txt", "main") == b"meanwhile\n"
    assert world.records.get_change_request(REPO, number).merged_by == "alice"  # type: ignore[union-attr]
    closed = world.events.events[-1]
    assert isinstance(closed, ChangeRequestEvent)
    assert (closed.action, closed.merged, closed.merge_commit_sha) == ("closed", True, merge_sha)
    pushed = world.events.events[-2]
    assert isinstance(pushed, RefPushedEvent) and (pushed.ref, pushed.after) == ("refs/heads/main", merge_sha)


def test_a_conflicting_merge_is_refused_naming_the_files_and_changes_nothing(world: LocalWorld) -> None:
    world.commit("main", {"modules.toml": b"a = 1\n"})
    number = proposal(world, "feature", {"modules.toml": b"a = 2\n"})
    world.commit("main", {"modules.toml": b"a = 3\n"})
    main_before = world.git.resolve("main")

    with pytest.raises(ForgeError) as info:
        world.local.merge_pull(REPO, number, by="alice")

    assert info.value.status == 405 and "modules.toml" in info.value.message
    assert world.git.resolve("main") == main_before
    assert world.local.get_pull(REPO, number).state == "open"


def test_a_merge_of_a_head_that_moved_meanwhile_is_refused(world: LocalWorld) -> None:
    number = proposal(world, "feature", {"a": b"1"})
    seen = world.local.get_pull(REPO, number).head_sha
    world.commit("feature", {"a": b"2"}, author="carol")
    with pytest.raises(ForgeError) as info:
        world.local.merge_pull(REPO, number, by="alice", expected_head_sha=seen)
    assert info.value.status == 409


def test_merging_needs_the_write_role_and_reviewing_ones_own_change_is_refused(world: LocalWorld) -> None:
    number = proposal(world, "feature", {"a": b"1"})
    for who in ("carol", "nobody"):  # read role; no account
        with pytest.raises(ForgeError) as info:
            world.local.merge_pull(REPO, number, by=who)
        assert info.value.status == 403
    with pytest.raises(ForgeError) as info:
        world.local.submit_review(REPO, number, by="carol", action="approve")
    assert info.value.status == 403
    world.roles["carol"] = "write"
    with pytest.raises(ForgeError) as info:
        world.local.submit_review(REPO, number, by="carol", action="approve")
    assert info.value.status == 422 and "own" in info.value.message
    review = world.local.submit_review(REPO, number, by="bob", action="request_changes", body="no")
    assert (review.author, review.state) == ("bob", "CHANGES_REQUESTED")
    approved = world.local.submit_review(REPO, number, by="alice", action="approve")
    states = [(r.author, r.state, r.commit_id) for r in world.local.list_reviews(REPO, number)]
    assert states == [
        ("bob", "CHANGES_REQUESTED", review.commit_id),
        ("alice", "APPROVED", approved.commit_id),
    ]


def test_close_and_reopen(world: LocalWorld) -> None:
    number = proposal(world, "feature", {"a": b"1"})
    with pytest.raises(ForgeError):
        world.local.set_pull_state(REPO, number, "closed", by="nobody")
    assert world.local.set_pull_state(REPO, number, "closed", by="carol").state == "closed"  # the author
    assert world.local.find_open_pull_by_branch(REPO, "feature") is None
    assert world.local.set_pull_state(REPO, number, "open", by="alice").state == "open"
    assert world.events.kinds()[-2:] == [("change_request", "closed"), ("change_request", "reopened")]
    world.local.set_pull_state(REPO, number, "closed", by="alice")
    second = world.local.open_change_request(REPO, head="feature", base="main", title="again", body="")
    with pytest.raises(ForgeError) as info:  # one open change request per branch, reopening included
        world.local.set_pull_state(REPO, number, "open", by="alice")
    assert info.value.status == 422 and f"#{second.number}" in info.value.message


def test_commit_file_loses_a_race_with_a_push_cleanly(world: LocalWorld) -> None:
    parent = world.commit("bot-branch", {"a": b"1"})
    world.commit("bot-branch", {"a": b"pushed"})  # someone pushed after we read the head
    with pytest.raises(ForgeError) as info:
        world.local.commit_file(REPO, "bot-branch", "a", b"ours", message="m", parent_sha=parent)
    assert info.value.status == 422  # not a fast-forward of what is there now
    assert world.local.get_file(REPO, "a", "bot-branch") == b"pushed"


def test_concurrent_commits_to_one_branch_never_lose_one(world: LocalWorld) -> None:
    """Ten writers, each reading the head and committing on it: compare-and-swap lets exactly the ones
    whose parent was still the head land; the others are told (409/422), none is silently lost."""
    world.commit("busy", {"n": b"0"})
    landed: list[str] = []
    refused: list[int | None] = []
    lock = threading.Lock()

    def write(n: int) -> None:
        parent = world.local.branch_head(REPO, "busy")
        try:
            sha = world.local.commit_file(REPO, "busy", f"f{n}", b"x", message=f"{n}", parent_sha=parent)
        except ForgeError as exc:
            with lock:
                refused.append(exc.status)
            return
        with lock:
            landed.append(sha)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    history = {m.sha for m in world.git.commits_between("main", "busy")}
    assert len(landed) + len(refused) == 10 and landed
    assert set(landed) <= history  # every commit reported as landed is on the branch
    assert set(refused) <= {409, 422}


def test_bot_commits_are_known_from_the_records_not_from_a_typed_identity(world: LocalWorld) -> None:
    """Anyone who pushes can write 'modbot' as their name and e-mail: such a commit is not the bot's."""
    forged = world.local.identity("modbot")
    git = world.git
    main = git.resolve("main")
    assert main is not None
    tree = git.tree_with_files(main, {"x": b"x"})
    sha = git.commit_tree(tree, [main], "forged\n", author=forged, committer=forged)
    git.update_ref("refs/heads/forged", sha, None)
    (info,) = world.local.branch_commits_authors(REPO, "main", "forged")
    assert not info.made_by("modbot") and info.author_login is None
    real = world.local.commit_file(REPO, "forged", "y", b"y", message="m", parent_sha=sha)
    infos = world.local.branch_commits_authors(REPO, "main", "forged")
    assert [(i.sha, i.made_by("modbot")) for i in infos] == [(sha, False), (real, True)]


def test_a_release_tag_is_an_annotated_tag_the_pipeline_reads_back(world: LocalWorld) -> None:
    head = world.git.resolve("main")
    assert head is not None
    record = make_record(
        release_id="rel_2026_12_07_001",
        manifest_hash="a" * 64,
        modules=["forum"],
        image_repository="local/rustok",
        image_digest="sha256:" + "b" * 64,
        build_id="local-1",
        git_sha=head,
        previous_release=None,
        build_key="c" * 64,
        template_version="1",
        created_at=dt.datetime(2026, 12, 7, tzinfo=dt.UTC),
    )
    message = record.model_dump_json(indent=2)
    ref = world.local.create_annotated_tag(REPO, record.tag, head, message)
    (listed,) = world.local.list_tags(REPO, "release/")
    assert listed == ref and ref.object_type == "tag"
    tag = world.local.get_tag_object(REPO, ref.sha)
    assert (tag.tag, tag.object_sha, tag.object_type) == (record.tag, head, "commit")
    assert parse_record(tag.message, tag=tag.tag) == record
    with pytest.raises(ForgeError) as info:
        world.local.create_annotated_tag(REPO, record.tag, head, message)
    assert info.value.status == 422
    created = [e for e in world.events.events if isinstance(e, RefCreatedEvent)]
    assert [(e.ref, e.ref_type) for e in created] == [(record.tag, "tag")]


def test_a_change_request_from_another_hosted_repository_is_a_fork(world: LocalWorld) -> None:
    world.fork("mallory/site")
    head = world.commit("patch-1", {"modules.toml": b"evil = true\n"}, repo="mallory/site", author="mallory")
    pull = world.local.open_change_request(
        REPO, head="mallory/site:patch-1", base="main", title="t", body="", author="mallory"
    )
    assert pull.from_fork and pull.head_sha == head and pull.head_repo == "mallory/site"
    assert world.local.get_file(REPO, "modules.toml", head) == b"evil = true\n"  # fetched in
    assert world.local.pull_touches(REPO, pull.number, "modules.toml")

    newer = world.commit("patch-1", {"modules.toml": b"evil = 2\n"}, repo="mallory/site", author="mallory")
    world.local.pushed("mallory/site", "refs/heads/patch-1", head, newer)  # the fork's hook
    assert world.local.get_pull(REPO, pull.number).head_sha == newer
    assert world.local.get_file(REPO, "modules.toml", newer) == b"evil = 2\n"
    event = world.events.events[-1]
    assert isinstance(event, ChangeRequestEvent)
    assert (event.repository.full_name, event.action, event.head_sha) == (REPO, "synchronize", newer)
    latest = world.commit("patch-1", {"modules.toml": b"evil = 3\n"}, repo="mallory/site", author="mallory")
    assert catch_up(world.local, REPO) == 1  # a push the fork's hook did not report
    assert world.local.get_pull(REPO, pull.number).head_sha == latest


def test_a_push_to_the_head_branch_updates_the_change_request(world: LocalWorld) -> None:
    number = proposal(world, "feature", {"a": b"1"})
    new = world.commit("feature", {"a": b"2"}, author="carol")
    assert world.local.head_pushed(REPO, "feature", new) == [number]
    assert world.local.head_pushed(REPO, "feature", new) == []  # the same head again: nothing new
    assert world.records.get_change_request(REPO, number).head_sha == new  # type: ignore[union-attr]
    event = world.events.events[-1]
    assert isinstance(event, ChangeRequestEvent) and (event.action, event.head_sha) == ("synchronize", new)


def test_a_second_open_change_request_for_one_branch_is_refused(world: LocalWorld) -> None:
    proposal(world, "feature", {"a": b"1"})
    with pytest.raises(ForgeError) as info:
        world.local.open_change_request(REPO, head="feature", base="main", title="again", body="")
    assert info.value.status == 422
    with pytest.raises(ForgeError) as info:
        world.local.open_change_request(REPO, head="main", base="main", title="nothing", body="")
    assert info.value.status == 422 and "No commits" in info.value.message


def test_runs_rerun_and_a_forge_without_a_runner_declines_them(world: LocalWorld, tmp_path: Path) -> None:
    head = world.commit("main", {".github/workflows/modbot-build.yml": b"name: build\n"})
    run = world.local.start_run(
        REPO, workflow="modbot-build.yml", head_sha=head, head_branch="main", event="push"
    )
    with pytest.raises(ForgeError) as info:
        world.local.rerun_workflow_run(REPO, run.id)
    assert info.value.status == 403
    world.local.report_run(REPO, run.id, status="completed", conclusion="success", logs_url="http://x/logs/1")
    world.local.rerun_workflow_run(REPO, run.id)
    again = world.local.get_workflow_run(REPO, run.id)
    assert (again.status, again.run_attempt, again.html_url) == ("queued", 2, "http://x/logs/1")
    assert [r.id for r in world.local.list_workflow_runs(REPO, workflow="modbot-build.yml")] == [run.id]
    with pytest.raises(ForgeError):
        world.local.list_workflow_runs(REPO, workflow="other.yml")
    assert [k for k in world.events.kinds() if k[0] == "run"] == [
        ("run", "requested"),
        ("run", "completed"),
        ("run", "requested"),
    ]

    no_runner = LocalForge(tmp_path / "repos", world.records, world.roles.get, runs=False)
    assert not supports(no_runner, Capability.WORKFLOW_RUNS)
    with pytest.raises(CapabilityDeclined):
        no_runner.get_workflow_run(REPO, run.id)


def test_deployment_statuses_mark_older_successes_inactive(world: LocalWorld) -> None:
    first = world.local.create_deployment(
        REPO, ref="main", environment="staging", description="d", payload={}
    )
    world.local.create_deployment_status(REPO, first.id, "success", description="ok")
    second = world.local.create_deployment(
        REPO, ref="main", environment="staging", description="d", payload={}
    )
    world.local.create_deployment_status(REPO, second.id, "success", description="ok")
    assert [s.state for s in world.local.list_deployment_statuses(REPO, first.id)] == ["inactive", "success"]
    assert [d.id for d in world.local.list_deployments(REPO, environment="staging")] == [second.id, first.id]
    with pytest.raises(ForgeError) as info:
        world.local.create_deployment(REPO, ref="nope", environment="staging", description="d", payload={})
    assert info.value.status == 422


def test_untrusted_names_never_reach_git_as_options(world: LocalWorld) -> None:
    for bad in ("--output=/tmp/x", "-c", "main..evil", "a b", "main:README.md"):
        with pytest.raises(ValueError):
            world.local.get_file(REPO, "README.md", bad)
        with pytest.raises(ValueError):
            world.local.branch_commits_authors(REPO, "main", bad)
    with pytest.raises(ValueError):
        world.local.open_change_request(REPO, head="-x", base="main", title="t", body="")
    with pytest.raises(ForgeError) as info:
        world.local.get_pull("acme/nothing-here", 1)
    assert info.value.status == 404 and "local forge" in str(info.value)


def test_the_provider_hands_out_the_one_local_forge(world: LocalWorld) -> None:
    provider: ForgeProvider = LocalForgeProvider(world.local)
    assert provider.for_installation(None) is world.local
    with pytest.raises(ForgeError):
        provider.for_installation(7)


def test_concurrent_openings_get_distinct_numbers_and_one_per_branch(world: LocalWorld) -> None:
    """Numbers are read-then-written, and so is the one-open-per-branch rule: racing openings must still
    get distinct numbers, and only one of several for the same branch may open."""
    for n in range(6):
        world.commit(f"b{n}", {f"f{n}": b"x"})
    world.commit("same", {"s": b"x"})
    numbers: list[int] = []
    refused: list[int | None] = []
    lock = threading.Lock()

    def open_one(branch: str) -> None:
        try:
            pull = world.local.open_change_request(REPO, head=branch, base="main", title=branch, body="")
        except ForgeError as exc:
            with lock:
                refused.append(exc.status)
            return
        with lock:
            numbers.append(pull.number)

    threads = [threading.Thread(target=open_one, args=(f"b{n}",)) for n in range(6)]
    threads += [threading.Thread(target=open_one, args=("same",)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(numbers) == list(range(1, 8)) and refused == [422, 422, 422]
    opened = world.records.list_change_requests(REPO, state="open")
    assert [c.head_ref for c in opened].count("same") == 1


def test_catching_up_gives_a_moved_branch_its_event_once(world: LocalWorld) -> None:
    """A branch moved while modbot heard nothing (no hook ran, or it crashed before the event): catching
    up records the new head and emits its synchronize, once."""
    number = proposal(world, "feature", {"a": b"1"})
    moved = world.commit("feature", {"a": b"2"}, author="carol")  # no event: plain update-ref
    before = len(world.events.events)
    assert catch_up(world.local, REPO) == 1
    assert catch_up(world.local, REPO) == 0
    (event,) = world.events.events[before:]
    assert isinstance(event, ChangeRequestEvent)
    assert (event.action, event.number, event.head_sha) == ("synchronize", number, moved)


def test_catching_up_closes_as_merged_a_change_whose_head_the_base_contains(world: LocalWorld) -> None:
    """The merge landed in git but its record did not (a crash), or the branch was pushed into the base:
    the change request is closed as merged, and announced."""
    number = proposal(world, "feature", {"a": b"1"})
    head = world.local.get_pull(REPO, number).head_sha
    main = world.git.resolve("main")
    assert main is not None
    world.git.update_ref("refs/heads/main", head, main)  # fast-forwarded behind modbot's back
    assert catch_up(world.local, REPO) == 1
    pull = world.local.get_pull(REPO, number)
    assert (pull.state, pull.merged) == ("closed", True)
    event = world.events.events[-1]
    assert isinstance(event, ChangeRequestEvent) and (event.action, event.merged) == ("closed", True)


def test_a_record_and_its_event_are_stored_together_or_not_at_all(
    world: LocalWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbox: the comment's event is written in the comment's own transaction, so when queueing the
    event fails, the comment is not stored either (and a refused opening queues no event)."""
    number = proposal(world, "feature", {"a": b"1"})
    queued = len(world.events.events)

    def broken(*_events: object) -> list[object]:
        raise RuntimeError("the queue refused it")

    monkeypatch.setattr(world.local, "_announce", broken)
    with pytest.raises(RuntimeError):
        world.local.add_comment(REPO, number, "/deploy staging", by="alice")
    assert world.records.list_comments(REPO, number) == []
    monkeypatch.undo()
    with pytest.raises(ForgeError):
        world.local.open_change_request(REPO, head="feature", base="main", title="again", body="")
    assert len(world.events.events) == queued
    world.local.add_comment(REPO, number, "/deploy staging", by="alice")
    event = world.events.events[-1]
    assert isinstance(event, CommentEvent) and (event.body, event.author) == ("/deploy staging", "alice")
