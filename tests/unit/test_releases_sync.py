"""`releases sync`: the releases cache and the deployment history rebuilt from GitHub alone (release tags and
modbot's Deployments) equal what a store that saw every event live holds; a second run changes nothing;
nothing is ever downgraded; and the requests GitHubForge sends for it are GitHub's documented ones."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app.sync import sync_releases
from bot.forge import DeploymentStatus
from bot.forge.github import GitHubForge
from bot.pipeline.release import make_record
from bot.store import DeploymentRecord, Store
from tests.fakes import FakeForge
from tests.github_conformance import GitHubMock
from tests.store_helpers import temporary_store
from tests.unit.test_forge_deploys import deployment_json, status_json, tag_object_json
from tests.unit.test_forge_github import BOT, TOKEN, error_json, ref_json

REPO = "rustok/rustok"
POLICY = (Path(__file__).resolve().parents[2] / "examples/rustok-mini/.github/modbot.toml").read_bytes()
START = datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
IMAGE = "ghcr.io/rustok/rustok-mini"


def ticking_clock() -> Callable[[], datetime]:
    minutes = itertools.count()
    return lambda: START + timedelta(minutes=next(minutes))


def record_message(release_id: str, commit: str, previous: str | None) -> str:
    return make_record(
        release_id=release_id,
        manifest_hash=release_id[-1] * 64,
        modules=["content", "outbox"],
        image_repository=IMAGE,
        image_digest="sha256:" + release_id[-1] * 64,
        build_id="run-1",
        git_sha=commit,
        previous_release=previous,
        build_key="b" * 64,
        template_version="1",
        created_at=START,
    ).to_message()


def payload(
    kind: str, release: str, *, previous: str | None, by: str = "alice", reason: str = ""
) -> dict[str, Any]:
    return {
        "modbot": 1,
        "kind": kind,
        "release_id": release,
        "manifest_hash": release[-1] * 64,
        "image": f"{IMAGE}@sha256:{release[-1] * 64}",
        "deploy_tag": "deploy/x",
        "requested_by": by,
        "reason": reason,
        "previous_release": previous,
        "rollback_of": None,
        "trigger": "modbot",
        "modbot_template_version": "1",
    }


@dataclass
class World:
    """A FakeForge with release tags and Deployments, and the live event stream GitHub sent for them."""

    forge: FakeForge
    commits: dict[str, str]
    # what a live store is told, in order: ("created", deployment) or ("status", deployment, status)
    events: list[tuple[Any, ...]]

    def deploy(
        self, environment: str, kind: str, release: str, statuses: list[tuple[str, str]], **extra: Any
    ) -> int:
        previous = extra.pop("previous", None)
        deployment = self.forge.create_deployment(
            REPO,
            ref=self.commits[release],
            environment=environment,
            description=f"{kind} {release}",
            payload=payload(kind, release, previous=previous, **extra),
        )
        self.events.append(("created", deployment))
        for state, description in statuses:
            before = {d.deployment.id: len(d.statuses) for d in self.forge.deployments(REPO)}
            status = self.forge.create_deployment_status(
                REPO, deployment.id, state, description=description, log_url=f"https://ci/{deployment.id}"
            )
            self.events.append(("status", deployment, status))
            # GitHub's auto_inactive retires older successful ones: it sends their status events too
            for other in self.forge.deployments(REPO):
                if (
                    len(other.statuses) > before.get(other.deployment.id, 0)
                    and other.deployment.id != deployment.id
                ):
                    self.events.append(("status", other.deployment, other.statuses[-1]))
        return deployment.id


R1, R2, R3 = "rel_2026_01_02_001", "rel_2026_01_02_002", "rel_2026_01_02_003"


def make_world() -> World:
    forge = FakeForge(bot_login=BOT, clock=ticking_clock())
    forge.add_repo(REPO, files={".github/modbot.toml": POLICY})
    commits: dict[str, str] = {}
    previous = None
    for release in (R1, R2, R3):
        commits[release] = forge.commit(REPO, "main", {"modules.toml": release.encode()})
        forge.add_annotated_tag(
            REPO, f"release/{release}", commits[release], record_message(release, commits[release], previous)
        )
        previous = release
    # tags that are not releases: skipped with a warning, never trusted
    forge.create_ref(REPO, "tags/release/rel_2026_01_03_001", commits[R3])  # lightweight
    forge.add_annotated_tag(REPO, "release/rel_2026_01_03_002", commits[R3], "not a record")
    forge.add_annotated_tag(
        REPO, "release/rel_2026_01_03_003", commits[R1], record_message("rel_2026_01_03_003", commits[R2], R3)
    )
    world = World(forge, commits, [])
    world.deploy("staging", "deploy", R1, [("in_progress", f"deploying {R1}"), ("success", f"deployed {R1}")])
    world.deploy(
        "staging",
        "deploy",
        R2,
        [
            ("in_progress", f"deploying {R2}"),
            ("in_progress", f"smoke testing {R2}"),
            ("success", f"deployed {R2}"),
        ],
        previous=R1,
        reason="ship it",
    )
    world.deploy("production", "deploy", R1, [("success", f"deployed {R1}")], by="api:ops-portal")
    world.deploy(
        "production",
        "deploy",
        R2,
        [
            ("in_progress", f"deploying {R2}"),
            ("in_progress", f"smoke testing {R2}"),
            ("failure", f"{R2} failed: smoke test; rolled back to {R1}"),
        ],
        previous=R1,
    )
    world.deploy(
        "production",
        "auto_rollback",
        R1,
        [("in_progress", f"deploying {R1}"), ("success", f"deployed {R1}")],
        previous=R2,
        reason=f"automatic rollback: {R2} failed its smoke test",
        by="github-actions[bot]",
    )
    world.deploy(
        "production",
        "deploy",
        R3,
        [("in_progress", f"deploying {R3}"), ("in_progress", f"smoke testing {R3}")],
        previous=R1,
    )
    world.deploy("production", "deploy", R3, [])  # created, nothing picked it up yet
    # GitHub's own Deployment of an environment-bound job (empty payload): not modbot's
    forge.create_deployment(REPO, ref=commits[R3], environment="production", description="job", payload={})
    return world


def replay_live(world: World, store: Store) -> None:
    """A store that saw every event as it happened: a Deployment is recorded when created, then each
    deployment_status moves it on (inactive after a final success changes nothing)."""
    for event in world.events:
        deployment = event[1]
        data = deployment.payload
        status: DeploymentStatus | None = event[2] if event[0] == "status" else None
        state = "queued" if status is None or status.state == "pending" else status.state
        stage = None
        if status is not None and status.state == "in_progress":
            stage = "smoke" if status.description.startswith("smoke testing") else "deploy"
        store.upsert_github_deployment(
            repository=REPO,
            github_deployment_id=deployment.id,
            environment=deployment.environment,
            release_id=data["release_id"],
            commit_sha=deployment.sha,
            kind=data["kind"],
            requested_by=data["requested_by"],
            reason=data["reason"] or None,
            status=state,
            created_at=deployment.created_at,
            stage=stage,
            previous_release=data["previous_release"],
            manifest_hash=data["manifest_hash"],
            logs_url=status.log_url if status else None,
            finished_at=status.created_at
            if status is not None and state in {"success", "failure", "error"}
            else None,
        )


def history(store: Store) -> list[tuple[Any, ...]]:
    def row(d: DeploymentRecord) -> tuple[Any, ...]:
        return (
            d.github_deployment_id,
            d.environment,
            d.release_id,
            d.commit_sha,
            d.kind,
            d.status,
            d.stage,
            d.requested_by,
            d.reason,
            d.previous_release,
            d.manifest_hash,
            d.logs_url,
            d.created_at,
            d.finished_at,
        )

    return [row(d) for d in store.deployments(REPO, limit=1000)]


def environments(store: Store) -> list[tuple[Any, ...]]:
    return [
        (
            e.environment,
            e.current.release_id if e.current else None,
            (e.latest.release_id, e.latest.status, e.latest.stage) if e.latest else None,
            store.successful_releases(REPO, e.environment),
        )
        for e in store.environments(REPO)
    ]


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    (tmp_path / "live").mkdir()
    (tmp_path / "synced").mkdir()
    with (
        temporary_store("sqlite", directory=tmp_path / "live") as live,
        temporary_store("sqlite", directory=tmp_path / "synced") as synced,
    ):
        yield live, synced


def test_sync_into_an_empty_store_equals_the_live_store(stores: tuple[Store, Store]) -> None:
    live, synced = stores
    world = make_world()
    replay_live(world, live)
    report = sync_releases(REPO, forge=world.forge, store=synced, environments=None)

    assert history(synced) == history(live)
    assert environments(synced) == environments(live)
    assert environments(synced) == [
        ("production", R1, (R3, "queued", "queued"), [R1]),
        ("staging", R2, (R2, "success", "done"), [R2, R1]),
    ]
    [failed] = [d for d in synced.deployments(REPO, environment="production") if d.status == "failure"]
    assert failed.release_id == R2 and failed.stage == "smoke"
    assert [r.release_id for r in synced.releases(REPO)] == [R3, R2, R1]
    assert synced.get_release(REPO, R2) is not None and synced.get_release(REPO, R2).previous_release == R1  # type: ignore[union-attr]
    assert synced.get_release(REPO, R3).commit_sha == world.commits[R3]  # type: ignore[union-attr]

    assert report.environments == ["staging", "production"]  # the policy's, in its order
    assert report.release_tags == 6 and report.releases_added == [R1, R2, R3]
    assert report.deployments_seen == 7 and len(report.deployments_added) == 7
    warnings = "\n".join(report.warnings)
    assert "release/rel_2026_01_03_001: a lightweight tag" in warnings
    assert "release/rel_2026_01_03_002: not a readable release record" in warnings
    assert "release/rel_2026_01_03_003: the record names commit" in warnings
    assert report.changed


def test_a_second_sync_changes_nothing_and_reads_no_tag_object_again(stores: tuple[Store, Store]) -> None:
    _, store = stores
    world = make_world()
    sync_releases(REPO, forge=world.forge, store=store, environments=None)
    before = (history(store), environments(store), store.query_audit(limit=1000).entries)
    world.forge.calls.clear()
    report = sync_releases(REPO, forge=world.forge, store=store, environments=None)
    assert not report.changed and report.deployments_added == report.deployments_updated == []
    assert (history(store), environments(store), store.query_audit(limit=1000).entries) == before
    # only the two unreadable annotated tags are read again (never cached; the lightweight one is not read)
    assert world.forge.operations().count("get_tag_object") == 2
    # and only the two unfinished deployments' statuses are asked for again (a final one never changes)
    assert world.forge.operations().count("list_deployment_statuses") == 2


def test_sync_moves_progress_forward_and_never_back(stores: tuple[Store, Store]) -> None:
    _, store = stores
    world = make_world()
    in_flight = world.deploy("staging", "deploy", R3, [("in_progress", f"deploying {R3}")], previous=R2)
    sync_releases(REPO, forge=world.forge, store=store, environments=["staging"])
    assert store.deployment_by_github_id(REPO, in_flight).stage == "deploy"  # type: ignore[union-attr]
    world.forge.create_deployment_status(REPO, in_flight, "success", description=f"deployed {R3}")
    report = sync_releases(REPO, forge=world.forge, store=store, environments=["staging"])
    assert report.deployments_updated == [in_flight] and report.environments == ["staging"]
    done = store.deployment_by_github_id(REPO, in_flight)
    assert done is not None and (done.status, done.stage) == ("success", "done")
    assert store.current_deployment(REPO, "staging").release_id == R3  # type: ignore[union-attr]


def test_a_stale_github_view_never_moves_a_deployment_back(stores: tuple[Store, Store]) -> None:
    _, store = stores
    world = make_world()
    late = world.deploy("staging", "deploy", R3, [("in_progress", f"deploying {R3}")])
    store.upsert_github_deployment(
        repository=REPO,
        github_deployment_id=late,
        environment="staging",
        release_id=R3,
        commit_sha=world.commits[R3],
        kind="deploy",
        requested_by="alice",
        reason=None,
        status="failure",
        created_at=START,
    )
    sync_releases(REPO, forge=world.forge, store=store, environments=["staging"])
    record = store.deployment_by_github_id(REPO, late)
    assert record is not None and (record.status, record.stage) == ("failure", "queued")
    assert record.manifest_hash == "3" * 64  # what was missing is filled in all the same


def test_without_a_policy_every_environment_with_modbot_deployments_is_read(
    stores: tuple[Store, Store],
) -> None:
    _, store = stores
    world = make_world()
    world.forge.commit(REPO, "main", {".github/modbot.toml": None})
    report = sync_releases(REPO, forge=world.forge, store=store, environments=None)
    assert report.environments == ["production", "staging"]
    assert any("no .github/modbot.toml" in w for w in report.warnings)
    assert [e.environment for e in store.environments(REPO)] == ["production", "staging"]
    world.forge.commit(REPO, "main", {".github/modbot.toml": b"[nonsense"})
    report = sync_releases(REPO, forge=world.forge, store=store, environments=None)
    assert any(".github/modbot.toml on main cannot be read" in w for w in report.warnings)


def test_malformed_payloads_are_skipped_with_a_warning(stores: tuple[Store, Store]) -> None:
    _, store = stores
    forge = FakeForge(bot_login=BOT, clock=ticking_clock())
    forge.add_repo(REPO)
    sha = forge.commit(REPO, "main", {"x": b"1"})
    good = payload("deploy", R1, previous=None, by="bob\nsmith")
    forge.create_deployment(
        REPO, ref=sha, environment="prod", description="d", payload={**good, "kind": "explode"}
    )
    forge.create_deployment(
        REPO, ref=sha, environment="prod", description="d", payload={**good, "release_id": "v1"}
    )
    forge.create_deployment(
        REPO, ref=sha, environment="prod", description="d", payload={**good, "modbot": True}
    )
    as_text = forge.create_deployment(REPO, ref=sha, environment="prod", description="d", payload={})
    forge.repos[REPO].deployments[-1].deployment = type(as_text)(
        **{**as_text.__dict__, "payload": json.dumps(good)}
    )  # type: ignore[arg-type]
    report = sync_releases(REPO, forge=forge, store=store, environments=["prod"])
    assert report.deployments_seen == 3 and report.deployments_added == [as_text.id]
    assert sum("skipped" in w for w in report.warnings) == 2
    [record] = store.deployments(REPO)
    assert record.requested_by == "bob smith" and record.status == "queued"


def test_optional_payload_values_are_read_as_the_live_handler_reads_them(stores: tuple[Store, Store]) -> None:
    """A bad optional value is left out and the deployment is still recorded (history is not lost over a
    previous_release or a manifest_hash the store would refuse); no requester falls back to the creator."""
    _, store = stores
    forge = FakeForge(bot_login=BOT, clock=ticking_clock())
    forge.add_repo(REPO)
    sha = forge.commit(REPO, "main", {"x": b"1"})
    odd = {**payload("deploy", R1, previous=None), "previous_release": "v0", "manifest_hash": "h" * 101}
    created = forge.create_deployment(REPO, ref=sha, environment="prod", description="d", payload=odd)
    report = sync_releases(REPO, forge=forge, store=store, environments=["prod"])
    assert report.deployments_added == [created.id] and report.warnings == []
    [record] = store.deployments(REPO)
    assert (record.previous_release, record.manifest_hash, record.requested_by) == (None, None, "alice")


def test_a_log_url_the_store_refuses_is_left_out_as_live(stores: tuple[Store, Store]) -> None:
    """Sync records a Deployment through the live handler's one recorder: a status whose log URL the
    store refuses loses the URL, not the deployment."""
    _, store = stores
    forge = FakeForge(bot_login=BOT, clock=ticking_clock())
    forge.add_repo(REPO)
    sha = forge.commit(REPO, "main", {"x": b"1"})
    created = forge.create_deployment(
        REPO, ref=sha, environment="prod", description="d", payload=payload("deploy", R1, previous=None)
    )
    forge.create_deployment_status(
        REPO, created.id, "success", description=f"deployed {R1}", log_url="https://ci.example/" + "x" * 2100
    )
    report = sync_releases(REPO, forge=forge, store=store, environments=["prod"])
    assert report.deployments_added == [created.id] and report.warnings == []
    [record] = store.deployments(REPO)
    assert (record.status, record.logs_url) == ("success", None)


# --- through GitHubForge: the requests are GitHub's documented ones ---------------------------------------
def test_sync_through_github_forge(github_api: GitHubMock, tmp_path: Path) -> None:
    R = f"/repos/{REPO}"
    commit, tag_sha = "c" * 40, "e" * 40
    message = record_message(R1, commit, None)
    github_api.add(
        "GET",
        f"{R}/git/matching-refs/tags/release/",
        json=[
            ref_json(github_api, f"refs/tags/release/{R1}", tag_sha, "tag"),
            ref_json(github_api, "refs/tags/release/rel_2026_01_02_002", commit, "commit"),
            ref_json(github_api, "refs/tags/release/rel_2026_01_02_009", "f" * 40, "tag"),
        ],
    )
    github_api.add(
        "GET",
        f"{R}/git/tags/{tag_sha}",
        json=tag_object_json(github_api, tag_sha, f"release/{R1}", message, commit),
    )
    github_api.add("GET", f"{R}/git/tags/{'f' * 40}", json=error_json("Not Found"), status=404)
    ours = deployment_json(
        github_api,
        11,
        sha=commit,
        environment="prod",
        payload=payload("deploy", R1, previous=None, reason="first"),
    )
    theirs = deployment_json(github_api, 12, sha=commit, environment="prod", payload={})
    github_api.add("GET", f"{R}/deployments", json=[theirs, ours])
    github_api.add(
        "GET",
        f"{R}/deployments/11/statuses",
        json=[
            status_json(
                github_api,
                5,
                "success",
                description=f"deployed {R1}",
                log_url="https://github.com/x/actions/runs/1",
            )
        ],
    )
    forge = GitHubForge.with_token(TOKEN, bot_login=BOT, sleep=lambda _: None)
    with temporary_store("sqlite", directory=tmp_path) as store:
        report = sync_releases(REPO, forge=forge, store=store, environments=["prod"])
        [record] = store.deployments(REPO)
        assert (record.github_deployment_id, record.release_id, record.status, record.stage) == (
            11,
            R1,
            "success",
            "done",
        )
        assert record.reason == "first" and record.logs_url == "https://github.com/x/actions/runs/1"
        assert [r.release_id for r in store.releases(REPO)] == [R1]
    assert report.releases_added == [R1] and report.deployments_added == [11] and len(report.warnings) == 2
    queries = [(c.method, c.path, c.query) for c in github_api.calls]
    assert ("GET", f"{R}/deployments", {"environment": ["prod"], "per_page": ["100"]}) in queries
    assert ("GET", f"{R}/deployments/11/statuses", {"per_page": ["1"]}) in queries


def test_an_inactive_without_an_earlier_success_stays_inactive(stores: tuple[Store, Store]) -> None:
    _, store = stores
    world = make_world()
    retired = world.deploy(
        "staging", "deploy", R3, [("in_progress", f"deploying {R3}"), ("inactive", "by hand")]
    )
    world.forge.calls.clear()
    sync_releases(REPO, forge=world.forge, store=store, environments=["staging"])
    record = store.deployment_by_github_id(REPO, retired)
    assert record is not None and record.status == "inactive" and record.finished_at is not None
    # the retired successful one (R1, inactive since R2 succeeded) costs one more call, the others one each
    assert world.forge.operations().count("list_deployment_statuses") == 3 + 2
