"""`bot.config`: settings from the environment and an optional file, every problem at once, secrets never
shown; the repository policy read from the default branch only."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from bot.config import (
    DEFAULT_MAX_BODY_BYTES,
    BotSettings,
    PolicyFileError,
    SettingsError,
    load_settings,
    read_policy_file,
)
from bot.forge import ForgeError, count_calls, validate_login
from bot.forge.github import GitHubForge, GitHubForgeProvider
from tests.fakes import FakeForge
from tests.github_conformance import GitHubMock
from tests.unit.test_forge_github import content_json, pull_json, token_json

TOKEN = "ghp_" + "T0k3nV4lu3" * 3
SECRET = "whsec-" + "x" * 20


@pytest.fixture(scope="module")
def key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def problems_of(env: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    return info.value.problems


# --- defaults and modes ---------------------------------------------------------------------------------
def test_defaults() -> None:
    settings = load_settings({})
    assert settings.github_api_url == "https://api.github.com"
    assert settings.database_url.get_secret_value() == "sqlite:///modbot.sqlite3"
    assert (settings.manifest_path, settings.policy_path) == ("modules.toml", ".github/modbot.toml")
    assert settings.max_body_bytes == DEFAULT_MAX_BODY_BYTES == 25 * 1024 * 1024
    assert settings.repositories is None and settings.allows_repository("any/repo")
    assert settings.webhook_secrets == () and settings.bot_login is None
    with pytest.raises(SettingsError, match="no GitHub credentials: set MODBOT_GITHUB_APP_ID"):
        _ = settings.auth_mode


def test_worker_timings_default_to_a_short_lease_and_retries_over_a_real_outage() -> None:
    from bot.store import default_backoff

    settings = load_settings({})
    assert (settings.lease_seconds, settings.heartbeat_seconds, settings.poll_seconds) == (15.0, 5.0, 2.0)
    assert settings.shutdown_grace_seconds == 5.0 and settings.max_attempts == 10
    # the retries before a job is dead-lettered cover minutes of GitHub errors: 14-28 min in all
    ceilings = [
        min(settings.retry_cap_seconds, settings.retry_base_seconds * 2 ** (n - 1))
        for n in range(1, settings.max_attempts)
    ]
    assert sum(ceilings) / 2 > 13 * 60 and sum(ceilings) < 30 * 60
    waits = [
        default_backoff(n, base=settings.retry_base_seconds, cap=settings.retry_cap_seconds) for n in (1, 9)
    ]
    assert 7.5 <= waits[0] <= 15 and 150 <= waits[1] <= 300


def test_worker_timings_are_settings_and_checked() -> None:
    settings = load_settings(
        {
            "MODBOT_LEASE_SECONDS": "30",
            "MODBOT_HEARTBEAT_SECONDS": "7.5",
            "MODBOT_POLL_SECONDS": "0.5",
            "MODBOT_SHUTDOWN_GRACE_SECONDS": "0",
            "MODBOT_RETRY_BASE_SECONDS": "1",
            "MODBOT_RETRY_CAP_SECONDS": "60",
            "MODBOT_MAX_ATTEMPTS": "3",
        }
    )
    assert (settings.lease_seconds, settings.heartbeat_seconds, settings.poll_seconds) == (30, 7.5, 0.5)
    assert (settings.shutdown_grace_seconds, settings.retry_base_seconds, settings.retry_cap_seconds) == (
        0,
        1,
        60,
    )
    assert settings.max_attempts == 3
    assert problems_of({"MODBOT_LEASE_SECONDS": "10", "MODBOT_HEARTBEAT_SECONDS": "6"}) == [
        "MODBOT_HEARTBEAT_SECONDS (6) must be at most half of MODBOT_LEASE_SECONDS (10): "
        "a lease must survive a missed renewal"
    ]
    problems = problems_of(
        {
            "MODBOT_LEASE_SECONDS": "0",
            "MODBOT_POLL_SECONDS": "nan",
            "MODBOT_SHUTDOWN_GRACE_SECONDS": "-1",
            "MODBOT_MAX_ATTEMPTS": "0",
        }
    )
    assert any(p.startswith("MODBOT_LEASE_SECONDS: must be a positive number of seconds") for p in problems)
    assert any(p.startswith("MODBOT_POLL_SECONDS: must be a positive number of seconds") for p in problems)
    assert any(p.startswith("MODBOT_SHUTDOWN_GRACE_SECONDS: must be 0 or a positive") for p in problems)
    assert any(p.startswith("MODBOT_MAX_ATTEMPTS: must be at least 1") for p in problems)
    assert problems_of({"MODBOT_RETRY_BASE_SECONDS": "600"}) == [
        "MODBOT_RETRY_BASE_SECONDS must not exceed MODBOT_RETRY_CAP_SECONDS"
    ]


def test_token_mode_and_secrets_stay_hidden() -> None:
    settings = load_settings(
        {
            "MODBOT_GITHUB_TOKEN": TOKEN,
            "MODBOT_WEBHOOK_SECRET": f" {SECRET} ,, second-secret ",
            "MODBOT_DATABASE_URL": "postgresql+psycopg://modbot:pa55w0rd@db:5432/modbot",
            "MODBOT_REPOSITORIES": "RustoK/RusToK, octo/modules",
            "MODBOT_BOT_LOGIN": "modbot[bot]",
            "MODBOT_MAX_BODY_BYTES": "1048576",
            "MODBOT_GITHUB_API_URL": "https://ghe.example.com/api/v3/",
        }
    )
    assert settings.auth_mode == "token"
    assert settings.webhook_secret_values() == (SECRET, "second-secret")
    assert settings.repositories == frozenset({"rustok/rustok", "octo/modules"})
    assert settings.allows_repository("RUSTOK/rustok") and not settings.allows_repository("octo/other")
    assert settings.github_api_url == "https://ghe.example.com/api/v3"
    assert settings.max_body_bytes == 1_048_576
    assert settings.database_url_redacted == "postgresql+psycopg://modbot:***@db:5432/modbot"
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    for secret in (TOKEN, SECRET, "second-secret", "pa55w0rd"):
        assert secret not in shown


def test_app_mode_with_the_key_inline_escaped_or_in_a_file(key_pem: str, tmp_path: Path) -> None:
    inline = load_settings({"MODBOT_GITHUB_APP_ID": "123", "MODBOT_GITHUB_PRIVATE_KEY": key_pem})
    one_line = load_settings(
        {"MODBOT_GITHUB_APP_ID": "123", "MODBOT_GITHUB_PRIVATE_KEY": key_pem.replace("\n", "\\n")}
    )
    key_file = tmp_path / "app.pem"
    key_file.write_text(key_pem)
    from_file = load_settings(
        {"MODBOT_GITHUB_APP_ID": "123", "MODBOT_GITHUB_PRIVATE_KEY_PATH": str(key_file)}
    )
    for settings in (inline, one_line, from_file):
        assert settings.auth_mode == "app" and settings.github_app_id == 123
        assert settings.github_private_key is not None
        assert settings.github_private_key.get_secret_value().strip() == key_pem.strip()
        assert key_pem.splitlines()[1] not in repr(settings)
    assert from_file.github_private_key_path == key_file


# --- every problem at once --------------------------------------------------------------------------------
def test_every_problem_is_reported_at_once_without_secrets() -> None:
    problems = problems_of(
        {
            "MODBOT_GITHUB_API_URL": "http://ghe.example.com/api/v3",
            "MODBOT_GITHUB_APP_ID": "abc",
            "MODBOT_GITHUB_PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----\nc3VwZXJzZWNyZXQ=\n-----END RSA PRIVATE KEY-----",
            "MODBOT_GITHUB_TOKEN": TOKEN,
            "MODBOT_MAX_BODY_BYTES": "12x",
            "MODBOT_REPOSITORIES": "octo/ok, bad, a/b/c",
            "MODBOT_BOT_LOGIN": "not a login!",
            "MODBOT_MANIFEST_PATH": "../modules.toml",
            "MODBOT_POLICY_PATH": "/etc/policy.toml",
            "MODBOT_DATABASE_URL": "user:hunter2@db/modbot",
        }
    )
    text = "\n".join(problems)
    for variable in (
        "MODBOT_GITHUB_API_URL: must use https://",
        "MODBOT_GITHUB_APP_ID: ",
        "MODBOT_GITHUB_PRIVATE_KEY: is not an unencrypted PEM private key",
        "both GitHub App credentials and MODBOT_GITHUB_TOKEN are set",
        "MODBOT_MAX_BODY_BYTES: ",
        "MODBOT_REPOSITORIES: not owner/name: 'a/b/c', 'bad'",
        "MODBOT_BOT_LOGIN: must be a GitHub login",
        "MODBOT_MANIFEST_PATH: the manifest path must be a relative path",
        "MODBOT_POLICY_PATH: the policy path must be a relative path",
        "MODBOT_DATABASE_URL: must be a SQLAlchemy URL",
    ):
        assert variable in text, variable
    assert "(got '12x')" in text and "(got 'abc')" in text
    assert TOKEN not in text and "c3VwZXJzZWNyZXQ" not in text and "hunter2" not in text
    assert str(SettingsError(problems)).startswith("invalid modbot configuration:\n  - ")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"MODBOT_GITHUB_APP_ID": "1"}, "MODBOT_GITHUB_APP_ID is set but the App's private key is not"),
        (
            {"MODBOT_GITHUB_PRIVATE_KEY": "k"},
            "a GitHub App private key is set but MODBOT_GITHUB_APP_ID is not",
        ),
        (
            {
                "MODBOT_GITHUB_APP_ID": "1",
                "MODBOT_GITHUB_PRIVATE_KEY": "k",
                "MODBOT_GITHUB_PRIVATE_KEY_PATH": "k.pem",
            },
            "MODBOT_GITHUB_PRIVATE_KEY and MODBOT_GITHUB_PRIVATE_KEY_PATH are both set",
        ),
        (
            {"MODBOT_GITHUB_APP_ID": "1", "MODBOT_GITHUB_PRIVATE_KEY_PATH": "/nonexistent/k.pem"},
            "cannot read",
        ),
        ({"MODBOT_GITHUB_APP_ID": "0", "MODBOT_GITHUB_TOKEN": TOKEN}, "MODBOT_GITHUB_TOKEN are set"),
        ({"MODBOT_GITHUB_TOKEN": "two words"}, "MODBOT_GITHUB_TOKEN: must be a single token"),
        ({"MODBOT_MAX_BODY_BYTES": "0"}, "MODBOT_MAX_BODY_BYTES: must be a positive number"),
    ],
)
def test_incomplete_or_ambiguous_credentials(env: dict[str, str], expected: str) -> None:
    assert any(expected in p for p in problems_of(env)), problems_of(env)


def test_an_ec_key_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert problems_of({"MODBOT_GITHUB_APP_ID": "1", "MODBOT_GITHUB_PRIVATE_KEY": key.decode()}) == [
        "MODBOT_GITHUB_PRIVATE_KEY: must be an RSA key (GitHub signs App JWTs with RS256)"
    ]


def test_direct_construction_checks_the_same_rules(key_pem: str) -> None:
    with pytest.raises(ValueError, match="MODBOT_GITHUB_TOKEN are set"):
        BotSettings(github_app_id=1, github_private_key=key_pem, github_token=TOKEN)  # type: ignore[arg-type]
    assert BotSettings(github_token=TOKEN).auth_mode == "token"  # type: ignore[arg-type]


# --- serve fails closed -----------------------------------------------------------------------------------
def test_serve_needs_a_webhook_secret_and_credentials() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({}).require_serve()
    assert len(info.value.problems) == 2
    assert "MODBOT_WEBHOOK_SECRET is not set" in info.value.problems[0]
    assert "no GitHub credentials" in info.value.problems[1]
    with pytest.raises(SettingsError, match="MODBOT_WEBHOOK_SECRET"):
        load_settings({"MODBOT_GITHUB_TOKEN": TOKEN, "MODBOT_WEBHOOK_SECRET": " , "}).require_serve()
    load_settings({"MODBOT_GITHUB_TOKEN": TOKEN, "MODBOT_WEBHOOK_SECRET": SECRET}).require_serve()


# --- the config file --------------------------------------------------------------------------------------
def test_config_file_with_env_winning(tmp_path: Path, key_pem: str) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "app.pem").write_text(key_pem)
    config = tmp_path / "modbot.toml"
    config.write_text(
        'github_app_id = 42\ngithub_private_key_path = "keys/app.pem"\n'
        'webhook_secret = ["new-one", "old-one"]\nrepositories = ["octo/modules"]\n'
        'manifest_path = "config/modules.toml"\nmax_body_bytes = 1000\n'
    )
    config.chmod(0o600)
    settings = load_settings(
        {"MODBOT_CONFIG": str(config), "MODBOT_MAX_BODY_BYTES": "2000", "MODBOT_REPOSITORIES": ""}
    )
    assert settings.auth_mode == "app" and settings.github_app_id == 42
    assert settings.github_private_key_path == (tmp_path / "keys" / "app.pem").resolve()
    assert settings.webhook_secret_values() == ("new-one", "old-one")
    assert settings.max_body_bytes == 2000  # the environment wins
    assert settings.repositories == frozenset({"octo/modules"})  # an empty variable counts as unset
    assert settings.manifest_path == "config/modules.toml"


def test_config_file_problems(tmp_path: Path) -> None:
    config = tmp_path / "modbot.toml"
    config.write_text('github_tokn = "x"\nMAX_BODY_BYTES = 3\nwebhook_secret = 5\n')
    problems = problems_of({"MODBOT_CONFIG": str(config)})
    assert any("unknown setting 'github_tokn'" in p for p in problems)
    assert any("unknown setting 'MAX_BODY_BYTES'" in p for p in problems)
    assert any(p.startswith("MODBOT_WEBHOOK_SECRET: ") for p in problems)
    config.write_text("github_token = \n")
    assert "is not valid TOML" in problems_of({"MODBOT_CONFIG": str(config)})[0]
    assert "cannot read" in problems_of({"MODBOT_CONFIG": str(tmp_path / "missing.toml")})[0]


def test_a_readable_config_file_with_secrets_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "modbot.toml"
    config.write_text(f'github_token = "{TOKEN}"\n')
    config.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="bot.config"):
        load_settings({"MODBOT_CONFIG": str(config)})
    assert "readable by other users" in caplog.text and TOKEN not in caplog.text


def test_load_settings_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MODBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MODBOT_BOT_LOGIN", "modbot[bot]")
    assert load_settings().bot_login == "modbot[bot]"


# --- settings → GitHub clients ----------------------------------------------------------------------------
def test_provider_from_settings_in_app_mode(github_api: GitHubMock, key_pem: str) -> None:
    import time

    settings = load_settings(
        {
            "MODBOT_GITHUB_APP_ID": "77",
            "MODBOT_GITHUB_PRIVATE_KEY": key_pem,
            "MODBOT_BOT_LOGIN": "modbot[bot]",
            "MODBOT_REPOSITORIES": "octo/modules",
        }
    )
    github_api.add(
        "POST",
        "/app/installations/5/access_tokens",
        json=token_json(github_api, "ghs_fromsettings", time.time() + 3600),
    )
    github_api.add("GET", "/repos/octo/modules/pulls/7", json=pull_json(github_api))
    provider = GitHubForgeProvider.from_settings(settings, sleep=lambda _: None)
    assert provider.app_mode
    forge = provider.for_installation(5)
    assert forge.get_pull("octo/modules", 7).number == 7
    assert forge.bot_login == "modbot[bot]"
    assert github_api.calls[1].headers["Authorization"] == "token ghs_fromsettings"
    with pytest.raises(Exception, match="MODBOT_REPOSITORIES"):
        forge.get_pull("octo/other", 7)


def test_provider_from_settings_needs_credentials() -> None:
    with pytest.raises(SettingsError):
        GitHubForgeProvider.from_settings(load_settings({}))
    provider = GitHubForgeProvider.from_settings(load_settings({"MODBOT_GITHUB_TOKEN": TOKEN}))
    assert not provider.app_mode


# --- the repository policy --------------------------------------------------------------------------------
POLICY = b'[commands]\ninstall = ["admin", "maintain"]\n'


def test_policy_comes_from_the_default_branch_not_the_pr_head() -> None:
    fake = FakeForge()
    fake.add_repo("octo/modules", default_branch="trunk", files={".github/modbot.toml": POLICY})
    fake.commit("octo/modules", "evil", {".github/modbot.toml": b'[commands]\ninstall = ["read"]\n'})
    fake.add_pull("octo/modules", "evil", base_ref="trunk")
    with count_calls() as counter:
        policy = read_policy_file(fake, "octo/modules")
    assert (policy.found, policy.ref, policy.path) == (True, "trunk", ".github/modbot.toml")
    assert policy.data == {"commands": {"install": ["admin", "maintain"]}}
    assert counter.calls == 2  # default branch, then the file on it
    with count_calls() as counter:
        read_policy_file(fake, "octo/modules", default_branch="trunk")  # from the webhook payload
    assert counter.calls == 1


def test_policy_missing_invalid_or_not_text() -> None:
    fake = FakeForge()
    fake.add_repo("octo/modules")
    missing = read_policy_file(fake, "octo/modules", default_branch="main")
    assert (missing.found, missing.data) == (False, {})
    fake.put_file("octo/modules", "main", ".github/modbot.toml", b"[commands\ninstall = 1\n")
    with pytest.raises(
        PolicyFileError, match=r"\.github/modbot\.toml on octo/modules@main is not valid TOML: .*line 1"
    ):
        read_policy_file(fake, "octo/modules", default_branch="main")
    fake.put_file("octo/modules", "main", ".github/modbot.toml", b"x = '\xff'\n")
    with pytest.raises(PolicyFileError, match="not UTF-8"):
        read_policy_file(fake, "octo/modules", default_branch="main")
    with pytest.raises(ValueError, match="relative path"):
        read_policy_file(fake, "octo/modules", path="../policy.toml")


def test_policy_through_github(github_api: GitHubMock) -> None:
    repo = github_api.example("GET", "/repos/octo/modules")
    repo["default_branch"] = "trunk"
    github_api.add("GET", "/repos/octo/modules", json=repo)
    github_api.add(
        "GET",
        "/repos/octo/modules/contents/.github/modbot.toml",
        json=content_json(github_api, ".github/modbot.toml", POLICY),
    )
    forge = GitHubForge.with_token(TOKEN, bot_login="modbot[bot]")
    policy = read_policy_file(forge, "octo/modules")
    assert policy.ref == "trunk" and policy.data["commands"]["install"] == ["admin", "maintain"]
    assert github_api.calls[1].query == {"ref": ["trunk"]}


@pytest.mark.parametrize("login", ["octo-", "a--b", "modbot[bot]", "x"])
def test_the_bot_login_takes_every_login_github_reports(login: str) -> None:
    # In token mode the bot's login is the token's user, and accounts older than GitHub's sign-up rule
    # keep logins like "octo-": the setting must take every login the forge takes (it refused "octo-").
    settings = load_settings({"MODBOT_GITHUB_TOKEN": TOKEN, "MODBOT_BOT_LOGIN": login})
    assert settings.bot_login == login == validate_login(login)


@pytest.mark.parametrize("login", ["-octo", "octo bot", "a" * 40, "modbot[app]"])
def test_the_bot_login_refuses_what_is_not_a_login(login: str) -> None:
    with pytest.raises(SettingsError, match="MODBOT_BOT_LOGIN: must be a GitHub login"):
        load_settings({"MODBOT_GITHUB_TOKEN": TOKEN, "MODBOT_BOT_LOGIN": login})


def test_the_github_client_timings_are_settings(github_api: GitHubMock) -> None:
    from tests.unit.test_forge_github import inject_fault

    defaults = load_settings({})
    assert (defaults.github_timeout_seconds, defaults.github_max_attempts) == (15.0, 5)
    assert (defaults.github_retry_base_seconds, defaults.github_retry_cap_seconds) == (1.0, 30.0)
    assert (defaults.github_secondary_wait_seconds, defaults.github_max_wait_seconds) == (60.0, 90.0)
    assert defaults.github_retry_jitter_seconds == 1.0 and defaults.delivery_drain_seconds == 30.0
    settings = load_settings(
        {
            "MODBOT_GITHUB_TOKEN": TOKEN,
            "MODBOT_GITHUB_API_URL": github_api.base_url,
            "MODBOT_GITHUB_TIMEOUT_SECONDS": "7",
            "MODBOT_GITHUB_MAX_ATTEMPTS": "2",
            "MODBOT_GITHUB_RETRY_BASE_SECONDS": "4",
            "MODBOT_GITHUB_RETRY_CAP_SECONDS": "8",
        }
    )
    sleeps: list[float] = []
    provider = GitHubForgeProvider.from_settings(settings, sleep=sleeps.append, rand=lambda: 0.5)
    inject_fault(github_api, "GET", "/repos/octo/modules/pulls/7", 502)
    inject_fault(github_api, "GET", "/repos/octo/modules/pulls/7", 502)
    with pytest.raises(ForgeError):
        provider.for_installation(None).get_pull("octo/modules", 7)
    assert len(github_api.calls) == 2 and sleeps == [3.0]  # 2 attempts; the first backoff 4 s, jittered
    assert github_api.responses.calls[0].request.req_kwargs["timeout"] == 7


def test_the_github_client_timings_are_checked() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(
            {
                "MODBOT_GITHUB_TIMEOUT_SECONDS": "0",
                "MODBOT_GITHUB_MAX_ATTEMPTS": "0",
                "MODBOT_GITHUB_RETRY_JITTER_SECONDS": "-1",
                "MODBOT_DELIVERY_DRAIN_SECONDS": "nan",
            }
        )
    problems = "\n".join(raised.value.problems)
    for name in ("TIMEOUT_SECONDS", "MAX_ATTEMPTS", "RETRY_JITTER_SECONDS"):
        assert f"MODBOT_GITHUB_{name}" in problems, problems
    assert "MODBOT_DELIVERY_DRAIN_SECONDS" in problems
    with pytest.raises(SettingsError, match="MODBOT_GITHUB_RETRY_BASE_SECONDS must not exceed"):
        load_settings({"MODBOT_GITHUB_RETRY_BASE_SECONDS": "40"})
