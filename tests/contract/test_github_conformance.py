"""The GitHub conformance harness itself: it must accept what GitHub documents and reject the rest."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
import requests
from github import Auth, Github

from tests.github_conformance import (
    ConformanceError,
    GitHubAPI,
    GitHubMock,
    MethodNotAllowedError,
    RequestConformanceError,
    ResponseConformanceError,
    UnknownEndpointError,
    UnmockedRequestError,
    WebhookConformanceError,
    _files,
    load_api,
    load_webhook_schemas,
    validate_webhook,
    webhook_example,
)
from tests.github_conformance.schema import convert_schema

REPO = Path(__file__).resolve().parents[2]
GHES = "https://ghe.example.com/api/v3"
COMMENTS = "/repos/o/r/issues/1/comments"


# --- the pinned packages ----------------------------------------------------------------------
def test_packages_are_pinned_exactly_and_installed_from_the_lock() -> None:
    manifest = json.loads((REPO / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((REPO / "package-lock.json").read_text(encoding="utf-8"))
    pinned = manifest["devDependencies"]
    assert set(pinned) == {
        _files.OPENAPI_PACKAGE,
        _files.OPENAPI_WEBHOOKS_PACKAGE,
        _files.WEBHOOKS_EXAMPLES_PACKAGE,
        "axe-core",  # the console's accessibility scan (tests/e2e/browser), pinned the same way
    }
    for package, version in pinned.items():
        assert version[0].isdigit(), f"{package} must be pinned exactly, not {version!r}"
        assert lock["packages"][f"node_modules/{package}"]["version"] == version
        assert _files.package_version(package) == version, "node_modules is stale: run make pytest"


def test_descriptions_are_the_openapi_versions_the_harness_expects(github_rest_spec: GitHubAPI) -> None:
    assert github_rest_spec.openapi_version == "3.0.3"  # `nullable`, converted by schema.convert_schema
    assert github_rest_spec.version == _files.package_version(_files.OPENAPI_PACKAGE)
    assert len(github_rest_spec.operations) > 1000


# --- finding operations -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "url", "operation_id"),
    [
        ("GET", "https://api.github.com:443/repos/o/r", "repos/get"),
        ("GET", "https://api.github.com/repos/o/r/pulls/7?per_page=1", "pulls/get"),
        ("POST", COMMENTS, "issues/create-comment"),
        ("PATCH", "/repos/o/r/issues/comments/9", "issues/update-comment"),
        ("GET", "/repos/o/r/issues/comments", "issues/list-comments-for-repo"),
        ("POST", "/repos/o/r/check-runs", "checks/create"),
        ("PATCH", "/repos/o/r/git/refs/tags/deploy/prod", "git/update-ref"),
        ("GET", "/repos/o/r/contents/config/modules.toml?ref=main", "repos/get-content"),
        ("GET", "/repos/o/r/compare/main...feature/x", "repos/compare-commits"),
        ("GET", f"{GHES}/repos/o/r/pulls/7", "pulls/get"),
        ("GET", "https://ghe.example.com:443/api/v3/repos/o/r", "repos/get"),
    ],
)
def test_find_operation(github_rest_spec: GitHubAPI, method: str, url: str, operation_id: str) -> None:
    assert github_rest_spec.find_operation(method, url).operation_id == operation_id


def test_an_invented_endpoint_is_rejected(github_rest_spec: GitHubAPI) -> None:
    with pytest.raises(UnknownEndpointError, match=r"no endpoint GET /repos/o/r/nonsense"):
        github_rest_spec.find_operation("GET", "https://api.github.com/repos/o/r/nonsense")
    with pytest.raises(
        UnknownEndpointError, match=r"closest templates: \['/repos/\{owner\}/\{repo\}/check-runs/"
    ):
        github_rest_spec.find_operation("PATCH", "/repos/o/r/check-run/5")


def test_a_wrong_method_is_rejected(github_rest_spec: GitHubAPI) -> None:
    with pytest.raises(MethodNotAllowedError, match=r"exists only for GET, POST"):
        github_rest_spec.find_operation("DELETE", COMMENTS)
    with pytest.raises(MethodNotAllowedError):
        github_rest_spec.find_operation("PUT", "/repos/o/r/issues/comments/9")


def test_a_non_github_url_is_rejected(github_rest_spec: GitHubAPI) -> None:
    with pytest.raises(UnknownEndpointError, match=r"not api\.github\.com"):
        github_rest_spec.find_operation("GET", "https://example.com/repos/o/r")
    with pytest.raises(UnknownEndpointError, match="not under"):
        github_rest_spec.find_operation("GET", "https://api.github.com/repos/o/r", base_url=GHES)


def test_integer_path_parameters_must_be_integers(github_rest_spec: GitHubAPI) -> None:
    with pytest.raises(RequestConformanceError, match=r"pull_number.*'abc' is not of type 'integer'"):
        github_rest_spec.find_operation("GET", "/repos/o/r/pulls/abc")


# --- requests ---------------------------------------------------------------------------------
def test_valid_request_bodies_pass(github_rest_spec: GitHubAPI) -> None:
    github_rest_spec.check_request("POST", COMMENTS, b'{"body": "hello"}')
    github_rest_spec.check_request(
        "POST",
        "/repos/o/r/check-runs",
        json.dumps({"name": "modbot", "head_sha": "a" * 40, "status": "queued"}),
    )
    github_rest_spec.check_request("GET", "/repos/o/r/pulls?state=open&per_page=100")


@pytest.mark.parametrize(
    ("url", "body", "expected"),
    [
        (COMMENTS, {}, r"'body' is a required property"),
        (COMMENTS, {"body": 1}, r"\$\.body: 1 is not of type 'string'"),
        ("/repos/o/r/check-runs", {"status": "queued"}, r"'name' is a required property"),
        ("/repos/o/r/check-runs", {"name": "modbot"}, r"'head_sha' is a required property"),
        ("/repos/o/r/check-runs", {"name": "m", "head_sha": "a", "conclusion": "green"}, r"'green' is not"),
    ],
)
def test_invalid_request_bodies_fail(github_rest_spec: GitHubAPI, url: str, body: Any, expected: str) -> None:
    with pytest.raises(RequestConformanceError, match=expected):
        github_rest_spec.check_request("POST", url, json.dumps(body).encode())


def test_missing_or_unexpected_request_bodies_fail(github_rest_spec: GitHubAPI) -> None:
    with pytest.raises(RequestConformanceError, match="requires a request body"):
        github_rest_spec.check_request("POST", COMMENTS, None)
    with pytest.raises(RequestConformanceError, match="takes no request body"):
        github_rest_spec.check_request("GET", "/repos/o/r", b'{"x": 1}')
    with pytest.raises(RequestConformanceError, match="not JSON"):
        github_rest_spec.check_request("POST", COMMENTS, b"body=hello")


def test_query_parameters_are_checked(github_rest_spec: GitHubAPI) -> None:
    with pytest.raises(RequestConformanceError, match=r"unknown query parameter\(s\) \['stat'\]"):
        github_rest_spec.check_request("GET", "/repos/o/r/pulls?stat=closed")
    with pytest.raises(RequestConformanceError, match=r"state='opened'"):
        github_rest_spec.check_request("GET", "/repos/o/r/pulls?state=opened")
    with pytest.raises(RequestConformanceError, match=r"per_page='many'"):
        github_rest_spec.check_request("GET", "/repos/o/r/pulls?per_page=many")
    lenient = GitHubAPI(github_rest_spec.document, strict_query=False)
    lenient.check_request("GET", "/repos/o/r/pulls?stat=closed")


# --- responses --------------------------------------------------------------------------------
def _comment(github_rest_spec: GitHubAPI) -> dict[str, Any]:
    comment = github_rest_spec.example("POST", COMMENTS)
    assert isinstance(comment, dict)
    return comment


def test_documented_examples_validate(github_rest_spec: GitHubAPI) -> None:
    comment = _comment(github_rest_spec)
    github_rest_spec.check_response("POST", COMMENTS, 201, comment)
    github_rest_spec.check_response("POST", COMMENTS, 201, json.dumps(comment).encode())
    repo = github_rest_spec.example("GET", "/repos/o/r")
    github_rest_spec.check_response("GET", "https://api.github.com:443/repos/o/r", 200, repo)


def test_an_undocumented_status_fails(github_rest_spec: GitHubAPI) -> None:
    with pytest.raises(ResponseConformanceError, match=r"status 200 is not documented; documented: 201"):
        github_rest_spec.check_response("POST", COMMENTS, 200, _comment(github_rest_spec))


def test_a_response_missing_required_fields_fails(github_rest_spec: GitHubAPI) -> None:
    comment = _comment(github_rest_spec)
    del comment["id"], comment["user"]["login"]
    with pytest.raises(ResponseConformanceError) as info:
        github_rest_spec.check_response("POST", COMMENTS, 201, comment)
    assert "at $: 'id' is a required property" in str(info.value)
    assert "at $.user: 'login' is a required property" in str(info.value)


def test_openapi_30_nullable_is_honoured(github_rest_spec: GitHubAPI) -> None:
    run = github_rest_spec.example("POST", "/repos/o/r/check-runs")
    run["conclusion"] = None  # `nullable: true` + enum
    run["details_url"] = None  # `nullable: true` string
    github_rest_spec.check_response("POST", "/repos/o/r/check-runs", 201, run)
    run["conclusion"] = "green"
    with pytest.raises(ResponseConformanceError, match=r"\$\.conclusion: 'green' is not one of"):
        github_rest_spec.check_response("POST", "/repos/o/r/check-runs", 201, run)
    comment = _comment(github_rest_spec)
    comment["performed_via_github_app"] = None  # nullable `allOf`/`$ref`
    github_rest_spec.check_response("POST", COMMENTS, 201, comment)
    comment["body"] = None  # not nullable
    with pytest.raises(ResponseConformanceError, match=r"\$\.body: None is not of type 'string'"):
        github_rest_spec.check_response("POST", COMMENTS, 201, comment)


def test_formats_are_checked(github_rest_spec: GitHubAPI) -> None:
    comment = _comment(github_rest_spec)
    comment["created_at"] = "yesterday"
    with pytest.raises(ResponseConformanceError, match=r"'yesterday' is not a 'date-time'"):
        github_rest_spec.check_response("POST", COMMENTS, 201, comment)


def test_bodies_of_body_less_statuses_fail(github_rest_spec: GitHubAPI) -> None:
    github_rest_spec.check_response("DELETE", "/repos/o/r/issues/comments/9", 204, b"")
    with pytest.raises(ResponseConformanceError, match="documented without a body"):
        github_rest_spec.check_response("DELETE", "/repos/o/r/issues/comments/9", 204, {"ok": True})


def test_convert_schema_rewrites_nullable() -> None:
    base = "urn:t"
    assert convert_schema({"type": "string", "nullable": True}, base, openapi30=True) == {
        "type": ["string", "null"]
    }
    assert convert_schema({"type": "string", "enum": ["a"], "nullable": True}, base, openapi30=True) == {
        "type": ["string", "null"],
        "enum": ["a", None],
    }
    assert convert_schema({"allOf": [{"$ref": "#/x"}], "nullable": True}, base, openapi30=True) == {
        "anyOf": [{"type": "null"}, {"allOf": [{"$ref": "urn:t#/x"}]}]
    }
    assert convert_schema({"properties": {"a": {"type": "integer"}}}, base, openapi30=False) == {
        "properties": {"a": {"type": "integer"}}
    }


# --- the github_api fixture -------------------------------------------------------------------
def test_mocking_an_invented_endpoint_fails(github_api: GitHubMock) -> None:
    with pytest.raises(UnknownEndpointError):
        github_api.add("GET", "/repos/o/r/nonsense", json={})
    with pytest.raises(MethodNotAllowedError):
        github_api.add("DELETE", COMMENTS, status=204)


def test_mocking_a_wrong_shaped_response_fails(github_api: GitHubMock) -> None:
    with pytest.raises(ResponseConformanceError, match="'id' is a required property"):
        github_api.add("POST", COMMENTS, json={"body": "hi"})
    with pytest.raises(ResponseConformanceError, match="status 200 is not documented"):
        github_api.add("POST", COMMENTS, json=github_api.example("POST", COMMENTS), status=200)
    with pytest.raises(ResponseConformanceError, match="documented with a application/json body, got none"):
        github_api.add("POST", COMMENTS)


def test_requests_are_validated_and_recorded(github_api: GitHubMock) -> None:
    comment = github_api.example("POST", COMMENTS)
    route = github_api.add("POST", COMMENTS, json=comment)
    assert route.status == 201  # the documented 2xx
    response = requests.post(f"https://api.github.com:443{COMMENTS}", json={"body": "hi"}, timeout=5)
    assert response.status_code == 201
    assert response.json() == comment
    [call] = github_api.calls_to("POST", COMMENTS)
    assert (call.operation_id, call.json, call.status) == ("issues/create-comment", {"body": "hi"}, 201)
    with pytest.raises(RequestConformanceError, match="'body' is a required property"):
        requests.post(f"https://api.github.com{COMMENTS}", json={"text": "hi"}, timeout=5)
    with pytest.raises(UnknownEndpointError):
        requests.get("https://api.github.com/repos/o/r/nonsense", timeout=5)
    with pytest.raises(UnmockedRequestError, match=r"no mock for GET /repos/o/r \(repos/get\)"):
        requests.get("https://api.github.com/repos/o/r", timeout=5)
    failures = github_api.pop_failures()
    assert [type(f) for f in failures] == [
        RequestConformanceError,
        UnknownEndpointError,
        UnmockedRequestError,
    ]
    assert [c.status for c in github_api.calls] == [201, None, None, None]


def test_mocks_for_one_path_are_served_in_order_the_last_repeating(github_api: GitHubMock) -> None:
    page = github_api.example("GET", COMMENTS)
    github_api.add("GET", f"{COMMENTS}?page=1", json=page)  # the query is ignored when matching
    github_api.add("GET", f"https://api.github.com{COMMENTS}", json=[])
    sizes = [
        len(requests.get(f"https://api.github.com{COMMENTS}?per_page=100&page={n}", timeout=5).json())
        for n in (1, 2, 3)
    ]
    assert sizes == [len(page), 0, 0]
    assert [c.query for c in github_api.calls][-1] == {"per_page": ["100"], "page": ["3"]}


def test_a_swallowed_failure_is_still_reported(github_rest_spec: GitHubAPI) -> None:
    mock = GitHubMock(github_rest_spec).start()
    try:
        with contextlib.suppress(Exception):  # the code under test swallowing the error
            requests.post(f"https://api.github.com{COMMENTS}", json={}, timeout=5)
    finally:
        mock.stop()
    with pytest.raises(ConformanceError, match=r"(?s)1 GitHub request\(s\) failed.*'body' is a required"):
        mock.assert_no_failures()


def test_pygithub_end_to_end(github_api: GitHubMock) -> None:
    repo = github_api.example("GET", "/repos/octocat/Hello-World")
    pull = github_api.example("GET", "/repos/octocat/Hello-World/pulls/1347")
    comment = github_api.example("POST", "/repos/octocat/Hello-World/issues/1347/comments")
    github_api.add("GET", "/repos/octocat/Hello-World", json=repo)
    github_api.add("GET", "/repos/octocat/Hello-World/pulls/1347", json=pull)
    github_api.add("POST", "/repos/octocat/Hello-World/issues/1347/comments", json=comment)

    gh = Github(auth=Auth.Token("x"))
    pr = gh.get_repo("octocat/Hello-World").get_pull(1347)
    assert pr.title == pull["title"]
    created = pr.create_issue_comment("modules.toml looks good")
    assert created.id == comment["id"]

    assert [(c.method, c.operation_id) for c in github_api.calls] == [
        ("GET", "repos/get"),
        ("GET", "pulls/get"),
        ("POST", "issues/create-comment"),
    ]
    assert all(c.url.startswith("https://api.github.com:443/") for c in github_api.calls)
    assert github_api.calls[-1].json == {"body": "modules.toml looks good"}
    github_api.assert_all_used()


def test_pygithub_invalid_request_fails(github_api: GitHubMock) -> None:
    github_api.add("GET", "/repos/octocat/Hello-World", json=github_api.example("GET", "/repos/o/r"))
    repo = Github(auth=Auth.Token("x")).get_repo("octocat/Hello-World")
    with pytest.raises(RequestConformanceError, match="'head_sha' is a required property"):
        repo._requester.requestJsonAndCheck("POST", f"{repo.url}/check-runs", input={"name": "modbot"})
    assert len(github_api.pop_failures()) == 1


@pytest.mark.parametrize("github_api", [{"base_url": GHES, "description": "ghes-3.19"}], indirect=True)
def test_pygithub_against_github_enterprise_server(github_api: GitHubMock) -> None:
    assert github_api.api.name == "ghes-3.19"
    repo = github_api.example("GET", "/repos/o/r")
    repo["url"] = f"{GHES}/repos/o/r"
    github_api.add("GET", "/repos/o/r", json=repo)
    github_api.add("GET", "/repos/o/r/pulls/2", json=github_api.example("GET", "/repos/o/r/pulls/2"))

    gh = Github(base_url=GHES, auth=Auth.Token("x"))
    assert gh.get_repo("o/r").get_pull(2).number == 1347
    assert [c.url for c in github_api.calls] == [
        "https://ghe.example.com:443/api/v3/repos/o/r",
        "https://ghe.example.com:443/api/v3/repos/o/r/pulls/2",
    ]
    with pytest.raises(requests.ConnectionError):  # api.github.com is not mocked in this test
        requests.get("https://api.github.com/repos/o/r", timeout=5)


def test_each_description_has_its_own_endpoints(github_rest_spec: GitHubAPI) -> None:
    ghes = load_api("ghes-3.19")
    sub_issues = "/repos/o/r/issues/1/sub_issues"
    assert github_rest_spec.find_operation("GET", sub_issues).operation_id == "issues/list-sub-issues"
    with pytest.raises(UnknownEndpointError, match=r"ghes-3\.19"):
        ghes.find_operation("GET", f"{GHES}{sub_issues}")
    assert (
        ghes.find_operation("DELETE", f"{GHES}/admin/hooks/1").operation_id
        == "enterprise-admin/delete-global-webhook"
    )
    with pytest.raises(UnknownEndpointError):
        github_rest_spec.find_operation("DELETE", "/admin/hooks/1")


# --- webhooks ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("event", "action"), [("pull_request", "opened"), ("issue_comment", "created")])
def test_real_webhook_examples_validate(event: str, action: str) -> None:
    payload = webhook_example(event, action)
    assert payload["action"] == action
    validate_webhook(event, payload)


def test_webhook_examples_are_only_completed_never_changed() -> None:
    raw = webhook_example("pull_request", "opened", complete=False)
    with pytest.raises(WebhookConformanceError, match=r"\$\.pull_request: 'auto_merge' is a required"):
        validate_webhook("pull_request", raw)
    completed = webhook_example("pull_request", "opened")
    assert completed["pull_request"].pop("auto_merge") is None
    assert completed == raw
    assert load_webhook_schemas().complete("push", webhook_example("push", complete=False))


def test_mangled_webhook_payloads_fail() -> None:
    payload = webhook_example("pull_request", "opened")
    del payload["pull_request"]["head"]
    payload["number"] = "7"
    with pytest.raises(WebhookConformanceError) as info:
        validate_webhook("pull_request", payload)
    assert "at $.number: '7' is not of type 'integer'" in str(info.value)
    assert "at $.pull_request: 'head' is a required property" in str(info.value)

    comment = webhook_example("issue_comment", "created")
    comment["action"] = "exploded"
    with pytest.raises(WebhookConformanceError, match=r"no 'issue_comment' webhook with action 'exploded'"):
        validate_webhook("issue_comment", comment)
    with pytest.raises(WebhookConformanceError, match="no webhook event 'pull_requests'"):
        validate_webhook("pull_requests", payload)


def test_webhook_example_selection() -> None:
    assert webhook_example("issue_comment", "created", index=1) != webhook_example("issue_comment", "created")
    validate_webhook("push", webhook_example("push"))  # an event without actions
    with pytest.raises(KeyError, match="example actions"):
        webhook_example("pull_request", "exploded")
    with pytest.raises(IndexError):
        webhook_example("pull_request", "opened", index=5)
