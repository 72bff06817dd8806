"""The builds API and the admin read endpoints: POST /admin/builds opens one PR per target manifest and
records a build; GET builds, releases, environments and the audit log; every answer that is not a success
is an ApiError with a stable code; every authenticated call is audited; the OpenAPI document says all this."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.app.chatops.authorize import RULES
from bot.forge import ForgeError
from bot.manifest import validate_text
from bot.pipeline.release import make_record
from bot.runtime import Runtime
from bot.store import BUILD_ID_PATTERN, ReleaseInfo, Store
from bot.web.api.problems import API_ERRORS, REFUSAL_STATUS
from bot.web.app import create_app
from tests.corpus import MINI_MANIFEST, read
from tests.fakes import FakeForge
from tests.store_helpers import temporary_store
from tests.unit.test_admin_api import BOT, REPO, Provider, auth, token_settings

MINI = read(MINI_MANIFEST)
POLICY = (Path(__file__).resolve().parents[2] / "examples/rustok-mini/.github/modbot.toml").read_bytes()
CURRENT: dict[str, dict[str, Any]] = dict(tomllib.loads(MINI)["modules"])
WANTED: dict[str, dict[str, Any]] = {
    **{slug: spec for slug, spec in CURRENT.items() if slug != "blog"},
    "forum": {"crate": "rustok-forum", "source": "crates-io", "version": "0.2"},
}
BUILD: dict[str, Any] = {"requested_by": "alice", "reason": "tenants want a forum", "modules": WANTED}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with temporary_store("sqlite", directory=tmp_path) as opened:
        yield opened


@pytest.fixture
def forge() -> FakeForge:
    fake = FakeForge(bot_login=BOT)
    fake.add_repo(REPO, files={"modules.toml": MINI.encode(), ".github/modbot.toml": POLICY})
    return fake


@pytest.fixture
def provider(forge: FakeForge) -> Provider:
    return Provider(forge)


@pytest.fixture
def client(store: Store, provider: Provider) -> TestClient:
    app = create_app(Runtime(token_settings(frozenset({REPO})), store, provider), workers=0)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def token(store: Store) -> str:
    _, secret = store.create_admin_token("ci", actor="test")
    return secret


def error_of(answer: Any) -> str:
    body = answer.json()
    assert set(body) == {"error", "message", "next_step", "reasons"}, body
    return str(body["error"])


def audit_actions(store: Store, prefix: str = "") -> list[str]:
    return [e.action for e in store.query_audit(limit=1000).entries if e.action.startswith(prefix)]


def release(release_id: str, manifest_hash: str, commit: str = "c" * 40) -> ReleaseInfo:
    record = make_record(
        release_id=release_id,
        manifest_hash=manifest_hash,
        modules=["content"],
        image_repository="ghcr.io/rustok/rustok-mini",
        image_digest="sha256:" + "d" * 64,
        build_id="run-1",
        git_sha=commit,
        previous_release=None,
        build_key="b" * 64,
        template_version="1",
        created_at=datetime(2026, 1, 2, tzinfo=UTC),
    )
    return ReleaseInfo.from_record(REPO, record)


# --- POST /admin/builds ---------------------------------------------------------------------------------------
def test_a_build_opens_the_pr_for_the_module_set_and_records_a_queued_build(
    client: TestClient, forge: FakeForge, store: Store, token: str
) -> None:
    answer = client.post("/admin/builds", json=BUILD, headers=auth(token))
    assert answer.status_code == 202, answer.text
    data = answer.json()
    assert re.fullmatch(BUILD_ID_PATTERN, data["build_id"]) and data["status"] == "queued"
    assert data["pr_status"] == "opened" and data["summary"] == "+forum@0.2,-blog"
    target = validate_text(forge.file_at(REPO, data["branch"], "modules.toml").decode())  # type: ignore[union-attr]
    assert target.valid and target.manifest_hash == data["manifest_hash"]
    assert data["branch"] == f"modbot/build-{data['manifest_hash'][:12]}"
    assert sorted(target.manifest.modules) == sorted(WANTED)  # type: ignore[union-attr]
    pull = forge.repos[REPO].pulls[data["pull_request"]["number"]]
    assert data["pull_request"]["url"] == pull.html_url and pull.base_ref == "main"
    assert "tenants want a forum" in pull.body and "| Requested by | alice |" in pull.body

    build = store.get_build(data["build_id"])
    assert build is not None
    assert (build.status, build.stage, build.progress) == ("queued", "pr", 0)
    assert build.manifest_hash == data["manifest_hash"] and build.pr_number == pull.number
    assert build.requested_by == "api:ci (alice)" and build.reason == "tenants want a forum"
    assert build.manifest_ref is None
    assert [m["slug"] for m in build.modules_delta["added"]] == ["forum"]
    assert [m["slug"] for m in build.modules_delta["removed"]] == ["blog"]
    [request_entry] = store.query_audit(action="build.request").entries
    assert request_entry.actor == "api:ci" and request_entry.target == f"{REPO}#{pull.number}"
    assert (
        request_entry.details["outcome"] == "opened" and request_entry.details["build_id"] == build.build_id
    )
    assert request_entry.reason == "tenants want a forum"
    assert store.query_audit(action="build.create").entries[0].target == build.build_id


def test_asking_again_answers_the_same_build_and_pr(
    client: TestClient, forge: FakeForge, store: Store, token: str
) -> None:
    first = client.post("/admin/builds", json=BUILD, headers=auth(token)).json()
    again = client.post("/admin/builds", json={**BUILD, "reason": "still"}, headers=auth(token))
    assert again.status_code == 202
    assert again.json()["build_id"] == first["build_id"] and again.json()["pr_status"] == "updated"
    assert len(forge.repos[REPO].pulls) == 1 and len(store.builds(REPO)) == 1
    # a finished build is history: the next request is a new build on the same PR
    store.update_build(first["build_id"], status="failed", detail="cargo failed")
    third = client.post("/admin/builds", json=BUILD, headers=auth(token)).json()
    assert third["build_id"] != first["build_id"] and third["pull_request"] == first["pull_request"]


def test_the_current_module_set_is_nothing_to_build(client: TestClient, store: Store, token: str) -> None:
    body = {**BUILD, "modules": CURRENT}
    answer = client.post("/admin/builds", json=body, headers=auth(token))
    assert answer.status_code == 422 and error_of(answer) == "nothing_to_build"
    assert "already has exactly this module set" in answer.json()["message"]
    current_hash = validate_text(MINI).manifest_hash
    assert current_hash is not None
    store.upsert_release(release("rel_2026_01_02_001", current_hash))
    answer = client.post("/admin/builds", json=body, headers=auth(token))
    assert "release rel_2026_01_02_001 already carries this manifest" in answer.json()["next_step"]
    assert store.builds(REPO) == []


def test_a_refused_module_set_is_422_with_every_reason(
    client: TestClient, forge: FakeForge, store: Store, token: str
) -> None:
    modules = {slug: spec for slug, spec in WANTED.items() if slug not in {"outbox", "content"}}
    answer = client.post("/admin/builds", json={**BUILD, "modules": modules}, headers=auth(token))
    assert answer.status_code == 422 and error_of(answer) == "edit_refused"
    assert answer.json()["reasons"] == [
        "`outbox` is a required module and cannot be uninstalled",
        "`pages` depends on `content`; keep `content` or remove them too",
    ]
    assert not forge.repos[REPO].pulls
    [entry] = store.query_audit(action="build.request").entries
    assert entry.details["error"] == "edit_refused" and entry.details["reasons"] == answer.json()["reasons"]


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"modules": {**WANTED, "forum": {**WANTED["forum"], "colour": "red"}}}, "`modules.forum.colour`"),
        ({"modules": {**WANTED, "Bad-Slug": WANTED["forum"]}}, "`modules.Bad-Slug.[key]`"),
        ({"modules": {**WANTED, "x\n`" + "y" * 500: WANTED["forum"]}}, f"`modules.x??{'y' * 45}….[key]`"),
        ({"modules": {**WANTED, "forum": {"source": "crates-io"}}}, "`modules.forum.crate`"),
        ({"reason": ""}, "`reason`"),
        ({"requested_by": "a\nb"}, "one line"),
        ({"manifest_ref": "no spaces please"}, "`manifest_ref`"),
        *(
            ({"manifest_ref": ref}, "`manifest_ref`: not a branch")
            for ref in ("a..b", "main/", "x.lock", "/x", ".")
        ),
        ({"extra": 1}, "`extra`"),
    ],
)
def test_invalid_build_requests_are_422_invalid_request(  # noqa: PLR0917 - fixtures and parameters
    client: TestClient, forge: FakeForge, store: Store, token: str, change: dict[str, Any], needle: str
) -> None:
    answer = client.post("/admin/builds", json={**BUILD, **change}, headers=auth(token))
    assert answer.status_code == 422 and error_of(answer) == "invalid_request"
    assert needle in " ".join(answer.json()["reasons"]), answer.json()
    assert not forge.repos[REPO].pulls
    # refused by FastAPI (request.invalid) or by the build intent (build.request): on the record either way
    [entry] = [e for e in store.query_audit().entries if e.action in {"request.invalid", "build.request"}]
    assert entry.details["outcome"] == "refused" and entry.details["reasons"] == answer.json()["reasons"]


def test_without_a_valid_token_it_is_401_before_anything(
    client: TestClient, forge: FakeForge, store: Store
) -> None:
    for headers in ({}, {"Authorization": "Bearer mbt_" + "A" * 43}):
        answer = client.post("/admin/builds", json={"nonsense": True}, headers=headers)
        assert answer.status_code == 401 and error_of(answer) == "unauthorized"
        assert answer.headers["www-authenticate"] == "Bearer" and answer.json()["reasons"] == []
        for path in ("/admin/builds", "/admin/releases", "/admin/environments", "/admin/audit?limit=0"):
            assert client.get(path, headers=headers).status_code == 401
    assert forge.calls == [] and audit_actions(store) == []


def test_a_branch_a_person_pushed_to_is_left_alone_with_409(
    client: TestClient, forge: FakeForge, store: Store, token: str
) -> None:
    first = client.post("/admin/builds", json=BUILD, headers=auth(token)).json()
    forge.commit(REPO, first["branch"], {"notes.md": b"mine"}, author="carol")
    answer = client.post("/admin/builds", json=BUILD, headers=auth(token))
    assert answer.status_code == 409 and error_of(answer) == "branch_taken"
    assert "carol" in answer.json()["message"] and first["branch"] in answer.json()["next_step"]
    assert len(store.builds(REPO)) == 1


def test_a_github_failure_is_502_and_asking_again_works(
    client: TestClient, forge: FakeForge, store: Store, token: str
) -> None:
    forge.fail_next("create_pull", ForgeError("create_pull", 502, "Bad Gateway", retry_after=9.5))
    answer = client.post("/admin/builds", json=BUILD, headers=auth(token))
    assert answer.status_code == 502 and error_of(answer) == "github_error"
    assert "Bad Gateway" in answer.json()["message"] and answer.headers["retry-after"] == "10"
    assert store.builds(REPO) == []
    assert store.query_audit(action="build.request").entries[0].details["outcome"] == "failed"
    assert client.post("/admin/builds", json=BUILD, headers=auth(token)).status_code == 202


def test_manifest_ref_is_the_base_branch(
    client: TestClient, forge: FakeForge, store: Store, token: str
) -> None:
    answer = client.post("/admin/builds", json={**BUILD, "manifest_ref": "release-1"}, headers=auth(token))
    assert answer.status_code == 422 and error_of(answer) == "edit_refused"
    assert "no branch `release-1`" in answer.json()["reasons"][0]
    forge.commit(REPO, "release-1", {"x": b"1"})
    answer = client.post("/admin/builds", json={**BUILD, "manifest_ref": "release-1"}, headers=auth(token))
    assert answer.status_code == 202
    pull = forge.repos[REPO].pulls[answer.json()["pull_request"]["number"]]
    assert pull.base_ref == "release-1"
    assert store.get_build(answer.json()["build_id"]).manifest_ref == "release-1"  # type: ignore[union-attr]


def test_a_repository_the_bot_does_not_manage_is_403(
    client: TestClient, forge: FakeForge, store: Store, token: str
) -> None:
    answer = client.post("/admin/builds", json={**BUILD, "repository": "evil/repo"}, headers=auth(token))
    assert answer.status_code == 403 and error_of(answer) == "forbidden_repository"
    assert forge.calls == []
    answer = client.get("/admin/releases?repository=evil/repo", headers=auth(token))
    assert answer.status_code == 403
    refusals = [(e.action, e.target, e.details["error"]) for e in store.query_audit(actor="api:ci").entries]
    assert refusals == [
        ("release.list", "evil/repo", "forbidden_repository"),
        ("build.request", "evil/repo", "forbidden_repository"),
    ]


# --- GET builds -------------------------------------------------------------------------------------------------
def test_get_a_build_and_list_them_newest_first(client: TestClient, store: Store, token: str) -> None:
    created = client.post("/admin/builds", json=BUILD, headers=auth(token)).json()
    build_id = created["build_id"]
    store.update_build(
        build_id,
        status="running",
        stage="build",
        progress=62,
        run_id=7,
        logs_url="https://github.com/rustok/rustok/actions/runs/7",
    )
    answer = client.get(f"/admin/builds/{build_id}", headers=auth(token))
    assert answer.status_code == 200
    view = answer.json()
    assert {k: view[k] for k in ("build_id", "status", "stage", "progress", "logs_url", "release_id")} == {
        "build_id": build_id,
        "status": "running",
        "stage": "build",
        "progress": 62,
        "logs_url": "https://github.com/rustok/rustok/actions/runs/7",
        "release_id": None,
    }
    assert view["pull_request"] == created["pull_request"] and view["finished_at"] is None
    assert view["manifest_hash"] == created["manifest_hash"] and view["requested_by"] == "api:ci (alice)"
    assert view["modules_delta"]["summary"] == "+forum@0.2,-blog"
    store.update_build(build_id, status="succeeded", release_id="rel_2026_01_02_001")
    done = client.get(f"/admin/builds/{build_id}", headers=auth(token)).json()
    assert done["status"] == "succeeded" and done["progress"] == 100 and done["finished_at"] is not None
    other = client.post(
        "/admin/builds", json={**BUILD, "modules": CURRENT | {"forum": WANTED["forum"]}}, headers=auth(token)
    ).json()
    listed = client.get("/admin/builds?limit=5", headers=auth(token)).json()["builds"]
    assert [b["build_id"] for b in listed] == [other["build_id"], build_id]
    assert [
        b["build_id"] for b in client.get("/admin/builds?limit=1", headers=auth(token)).json()["builds"]
    ] == [other["build_id"]]
    assert "build.read" in audit_actions(store) and "build.list" in audit_actions(store)


@pytest.mark.parametrize("build_id", ["bld_01JD3X5V8Q1N4K2M6P7R9S0T1W", "nonsense", "bld_"])
def test_an_unknown_build_is_404(client: TestClient, token: str, build_id: str) -> None:
    answer = client.get(f"/admin/builds/{build_id}", headers=auth(token))
    assert answer.status_code == 404 and error_of(answer) == "not_found"


# --- releases, environments, audit -------------------------------------------------------------------------------
def test_releases_newest_first_paged(client: TestClient, store: Store, token: str) -> None:
    for seq in (1, 2, 3):
        store.upsert_release(release(f"rel_2026_01_02_00{seq}", str(seq) * 64))
    page = client.get("/admin/releases?limit=2", headers=auth(token)).json()
    assert [r["release_id"] for r in page["releases"]] == ["rel_2026_01_02_003", "rel_2026_01_02_002"]
    assert page["next_before"] == "rel_2026_01_02_002"
    rest = client.get(f"/admin/releases?limit=2&before={page['next_before']}", headers=auth(token)).json()
    assert [r["release_id"] for r in rest["releases"]] == ["rel_2026_01_02_001"] and rest[
        "next_before"
    ] is None
    assert rest["releases"][0]["modules"] == ["content"] and rest["releases"][0]["commit_sha"] == "c" * 40
    bad = client.get("/admin/releases?before=rel_2026_13_40_001", headers=auth(token))
    assert bad.status_code == 422 and error_of(bad) == "invalid_request"
    refused = store.query_audit(action="release.list").entries[0]
    assert (
        refused.details["error"] == "invalid_request" and refused.details["reasons"] == bad.json()["reasons"]
    )


def test_environments_say_what_runs_where(
    client: TestClient, forge: FakeForge, store: Store, token: str
) -> None:
    sha = "c" * 40
    done = store.record_deployment(
        repository=REPO,
        environment="staging",
        release_id="rel_2026_01_02_001",
        commit_sha=sha,
        kind="deploy",
        requested_by="alice",
        reason="first",
        source="comment",
        status="success",
    )
    flying = store.record_deployment(
        repository=REPO,
        environment="staging",
        release_id="rel_2026_01_02_002",
        commit_sha=sha,
        kind="deploy",
        requested_by="bob",
        reason=None,
        source="api",
        stage="smoke",
        status="in_progress",
    )
    store.acquire_lock(
        REPO,
        "staging",
        holder="bob",
        purpose="deploy",
        ttl=timedelta(minutes=30),
        release_id="rel_2026_01_02_002",
    )
    store.record_deployment(
        repository=REPO,
        environment="qa",
        release_id="rel_2026_01_02_001",
        commit_sha=sha,
        kind="deploy",
        requested_by="alice",
        reason=None,
        source="github",
        status="failure",
    )
    answer = client.get("/admin/environments", headers=auth(token))
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["repository"] == REPO and data["policy_error"] is None
    by_name = {e["environment"]: e for e in data["environments"]}
    assert list(by_name) == ["staging", "production", "qa"]  # the policy's order, then the others
    staging = by_name["staging"]
    assert staging["current_release"] == "rel_2026_01_02_001" and staging["current"]["id"] == done.id
    assert staging["in_flight"]["id"] == flying.id and staging["in_flight"]["stage"] == "smoke"
    assert staging["lock"]["holder"] == "bob" and staging["frozen"] is False
    assert staging["in_policy"] and staging["required_permission"] == "write"
    production = by_name["production"]
    assert production["current"] is None and production["lock"] is None
    assert production["required_permission"] == "maintain"
    assert not by_name["qa"]["in_policy"] and by_name["qa"]["current_release"] is None
    assert by_name["qa"]["in_flight"] is None  # it finished (failed)
    # without a readable policy the store still answers, and says why the policy is missing
    forge.commit(REPO, "main", {".github/modbot.toml": b"not toml ["})
    data = client.get("/admin/environments", headers=auth(token)).json()
    assert "not valid TOML" in data["policy_error"]
    assert [e["environment"] for e in data["environments"]] == ["qa", "staging"]
    assert all(e["frozen"] is None for e in data["environments"])


def test_the_audit_log_filtered_and_paged(client: TestClient, store: Store, token: str) -> None:
    for n in range(5):
        store.append_audit("alice", "deploy", f"{REPO}:prod", {"n": n}, "why")
    store.append_audit("bob", "rollback", f"{REPO}:prod", None, None)
    page = client.get("/admin/audit?actor=alice&limit=2", headers=auth(token)).json()
    assert [e["details"]["n"] for e in page["entries"]] == [4, 3] and page["next_cursor"] is not None
    rest = client.get(
        f"/admin/audit?actor=alice&limit=10&cursor={page['next_cursor']}", headers=auth(token)
    ).json()
    assert [e["details"]["n"] for e in rest["entries"]] == [2, 1, 0] and rest["next_cursor"] is None
    rollbacks = client.get("/admin/audit?action=rollback", headers=auth(token)).json()["entries"]
    assert [(e["actor"], e["target"]) for e in rollbacks] == [("bob", f"{REPO}:prod")]
    future = (datetime.now(UTC) + timedelta(days=1)).replace(tzinfo=None).isoformat()
    assert client.get(f"/admin/audit?since={future}", headers=auth(token)).json()["entries"] == []
    reads = client.get("/admin/audit?action=audit.read", headers=auth(token)).json()["entries"]
    assert len(reads) == 4 and reads[0]["actor"] == "api:ci"  # every read is audited too
    bad = client.get("/admin/audit?limit=0", headers=auth(token))
    assert bad.status_code == 422 and error_of(bad) == "invalid_request"
    [refused] = store.query_audit(action="request.invalid").entries
    assert refused.actor == "api:ci" and refused.details["path"] == "/admin/audit"
    assert refused.details["reasons"] == bad.json()["reasons"]


# --- the OpenAPI document -----------------------------------------------------------------------------------------
def test_the_openapi_document_describes_every_answer(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    expected = {
        ("/admin/builds", "post"): ("202", "BuildAccepted", {"403", "409", "422", "502"}),
        ("/admin/builds", "get"): ("200", "BuildList", {"403", "422"}),
        ("/admin/builds/{build_id}", "get"): ("200", "BuildView", {"404", "422"}),
        ("/admin/releases", "get"): ("200", "ReleaseList", {"403", "422"}),
        ("/admin/environments", "get"): ("200", "EnvironmentList", {"403", "422"}),
        ("/admin/audit", "get"): ("200", "AuditPageView", {"422"}),
    }
    for (path, method), (success, model, errors) in expected.items():
        operation = doc["paths"][path][method]
        assert operation["security"] == [{"AdminToken": []}], path
        refs = {
            code: response["content"]["application/json"]["schema"].get("$ref", "").rsplit("/", 1)[-1]
            for code, response in operation["responses"].items()
        }
        assert refs == {success: model, **dict.fromkeys(errors | {"401", "500"}, "ApiError")}, (path, refs)
    request = doc["components"]["schemas"]["BuildRequest"]
    assert set(request["required"]) == {"requested_by", "reason", "modules"}
    assert request["additionalProperties"] is False
    assert doc["components"]["schemas"]["ModuleSpecBody"]["additionalProperties"] is False
    assert set(doc["components"]["schemas"]["ApiError"]["required"]) == {"error", "message"}
    described = doc["components"]["schemas"]["ApiError"]["properties"]["error"]["description"]
    assert all(code in described for code in (*API_ERRORS, *REFUSAL_STATUS)), described


def test_every_refusal_rule_has_its_http_status() -> None:
    """A rule added to authorize must get its status here, not fall through to a default."""
    assert set(REFUSAL_STATUS) == set(RULES) - {"ok"}
    assert set(REFUSAL_STATUS.values()) == {403, 409, 422}


def test_the_docs_table_gives_every_error_code_its_status() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs/admin-api.md").read_text()
    table = text.split("# The builds API", 1)[1].split("## `POST /admin/builds`", 1)[0]
    documented: dict[str, set[int]] = {}
    for status, codes in re.findall(r"^\| (\d{3}) \| ([^|]+) \|", table, flags=re.MULTILINE):
        for code in re.findall(r"`([a-z_]+)`", codes):
            documented.setdefault(code, set()).add(int(status))
    assert {code: documented.get(code) for code in REFUSAL_STATUS} == {
        code: {status} for code, status in REFUSAL_STATUS.items()
    }
    assert set(API_ERRORS) <= set(documented), set(API_ERRORS) - set(documented)


# --- deploy and rollback of a build's release ----------------------------------------------------------------
R1, R2 = "rel_2026_01_02_001", "rel_2026_01_02_002"


def released(forge: FakeForge, store: Store, release_id: str) -> ReleaseInfo:
    """A release of a new commit: its annotated tag on GitHub and its cache entry."""
    commit = forge.commit(REPO, "main", {"release.txt": release_id.encode()})
    info = release(release_id, release_id[-1] * 64, commit)
    record = make_record(
        release_id=release_id,
        manifest_hash=info.manifest_hash,
        modules=list(info.modules),
        image_repository="ghcr.io/rustok/rustok-mini",
        image_digest="sha256:" + "d" * 64,
        build_id="run-1",
        git_sha=commit,
        previous_release=None,
        build_key="b" * 64,
        template_version="1",
        created_at=datetime(2026, 1, 2, tzinfo=UTC),
    )
    forge.add_annotated_tag(REPO, f"release/{release_id}", commit, record.to_message())
    store.upsert_release(info)
    return info


def built(store: Store, release_id: str | None) -> str:
    build = store.create_build(
        repository=REPO,
        requested_by="alice",
        reason="r",
        manifest_ref=None,
        manifest_hash="a" * 64,
        modules_delta={},
        pr_number=1,
    )
    if release_id is not None:
        store.update_build(build.build_id, status="succeeded", release_id=release_id)
    return build.build_id


def ran(store: Store, info: ReleaseInfo, environment: str = "staging") -> None:
    store.record_deployment(
        repository=REPO,
        environment=environment,
        release_id=info.release_id,
        commit_sha=info.commit_sha,
        kind="deploy",
        requested_by="alice",
        reason=None,
        source="comment",
        status="success",
    )


def test_deploy_a_build_moves_the_tag_through_the_chatops_service(
    client: TestClient, forge: FakeForge, store: Store, token: str
) -> None:
    info = released(forge, store, R1)
    build_id = built(store, R1)
    answer = client.post(
        f"/admin/builds/{build_id}/deploy",
        json={"environment": "staging", "reason": "go"},
        headers=auth(token),
    )
    assert answer.status_code == 202, answer.text
    data = answer.json()
    assert data["action"] == "deploy" and data["deployment"]["release_id"] == R1
    assert data["deployment"]["source"] == "api" and data["deployment"]["requested_by"] == "api:ci"
    assert data["lock"]["holder"] == "api:ci" and data["warnings"] == []
    assert forge.repos[REPO].refs["tags/deploy/staging"] == info.commit_sha
    [github] = forge.deployments(REPO)
    assert (
        github.deployment.payload["requested_by"] == "api:ci" and github.deployment.payload["reason"] == "go"
    )
    entries = store.query_audit(action="build.deploy").entries
    assert entries[0].target == build_id and entries[0].details["outcome"] == "started"
    assert store.query_audit(action="command.deploy").entries[0].actor == "api:ci"

    again = client.post(
        f"/admin/builds/{build_id}/deploy", json={"environment": "staging"}, headers=auth(token)
    )
    assert again.status_code == 409 and error_of(again) == "locked"
    assert "api:ci" in again.json()["message"] and "/unlock staging" in again.json()["next_step"]
    assert len(forge.deployments(REPO)) == 1


def test_deploy_refusals_map_to_their_status(
    client: TestClient, forge: FakeForge, store: Store, token: str
) -> None:
    released(forge, store, R1)
    unreleased = built(store, None)
    answer = client.post(
        f"/admin/builds/{unreleased}/deploy", json={"environment": "staging"}, headers=auth(token)
    )
    assert answer.status_code == 409 and error_of(answer) == "no_release"
    assert "has no release yet (status queued, stage pr)" in answer.json()["message"]
    build_id = built(store, R1)
    answer = client.post(f"/admin/builds/{build_id}/deploy", json={"environment": "qa"}, headers=auth(token))
    assert answer.status_code == 422 and error_of(answer) == "unknown_environment"
    assert "known: staging, production" in answer.json()["message"]
    frozen = POLICY.replace(
        b'smoke_timeout = "180s"', b'smoke_timeout = "180s"\nfrozen = true\nfreeze_reason = "audit week"'
    )
    forge.commit(REPO, "main", {".github/modbot.toml": frozen})
    answer = client.post(
        f"/admin/builds/{build_id}/deploy", json={"environment": "production"}, headers=auth(token)
    )
    assert (
        answer.status_code == 403
        and error_of(answer) == "frozen"
        and "audit week" in answer.json()["message"]
    )
    assert (
        client.post(
            "/admin/builds/bld_01JD3X5V8Q1N4K2M6P7R9S0T1W/deploy",
            json={"environment": "staging"},
            headers=auth(token),
        ).status_code
        == 404
    )
    assert forge.deployments(REPO) == [] and "tags/deploy/staging" not in forge.repos[REPO].refs
    outcomes = [
        e.details.get("error") or e.details.get("rule")
        for e in store.query_audit(action="build.deploy").entries
    ]
    assert outcomes == ["not_found", "frozen", "unknown_environment", "no_release"]


def test_a_build_without_a_release_is_told_what_can_work_in_its_state(
    client: TestClient, store: Store, token: str
) -> None:
    def advice(build_id: str) -> str:
        answer = client.post(
            f"/admin/builds/{build_id}/deploy", json={"environment": "staging"}, headers=auth(token)
        )
        assert answer.status_code == 409 and error_of(answer) == "no_release"
        next_step: str = answer.json()["next_step"]
        return next_step

    queued = built(store, None)
    assert advice(queued) == f"wait until it succeeds (GET /admin/builds/{queued})"
    # the run succeeded without a release found: waiting may not help when its build reused one
    released_run = built(store, None)
    store.update_build(released_run, status="running", stage="release", progress=80)
    assert "deploy that release by id" in advice(released_run)
    # a failed build never gets a release: waiting cannot help
    failed = built(store, None)
    store.update_build(failed, status="failed", detail="the build run ended: failure")
    assert advice(failed).startswith("it will not get one: request a new build")


def test_a_github_failure_during_deploy_is_502(
    client: TestClient, forge: FakeForge, store: Store, token: str
) -> None:
    released(forge, store, R1)
    build_id = built(store, R1)
    forge.fail_next("create_deployment", ForgeError("create_deployment", 422, "environment protection rules"))
    answer = client.post(
        f"/admin/builds/{build_id}/deploy", json={"environment": "staging"}, headers=auth(token)
    )
    assert answer.status_code == 502 and error_of(answer) == "github_error"
    assert answer.json()["reasons"] == ["HTTP 422: environment protection rules"]
    assert store.get_lock(REPO, "staging") is None  # nothing left half-done


def test_rollback_from_a_build_goes_back_to_the_previous_release(
    client: TestClient, forge: FakeForge, store: Store, token: str
) -> None:
    first, second = released(forge, store, R1), released(forge, store, R2)
    ran(store, first)
    ran(store, second)
    build_id = built(store, R2)
    answer = client.post(
        f"/admin/builds/{build_id}/rollback", json={"environment": "staging"}, headers=auth(token)
    )
    assert answer.status_code == 202, answer.text
    deployment = answer.json()["deployment"]
    assert (deployment["kind"], deployment["release_id"], deployment["previous_release"]) == (
        "rollback",
        R1,
        R2,
    )
    assert forge.repos[REPO].refs["tags/deploy/staging"] == first.commit_sha
    assert store.query_audit(action="build.rollback").entries[0].details["outcome"] == "started"


def test_rollback_needs_an_environment_and_the_build_running_there(
    client: TestClient, forge: FakeForge, store: Store, token: str
) -> None:
    first, second = released(forge, store, R1), released(forge, store, R2)
    old_build = built(store, R1)
    answer = client.post(f"/admin/builds/{old_build}/rollback", json={}, headers=auth(token))
    assert answer.status_code == 422 and error_of(answer) == "invalid_request"
    assert "the policy has 2 environments (staging, production)" in answer.json()["reasons"][0]
    answer = client.post(
        f"/admin/builds/{old_build}/rollback", json={"environment": "staging"}, headers=auth(token)
    )
    assert answer.status_code == 409 and error_of(answer) == "no_previous_release"
    ran(store, first)
    ran(store, second)
    answer = client.post(
        f"/admin/builds/{old_build}/rollback", json={"environment": "staging"}, headers=auth(token)
    )
    assert answer.status_code == 409 and error_of(answer) == "not_current"
    assert f"staging runs {R2}, not this build's {R1}" in answer.json()["message"]
    # naming the target is always possible
    answer = client.post(
        f"/admin/builds/{old_build}/rollback",
        json={"environment": "staging", "target_release": R1},
        headers=auth(token),
    )
    assert answer.status_code == 202 and answer.json()["deployment"]["release_id"] == R1
    never = built(store, None)
    answer = client.post(
        f"/admin/builds/{never}/rollback", json={"environment": "production"}, headers=auth(token)
    )
    assert answer.status_code == 409 and error_of(answer) == "no_release"


def test_rollback_defaults_the_only_environment(
    client: TestClient, forge: FakeForge, store: Store, token: str
) -> None:
    first, second = released(forge, store, R1), released(forge, store, R2)
    one = POLICY.split(b"[[environments]]")
    forge.commit(
        REPO,
        "main",
        {
            ".github/modbot.toml": b"[[environments]]".join(one[:2])
            + b"[workflows]"
            + one[2].split(b"[workflows]")[1]
        },
    )
    ran(store, first)
    ran(store, second)
    answer = client.post(f"/admin/builds/{built(store, R2)}/rollback", json={}, headers=auth(token))
    assert answer.status_code == 202, answer.text
    assert answer.json()["deployment"]["environment"] == "staging"


def test_a_github_failure_reading_the_policy_for_a_rollback_is_502_not_a_bad_request(
    client: TestClient, forge: FakeForge, store: Store, token: str
) -> None:
    build_id = built(store, released(forge, store, R1).release_id)
    forge.fail_next("default_branch", ForgeError("repository", 503, "Service Unavailable"))
    answer = client.post(f"/admin/builds/{build_id}/rollback", json={}, headers=auth(token))
    assert answer.status_code == 502 and error_of(answer) == "github_error"
    assert "Service Unavailable" in answer.json()["message"]
    assert store.query_audit(action="build.rollback").entries[0].details["outcome"] == "failed"
    # the environments view still answers what the store knows, and says why the policy is missing
    forge.fail_next("default_branch", ForgeError("repository", 503, "Service Unavailable"))
    listed = client.get("/admin/environments", headers=auth(token))
    assert listed.status_code == 200 and "Service Unavailable" in listed.json()["policy_error"]


def test_dead_letters_listed_and_retried_through_the_api(
    client: TestClient, store: Store, token: str
) -> None:
    for name in ("d-1", "d-2", "d-3"):
        store.record_delivery(name, "pull_request", "opened", REPO, 42, {"n": name})
        job = store.claim_next("w1", 60)
        assert job is not None
        store.fail(job, "ForgeError: HTTP 502 after 5 attempts", None)
    for headers in ({}, {"Authorization": "Bearer mbt_" + "A" * 43}):
        assert client.get("/admin/dead-letters", headers=headers).status_code == 401
        assert (
            client.post("/admin/dead-letters/retry", json={"all": True}, headers=headers).status_code == 401
        )
    assert store.dead_letter_count() == 3
    # the gauge is read from the store: this app (a restarted bot) never saw those jobs fail
    assert "\nmodbot_dead_letters 3.0\n" in client.get("/metrics").text

    page = client.get("/admin/dead-letters?limit=2", headers=auth(token)).json()
    assert [d["delivery_id"] for d in page["dead_letters"]] == ["d-3", "d-2"]
    first = page["dead_letters"][0]
    assert (first["event"], first["attempts"], first["last_error"]) == (
        "pull_request",
        1,
        "ForgeError: HTTP 502 after 5 attempts",
    )
    assert first["failed_at"] is not None and "payload" not in first
    rest = client.get(f"/admin/dead-letters?cursor={page['next_cursor']}", headers=auth(token)).json()
    assert [d["delivery_id"] for d in rest["dead_letters"]] == ["d-1"] and rest["next_cursor"] is None

    answer = client.post(
        "/admin/dead-letters/retry",
        json={"delivery_ids": ["d-2", "d-nope"], "reason": "GitHub is back"},
        headers=auth(token),
    )
    assert answer.status_code == 200
    assert answer.json() == {"retried": ["d-2"], "not_dead_letters": ["d-nope"]}
    info = store.get_delivery("d-2")
    assert info is not None and (info.status.value, info.attempts) == ("pending", 0)
    for body in ({}, {"all": True, "delivery_ids": ["d-1"]}, {"delivery_ids": []}, {"all": True, "x": 1}):
        bad = client.post("/admin/dead-letters/retry", json=body, headers=auth(token))
        assert bad.status_code == 422 and error_of(bad) == "invalid_request"
    answer = client.post("/admin/dead-letters/retry", json={"all": True}, headers=auth(token))
    assert answer.json() == {"retried": ["d-1", "d-3"], "not_dead_letters": []}
    assert "\nmodbot_dead_letters 0.0\n" in client.get("/metrics").text
    retries = store.query_audit(action="delivery.retry").entries
    assert [(e.actor, e.target, e.reason, (e.details or {}).get("outcome")) for e in retries] == [
        ("api:ci", None, None, None),
        ("api:ci", None, None, "refused"),  # neither ids nor all
        ("api:ci", None, None, "refused"),  # both
        ("api:ci", "d-2", "GitHub is back", None),
    ]
    assert len(store.query_audit(action="delivery.dead_letters").entries) == 2  # reads are audited too
