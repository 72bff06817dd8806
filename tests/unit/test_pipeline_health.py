"""`modbot pipeline smoke` and `preflight` against a local HTTP server in a thread: good answers,
slow answers, 500s, wrong modules, degraded modules, a required token, redirects, junk."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.manifest import manifest_hash, validate_text
from bot.pipeline.health import Answer, judge_preflight, judge_smoke, normalize_hash
from bot.pipeline.outputs import github_output_block, parse_github_outputs

MANIFEST = """schema = 2
app = "rustok-server"
[modules]
outbox = { crate = "rustok-outbox", source = "path", path = "crates/rustok-outbox", required = true }
content = { crate = "rustok-content", source = "path", path = "crates/rustok-content" }
blog = { crate = "rustok-blog", source = "path", path = "crates/rustok-blog", depends_on = ["content"] }
"""
_parsed = validate_text(MANIFEST).manifest
assert _parsed is not None
HASH = manifest_hash(_parsed)
SLUGS = ["blog", "content", "outbox"]
SECRET = "s3cr3t-token-value"


@dataclass
class Behaviour:
    modules: list[tuple[str, str]] = field(default_factory=lambda: [(s, "healthy") for s in SLUGS])
    status: str | None = None  # overall; default: ok unless a module is not
    manifest_hash: str | None = None
    release_id: str | None = None
    token: str | None = None
    delay: float = 0.0
    fail_first: int = 0  # answer 500 to this many requests first
    health_code: int = 200
    body: bytes | None = None  # raw /health/modules body
    redirect_to: str | None = None
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Authorization)


class Server:
    def __init__(self) -> None:
        self.behaviour = Behaviour()
        behaviour_of = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                b = behaviour_of.behaviour
                b.requests.append((self.path, self.headers.get("Authorization")))
                if b.delay:
                    time.sleep(b.delay)
                if b.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", b.redirect_to + self.path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                if b.fail_first > 0:
                    b.fail_first -= 1
                    return self.reply(500, b'{"error":"starting"}')
                if b.token is not None and self.headers.get("Authorization") != f"Bearer {b.token}":
                    return self.reply(401, b'{"error":"unauthorized"}')
                if self.path == "/health":
                    return self.reply(b.health_code, b'{"status":"ok"}')
                if self.path == "/health/modules":
                    if b.body is not None:
                        return self.reply(200, b.body)
                    overall = b.status or (
                        "ok" if all(st == "healthy" for _, st in b.modules) else "degraded"
                    )
                    doc = {
                        "status": overall,
                        "modules": [{"slug": s, "name": s.title(), "status": st} for s, st in b.modules],
                        "manifest_hash": b.manifest_hash,
                        "release_id": b.release_id,
                    }
                    return self.reply(200, json.dumps(doc).encode())
                return self.reply(404, b'{"error":"not found"}')

            def reply(self, code: int, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up (timeout tests) is expected

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


@pytest.fixture
def manifest_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no .github/modbot.toml here: smoke --url needs no config
    path = tmp_path / "modules.toml"
    path.write_text(MANIFEST)
    return path


def smoke(capsys: pytest.CaptureFixture[str], url: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    code = main(["pipeline", "smoke", "--url", url, "--manifest", "modules.toml", "--format", "json", *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, json.loads(out) if out.strip() else {}, err


FAST = ("--timeout", "0.8", "--interval", "0.2")


def test_smoke_passes_on_exactly_the_manifest_modules(
    capsys: pytest.CaptureFixture[str], server: Server, manifest_file: Path
) -> None:
    code, data, _ = smoke(capsys, server.url, *FAST)
    assert code == 0
    assert data["ok"] is True and data["attempts"] == 1
    assert data["served_modules"] == SLUGS
    assert [p for p, _ in server.behaviour.requests] == ["/health", "/health/modules"]
    # a matching manifest_hash (either spelling) is fine too
    server.behaviour.manifest_hash = f"sha256:{HASH}"
    assert smoke(capsys, server.url + "/", *FAST)[0] == 0


def test_smoke_reports_missing_and_unexpected_modules(
    capsys: pytest.CaptureFixture[str], server: Server, manifest_file: Path
) -> None:
    server.behaviour.modules = [("content", "healthy"), ("outbox", "healthy"), ("seo", "healthy")]
    start = time.monotonic()
    code, data, _ = smoke(capsys, server.url, *FAST)
    assert code == 1
    assert time.monotonic() - start < 5
    assert data["missing"] == ["blog"] and data["unexpected"] == ["seo"]
    assert data["attempts"] >= 2  # a rolling deploy may still serve the old pods: it retried
    assert "missing modules (in the manifest, not served): blog" in data["problems"]
    code = main(["pipeline", "smoke", "--url", server.url, "--manifest", "modules.toml", *FAST])
    out, _ = capsys.readouterr()
    assert code == 1
    assert "FAILED" in out and "unexpected modules (served, not in the manifest): seo" in out


def test_smoke_reports_unhealthy_modules(
    capsys: pytest.CaptureFixture[str], server: Server, manifest_file: Path
) -> None:
    server.behaviour.modules = [("blog", "degraded"), ("content", "healthy"), ("outbox", "unhealthy")]
    code, data, _ = smoke(capsys, server.url, *FAST)
    assert code == 1
    assert data["unhealthy"] == {"blog": "degraded", "outbox": "unhealthy"}
    assert data["served_status"] == "degraded"
    # all modules ok but the server says degraded: still a failure, and said so
    server.behaviour.modules = [(s, "healthy") for s in SLUGS]
    server.behaviour.status = "degraded"
    code, data, _ = smoke(capsys, server.url, *FAST)
    assert code == 1 and '/health/modules reports status "degraded"' in data["problems"]


def test_smoke_retries_through_500s_until_ready(
    capsys: pytest.CaptureFixture[str], server: Server, manifest_file: Path
) -> None:
    server.behaviour.fail_first = 3
    code, data, _ = smoke(capsys, server.url, "--timeout", "10", "--interval", "0.1")
    assert code == 0
    assert data["attempts"] == 4


def test_smoke_gives_up_at_the_deadline_on_500s_and_slow_answers(
    capsys: pytest.CaptureFixture[str], server: Server, manifest_file: Path
) -> None:
    server.behaviour.fail_first = 10_000
    code, data, _ = smoke(capsys, server.url, *FAST)
    assert code == 1 and data["problems"] == ["GET /health: HTTP 500"]
    server.behaviour.fail_first = 0
    server.behaviour.delay = 3.0
    start = time.monotonic()
    code, data, _ = smoke(capsys, server.url, "--timeout", "1", "--interval", "0.2")
    elapsed = time.monotonic() - start
    assert code == 1
    assert "no answer within" in data["problems"][0] or "timed out" in data["problems"][0]
    assert elapsed < 2.5  # per-request timeouts bound the whole check


def test_smoke_connection_refused(capsys: pytest.CaptureFixture[str], manifest_file: Path) -> None:
    s = Server()
    url = s.url
    s.close()
    code, data, _ = smoke(capsys, url, "--timeout", "0.6", "--interval", "0.2")
    assert code == 1 and "cannot connect" in data["problems"][0]


def test_smoke_with_a_required_token(
    capsys: pytest.CaptureFixture[str], server: Server, manifest_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.behaviour.token = SECRET
    code, data, err = smoke(capsys, server.url, "--timeout", "30")
    assert code == 1
    assert data["attempts"] == 1  # 401 does not get better by waiting
    assert "--token-env" in data["problems"][0]
    code, _, err = smoke(capsys, server.url, "--token-env", "HEALTH_TOKEN", *FAST)
    assert code == 2 and "HEALTH_TOKEN is empty or unset" in err
    monkeypatch.setenv("HEALTH_TOKEN", SECRET)
    code = main(
        [
            "pipeline",
            "smoke",
            "--url",
            server.url,
            "--manifest",
            "modules.toml",
            "--token-env",
            "HEALTH_TOKEN",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0
    assert SECRET not in out + err  # never printed
    assert server.behaviour.requests[-1] == ("/health/modules", f"Bearer {SECRET}")
    monkeypatch.setenv("HEALTH_TOKEN", "wrong")
    code, data, err = smoke(capsys, server.url, "--token-env", "HEALTH_TOKEN", *FAST)
    assert code == 1 and "HTTP 401" in data["problems"][0]


def test_smoke_does_not_follow_redirects_with_the_token(
    capsys: pytest.CaptureFixture[str], server: Server, manifest_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = Server()
    try:
        server.behaviour.redirect_to = other.url
        monkeypatch.setenv("HEALTH_TOKEN", SECRET)
        code, data, _ = smoke(capsys, server.url, "--token-env", "HEALTH_TOKEN", *FAST)
        assert code == 1
        assert "redirect" in data["problems"][0]
        assert other.behaviour.requests == []  # the token never left for the other host
    finally:
        other.close()


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"<html>oops</html>", "did not answer JSON"),
        (b'{"status":"ok"}', 'without a "modules" list'),
        (b'{"status":"ok","modules":[{"name":"x"}]}', 'without a "slug"'),
        (b'{"status":"ok","modules":[{"slug":"blog"},{"slug":"blog"}]}', "lists blog twice"),
    ],
)
def test_smoke_reports_junk_answers(
    capsys: pytest.CaptureFixture[str], server: Server, manifest_file: Path, body: bytes, needle: str
) -> None:
    server.behaviour.body = body
    code, data, _ = smoke(capsys, server.url, "--timeout", "0.5", "--interval", "0.2")
    assert code == 1 and needle in data["problems"][0]


def test_smoke_notices_a_server_built_from_another_manifest(
    capsys: pytest.CaptureFixture[str], server: Server, manifest_file: Path
) -> None:
    server.behaviour.manifest_hash = "0" * 64
    code, data, _ = smoke(capsys, server.url, *FAST)
    assert code == 1 and "built from manifest_hash 000000000000" in data["problems"][0]


def test_smoke_from_the_environment_config_and_github_outputs(
    capsys: pytest.CaptureFixture[str], server: Server, manifest_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (manifest_file.parent / ".github").mkdir()
    (manifest_file.parent / ".github/modbot.toml").write_text(
        f"""
[image]
repository = "rustok/rustok-server"
[[environments]]
name = "staging"
url = "{server.url}"
health_token_env = "RUSTOK_HEALTH_TOKEN"
smoke_timeout = "5s"
backend = "command"
command = "true"
[workflows]
modbot_install = "modbot==0.1.0"
"""
    )
    server.behaviour.token = SECRET
    monkeypatch.setenv("RUSTOK_HEALTH_TOKEN", SECRET)
    outputs = manifest_file.parent / "gh_out"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    code = main(["pipeline", "smoke", "--environment", "staging", "--format", "github"])
    out, _ = capsys.readouterr()
    assert code == 0, out
    assert "passed" in out
    written = parse_github_outputs(outputs.read_text())
    assert written["ok"] == "true" and written["url"] == server.url
    assert json.loads(written["served_modules"]) == SLUGS
    code = main(["pipeline", "smoke", "--environment", "qa"])
    assert code == 1 and 'environment "qa" is not in the config' in capsys.readouterr().err


# --- preflight ------------------------------------------------------------------------------------


def preflight(capsys: pytest.CaptureFixture[str], url: str, *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(
        [
            "pipeline",
            "preflight",
            "--backend-url",
            url,
            "--manifest",
            "modules.toml",
            "--format",
            "json",
            *extra,
        ]
    )
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, json.loads(out)


def test_preflight_same_hash_is_compatible(
    capsys: pytest.CaptureFixture[str], server: Server, manifest_file: Path
) -> None:
    server.behaviour.manifest_hash = HASH
    server.behaviour.modules = [("blog", "degraded"), ("content", "healthy"), ("outbox", "healthy")]
    code, data = preflight(capsys, server.url)
    assert code == 0 and data["ok"] is True  # health is smoke's business, not preflight's


def test_preflight_different_hash_is_refused_at_once(
    capsys: pytest.CaptureFixture[str], server: Server, manifest_file: Path
) -> None:
    server.behaviour.manifest_hash = "f" * 64
    server.behaviour.release_id = "rel_2026_08_15_001"
    server.behaviour.modules = [("content", "healthy"), ("outbox", "healthy")]
    code, data = preflight(capsys, server.url, "--timeout", "20")
    assert code == 1
    assert data["attempts"] == 1
    assert "backend runs manifest_hash ffffffffffff… (release rel_2026_08_15_001)" in data["problems"][0]
    assert "the UI expects modules the backend lacks: blog" in data["problems"]


def test_preflight_without_hash_compares_module_sets(
    capsys: pytest.CaptureFixture[str], server: Server, manifest_file: Path
) -> None:
    assert preflight(capsys, server.url)[0] == 0
    server.behaviour.modules = [
        ("blog", "healthy"),
        ("content", "healthy"),
        ("outbox", "healthy"),
        ("forum", "healthy"),
    ]
    code, data = preflight(capsys, server.url)
    assert code == 1
    assert data["problems"] == ["the backend serves modules the UI was not built for: forum"]


def test_preflight_retries_only_while_the_backend_is_down(
    capsys: pytest.CaptureFixture[str], server: Server, manifest_file: Path
) -> None:
    server.behaviour.fail_first = 2
    code, data = preflight(capsys, server.url, "--timeout", "10", "--interval", "0.1")
    assert code == 0 and data["attempts"] == 3
    server.behaviour.fail_first = 1000
    code, data = preflight(capsys, server.url, "--timeout", "0.6", "--interval", "0.2")
    assert code == 1 and data["problems"] == ["GET /health/modules: HTTP 500"]


# --- pure parts -------------------------------------------------------------------------------------


def test_judge_smoke_and_preflight_directly() -> None:
    body = json.dumps({"status": "ok", "modules": [{"slug": "a", "name": "A", "status": "healthy"}]}).encode()
    ok = Answer("u", 200, body)
    assert judge_smoke(ok, ok, ["a"], None).ok
    report = judge_smoke(ok, ok, ["a", "b"], None)
    assert report.missing == ("b",) and not report.ok
    assert judge_smoke(Answer("u", 403), ok, ["a"], None).permanent
    assert judge_preflight(ok, ["a"], "x" * 64).ok  # no hash reported: same set is enough
    assert normalize_hash("SHA256:AB") == "ab" and normalize_hash("") is None and normalize_hash(None) is None


def test_github_outputs_cannot_be_injected() -> None:
    evil = "line1\nghadelimiter_x\ninjected=1\nEOF"
    block = github_output_block({"a": evil, "b": ["x", 1], "c": None, "d": True})
    parsed = parse_github_outputs(block)
    assert parsed == {"a": evil, "b": '["x",1]', "c": "", "d": "true"}
