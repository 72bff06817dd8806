"""The health contract as RusToK serves it (tests/fixtures/rustok-head/: health.rs behind the
metrics_auth middleware), checked three ways:
- what bot/pipeline/health.py accepts and the config's default token variable equal what the
  reference source says (status words, routes, token variable, refusal text);
- `modbot pipeline smoke` / `preflight` against a stand-in server built from the parsed reference:
  they pass on a healthy one and fail with a precise reason for each way it can be wrong;
- examples/rustok-mini's source says the same words, routes and refusals (its running binary is
  checked in tests/e2e/test_pipeline_e2e.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.pipeline import health
from bot.pipeline.config import EnvironmentConfig
from tests.corpus import ROOT
from tests.rustok_health import Contract, StandIn, read_contract
from tests.unit.test_pipeline_health import MANIFEST, SLUGS, preflight, smoke

MINI = ROOT / "examples" / "rustok-mini"
TOKEN = "observability-s3cret"
FAST = ("--timeout", "0.8", "--interval", "0.2")


@pytest.fixture(scope="module")
def contract() -> Contract:
    return read_contract()


@pytest.fixture
def rustok(contract: Contract) -> Iterator[StandIn]:
    """A healthy RusToK release build with the manifest's modules and a token configured."""
    server = StandIn(contract)
    server.behaviour.modules = {slug: contract.healthy_variant for slug in SLUGS}
    server.behaviour.env = {contract.token_envs[0]: TOKEN}
    yield server
    server.close()


@pytest.fixture
def manifest_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HEALTH_TOKEN", TOKEN)
    path = tmp_path / "modules.toml"
    path.write_text(MANIFEST)
    return path


def variant(contract: Contract, word: str) -> str:
    (name,) = [v for v, w in contract.module_words.items() if w == word]
    return name


WITH_TOKEN = ("--token-env", "HEALTH_TOKEN")


# --- our constants against the reference -----------------------------------------------------------


def test_the_status_words_are_rustoks(contract: Contract) -> None:
    assert set(contract.module_words.values()) == set(health.MODULE_STATUSES)
    assert len(health.MODULE_STATUSES) == 3
    assert health.MODULE_HEALTHY == contract.module_words[contract.healthy_variant] == "healthy"
    assert health.OVERALL_STATUSES == contract.overall_words == ("ok", "degraded")


def test_the_routes_are_rustoks(contract: Contract) -> None:
    # the documented /health first, then the route HEAD really registers (with a trailing slash)
    assert health.HEALTH_PATHS[0] == contract.documented_health_path == "/health"
    assert contract.route_of("health") in health.HEALTH_PATHS
    assert contract.route_of("health") == "/health/"  # when RusToK fixes it, this says so
    assert contract.route_of("modules") == health.MODULES_PATH
    assert health.MODULES_PATH in contract.protected_paths
    for public in (*health.HEALTH_PATHS, contract.route_of("live")):
        assert public not in contract.protected_paths


def test_the_token_is_the_one_rustok_reads(contract: Contract) -> None:
    assert health.SERVER_TOKEN_ENV == contract.token_envs[0] == "RUSTOK_OBSERVABILITY_BEARER_TOKEN"
    assert contract.not_configured[1] == health.NO_SERVER_TOKEN_BODY
    assert contract.debug_open_without_token  # only a release build refuses without a token
    # what an operator sets as the GitHub secret is what the server reads: the default names it
    default = EnvironmentConfig.model_fields["health_token_env"].default
    assert default == contract.token_envs[0]


def test_rustoks_exact_modules_body_is_judged_on_the_module_set_alone(contract: Contract) -> None:
    server = StandIn(contract)
    try:
        server.behaviour.modules = {slug: contract.healthy_variant for slug in SLUGS}
        body = json.dumps(server.body("modules")).encode()
        health_body = json.dumps(server.body("health")).encode()
    finally:
        server.close()
    assert set(json.loads(body)) == {"status", "modules"}  # no manifest_hash, no release_id
    ok = health.Answer("u", 200, health_body)
    report = health.judge_smoke(ok, health.Answer("u", 200, body), SLUGS, "ab" * 32)
    assert report.ok, report.problems
    assert report.served is not None and report.served.manifest_hash is None
    assert report.version == "0.9.0"
    assert health.judge_preflight(health.Answer("u", 200, body), SLUGS, "ab" * 32).ok
    assert not health.judge_preflight(health.Answer("u", 200, body), SLUGS[:2], "ab" * 32).ok


# --- smoke and preflight against the stand-in --------------------------------------------------------


def test_smoke_and_preflight_pass_on_a_healthy_rustok(
    capsys: pytest.CaptureFixture[str], rustok: StandIn, manifest_file: Path
) -> None:
    code, data, _ = smoke(capsys, rustok.url, *WITH_TOKEN, *FAST)
    assert code == 0, data
    assert data["served_modules"] == SLUGS and data["unhealthy"] == {}
    assert data["served_status"] == "ok" and data["served_manifest_hash"] is None
    # /health is a 404 at HEAD, /health/ answers: both asked, and the report says which
    assert [p for p, _ in rustok.behaviour.requests] == ["/health", "/health/", "/health/modules"]
    assert data["health_path"] == "/health/" and data["served_version"] == "0.9.0"
    assert rustok.behaviour.requests[-1] == ("/health/modules", f"Bearer {TOKEN}")
    code = main(["pipeline", "smoke", "--url", rustok.url, "--manifest", "modules.toml", *WITH_TOKEN, *FAST])
    out, _ = capsys.readouterr()
    assert code == 0 and "health answered at /health/ (RusToK's route at 4ea8a036" in out
    assert TOKEN not in out
    code, data = preflight(capsys, rustok.url, *WITH_TOKEN, *FAST)
    assert code == 0, data


def test_smoke_uses_the_documented_route_once_rustok_serves_it(
    capsys: pytest.CaptureFixture[str], rustok: StandIn, manifest_file: Path
) -> None:
    routes = dict(rustok.contract.routes)
    routes["/health"] = routes.pop(rustok.contract.route_of("health"))
    rustok.behaviour.routes = routes
    code, data, _ = smoke(capsys, rustok.url, *WITH_TOKEN, *FAST)
    assert code == 0 and data["health_path"] == "/health"
    assert [p for p, _ in rustok.behaviour.requests] == ["/health", "/health/modules"]


def test_smoke_fails_when_neither_health_route_exists(
    capsys: pytest.CaptureFixture[str], rustok: StandIn, manifest_file: Path
) -> None:
    rustok.behaviour.routes = {p: h for p, h in rustok.contract.routes.items() if h != "health"}
    code, data, _ = smoke(capsys, rustok.url, *WITH_TOKEN, *FAST)
    assert code == 1
    assert data["problems"] == ["GET /health nor GET /health/: HTTP 404"]
    assert data["health_path"] is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"blog": None}, ("missing modules (in the manifest, not served): blog", "missing", ["blog"])),
        (
            {"seo": "healthy"},
            ("unexpected modules (served, not in the manifest): seo", "unexpected", ["seo"]),
        ),
        ({"blog": "degraded"}, ("unhealthy modules: blog (degraded)", "unhealthy", {"blog": "degraded"})),
        (
            {"outbox": "unhealthy"},
            ("unhealthy modules: outbox (unhealthy)", "unhealthy", {"outbox": "unhealthy"}),
        ),
    ],
)
def test_smoke_names_each_wrong_module(
    capsys: pytest.CaptureFixture[str],
    rustok: StandIn,
    manifest_file: Path,
    change: dict[str, str | None],
    expected: tuple[str, str, Any],
) -> None:
    problem, field, value = expected
    for slug, word in change.items():
        if word is None:
            del rustok.behaviour.modules[slug]
        else:
            rustok.behaviour.modules[slug] = variant(rustok.contract, word)
    code, data, _ = smoke(capsys, rustok.url, *WITH_TOKEN, *FAST)
    assert code == 1
    assert data["problems"] == [problem]
    assert data[field] == value


def test_unknown_status_words_are_a_clear_failure(
    capsys: pytest.CaptureFixture[str], manifest_file: Path
) -> None:
    """What the example used to serve ("ok", "down"), a non-string, an unknown overall status."""
    body = {
        "status": "fine",
        "modules": [
            {"slug": "blog", "name": "Blog", "status": "ok"},
            {"slug": "content", "name": "Content", "status": None},
            {"slug": "outbox", "name": "Outbox", "status": "down"},
        ],
    }
    modules = health.Answer("u", 200, json.dumps(body).encode())
    report = health.judge_smoke(health.Answer("u", 200, b"{}"), modules, SLUGS, None)
    assert not report.ok
    assert report.problems == (
        "unknown module status words: blog (ok), content (null), outbox (down); "
        "RusToK serves healthy, degraded, unhealthy",
        "/health/modules reports the unknown status fine; RusToK serves ok or degraded",
    )
    assert dict(report.unhealthy) == {"blog": "ok", "content": "null", "outbox": "down"}
    assert report.version is None  # `{}`: no version
    # what the server says is printed: control bytes are escaped, a version must look like one
    body["modules"] = [{"slug": s, "status": "\x1b[32mhealthy"} for s in SLUGS]
    body["status"] = "ok\n"
    evil = health.Answer("u", 200, json.dumps({"version": "1.0\x1b[2J"}).encode())
    report = health.judge_smoke(evil, health.Answer("u", 200, json.dumps(body).encode()), SLUGS, None)
    assert report.version is None
    assert "\x1b" not in "".join(report.problems) and "\n" not in "".join(report.problems)
    assert '("\\u001b[32mhealthy")' in report.problems[0]
    assert report.problems[1].startswith('/health/modules reports the unknown status "ok\\n"')
    body["status"] = "degraded"
    body["modules"] = [{"slug": s, "status": "healthy"} for s in SLUGS]
    report = health.judge_smoke(
        health.Answer("u", 200), health.Answer("u", 200, json.dumps(body).encode()), SLUGS, None
    )
    assert report.problems == ('/health/modules reports status "degraded"',)


def test_a_release_build_without_a_server_token(
    capsys: pytest.CaptureFixture[str], rustok: StandIn, manifest_file: Path
) -> None:
    rustok.behaviour.env = {}
    for args in ((*WITH_TOKEN,), ()):  # whether or not we send one: the server has none to compare
        code, data, _ = smoke(capsys, rustok.url, *args, "--timeout", "30")
        assert code == 1
        assert data["attempts"] == 1  # waiting does not configure the server
        assert data["problems"] == [
            "GET /health/modules: HTTP 503: the server has no observability token configured (a release "
            "build refuses /health/modules until RUSTOK_OBSERVABILITY_BEARER_TOKEN is set in the "
            "server's environment)"
        ]
        code, data = preflight(capsys, rustok.url, *args, "--timeout", "30")
        assert code == 1 and data["attempts"] == 1
        assert "the server has no observability token configured" in data["problems"][0]
    # a debug build leaves it open
    rustok.behaviour.release_build = False
    assert smoke(capsys, rustok.url, *FAST)[0] == 0


def test_a_wrong_or_missing_token(
    capsys: pytest.CaptureFixture[str], rustok: StandIn, manifest_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALTH_TOKEN", "not-the-servers")
    code, data, _ = smoke(capsys, rustok.url, *WITH_TOKEN, "--timeout", "30")
    assert code == 1 and data["attempts"] == 1
    assert data["problems"] == [
        "GET /health/modules: HTTP 401: the server refused the token in HEALTH_TOKEN: it is not the "
        "server's RUSTOK_OBSERVABILITY_BEARER_TOKEN"
    ]
    code, data = preflight(capsys, rustok.url, *WITH_TOKEN, "--timeout", "30")
    assert code == 1 and "refused the token in HEALTH_TOKEN" in data["problems"][0]
    code, data, _ = smoke(capsys, rustok.url, "--timeout", "30")
    assert code == 1 and data["attempts"] == 1
    assert data["problems"][0].startswith(
        "GET /health/modules: HTTP 401: the server wants a bearer token and none was sent: pass --token-env"
    )
    # the legacy variable works on the server as the first one does
    rustok.behaviour.env = {rustok.contract.token_envs[1]: TOKEN}
    monkeypatch.setenv("HEALTH_TOKEN", TOKEN)
    assert smoke(capsys, rustok.url, *WITH_TOKEN, *FAST)[0] == 0


def test_the_environment_default_token_variable(
    capsys: pytest.CaptureFixture[str], rustok: StandIn, manifest_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No health_token_env in the config: smoke reads the variable an operator sets as a secret."""
    (manifest_file.parent / ".github").mkdir()
    (manifest_file.parent / ".github/modbot.toml").write_text(
        f"""
[image]
repository = "rustok/rustok-server"
[[environments]]
name = "staging"
url = "{rustok.url}"
smoke_timeout = "1s"
backend = "command"
command = "true"
[workflows]
modbot_install = "modbot==0.1.0"
"""
    )
    monkeypatch.delenv("RUSTOK_OBSERVABILITY_BEARER_TOKEN", raising=False)
    code = main(["pipeline", "smoke", "--environment", "staging"])
    _, err = capsys.readouterr()
    assert code == 2
    assert "RUSTOK_OBSERVABILITY_BEARER_TOKEN is empty or unset" in err and "Traceback" not in err
    monkeypatch.setenv("RUSTOK_OBSERVABILITY_BEARER_TOKEN", TOKEN)
    assert main(["pipeline", "smoke", "--environment", "staging"]) == 0
    assert main(["pipeline", "preflight", "--environment", "staging"]) == 0


# --- rustok-mini's source says the same ----------------------------------------------------------------


def _rust(path: str) -> str:
    return (MINI / path).read_text()


def test_rustok_mini_serves_rustoks_words_routes_and_refusals(contract: Contract) -> None:
    core = _rust("crates/rustok-core/src/lib.rs")
    as_str = re.search(r"pub fn as_str\(self\).*?\n    \}", core, re.S)
    assert as_str is not None
    assert dict(re.findall(r'ModuleHealth::(\w+) => "(\w+)"', as_str.group(0))) == contract.module_words
    app = _rust("apps/server/src/app.rs")
    handle = re.search(r"pub fn handle\(&self.*?\n    \}", app, re.S)
    assert handle is not None
    served: dict[str, str] = {}
    protected: set[str] = set()
    for paths, handler, flag in re.findall(
        r'((?:"/[^"]*"(?: \| )?)+) => \(App::(\w+), (true|false)\)', handle.group(0)
    ):
        for path in re.findall(r'"([^"]+)"', paths):
            served[path] = handler
            if flag == "true":
                protected.add(path)
    for handler in ("health", "live", "modules"):
        assert contract.route_of(handler) in served, handler
    # and nothing RusToK does not register: no `/health` (RusToK at HEAD has only `/health/`), so the
    # end-to-end smoke goes through the fallback a real server needs
    assert set(served) <= set(contract.routes), sorted(set(served) - set(contract.routes))
    assert protected == {p for p in served if p in contract.protected_paths} == {contract.route_of("modules")}
    assert re.search(r'if all_ok \{ "(\w+)" \} else \{ "(\w+)" \}', app).groups() == contract.overall_words  # type: ignore[union-attr]
    consts = dict(re.findall(r'pub const (\w+): &str = "([^"]+)";', app))
    assert consts["NOT_CONFIGURED"] == contract.not_configured[1]
    assert consts["TOKEN_REQUIRED"] == contract.refused[2]
    assert '"WWW-Authenticate", "Bearer realm=\\"observability\\""' in app
    assert contract.refused[1] == 'Bearer realm="observability"'
    assert "pub const TOKEN_REQUIRED_WITHOUT_CONFIG: bool = !cfg!(debug_assertions);" in app
    config = _rust("crates/rustok-web/src/config.rs")
    envs = re.search(r"pub const TOKEN_ENVS: \[&str; \d\] = \[(.*?)\];", config, re.S)
    assert envs is not None
    assert tuple(re.findall(r'"(\w+)"', envs.group(1))) == contract.token_envs
