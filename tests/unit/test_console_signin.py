"""The console's sign-in, sessions and CSRF (issue #13): GitHub's OAuth web flow (GitHub mocked and
checked against @octokit/openapi), local accounts with throttling, signed cookies (forged, expired,
another user's), CSRF refusals audited with nothing changed, the security headers, and the console
staying off without its key."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from itsdangerous import URLSafeTimedSerializer
from pydantic import SecretStr

from bot.config import BotSettings, SettingsError, load_settings
from bot.store import Store
from bot.web.console.headers import CONTENT_SECURITY_POLICY
from bot.web.console.session import SESSION_COOKIE
from tests.chatops_world import World
from tests.console_world import (
    CLIENT_ID,
    CLIENT_SECRET,
    CONSOLE_SECRET,
    PASSWORD,
    Console,
    console_settings,
    csrf_of,
)
from tests.github_conformance import GitHubMock
from tests.store_helpers import FakeClock

OAUTH_TOKEN = "gho_0123456789abcdefghijklmnopqrstuvwxyzAB"


@pytest.fixture
def console(store: Store, clock: FakeClock) -> Console:
    return Console.start(World.create(store, clock))


@pytest.fixture
def local(store: Store, clock: FakeClock) -> Console:
    store.add_user("alice", PASSWORD, "write", actor="cli:root")
    store.add_user("bob", PASSWORD, "read", actor="cli:root")
    return Console.start(World.create(store, clock), console_settings("local"))


def actions(store: Store) -> list[str]:
    return [entry.action for entry in reversed(store.query_audit(limit=1000).entries)]


def cookie_payload(value: str) -> dict[str, object]:
    """What a session cookie carries, read with the console's key."""
    payload: dict[str, object] = URLSafeTimedSerializer(
        CONSOLE_SECRET, salt="modbot.console.session.v1"
    ).loads(value)
    return payload


# --- pages need a session --------------------------------------------------------------------------------
def test_a_page_without_a_session_redirects_to_sign_in_and_back(console: Console) -> None:
    answer = console.client.get("/console/audit?actor=alice", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?next=%2Fconsole%2Faudit%3Factor%3Dalice"
    page = console.client.get(answer.headers["location"])
    assert page.status_code == 200
    assert "/console/login/github?next=/console/audit%3Factor%3Dalice" in page.text


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param(
            lambda s: URLSafeTimedSerializer(
                "another key entirely, 0123456789abcdef", salt="modbot.console.session.v1"
            ).dumps(s),
            id="other-key",
        ),
        pytest.param(lambda s: SessionCodecDumps(s)[:-2] + "xx", id="tampered"),
        pytest.param(lambda s: "not-a-cookie", id="garbage"),
    ],
)
def test_a_forged_cookie_is_no_session(console: Console, cookie: object) -> None:
    console.world.role("mallory", "admin")
    session = {
        "sid": "x",
        "csrf": "y",
        "login": "mallory",
        "kind": "github",
        "oauth_state": None,
        "next_path": None,
    }
    console.client.cookies.set(SESSION_COOKIE, cookie(session), path="/console")  # type: ignore[operator]
    answer = console.client.get("/console/", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login")


def SessionCodecDumps(session: dict[str, object]) -> str:
    return URLSafeTimedSerializer(CONSOLE_SECRET, salt="modbot.console.session.v1").dumps(session)


def test_a_well_signed_session_works_and_an_expired_one_does_not(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    console.world.role("alice", "write")
    session = {
        "sid": "x",
        "csrf": "y",
        "login": "alice",
        "kind": "github",
        "oauth_state": None,
        "next_path": None,
    }
    console.client.cookies.set(SESSION_COOKIE, SessionCodecDumps(session), path="/console")
    assert console.client.get("/console/", follow_redirects=False).status_code == 200
    import itsdangerous.timed

    real = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real() - 9 * 3600)  # signed 9 h ago
    old = SessionCodecDumps(session)
    monkeypatch.undo()
    console.client.cookies.set(SESSION_COOKIE, old, path="/console")
    answer = console.client.get("/console/", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login")


def test_the_session_cookie_is_httponly_samesite_and_secure_over_https(local: Console) -> None:
    answer = local.client.get("/console/login")
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http (tests)
    secure = local.client.get("https://testserver/console/login").headers["set-cookie"]
    assert "Secure" in secure


# --- CSRF ----------------------------------------------------------------------------------------------
def test_sign_out_without_or_with_a_wrong_token_is_refused_audited_and_changes_nothing(
    local: Console,
) -> None:
    assert local.sign_in_local("alice") == 303
    before = actions(local.world.store)
    for data in ({}, {"csrf_token": "forged"}):
        answer = local.client.post("/console/logout", data=data)
        assert answer.status_code == 403
        assert "security token" in answer.text
        assert "set-cookie" not in answer.headers  # the session was not touched
    assert actions(local.world.store) == [*before, "console.csrf_refused", "console.csrf_refused"]
    refusals = local.world.store.query_audit(action="console.csrf_refused").entries
    assert [(e.actor, e.details["csrf"]) for e in refusals] == [("alice", "wrong"), ("alice", "missing")]
    assert local.client.get("/console/", follow_redirects=False).status_code == 200  # still signed in


def test_another_users_session_does_not_carry_this_users_token(local: Console) -> None:
    assert local.sign_in_local("alice") == 303
    alice_token = local.csrf()
    local.client.cookies.clear()
    assert local.sign_in_local("bob") == 303
    answer = local.client.post("/console/logout", data={"csrf_token": alice_token})
    assert answer.status_code == 403
    [refusal] = local.world.store.query_audit(action="console.csrf_refused").entries
    assert refusal.actor == "bob"
    assert local.client.get("/console/", follow_redirects=False).status_code == 200  # bob still signed in


def test_sign_out_with_its_token_ends_the_session(local: Console) -> None:
    assert local.sign_in_local("alice") == 303
    answer = local.client.post("/console/logout", data={"csrf_token": local.csrf()}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login?error=signed_out"
    assert SESSION_COOKIE in answer.headers["set-cookie"] and "Max-Age=0" in answer.headers["set-cookie"]
    assert local.client.get("/console/", follow_redirects=False).status_code == 303
    assert actions(local.world.store)[-1] == "console.signout"


def test_a_sign_in_form_without_its_token_is_refused(local: Console) -> None:
    local.client.get("/console/login")
    answer = local.client.post("/console/login", data={"login": "alice", "password": PASSWORD})
    assert answer.status_code == 403
    assert actions(local.world.store)[-1] == "console.csrf_refused"
    assert local.client.get("/console/", follow_redirects=False).status_code == 303


# --- local accounts ----------------------------------------------------------------------------------------
def test_local_sign_in_rotates_the_session(local: Console) -> None:
    page = local.client.get("/console/login")
    before = cookie_payload(local.client.cookies[SESSION_COOKIE])
    assert local.sign_in_local("alice") == 303
    after = cookie_payload(local.client.cookies[SESSION_COOKIE])
    assert after["login"] == "alice" and after["kind"] == "local"
    assert before["csrf"] == csrf_of(page.text)
    assert after["sid"] != before["sid"] and after["csrf"] != before["csrf"]
    assert PASSWORD not in json.dumps(after)


def test_a_wrong_password_is_refused_and_audited(local: Console) -> None:
    assert local.sign_in_local("alice", "not the password") == 401
    [failed] = local.world.store.query_audit(action="console.signin_failed").entries
    assert (failed.target, failed.details["error"]) == ("alice", "wrong_password")
    assert "not the password" not in json.dumps(failed.details)


def test_failed_sign_ins_are_throttled_even_for_the_right_password(local: Console) -> None:
    for _ in range(5):
        assert local.sign_in_local("alice", "wrong password!!") == 401
    assert local.sign_in_local("alice") == 429
    page = local.client.get("/console/login")
    assert page.status_code == 200
    assert (
        local.world.store.query_audit(action="console.signin_failed").entries[0].details["error"]
        == "throttled"
    )
    assert local.client.get("/console/", follow_redirects=False).status_code == 303
    assert local.sign_in_local("bob") == 303  # another login from the same address is not locked out yet


def test_a_removed_account_loses_its_session(local: Console) -> None:
    assert local.sign_in_local("alice") == 303
    local.world.store.remove_user("alice", actor="cli:root")
    assert local.client.get("/console/", follow_redirects=False).status_code == 303


def test_an_unsafe_next_is_replaced_by_the_overview(local: Console) -> None:
    page = local.client.get("/console/login")
    for target in ("https://evil.example/", "//evil.example/x", "/console/login", "/admin/modules"):
        answer = local.client.post(
            "/console/login",
            data={"login": "alice", "password": PASSWORD, "csrf_token": csrf_of(page.text), "next": target},
            follow_redirects=False,
        )
        assert answer.headers["location"] == "/console/"
        local.client.cookies.clear()
        page = local.client.get("/console/login")


# --- GitHub OAuth --------------------------------------------------------------------------------------------
def start_oauth(console: Console, next_path: str = "/console/audit") -> str:
    answer = console.client.get(f"/console/login/github?next={next_path}", follow_redirects=False)
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert (location.scheme, location.netloc, location.path) == (
        "https",
        "github.com",
        "/login/oauth/authorize",
    )
    query = parse_qs(location.query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == ["http://testserver/console/oauth/callback"]
    return query["state"][0]


def mock_github_sign_in(github_api: GitHubMock, login: str) -> None:
    github_api.responses.add(
        responses.POST,
        "https://github.com/login/oauth/access_token",
        json={"access_token": OAUTH_TOKEN, "token_type": "bearer", "scope": ""},
    )
    user = github_api.example("GET", "/user")
    user["login"] = login
    github_api.add("GET", "/user", json=user)
    github_api.add("DELETE", f"/applications/{CLIENT_ID}/token", status=204)


def test_github_sign_in_keeps_the_login_and_never_the_token(console: Console, github_api: GitHubMock) -> None:
    console.world.role("alice", "write")
    state = start_oauth(console)
    mock_github_sign_in(github_api, "alice")
    answer = console.client.get(f"/console/oauth/callback?code=abc123&state={state}", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/audit"
    [exchange] = [c for c in github_api.responses.calls if "access_token" in c.request.url]
    sent = parse_qs(exchange.request.body)
    assert (
        sent["client_id"] == [CLIENT_ID]
        and sent["client_secret"] == [CLIENT_SECRET]
        and sent["code"] == ["abc123"]
    )
    [user_call] = github_api.calls_to("GET", "/user")
    assert user_call.headers["Authorization"] == f"Bearer {OAUTH_TOKEN}"
    [revoked] = github_api.calls_to("DELETE", f"/applications/{CLIENT_ID}/token")
    assert revoked.json == {"access_token": OAUTH_TOKEN}  # revoked at GitHub, not only forgotten
    assert revoked.headers["Authorization"].startswith("Basic ")
    payload = cookie_payload(console.client.cookies[SESSION_COOKIE])
    assert payload["login"] == "alice" and payload["kind"] == "github" and payload["oauth_state"] is None
    assert OAUTH_TOKEN not in json.dumps(payload)
    assert all(OAUTH_TOKEN not in json.dumps(e.details) for e in console.world.store.query_audit().entries)
    assert console.client.get("/console/audit").status_code == 200
    assert actions(console.world.store)[-1] == "console.signin"


def test_a_state_that_is_not_this_sessions_is_refused(console: Console, github_api: GitHubMock) -> None:
    start_oauth(console)
    answer = console.client.get("/console/oauth/callback?code=abc&state=forged-state", follow_redirects=False)
    assert answer.headers["location"] == "/console/login?error=state_mismatch"
    assert len(github_api.responses.calls) == 0  # GitHub was not even asked
    assert cookie_payload(console.client.cookies[SESSION_COOKIE])["login"] is None
    assert actions(console.world.store)[-1] == "console.signin_failed"


def test_a_state_is_good_for_one_callback(console: Console, github_api: GitHubMock) -> None:
    console.world.role("alice", "write")
    state = start_oauth(console)
    mock_github_sign_in(github_api, "alice")
    console.client.get(f"/console/oauth/callback?code=abc&state={state}", follow_redirects=False)
    console.client.post("/console/logout", data={"csrf_token": console.csrf("/console/audit")})
    again = console.client.get(f"/console/oauth/callback?code=abc&state={state}", follow_redirects=False)
    assert again.headers["location"] == "/console/login?error=state_mismatch"


def test_a_github_user_without_a_role_is_not_signed_in(console: Console, github_api: GitHubMock) -> None:
    state = start_oauth(console)
    mock_github_sign_in(github_api, "stranger")  # FakeForge: no grant = role "none"
    answer = console.client.get(f"/console/oauth/callback?code=abc&state={state}", follow_redirects=False)
    assert answer.headers["location"] == "/console/login?error=no_role"
    assert cookie_payload(console.client.cookies[SESSION_COOKIE])["login"] is None
    page = console.client.get("/console/login?error=no_role")
    assert "no role on this repository" in page.text


def test_github_refusing_the_code_is_said_plainly(console: Console, github_api: GitHubMock) -> None:
    state = start_oauth(console)
    github_api.responses.add(
        responses.POST, "https://github.com/login/oauth/access_token", json={"error": "bad_verification_code"}
    )
    answer = console.client.get(f"/console/oauth/callback?code=old&state={state}", follow_redirects=False)
    assert answer.headers["location"] == "/console/login?error=code_refused"
    assert github_api.calls_to("GET", "/user") == []


def test_a_failed_revocation_does_not_fail_the_sign_in(console: Console, github_api: GitHubMock) -> None:
    console.world.role("alice", "write")
    state = start_oauth(console)
    github_api.responses.add(
        responses.POST,
        "https://github.com/login/oauth/access_token",
        json={"access_token": OAUTH_TOKEN, "token_type": "bearer", "scope": ""},
    )
    user = github_api.example("GET", "/user")
    user["login"] = "alice"
    github_api.add("GET", "/user", json=user)
    github_api.add(
        "DELETE", f"/applications/{CLIENT_ID}/token", status=422,
        json={"message": "Validation Failed", "documentation_url": "https://docs.github.com/rest", "errors": []},
    )  # fmt: skip
    answer = console.client.get(f"/console/oauth/callback?code=abc&state={state}", follow_redirects=False)
    assert answer.headers["location"] == "/console/audit"
    assert cookie_payload(console.client.cookies[SESSION_COOKIE])["login"] == "alice"


def test_a_role_of_none_sees_the_reason_not_the_page(console: Console) -> None:
    console.sign_in_github("carol", "none")
    answer = console.client.get("/console/audit")
    assert answer.status_code == 403
    assert "no role on this repository" in answer.text
    assert "Next step" in answer.text


# --- headers and start-up ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    ["/console/login", "/console/", "/console/audit", "/console/nowhere", "/console/static/console.css"],
)
def test_every_console_answer_has_the_security_headers(console: Console, path: str) -> None:
    console.sign_in_github("alice", "read")
    answer = console.client.get(path, follow_redirects=False)
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_pages_have_no_inline_script_or_style(console: Console) -> None:
    console.sign_in_github("alice", "read")
    for path in ("/console/", "/console/audit", "/console/login"):
        html = console.client.get(path).text
        assert "<style" not in html and " style=" not in html
        assert all('src="' in tag for tag in html.split("<script")[1:])


def test_without_its_key_the_console_stays_off_and_says_why(store: Store, clock: FakeClock) -> None:
    settings = console_settings().model_copy(update={"console_secret": None})
    console = Console.start(World.create(store, clock), settings)
    answer = console.client.get("/console/")
    assert answer.status_code == 503
    assert "MODBOT_CONSOLE_SECRET is not set" in answer.text
    assert console.client.get("/healthz").status_code == 200  # the rest of modbot runs


def test_console_settings_are_checked_at_load() -> None:
    base = {"MODBOT_GITHUB_TOKEN": "t", "MODBOT_REPOSITORIES": "acme/shop"}
    with pytest.raises(SettingsError, match="at least 32"):
        load_settings({**base, "MODBOT_CONSOLE_SECRET": "short"})
    with pytest.raises(SettingsError, match="go together"):
        load_settings({**base, "MODBOT_GITHUB_CLIENT_ID": CLIENT_ID})
    settings = load_settings(
        {
            **base,
            "MODBOT_CONSOLE_SECRET": CONSOLE_SECRET,
            "MODBOT_GITHUB_CLIENT_ID": CLIENT_ID,
            "MODBOT_GITHUB_CLIENT_SECRET": CLIENT_SECRET,
        }
    )
    assert settings.console_problems() == []
    assert CONSOLE_SECRET not in repr(settings) and CLIENT_SECRET not in repr(settings)
    local = BotSettings(github_token=SecretStr("t"), console_sign_in="local", repositories=frozenset({"a/b"}))
    assert local.console_problems() == []  # no key: local accounts make one at start-up


def test_the_console_needs_exactly_one_repository(store: Store, clock: FakeClock) -> None:
    for repositories in (None, frozenset({"acme/shop", "acme/other"})):
        settings = console_settings().model_copy(update={"repositories": repositories})
        console = Console.start(World.create(store, clock), settings)
        answer = console.client.get("/console/")
        assert answer.status_code == 503
        assert "MODBOT_REPOSITORIES must name exactly one repository" in answer.text


def test_a_role_that_cannot_be_asked_closes_the_pages_and_is_asked_again(console: Console) -> None:
    from bot.forge import ForgeError

    console.sign_in_github("alice", "write")
    console.world.forge.fail_next("get_permission", ForgeError("get_permission", 502, "Bad Gateway"))
    answer = console.client.get("/console/")
    assert answer.status_code == 403 and "could not be asked" in answer.text
    assert console.client.get("/console/").status_code == 200  # not cached: asked again, and answered


def test_a_shown_role_is_asked_once_a_minute_not_on_every_page(console: Console) -> None:
    console.sign_in_github("alice", "write")
    for path in ("/console/", "/console/audit", "/console/audit?outcome=failed"):
        assert console.client.get(path).status_code == 200
    assert console.world.forge.operations().count("get_permission") == 1
