"""The forge's deploy, rollback and build operations: reviews, team membership, Deployments and their
statuses, release tags and tag objects, workflow runs.

The first half is a contract run against `FakeForge` and against `GitHubForge` behind GitHub's published
API description (as in tests/contract/test_forge_contract.py): same answers, same refusals, same number of API
calls. Where GitHub does something on its side (resolving a ref, marking old deployments inactive,
counting a re-run's attempt), the GitHub backend serves what GitHub answers and the fake must work it
out. The second half checks what only `GitHubForge` can show: the exact requests it sends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.forge import Deployment, DeploymentStatus, ForgeError, TagObject, WorkflowRun, count_calls
from bot.forge.github import GitHubForge
from bot.forge.github.conversions import deployment_from_json, deployment_status_from_json, review_from_json
from tests.contract.test_forge_contract import calls_of
from tests.fakes import FakeForge
from tests.github_conformance import GitHubMock
from tests.unit.test_forge_github import BOT, REPO, TOKEN, error_json, inject_fault, ref_json, user_json

R = f"/repos/{REPO}"
ORG = "octo"
BUILD = "modbot-build.yml"
WHEN = "2026-01-02T03:04:05Z"


# --- JSON in GitHub's shapes, built from its documented examples ---------------------------------------
def review_json(
    api: GitHubMock,
    review_id: int,
    author: str | None,
    state: str,
    *,
    commit_id: str = "a" * 40,
    submitted_at: str | None = WHEN,
) -> dict[str, Any]:
    data = api.example("GET", f"{R}/pulls/1/reviews")[0]
    data.update(id=review_id, state=state, commit_id=commit_id)
    data["user"] = user_json(api, author) if author is not None else None
    if submitted_at is None:
        del data["submitted_at"]
    else:
        data["submitted_at"] = submitted_at
    return data


def membership_json(api: GitHubMock, state: str) -> dict[str, Any]:
    data = api.example("GET", f"/orgs/{ORG}/teams/t/memberships/u")
    data["state"] = state
    return data


def deployment_json(
    api: GitHubMock,
    deployment_id: int,
    *,
    sha: str,
    ref: str = "main",
    environment: str = "prod",
    task: str = "deploy",
    description: str | None = "deploy",
    payload: Any = None,
    created_at: str = WHEN,
) -> dict[str, Any]:
    data = api.example("POST", f"{R}/deployments")
    data.update(
        id=deployment_id,
        sha=sha,
        ref=ref,
        environment=environment,
        original_environment=environment,
        task=task,
        description=description,
        payload=payload if payload is not None else {},
        created_at=created_at,
        updated_at=created_at,
        url=f"https://api.github.com{R}/deployments/{deployment_id}",
        statuses_url=f"https://api.github.com{R}/deployments/{deployment_id}/statuses",
    )
    data["creator"] = user_json(api, BOT, "Bot")
    return data


def status_json(
    api: GitHubMock,
    status_id: int,
    state: str,
    *,
    description: str = "",
    log_url: str = "",
    environment_url: str = "",
    created_at: str = WHEN,
) -> dict[str, Any]:
    data = api.example("POST", f"{R}/deployments/1/statuses")
    data.update(
        id=status_id,
        state=state,
        description=description,
        log_url=log_url,
        target_url=log_url,
        environment_url=environment_url,
        created_at=created_at,
        updated_at=created_at,
    )
    data["creator"] = user_json(api, BOT, "Bot")
    return data


def tag_object_json(api: GitHubMock, sha: str, tag: str, message: str, commit: str) -> dict[str, Any]:
    data = api.example("GET", f"{R}/git/tags/{sha}")
    data.update(sha=sha, tag=tag, message=message, url=f"https://api.github.com{R}/git/tags/{sha}")
    data["object"].update(sha=commit, type="commit")
    return data


def run_json(
    api: GitHubMock,
    run_id: int,
    *,
    head_sha: str,
    path: str = f".github/workflows/{BUILD}",
    event: str = "push",
    status: str = "completed",
    conclusion: str | None = "success",
    run_attempt: int = 1,
    created_at: str = WHEN,
) -> dict[str, Any]:
    data = api.example("GET", f"{R}/actions/runs/1")
    data.update(
        id=run_id,
        name=path.rsplit("/", 1)[-1],
        path=path,
        head_sha=head_sha,
        head_branch="main",
        event=event,
        status=status,
        conclusion=conclusion,
        run_attempt=run_attempt,
        created_at=created_at,
        html_url=f"https://github.com/{REPO}/actions/runs/{run_id}",
    )
    return data


def link(path: str, page: int, per_page: int | None = 100) -> dict[str, str]:
    query = f"?per_page={per_page}&page={page}" if per_page is not None else ""
    return {"Link": f'<https://api.github.com{path}{query}>; rel="next"'}


def at(minutes: int) -> str:
    return (datetime(2026, 1, 2, tzinfo=UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_utc(moment: datetime) -> bool:
    return moment.utcoffset() == timedelta(0)


# --- the two backends -------------------------------------------------------------------------------------
class FakeBackend:
    def __init__(self) -> None:
        self.fake = FakeForge(bot_login=BOT)
        self.fake.add_repo(REPO)
        self.forge = self.fake

    @property
    def api_calls(self) -> int:
        return self.fake.api_calls

    def head(self) -> str:
        return self.fake.repos[REPO.lower()].refs["heads/main"]


class GitHubBackend:
    def __init__(self, api: GitHubMock) -> None:
        self.api = api
        self.forge = GitHubForge.with_token(TOKEN, bot_login=BOT, sleep=lambda _: None)

    @property
    def api_calls(self) -> int:
        return len(self.api.calls)

    def head(self) -> str:
        return "c" * 40

    def pages(self, path: str, items: Sequence[Any], per_page: int, *, key: str | None = None) -> None:
        """Serve ``items`` as GitHub pages them (``per_page`` each, a Link to the next but on the last)."""
        chunks = [items[i : i + per_page] for i in range(0, len(items), per_page)] or [[]]
        for number, chunk in enumerate(chunks, 1):
            headers = link(path, number + 1, per_page) if number < len(chunks) else None
            body = {"total_count": len(items), key: list(chunk)} if key else list(chunk)
            self.api.add("GET", path, json=body, headers=headers)


Backend = FakeBackend | GitHubBackend


@pytest.fixture(params=["fake", "github"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "fake":
        yield FakeBackend()
    else:
        yield GitHubBackend(request.getfixturevalue("github_api"))


# --- reviews and teams ------------------------------------------------------------------------------------
def test_list_reviews_reads_every_page_oldest_first(backend: Backend) -> None:
    wanted = [("bob", "COMMENTED")] * 120 + [("carol", "CHANGES_REQUESTED"), ("carol", "APPROVED")]
    if isinstance(backend, FakeBackend):
        backend.fake.commit(REPO, "feature", {"modules.toml": b"x"})
        backend.fake.add_pull(REPO, "feature", number=7)
        for author, state in wanted:
            backend.fake.add_review(REPO, 7, author, state)
    else:
        backend.pages(
            f"{R}/pulls/7/reviews",
            [review_json(backend.api, i, a, s) for i, (a, s) in enumerate(wanted, 1)],
            100,
        )
        inject_fault(backend.api, "GET", f"{R}/pulls/8/reviews", 404, body=error_json("Not Found"))
    reviews, calls = calls_of(backend, lambda: backend.forge.list_reviews(REPO, 7))
    assert [(r.author, r.state) for r in reviews] == wanted and calls == 2
    assert all(r.submitted_at is not None and is_utc(r.submitted_at) for r in reviews)
    assert len({r.id for r in reviews}) == len(wanted)
    with pytest.raises(ForgeError) as info:
        backend.forge.list_reviews(REPO, 8)
    assert info.value.status == 404


def test_team_membership_must_be_active_and_a_404_is_no(backend: Backend) -> None:
    cases = [("alice", "active", True), ("bob", "pending", False), ("eve", None, False)]
    for user, state, _ in cases:
        if isinstance(backend, FakeBackend):
            backend.fake.set_team_member(ORG, "release-managers", user, state)
        else:
            url = f"/orgs/{ORG}/teams/release-managers/memberships/{user}"
            if state is None:
                backend.api.add("GET", url, status=404)  # documented without a body
            else:
                backend.api.add("GET", url, json=membership_json(backend.api, state))
    for user, _, member in cases:
        check = calls_of(backend, lambda u=user: backend.forge.is_team_member(ORG, "release-managers", u))
        assert check == (member, 1), user


# --- deployments ------------------------------------------------------------------------------------------
def test_create_deployment_and_its_statuses(backend: Backend) -> None:
    sha = backend.head()
    payload = {
        "release_id": "rel_2026_01_02_001",
        "manifest_hash": "sha256:" + "0" * 64,
        "requested_by": "alice",
    }
    long = "deploy rel_2026_01_02_001 to prod: " + "x" * 200
    log = f"https://github.com/{REPO}/actions/runs/9"
    if isinstance(backend, GitHubBackend):
        api = backend.api
        short = long[:139] + "…"
        api.add(
            "POST",
            f"{R}/deployments",
            json=deployment_json(api, 11, sha=sha, description=short, payload=payload),
        )
        api.add("POST", f"{R}/deployments/11/statuses", json=status_json(api, 1, "in_progress", log_url=log))
        api.add("POST", f"{R}/deployments/11/statuses", json=status_json(api, 2, "success", log_url=log))
        api.add("POST", f"{R}/deployments", json=deployment_json(api, 12, sha=sha, payload=payload))
        api.add("POST", f"{R}/deployments/12/statuses", json=status_json(api, 3, "success"))
        # GitHub marked the first deployment inactive when the second succeeded (auto_inactive)
        first = [status_json(api, 4, "inactive"), status_json(api, 2, "success", log_url=log)]
        first.append(status_json(api, 1, "in_progress", log_url=log))
        api.add("GET", f"{R}/deployments/11/statuses", json=first)
        api.add("GET", f"{R}/deployments/12/statuses", json=[status_json(api, 3, "success")])
    forge = backend.forge
    deployment, calls = calls_of(
        backend,
        lambda: forge.create_deployment(
            REPO,
            ref="main",
            environment="prod",
            description=long,
            payload=payload,
            production_environment=True,
        ),
    )
    assert isinstance(deployment, Deployment) and calls == 1
    assert (deployment.sha, deployment.ref, deployment.environment, deployment.task) == (
        sha,
        "main",
        "prod",
        "deploy",
    )
    assert deployment.description is not None and len(deployment.description) == 140
    assert deployment.description.endswith("…")
    assert (deployment.payload, deployment.creator) == (payload, BOT) and is_utc(deployment.created_at)

    running = forge.create_deployment_status(REPO, deployment.id, "in_progress", description="", log_url=log)
    done, calls = calls_of(
        backend,
        lambda: forge.create_deployment_status(REPO, deployment.id, "success", description="", log_url=log),
    )
    assert isinstance(done, DeploymentStatus) and calls == 1
    assert (running.state, done.state, done.log_url, done.environment_url, done.creator) == (
        "in_progress",
        "success",
        log,
        None,
        BOT,
    )
    second = forge.create_deployment(
        REPO, ref="main", environment="prod", description="deploy", payload=payload
    )
    forge.create_deployment_status(REPO, second.id, "success", description="")

    statuses, calls = calls_of(backend, lambda: forge.list_deployment_statuses(REPO, deployment.id))
    assert [s.state for s in statuses] == ["inactive", "success", "in_progress"] and calls == 1
    assert [s.state for s in forge.list_deployment_statuses(REPO, second.id)] == ["success"]


def test_deploying_an_unknown_ref_is_refused_with_githubs_message(backend: Backend) -> None:
    message = "No ref found for: release/rel_2099_01_01_001"
    if isinstance(backend, GitHubBackend):
        backend.api.add("POST", f"{R}/deployments", status=422, json={**error_json(message), "errors": []})
    with pytest.raises(ForgeError) as info:
        backend.forge.create_deployment(
            REPO, ref="release/rel_2099_01_01_001", environment="prod", description="d", payload={}
        )
    assert (info.value.operation, info.value.status, info.value.message) == (
        "create_deployment",
        422,
        message,
    )
    assert backend.api_calls == 1


def test_a_status_for_an_unknown_deployment_is_a_404(backend: Backend) -> None:
    if isinstance(backend, GitHubBackend):
        inject_fault(backend.api, "POST", f"{R}/deployments/404/statuses", 404, body=error_json("Not Found"))
        backend.api.add("GET", f"{R}/deployments/404/statuses", json=error_json("Not Found"), status=404)
    for action in (
        lambda: backend.forge.create_deployment_status(REPO, 404, "success", description="d"),
        lambda: backend.forge.list_deployment_statuses(REPO, 404),
    ):
        with pytest.raises(ForgeError) as info:
            action()
        assert info.value.status == 404
    assert backend.api_calls == 2


WORLD = [("staging" if i % 8 == 0 else "prod", f"d{i}") for i in range(150)]  # oldest first: 131 prod


@pytest.mark.parametrize(
    ("environment", "limit", "count", "calls"),
    [
        ("prod", 120, 120, 2),
        ("prod", 5, 5, 1),
        ("prod", 200, 131, 2),
        ("staging", 100, 19, 1),
        ("qa", 10, 0, 1),
    ],
)
def test_list_deployments_newest_first_up_to_the_limit(
    backend: Backend, environment: str, limit: int, count: int, calls: int
) -> None:
    expected = [d for e, d in reversed(WORLD) if e == environment][:count]
    if isinstance(backend, FakeBackend):
        for env, label in WORLD:
            backend.fake.create_deployment(REPO, ref="main", environment=env, description=label, payload={})
    else:
        # every matching deployment, paged: the forge must stop asking once it has ``limit``
        matching = [(i, d) for i, (e, d) in enumerate(WORLD, 1) if e == environment][::-1]
        items = [
            deployment_json(backend.api, i, sha=backend.head(), environment=environment, description=d)
            for i, d in matching
        ]
        backend.pages(f"{R}/deployments", items, min(limit, 100))
    found, used = calls_of(
        backend, lambda: backend.forge.list_deployments(REPO, environment=environment, limit=limit)
    )
    assert [d.description for d in found] == expected
    assert used == calls
    assert [d.id for d in found] == sorted((d.id for d in found), reverse=True)


def test_list_deployments_filters_by_sha_ref_and_task(backend: Backend) -> None:
    if isinstance(backend, FakeBackend):
        fake = backend.fake
        old = backend.head()
        new = fake.commit(REPO, "main", {"modules.toml": b"new"})
        fake.add_annotated_tag(REPO, "release/rel_2026_01_02_001", new, "{}")
        fake.create_deployment(REPO, ref=old, environment="prod", description="old", payload={})
        fake.create_deployment(
            REPO, ref="release/rel_2026_01_02_001", environment="prod", description="new", payload={}
        )
        fake.create_deployment(
            REPO, ref=new, environment="prod", description="migrate", payload={}, task="deploy:migrate"
        )
    else:
        new = "d" * 40
        item = deployment_json(
            backend.api, 2, sha=new, ref="release/rel_2026_01_02_001", description="new", task="deploy"
        )
        backend.api.add("GET", f"{R}/deployments", json=[item])
    found, calls = calls_of(
        backend,
        lambda: backend.forge.list_deployments(
            REPO, sha=new, ref="release/rel_2026_01_02_001", task="deploy"
        ),
    )
    assert [(d.description, d.sha) for d in found] == [("new", new)] and calls == 1
    if isinstance(backend, GitHubBackend):  # GitHub filters: the filters must reach it
        assert backend.api.calls[-1].query == {
            "sha": [new],
            "ref": ["release/rel_2026_01_02_001"],
            "task": ["deploy"],
            "per_page": ["100"],
        }


# --- release tags -----------------------------------------------------------------------------------------
def test_list_tags_reads_every_page_and_tells_annotated_from_lightweight(backend: Backend) -> None:
    names = [f"release/rel_2026_01_{day:02}_{seq:03}" for day in range(1, 31) for seq in range(1, 6)]  # 150
    message = json.dumps({"release_id": "rel_2026_01_01_001"}, indent=2) + "\n"
    if isinstance(backend, FakeBackend):
        commit = backend.head()
        for name in names[:-1]:
            backend.fake.add_annotated_tag(REPO, name, commit, message)
        backend.fake.create_ref(REPO, f"tags/{names[-1]}", commit)  # a lightweight tag
        backend.fake.create_ref(REPO, "tags/v1.0.0", commit)  # not a release
        tag_sha = backend.fake.repos[REPO].refs[f"tags/{names[0]}"]
    else:
        api, commit, tag_sha = backend.api, backend.head(), "e" * 40
        refs = [ref_json(api, f"refs/tags/{n}", f"{i:040x}", "tag") for i, n in enumerate(names[:-1], 1)]
        refs[0]["object"]["sha"] = tag_sha
        refs.append(ref_json(api, f"refs/tags/{names[-1]}", commit, "commit"))
        # GitHub documents no page parameters for matching-refs; the next link carries none either.
        path = f"{R}/git/matching-refs/tags/release/"
        api.add("GET", path, json=refs[:100], headers=link(path, 2, None))
        api.add("GET", path, json=refs[100:])
        api.add(
            "GET", f"{R}/git/tags/{tag_sha}", json=tag_object_json(api, tag_sha, names[0], message, commit)
        )
        api.add("GET", f"{R}/git/tags/{'f' * 40}", json=error_json("Not Found"), status=404)
    tags, calls = calls_of(backend, lambda: backend.forge.list_tags(REPO, "release/"))
    assert [t.ref for t in tags] == [f"refs/tags/{n}" for n in names] and calls == 2
    assert [t.object_type for t in tags] == ["tag"] * 149 + ["commit"]
    assert tags[-1].sha == commit

    tag, calls = calls_of(backend, lambda: backend.forge.get_tag_object(REPO, tag_sha))
    assert tag == TagObject(
        sha=tag_sha, tag=names[0], message=message, object_sha=commit, object_type="commit"
    )
    assert calls == 1
    with pytest.raises(ForgeError) as info:
        backend.forge.get_tag_object(REPO, "f" * 40)
    assert info.value.status == 404


# --- workflow runs ----------------------------------------------------------------------------------------
def test_workflow_runs_of_one_workflow_and_commit_newest_first(backend: Backend) -> None:
    sha, other = "1" * 40, "2" * 40
    # (run, head, workflow file, minutes after midnight, status, conclusion), oldest first
    world = [
        (101, sha, BUILD, 1, "completed", "failure"),
        (102, other, BUILD, 2, "completed", "success"),
        (103, sha, "modbot-deploy.yml", 3, "completed", "success"),
        (104, sha, BUILD, 4, "in_progress", None),
    ]
    if isinstance(backend, FakeBackend):
        ids = {}
        for run, head, workflow, minute, status, conclusion in world:
            ids[run] = backend.fake.add_workflow_run(
                REPO,
                head_sha=head,
                path=f".github/workflows/{workflow}",
                status=status,
                conclusion=conclusion,
                created_at=datetime.fromisoformat(at(minute)),
            ).id
    else:
        ids = {run: run for run, *_ in world}
        api = backend.api

        def as_json(run: int, attempt: int = 1, status: str | None = None) -> dict[str, Any]:
            _, head, workflow, minute, state, conclusion = next(w for w in world if w[0] == run)
            return run_json(
                api,
                run,
                head_sha=head,
                path=f".github/workflows/{workflow}",
                created_at=at(minute),
                status=status or state,
                conclusion=None if status else conclusion,
                run_attempt=attempt,
            )

        runs_path = f"{R}/actions/workflows/{BUILD}/runs"
        backend.pages(runs_path, [as_json(104), as_json(101)], 30, key="workflow_runs")
        backend.pages(runs_path, [as_json(104), as_json(101)], 1, key="workflow_runs")
        backend.pages(f"{R}/actions/runs", [as_json(104), as_json(103)], 2, key="workflow_runs")
        api.add("GET", f"{R}/actions/runs/101", json=as_json(101))
        api.add("POST", f"{R}/actions/runs/101/rerun", json={})
        api.add("GET", f"{R}/actions/runs/101", json=as_json(101, attempt=2, status="queued"))
        inject_fault(
            api,
            "POST",
            f"{R}/actions/runs/104/rerun",
            403,
            body=error_json("This workflow is already running"),
        )
        inject_fault(api, "GET", f"{R}/actions/workflows/nightly.yml/runs", 404, body=error_json("Not Found"))
        inject_fault(api, "GET", f"{R}/actions/runs/999", 404, body=error_json("Not Found"))
    forge = backend.forge
    runs, calls = calls_of(backend, lambda: forge.list_workflow_runs(REPO, head_sha=sha, workflow=BUILD))
    assert [r.id for r in runs] == [ids[104], ids[101]] and calls == 1
    assert [(r.status, r.conclusion) for r in runs] == [("in_progress", None), ("completed", "failure")]
    assert runs[0].path == f".github/workflows/{BUILD}" and is_utc(runs[0].created_at)
    latest, calls = calls_of(
        backend, lambda: forge.list_workflow_runs(REPO, head_sha=sha, workflow=BUILD, limit=1)
    )
    assert [r.id for r in latest] == [ids[104]] and calls == 1
    every, calls = calls_of(
        backend, lambda: forge.list_workflow_runs(REPO, head_sha=sha, event="push", limit=2)
    )
    assert [r.id for r in every] == [ids[104], ids[103]] and calls == 1

    failed, calls = calls_of(backend, lambda: forge.get_workflow_run(REPO, ids[101]))
    assert isinstance(failed, WorkflowRun) and (failed.conclusion, failed.run_attempt, calls) == (
        "failure",
        1,
        1,
    )
    assert calls_of(backend, lambda: forge.rerun_workflow_run(REPO, ids[101])) == (None, 1)
    again = forge.get_workflow_run(REPO, ids[101])
    assert (again.id, again.status, again.conclusion, again.run_attempt) == (ids[101], "queued", None, 2)

    with pytest.raises(ForgeError) as info:
        forge.rerun_workflow_run(REPO, ids[104])
    assert info.value.status == 403 and "already running" in info.value.message
    with pytest.raises(ForgeError) as info:
        forge.list_workflow_runs(REPO, workflow="nightly.yml")
    assert info.value.status == 404
    with pytest.raises(ForgeError) as info:
        forge.get_workflow_run(REPO, 999)
    assert info.value.status == 404


# --- refusals ---------------------------------------------------------------------------------------------
def test_bad_input_is_refused_before_any_call(backend: Backend) -> None:
    forge = backend.forge
    for action in (
        lambda: forge.is_team_member(ORG, "release/managers", "alice"),
        lambda: forge.is_team_member(ORG, "..", "alice"),
        lambda: forge.is_team_member(ORG, "team", "alice/../bob"),
        lambda: forge.is_team_member(ORG, "team", ".."),
        lambda: forge.is_team_member("oc/to", "team", "alice"),
        lambda: forge.list_workflow_runs(REPO, workflow=f".github/workflows/{BUILD}"),
        lambda: forge.list_workflow_runs(REPO, workflow="../modbot-build.yml"),
        lambda: forge.list_workflow_runs(REPO, workflow="build%2F..yml"),
        lambda: forge.list_workflow_runs(REPO, workflow=0),
        lambda: forge.list_workflow_runs(REPO, limit=0),
        lambda: forge.list_tags(REPO, "../heads/"),
        lambda: forge.list_deployments(REPO, environment=""),
        lambda: forge.list_deployment_statuses(REPO, 1, limit=-1),
        lambda: forge.create_deployment(REPO, ref="main", environment="", description="d", payload={}),
        lambda: forge.create_deployment(REPO, ref="", environment="prod", description="d", payload={}),
        lambda: forge.create_deployment(
            REPO, ref="main", environment="prod", description="d", payload={"x": {1, 2}}
        ),
        lambda: forge.create_deployment_status(REPO, 1, "done", description="d"),
    ):
        with pytest.raises(ValueError):
            action()
    assert backend.api_calls == 0


# --- GitHubForge: what goes over the wire -------------------------------------------------------------
@pytest.fixture
def forge(github_api: GitHubMock) -> Iterator[GitHubForge]:
    forge = GitHubForge.with_token(TOKEN, bot_login=BOT, sleep=lambda _: None, rand=lambda: 0.5)
    yield forge
    forge.close()


def test_create_deployment_never_lets_github_merge_or_check_contexts(
    github_api: GitHubMock, forge: GitHubForge
) -> None:
    github_api.add("POST", f"{R}/deployments", json=deployment_json(github_api, 1, sha="c" * 40))
    github_api.add(
        "POST", f"{R}/deployments", json=deployment_json(github_api, 2, sha="c" * 40, task="rollback")
    )
    forge.create_deployment(
        REPO, ref="release/rel_1", environment="prod", description="why", payload={"a": [1]}
    )
    forge.create_deployment(
        REPO,
        ref="c" * 40,
        environment="staging",
        description="d",
        payload={},
        task="rollback",
        production_environment=False,
    )
    first, second = github_api.calls
    assert first.json == {
        "ref": "release/rel_1",
        "task": "deploy",
        "auto_merge": False,
        "required_contexts": [],
        "payload": {"a": [1]},
        "environment": "prod",
        "description": "why",
        "transient_environment": False,
    }
    assert (second.json["task"], second.json["production_environment"]) == ("rollback", False)


def test_create_deployment_conflicts_and_merges_are_errors(
    github_api: GitHubMock, forge: GitHubForge
) -> None:
    conflict = "Conflict: Commit status checks failed for main."
    inject_fault(github_api, "POST", f"{R}/deployments", 409, body=error_json(conflict))
    github_api.add("POST", f"{R}/deployments", status=202, json={"message": "Auto-merged main into topic."})
    inject_fault(github_api, "POST", f"{R}/deployments", 502)
    for status, text in ((409, conflict), (202, "Auto-merged"), (502, "Server Error")):
        with pytest.raises(ForgeError) as info:
            forge.create_deployment(REPO, ref="main", environment="prod", description="d", payload={})
        assert (info.value.status, info.value.attempts) == (status, 1) and text in info.value.message
    assert len(github_api.calls) == 3  # a deployment GitHub may have made is not asked for twice


def test_deployment_statuses_are_retried_and_sent_as_given(
    github_api: GitHubMock, forge: GitHubForge
) -> None:
    inject_fault(github_api, "POST", f"{R}/deployments/5/statuses", 502)
    github_api.add("POST", f"{R}/deployments/5/statuses", json=status_json(github_api, 1, "failure"))
    with count_calls() as counter:
        forge.create_deployment_status(
            REPO,
            5,
            "failure",
            description="smoke test failed: " + "y" * 200,
            log_url="https://github.com/octo/modules/actions/runs/9",
            environment_url="https://prod.example.com",
            auto_inactive=False,
        )
    assert counter.calls == 2
    body = github_api.calls[-1].json
    assert len(body.pop("description")) == 140
    assert body == {
        "state": "failure",
        "auto_inactive": False,
        "log_url": "https://github.com/octo/modules/actions/runs/9",
        "environment_url": "https://prod.example.com",
    }


def test_listing_queries_and_page_sizes(github_api: GitHubMock, forge: GitHubForge) -> None:
    github_api.add("GET", f"{R}/deployments", json=[])
    github_api.add("GET", f"{R}/deployments/3/statuses", json=[])
    github_api.add("GET", f"{R}/actions/runs", json={"total_count": 0, "workflow_runs": []})
    github_api.add("GET", f"{R}/actions/workflows/42/runs", json={"total_count": 0, "workflow_runs": []})
    github_api.add("GET", f"{R}/pulls/7/reviews", json=[])
    assert forge.list_deployments(REPO, environment="prod", task="deploy", limit=10) == []
    assert forge.list_deployment_statuses(REPO, 3, limit=500) == []
    assert forge.list_workflow_runs(REPO, head_sha="a" * 40, event="workflow_dispatch") == []
    assert forge.list_workflow_runs(REPO, workflow=42, limit=1) == []
    assert forge.list_reviews(REPO, 7) == []
    assert [c.query for c in github_api.calls] == [
        {"environment": ["prod"], "task": ["deploy"], "per_page": ["10"]},
        {"per_page": ["100"]},
        {"head_sha": ["a" * 40], "event": ["workflow_dispatch"], "per_page": ["30"]},
        {"per_page": ["1"]},
        {"per_page": ["100"]},
    ]


def test_team_membership_url_is_escaped(github_api: GitHubMock, forge: GitHubForge) -> None:
    github_api.add(
        "GET",
        f"/orgs/{ORG}/teams/release_managers.v2/memberships/deploy-bot[bot]",
        json=membership_json(github_api, "active"),
    )
    assert forge.is_team_member(ORG, "release_managers.v2", "deploy-bot[bot]")
    [call] = github_api.calls
    assert call.url.endswith("/orgs/octo/teams/release_managers.v2/memberships/deploy-bot%5Bbot%5D")


def test_other_membership_errors_are_raised(github_api: GitHubMock, forge: GitHubForge) -> None:
    inject_fault(
        github_api, "GET", f"/orgs/{ORG}/teams/t/memberships/alice", 403, body=error_json("Forbidden")
    )
    with pytest.raises(ForgeError) as info:
        forge.is_team_member(ORG, "t", "alice")
    assert info.value.status == 403


def test_rerun_sends_no_body(github_api: GitHubMock, forge: GitHubForge) -> None:
    github_api.add("POST", f"{R}/actions/runs/7/rerun", json={})
    forge.rerun_workflow_run(REPO, 7)
    [call] = github_api.calls
    assert call.body is None and call.operation_id == "actions/re-run-workflow"


def test_answers_become_our_types(github_api: GitHubMock) -> None:
    data = deployment_json(github_api, 3, sha="c" * 40, payload='{"release_id": "rel_1"}', description=None)
    data["created_at"] = "2026-01-02T05:04:05+02:00"
    deployment = deployment_from_json(data)
    assert deployment.payload == {"release_id": "rel_1"} and deployment.description is None
    assert deployment.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC) and is_utc(
        deployment.created_at
    )
    assert (
        deployment_from_json(deployment_json(github_api, 4, sha="c" * 40, payload="not json")).payload == {}
    )
    legacy = status_json(github_api, 1, "success")
    legacy.update(log_url="", target_url="https://ci.example.com/1")
    assert deployment_status_from_json(legacy).log_url == "https://ci.example.com/1"
    pending = review_from_json(review_json(github_api, 1, None, "PENDING", submitted_at=None))
    assert (pending.author, pending.submitted_at) == (None, None)
