"""The admin API: bearer auth first, one PR per intent, refusals as 422 with reasons, GitHub failures as
502, an audit entry for every authenticated call, and an OpenAPI document that says all of this."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.cli import main
from bot.config import BotSettings, load_settings
from bot.domain.ids import REPO_PATTERN
from bot.forge import Forge, ForgeError, validate_repo
from bot.runtime import Runtime
from bot.store import Store, open_store
from bot.web.app import create_app
from tests.corpus import LATEST, read
from tests.fakes import FakeForge
from tests.store_helpers import temporary_store

REPO = "rustok/rustok"
OTHER = "rustok/other"
BOT = "modbot[bot]"
URL = "/admin/modules/forum2/install"
GITHUB_TOKEN = "ghp_" + "Z" * 36
INSTALL: dict[str, Any] = {
    "repository": REPO,
    "module": {"crate": "rustok-forum2", "source": "crates-io", "version": "0.1"},
    "requested_by": "alice",
    "reason": "tenants asked",
}


class Provider:
    def __init__(self, forge: Forge) -> None:
        self.forge = forge
        self.installations: list[int | None] = []

    def for_installation(self, installation_id: int | None) -> Forge:
        self.installations.append(installation_id)
        return self.forge


def token_settings(repositories: frozenset[str] | None = frozenset({REPO, OTHER})) -> BotSettings:
    return BotSettings(
        github_token=SecretStr(GITHUB_TOKEN),
        webhook_secrets=(SecretStr("s3cret"),),
        repositories=repositories,
        bot_login=BOT,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with temporary_store("sqlite", directory=tmp_path) as opened:
        yield opened


@pytest.fixture
def forge() -> FakeForge:
    fake = FakeForge(bot_login=BOT)
    fake.add_repo(REPO, files={"modules.toml": read(LATEST).encode()})
    return fake


@pytest.fixture
def provider(forge: FakeForge) -> Provider:
    return Provider(forge)


def client_for(store: Store, provider: Provider, settings: BotSettings | None = None) -> TestClient:
    app = create_app(Runtime(settings or token_settings(), store, provider), workers=0)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(store: Store, provider: Provider) -> TestClient:
    return client_for(store, provider)


@pytest.fixture
def token(store: Store) -> str:
    _, secret = store.create_admin_token("ci", actor="test")
    return secret


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def module_audit(store: Store) -> list[Any]:
    return [e for e in store.query_audit(limit=100).entries if e.action.startswith("module.")]


# --- auth ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer mbt_" + "A" * 43},  # the right shape, not a token we made
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
    ],
)
def test_no_valid_token_is_401(client: TestClient, forge: FakeForge, store: Store, headers: Any) -> None:
    answer = client.post(URL, json=INSTALL, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert not forge.repos[REPO].pulls and forge.calls == []
    assert module_audit(store) == []


@pytest.mark.parametrize("body", [b"{not json", b'{"unknown": 1}', b"[]"])
def test_a_bad_body_without_a_token_is_401_not_a_description(client: TestClient, body: bytes) -> None:
    answer = client.post(URL, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
    assert "reasons" not in answer.json()


def test_a_revoked_token_is_401(client: TestClient, store: Store, token: str) -> None:
    [record] = store.list_admin_tokens()
    assert store.revoke_admin_token(record.id, actor="test")
    assert client.post(URL, json=INSTALL, headers=auth(token)).status_code == 401


# --- the path: opened, unchanged, left-alone ------------------------------------------------------------
def test_install_opens_a_pr_then_the_same_call_is_unchanged(
    client: TestClient, forge: FakeForge, store: Store, token: str
) -> None:
    answer = client.post(URL, json=INSTALL, headers=auth(token))
    assert answer.status_code == 201, answer.text
    data = answer.json()
    assert data["status"] == "opened" and data["branch"] == "modbot/install-forum2"
    assert data["summary"] == "+forum2@0.1" and data["repository"] == REPO
    pull = forge.repos[REPO].pulls[data["pull_number"]]
    assert data["pull_url"] == pull.html_url and pull.base_ref == "main"
    again = client.post(URL, json=INSTALL, headers=auth(token))
    assert again.status_code == 200 and again.json()["status"] == "unchanged"
    assert again.json()["pull_number"] == data["pull_number"] and len(forge.repos[REPO].pulls) == 1
    entries = module_audit(store)
    assert [e.details["outcome"] for e in entries] == ["unchanged", "opened"]  # newest first
    first = entries[-1]
    assert first.actor == "api:ci (alice)" and first.action == "module.install"
    assert first.target == f"{REPO}#{data['pull_number']}" and first.reason == "tenants asked"
    assert first.details["requested_by"] == "alice" and first.details["summary"] == "+forum2@0.1"
    assert token not in repr(store.query_audit(limit=100))


def test_a_person_pushed_so_the_pr_is_left_alone(client: TestClient, forge: FakeForge, token: str) -> None:
    opened = client.post(URL, json=INSTALL, headers=auth(token)).json()
    forge.commit(REPO, opened["branch"], {"x": b"1"}, author="carol")
    answer = client.post(URL, json=INSTALL, headers=auth(token))
    assert answer.status_code == 200
    assert answer.json()["status"] == "left-alone" and "carol" in answer.json()["message"]


@pytest.mark.parametrize(
    ("action", "body_extra"),
    [("disable", {}), ("upgrade", {"module": {"features": ["search"]}})],
)
def test_other_actions(client: TestClient, token: str, action: str, body_extra: dict[str, Any]) -> None:
    body = {"repository": REPO, "requested_by": "bob", **body_extra}
    slug = "navigation" if action == "disable" else "forum"
    answer = client.post(f"/admin/modules/{slug}/{action}", json=body, headers=auth(token))
    assert answer.status_code == 201, answer.text
    assert answer.json()["branch"] == f"modbot/{action}-{slug}"


def test_the_only_configured_repository_is_the_default(
    store: Store, provider: Provider, forge: FakeForge, token: str
) -> None:
    client = client_for(store, provider, token_settings(frozenset({REPO})))
    body = {k: v for k, v in INSTALL.items() if k != "repository"} | {"installation_id": 77}
    answer = client.post(URL, json=body, headers=auth(token))
    assert answer.status_code == 201 and answer.json()["repository"] == REPO
    assert provider.installations == [77]


# --- refusals ------------------------------------------------------------------------------------------
def test_a_refused_edit_is_422_with_reasons_and_opens_nothing(
    client: TestClient, forge: FakeForge, store: Store, token: str
) -> None:
    answer = client.post(
        "/admin/modules/outbox/uninstall",
        json={"repository": REPO, "requested_by": "al"},
        headers=auth(token),
    )
    assert answer.status_code == 422
    assert any("required" in reason for reason in answer.json()["reasons"])
    assert not forge.repos[REPO].pulls
    assert "create_branch" not in forge.operations() and "commit_file" not in forge.operations()
    [entry] = module_audit(store)
    assert entry.action == "module.uninstall" and entry.details["outcome"] == "refused"
    assert entry.details["reasons"] == answer.json()["reasons"]


@pytest.mark.parametrize(
    ("url", "body", "needle"),
    [
        (URL, {**INSTALL, "extra": 1}, "`extra`"),
        (URL, {**INSTALL, "module": {**INSTALL["module"], "colour": "red"}}, "`module.colour`"),
        (URL, {k: v for k, v in INSTALL.items() if k != "requested_by"}, "`requested_by`"),
        (URL, {**INSTALL, "repository": "not a repo"}, "`repository`"),
        (URL, {**INSTALL, "requested_by": "a\nb"}, "one line"),
        ("/admin/modules/forum2/deploy", INSTALL, "`action`"),
        ("/admin/modules/Bad-Slug/install", INSTALL, "`slug`"),
        ("/admin/modules/seo/enable", {**INSTALL, "repository": REPO}, "takes no module fields"),
    ],
)
def test_invalid_requests_are_422_with_reasons(  # noqa: PLR0917 - fixtures and parameters
    client: TestClient, forge: FakeForge, token: str, url: str, body: dict[str, Any], needle: str
) -> None:
    answer = client.post(url, json=body, headers=auth(token))
    assert answer.status_code == 422, answer.text
    assert needle in " ".join(answer.json()["reasons"])
    assert not forge.repos[REPO].pulls


def test_a_body_that_is_not_utf8_json_is_422_not_400(
    client: TestClient, forge: FakeForge, store: Store, token: str
) -> None:
    # FastAPI answers 400 for bytes it cannot decode; the admin API documents 422 for every bad body
    headers = {**auth(token), "Content-Type": "application/json"}
    answer = client.post(URL, content=b'\xff"4O', headers=headers)
    assert answer.status_code == 422 and answer.json()["reasons"] == ["`body`: not JSON text (UTF-8)"]
    answer = client.post(URL, content=b'\xff"4O', headers={"Content-Type": "application/json"})
    assert answer.status_code == 401 and "reasons" not in answer.json()
    # the call with a token is on the record, the one without is not
    [entry] = store.query_audit(action="request.invalid").entries
    assert entry.actor == "api:ci" and entry.target is None
    assert entry.details == {
        "token_id": entry.details["token_id"],
        "method": "POST",
        "path": URL,
        "outcome": "refused",
        "reasons": ["`body`: not JSON text (UTF-8)"],
    }
    assert not forge.repos[REPO].pulls


def test_a_repository_the_bot_does_not_manage_is_403(
    client: TestClient, forge: FakeForge, store: Store, token: str
) -> None:
    answer = client.post(URL, json={**INSTALL, "repository": "evil/repo"}, headers=auth(token))
    assert answer.status_code == 403 and "evil/repo" in answer.json()["detail"]
    assert forge.calls == []
    assert module_audit(store)[0].details["outcome"] == "refused"


def test_no_repository_and_several_configured_is_422(client: TestClient, token: str) -> None:
    body = {k: v for k, v in INSTALL.items() if k != "repository"}
    answer = client.post(URL, json=body, headers=auth(token))
    assert answer.status_code == 422 and "`repository` is required" in answer.json()["reasons"][0]


@given(repo=st.text(alphabet="aZ9-._/", max_size=12))
@examples(max_examples=300, deadline=None, derandomize=True, database=None)
def test_the_repository_pattern_accepts_what_the_forge_accepts(repo: str) -> None:
    try:
        valid = validate_repo(repo) == repo
    except ValueError:
        valid = False
    assert (re.fullmatch(REPO_PATTERN, repo) is not None) == valid, repo


@pytest.mark.parametrize("repository", ["rustok/.", "rustok/..", "-x/y", "x/y/z"])
def test_a_repository_name_github_cannot_have_is_422_when_every_repository_is_allowed(
    store: Store, provider: Provider, token: str, repository: str
) -> None:
    client = client_for(store, provider, token_settings(None))
    answer = client.post(URL, json={**INSTALL, "repository": repository}, headers=auth(token))
    assert answer.status_code == 422 and "`repository`" in answer.json()["reasons"][0]
    for path in ("/admin/environments", "/admin/releases", "/admin/builds"):
        answer = client.get(path, params={"repository": repository}, headers=auth(token))
        assert answer.status_code == 422 and answer.json()["error"] == "invalid_request", path
    assert provider.installations == []


def test_app_mode_needs_the_installation_id(store: Store, provider: Provider, token: str) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    settings = load_settings(
        {"MODBOT_WEBHOOK_SECRET": "s", "MODBOT_GITHUB_APP_ID": "1", "MODBOT_GITHUB_PRIVATE_KEY": pem}
    )
    client = client_for(store, provider, settings)
    answer = client.post(URL, json=INSTALL, headers=auth(token))
    assert answer.status_code == 422 and "installation_id" in answer.json()["reasons"][0]
    assert provider.installations == []


# --- failures ------------------------------------------------------------------------------------------
def test_a_github_failure_is_502_with_its_message(
    client: TestClient, forge: FakeForge, store: Store, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    forge.fail_next(
        "create_pull", ForgeError("create_pull", 502, "Bad Gateway", retry_after=30.2, attempts=4)
    )
    with caplog.at_level(logging.DEBUG):
        answer = client.post(URL, json=INSTALL, headers=auth(token))
    assert answer.status_code == 502
    assert answer.json() == {
        "detail": "GitHub create_pull failed after 4 attempts: HTTP 502: Bad Gateway (retry after 30s)"
    }
    assert answer.headers["retry-after"] == "31"
    assert module_audit(store)[0].details["outcome"] == "failed"
    assert token not in caplog.text and GITHUB_TOKEN not in caplog.text
    # asking again finishes the job on the bot's own branch
    assert client.post(URL, json=INSTALL, headers=auth(token)).status_code == 201


def test_an_unexpected_error_is_a_plain_500(
    client: TestClient, forge: FakeForge, store: Store, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(forge, "default_branch", broken)
    answer = client.post(URL, json=INSTALL, headers=auth(token))
    assert answer.status_code == 500
    assert answer.json() == {"detail": "internal error; the bot's log has the details"}
    assert "Traceback" not in answer.text and "passwd" not in answer.text
    assert module_audit(store)[0].details["outcome"] == "failed"


# --- the OpenAPI document ------------------------------------------------------------------------------
def test_the_openapi_document_describes_the_endpoint(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    operation = doc["paths"]["/admin/modules/{slug}/{action}"]["post"]
    schemas = doc["components"]["schemas"]
    refs = {
        code: response["content"]["application/json"]["schema"].get("$ref", "").rsplit("/", 1)[-1]
        for code, response in operation["responses"].items()
    }
    assert refs == {
        "200": "ProposeResult",
        "201": "ProposeResult",
        "401": "Problem",
        "403": "Problem",
        "422": "Refusal",
        "502": "Problem",
        "500": "Problem",
    }
    assert operation["security"] == [{"AdminToken": []}]
    assert doc["components"]["securitySchemes"]["AdminToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": operation_description(doc),
    }
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert body == "AdminActionRequest" and operation["requestBody"]["required"] is True
    request = schemas["AdminActionRequest"]
    assert request["additionalProperties"] is False and request["required"] == ["requested_by"]
    assert schemas["ModuleChange"]["additionalProperties"] is False
    params = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert params["action"]["enum"] == ["install", "uninstall", "upgrade", "enable", "disable"]
    assert params["slug"]["pattern"] == "^[a-z0-9]+(_[a-z0-9]+)*$"
    statuses = schemas["ProposeResult"]["properties"]["status"]["enum"]
    assert statuses == ["opened", "updated", "unchanged", "left-alone"]
    assert schemas["Refusal"]["required"] == ["detail", "reasons"]


def operation_description(doc: dict[str, Any]) -> str:
    return str(doc["components"]["securitySchemes"]["AdminToken"]["description"])


# --- `modbot admin token ...` ----------------------------------------------------------------------------
def test_token_cli_create_list_revoke(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], provider: Provider
) -> None:
    for name in [n for n in os.environ if n.startswith("MODBOT_")]:
        monkeypatch.delenv(name)
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("MODBOT_DATABASE_URL", url)
    assert main(["admin", "token", "create", "ops-portal", "--reason", "for the portal"]) == 0
    created = capsys.readouterr()
    secret = created.out.strip()
    assert secret.startswith("mbt_") and len(created.out.splitlines()) == 1
    assert "shown only this once" in created.err and secret not in created.err
    assert main(["admin", "token", "list", "--format", "json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (
        listed["name"] == "ops-portal" and listed["revoked_at"] is None and secret not in json.dumps(listed)
    )
    store = open_store(url)
    try:
        client = client_for(store, provider)
        assert client.post(URL, json=INSTALL, headers=auth(secret)).status_code == 201
        assert main(["admin", "token", "revoke", str(listed["id"]), "--reason", "leaked"]) == 0
        assert client.post(URL, json=INSTALL, headers=auth(secret)).status_code == 401
        actions = [e.action for e in store.query_audit(limit=10).entries]
        assert actions == ["admin_token.revoke", "module.install", "admin_token.create"]
    finally:
        store.engine.dispose()
    capsys.readouterr()
    assert main(["admin", "token", "revoke", str(listed["id"])]) == 2
    assert "no active admin token" in capsys.readouterr().err
    assert main(["admin", "token", "list"]) == 0
    assert "no admin tokens" in capsys.readouterr().out


def test_token_cli_config_errors_are_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [n for n in os.environ if n.startswith("MODBOT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MODBOT_DATABASE_URL", "postgresql://user:hunter2@127.0.0.1:1/nowhere")
    assert main(["admin", "token", "list"]) == 2
    err = capsys.readouterr().err
    assert "cannot open the store" in err and "hunter2" not in err and "Traceback" not in err
    monkeypatch.setenv("MODBOT_DATABASE_URL", "nonsense")
    assert main(["admin", "token", "create", "x"]) == 2
    assert "MODBOT_DATABASE_URL" in capsys.readouterr().err
