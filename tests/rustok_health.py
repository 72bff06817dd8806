"""RusToK's health contract read from its source (tests/fixtures/rustok-head/), and a stand-in server
that answers as that source does. Nothing here is our own constant: every route, word, field name,
variable name and refusal text is parsed from the reference files, so a wrong assumption of ours
fails a test, not a deploy. A parse that finds nothing fails loudly (the reference moved on)."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.corpus import ROOT

REFERENCE = ROOT / "tests" / "fixtures" / "rustok-head" / "apps" / "server" / "src"
HEALTH_RS = REFERENCE / "controllers" / "health.rs"
METRICS_AUTH_RS = REFERENCE / "middleware" / "metrics_auth.rs"


def _one(pattern: str, text: str, what: str, flags: int = re.S) -> re.Match[str]:
    match = re.search(pattern, text, flags)
    if match is None:
        raise AssertionError(f"the reference no longer has {what} (pattern {pattern!r})")
    return match


def _fn_body(source: str, signature: str) -> str:
    """The text of the function starting with `signature`, up to the next top-level item."""
    start = _one(re.escape(signature), source, signature).start()
    end = re.compile(r"\n}\n").search(source, start)
    assert end is not None, signature
    return source[start : end.end()]


def _struct_fields(source: str, name: str) -> list[str]:
    body = _one(rf"pub struct {name} \{{(.*?)\n\}}", source, f"struct {name}").group(1)
    return re.findall(r"pub (\w+):", body)


@dataclass(frozen=True)
class Contract:
    routes: dict[str, str]  # path -> handler fn, from `router()`
    documented_health_path: str  # utoipa `path = ...` of `health()`
    health_fields: dict[str, str]  # HealthResponse literal: field -> value (`version` is env!)
    live_body: dict[str, str]
    modules_fields: list[str]  # ModulesHealthResponse
    module_fields: list[str]  # ModuleHealth
    module_words: dict[str, str]  # HealthStatus variant -> wire word
    healthy_variant: str  # the one arm that leaves the whole "ok"
    overall_words: tuple[str, str]  # (all healthy, otherwise)
    token_envs: tuple[str, ...]  # first set wins
    protected_paths: tuple[str, ...]
    debug_open_without_token: bool
    not_configured: tuple[int, str]  # (503, body)
    refused: tuple[int, str, str]  # (401, WWW-Authenticate, body)

    def route_of(self, handler: str) -> str:
        (path,) = [p for p, h in self.routes.items() if h == handler]
        return path


def read_contract() -> Contract:
    health = HEALTH_RS.read_text()
    auth = METRICS_AUTH_RS.read_text()

    router = _fn_body(health, "pub fn router()")
    routes = dict(re.findall(r'\.route\("([^"]+)",\s*get\((\w+)\)\)', router))
    assert routes, "router() registers no routes"

    documented = _one(
        r'#\[utoipa::path\((?:(?!#\[).)*?path = "([^"]+)"(?:(?!#\[).)*?\)\]\s*pub async fn health\(',
        health,
        "health()'s documented path",
    )
    literal = _one(
        r"json_response\(HealthResponse \{(.*?)\}\)", _fn_body(health, "pub async fn health()"), "body"
    )
    health_fields = {}
    for name, value in re.findall(r'(\w+):\s*("[^"]*"|env!\("CARGO_PKG_VERSION"\))', literal.group(1)):
        health_fields[name] = json.loads(value) if value.startswith('"') else "<CARGO_PKG_VERSION>"
    live = _one(r"json!\((\{[^)]*\})\)", _fn_body(health, "pub async fn live()"), "live()'s body")

    modules_fn = _fn_body(health, "pub async fn modules(")
    words = re.findall(r'HealthStatus::(\w+) => (?:\{[^"]*?)?"(\w+)"', modules_fn)
    healthy = _one(r'HealthStatus::(\w+) => "\w+",', modules_fn, "the healthy arm").group(1)
    overall = _one(
        r'status: if overall_healthy \{ "(\w+)" \} else \{ "(\w+)" \}', modules_fn, "overall status"
    )

    token_envs = tuple(
        _one(rf'const {const}: &str = "(\w+)";', auth, const).group(1)
        for const in re.findall(r"\[(\w+_TOKEN_ENV), (\w+_TOKEN_ENV)\]", auth)[0]
    )
    protected = _one(
        r"fn is_protected_observability_path.*?matches!\(\s*path,\s*(.*?)\)", auth, "protected paths"
    )
    bearer = _fn_body(auth, "pub async fn require_bearer(")
    not_configured = _one(r'StatusCode::SERVICE_UNAVAILABLE,\s*"([^"]+)"', bearer, "the 503 refusal")
    refused = _one(
        r'StatusCode::UNAUTHORIZED,\s*\[\(header::WWW_AUTHENTICATE, "((?:[^"\\]|\\.)*)"\)\],\s*"([^"]+)"',
        bearer,
        "the 401 refusal",
    )
    debug_open = re.search(r"else \{\s*if cfg!\(debug_assertions\) \{\s*return next\.run\(request\)", bearer)
    return Contract(
        routes=routes,
        documented_health_path=documented.group(1),
        health_fields=health_fields,
        live_body=json.loads(live.group(1).replace(" ", "")),
        modules_fields=_struct_fields(health, "ModulesHealthResponse"),
        module_fields=_struct_fields(health, "ModuleHealth"),
        module_words=dict(words),
        healthy_variant=healthy,
        overall_words=(overall.group(1), overall.group(2)),
        token_envs=token_envs,
        protected_paths=tuple(json.loads(f"[{protected.group(1)}]".replace("|", ","))),
        debug_open_without_token=debug_open is not None,
        not_configured=(503, not_configured.group(1)),
        refused=(401, refused.group(1).replace('\\"', '"'), refused.group(2)),
    )


# --- the stand-in -----------------------------------------------------------------------------------


@dataclass
class Behaviour:
    """What the stand-in RusToK is: its modules (slug -> HealthStatus variant), its environment and
    build profile. `routes` defaults to the reference's router()."""

    modules: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    release_build: bool = True
    routes: dict[str, str] | None = None
    version: str = "0.9.0"
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Authorization)


class StandIn:
    """An HTTP server that answers `/health*` as health.rs behind metrics_auth does."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.behaviour = Behaviour()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                status, headers, body = outer.answer(self.path, self.headers.get("Authorization"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _token(self) -> str | None:
        for name in self.contract.token_envs:
            value = self.behaviour.env.get(name, "").strip()
            if value:
                return value
        return None

    def answer(self, path: str, authorization: str | None) -> tuple[int, dict[str, str], bytes]:
        c, b = self.contract, self.behaviour
        b.requests.append((path, authorization))
        text = {"Content-Type": "text/plain; charset=utf-8"}
        handler = (b.routes if b.routes is not None else c.routes).get(path)
        if handler is None:
            return 404, {}, b""  # axum's fallback
        if path in c.protected_paths:
            expected = self._token()
            if expected is None and (b.release_build or not c.debug_open_without_token):
                return c.not_configured[0], text, c.not_configured[1].encode()
            if expected is not None:
                scheme, _, supplied = (authorization or "").strip().partition(" ")
                if scheme.lower() != "bearer" or supplied.strip() != expected:
                    return c.refused[0], {**text, "WWW-Authenticate": c.refused[1]}, c.refused[2].encode()
        return 200, {"Content-Type": "application/json"}, json.dumps(self.body(handler)).encode()

    def body(self, handler: str) -> object:
        c, b = self.contract, self.behaviour
        if handler == "health":
            return {k: (b.version if v == "<CARGO_PKG_VERSION>" else v) for k, v in c.health_fields.items()}
        if handler == "live":
            return c.live_body
        assert handler == "modules", handler
        slug_f, name_f, status_f = c.module_fields
        listed = [
            {slug_f: slug, name_f: slug.title(), status_f: c.module_words[variant]}
            for slug, variant in b.modules.items()
        ]
        all_healthy = all(variant == c.healthy_variant for variant in b.modules.values())
        status_key, modules_key = c.modules_fields
        return {status_key: c.overall_words[0 if all_healthy else 1], modules_key: listed}
