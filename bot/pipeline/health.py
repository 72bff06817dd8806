"""Smoke and preflight checks against a server's `/health` and `/health/modules`.

The judging is pure (`judge_smoke`, `judge_preflight`: answers in, a report out); `fetch` and the
retry loops are the only I/O. HTTP is stdlib `urllib.request` with a timeout on every request and
redirects refused (a redirect would carry the bearer token to wherever it points). The token is sent
in a header and never appears in a report.

The contract is RusToK's (`apps/server/src/controllers/health.rs` and the `metrics_auth` middleware,
copied under tests/fixtures/rustok-head/ and checked by tests/contract/test_health_conformance.py):
- `GET /health` (public): `{"status": "ok", "app": "rustok", "version": …}`. RusToK at 4ea8a036
  registers it as `/health/` (trailing slash) while its docs and CI call `/health`: smoke asks
  `/health` and, on a 404, `/health/`, and says which answered.
- `GET /health/modules` (bearer-protected): `{"status": "ok"|"degraded", "modules": [{"slug",
  "name", "status": "healthy"|"degraded"|"unhealthy"}]}`. A release build with no
  `RUSTOK_OBSERVABILITY_BEARER_TOKEN` answers 503 "observability authentication is not configured";
  a missing or wrong token gets 401. RusToK reports no manifest hash or release id; a server that
  does (rustok-mini) is checked against them too.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

MAX_BODY = 1 << 20
USER_AGENT = "modbot-pipeline"

# RusToK's words (health.rs): a module is healthy, degraded or unhealthy; the whole is ok or degraded.
MODULE_HEALTHY = "healthy"
MODULE_STATUSES = ("healthy", "degraded", "unhealthy")
OVERALL_STATUSES = ("ok", "degraded")
HEALTH_PATHS = ("/health", "/health/")  # asked in this order; the second only after a 404
MODULES_PATH = "/health/modules"
# metrics_auth: the variable the server reads its token from, and its 503 body when it has none
SERVER_TOKEN_ENV = "RUSTOK_OBSERVABILITY_BEARER_TOKEN"  # noqa: S105 - a variable name
NO_SERVER_TOKEN_BODY = "observability authentication is not configured"  # noqa: S105 - a message


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP exchange: a status and body, or the transport error that prevented one."""

    url: str
    status: int | None
    body: bytes = b""
    error: str | None = None

    def describe(self) -> str:
        if self.error is not None:
            return self.error
        return f"HTTP {self.status}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is returned to the caller as an HTTPError


_OPENER = urllib.request.build_opener(_NoRedirect())


def fetch(url: str, *, token: str | None, timeout: float) -> Answer:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, headers=headers, method="GET")  # noqa: S310 - http(s) checked
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return Answer(url, response.status, response.read(MAX_BODY + 1)[:MAX_BODY])
    except urllib.error.HTTPError as exc:
        body = b""
        with contextlib.suppress(OSError):
            body = exc.read(MAX_BODY)
        if 300 <= exc.code < 400:
            where = exc.headers.get("Location", "?") if exc.headers else "?"
            return Answer(url, exc.code, body, f"HTTP {exc.code} redirect to {where}; give the final URL")
        return Answer(url, exc.code, body)
    except urllib.error.URLError as exc:
        return Answer(url, None, error=f"cannot connect ({_reason(exc.reason)})")
    except TimeoutError:
        return Answer(url, None, error=f"no answer within {timeout:.1f}s")
    except (OSError, ValueError) as exc:
        return Answer(url, None, error=f"request failed ({_reason(exc)})")


def _reason(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        return "timed out"
    return str(reason) or type(reason).__name__


def endpoint(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path


def normalize_hash(value: object) -> str | None:
    """`sha256:abc…` and `abc…` are the same manifest_hash; empty/absent means "not reported"."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().lower().removeprefix("sha256:")


# --- judging (pure) -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModulesAnswer:
    status: str | None
    modules: dict[str, str]  # slug -> status word as served (a non-string one as its JSON)
    manifest_hash: str | None
    release_id: str | None


def _word(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def parse_modules_answer(answer: Answer) -> tuple[ModulesAnswer | None, str | None]:
    """The `/health/modules` JSON -> ModulesAnswer, or why it is not one."""
    try:
        data = json.loads(answer.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, f"{MODULES_PATH} did not answer JSON"
    if not isinstance(data, dict) or not isinstance(data.get("modules"), list):
        return None, f'{MODULES_PATH} answered JSON without a "modules" list'
    modules: dict[str, str] = {}
    for item in data["modules"]:
        if not isinstance(item, dict) or not isinstance(item.get("slug"), str):
            return None, f'{MODULES_PATH} lists a module without a "slug"'
        slug = item["slug"]
        if slug in modules:
            return None, f"{MODULES_PATH} lists {slug} twice"
        modules[slug] = _word(item.get("status"))
    status = data.get("status")
    release = data.get("release_id")
    return (
        ModulesAnswer(
            status if isinstance(status, str) else None,
            modules,
            normalize_hash(data.get("manifest_hash")),
            release if isinstance(release, str) and release else None,
        ),
        None,
    )


_VERSION_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}")


def served_version(answer: Answer) -> str | None:
    """The `version` of RusToK's `/health` body (its CARGO_PKG_VERSION), when it is one: it is
    printed, so anything but a plain version string is dropped. Informational: never judged."""
    with contextlib.suppress(UnicodeDecodeError, json.JSONDecodeError):
        data = json.loads(answer.body.decode("utf-8"))
        version = data.get("version") if isinstance(data, dict) else None
        if isinstance(version, str) and _VERSION_RE.fullmatch(version):
            return version
    return None


def _shown(word: str) -> str:
    """A served word as a report shows it: as is when plain, else JSON-escaped (no control bytes)."""
    plain = word.isascii() and word.isprintable()
    return (word if plain else json.dumps(word))[:40]


@dataclass(frozen=True, slots=True)
class Report:
    ok: bool
    problems: tuple[str, ...]
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    unhealthy: tuple[tuple[str, str], ...] = ()  # expected modules not "healthy", unknown words included
    served: ModulesAnswer | None = None
    permanent: bool = False  # retrying will not help (e.g. the token is refused)
    health_path: str | None = None  # which of HEALTH_PATHS answered 200
    version: str | None = None  # `/health`'s version

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": list(self.problems),
            "missing": list(self.missing),
            "unexpected": list(self.unexpected),
            "unhealthy": {slug: status for slug, status in self.unhealthy},
            "health_path": self.health_path,
            "served_version": self.version,
            "served_status": self.served.status if self.served else None,
            "served_modules": sorted(self.served.modules) if self.served else None,
            "served_manifest_hash": self.served.manifest_hash if self.served else None,
            "served_release_id": self.served.release_id if self.served else None,
        }


def _http_problem(answer: Answer, what: str, token_env: str | None) -> tuple[str, bool] | None:
    """(problem, permanent) when `answer` is not a 200. `token_env` names the variable whose value
    was sent as the bearer token (None: no token was sent)."""
    if answer.status == 200 and answer.error is None:
        return None
    if answer.status is not None and 300 <= answer.status < 400:
        return f"GET {what}: {answer.describe()}", True
    if answer.status in (401, 403):
        if token_env is None:
            return (
                f"GET {what}: HTTP {answer.status}: the server wants a bearer token and none was sent: "
                f"pass --token-env NAME, NAME holding the server's {SERVER_TOKEN_ENV} "
                "(in the workflows: the environment's health_token_env secret)",
                True,
            )
        return (
            f"GET {what}: HTTP {answer.status}: the server refused the token in {token_env}: it is not "
            f"the server's {SERVER_TOKEN_ENV}",
            True,
        )
    if answer.status == 503 and answer.body.strip().decode("utf-8", "replace") == NO_SERVER_TOKEN_BODY:
        return (
            f"GET {what}: HTTP 503: the server has no observability token configured (a release build "
            f"refuses {MODULES_PATH} until {SERVER_TOKEN_ENV} is set in the server's environment)",
            True,
        )
    return f"GET {what}: {answer.describe()}", False


def _health_what(health_path: str, health: Answer) -> str:
    if health.status == 404 and health_path == HEALTH_PATHS[-1]:
        return " nor GET ".join(HEALTH_PATHS)  # neither route exists
    return health_path


def judge_smoke(
    health: Answer,
    modules: Answer,
    expected: Collection[str],
    expected_hash: str | None,
    *,
    health_path: str = HEALTH_PATHS[0],
    token_env: str | None = None,
) -> Report:
    """`health_path` answers 200 and `/health/modules` serves exactly `expected`, every one
    "healthy", and the whole "ok". `health_path` is the one of HEALTH_PATHS that `health` came from."""
    version = served_version(health)
    problem = _http_problem(health, _health_what(health_path, health), token_env)
    if problem is None:
        problem = _http_problem(modules, MODULES_PATH, token_env)
    answered = health_path if health.status == 200 else None
    if problem is not None:
        return Report(False, (problem[0],), permanent=problem[1], health_path=answered, version=version)
    served, shape = parse_modules_answer(modules)
    if served is None:
        return Report(False, (shape or "bad answer",), health_path=answered, version=version)
    want = set(expected)
    missing = tuple(sorted(want - served.modules.keys()))
    unexpected = tuple(sorted(served.modules.keys() - want))
    not_healthy = sorted((s, st) for s, st in served.modules.items() if s in want and st != MODULE_HEALTHY)
    unhealthy = [(s, st) for s, st in not_healthy if st in MODULE_STATUSES]
    unknown = [(s, st) for s, st in not_healthy if st not in MODULE_STATUSES]
    problems: list[str] = []
    if missing:
        problems.append(f"missing modules (in the manifest, not served): {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected modules (served, not in the manifest): {', '.join(unexpected)}")
    if unhealthy:
        problems.append("unhealthy modules: " + ", ".join(f"{s} ({st})" for s, st in unhealthy))
    if unknown:
        problems.append(
            "unknown module status words: "
            + ", ".join(f"{s} ({_shown(st)})" for s, st in unknown)
            + f"; RusToK serves {', '.join(MODULE_STATUSES)}"
        )
    if served.status not in OVERALL_STATUSES:
        shown = "no status" if served.status is None else f"the unknown status {_shown(served.status)}"
        problems.append(f"{MODULES_PATH} reports {shown}; RusToK serves {' or '.join(OVERALL_STATUSES)}")
    elif served.status != "ok" and not not_healthy:
        problems.append(f'{MODULES_PATH} reports status "{served.status}"')
    want_hash = normalize_hash(expected_hash)
    if served.manifest_hash is not None and want_hash is not None and served.manifest_hash != want_hash:
        problems.append(
            f"the server was built from manifest_hash {served.manifest_hash[:12]}…, the manifest is "
            f"{want_hash[:12]}…"
        )
    return Report(
        not problems,
        tuple(problems),
        missing,
        unexpected,
        tuple(not_healthy),
        served,
        health_path=answered,
        version=version,
    )


def judge_preflight(
    modules: Answer, expected: Collection[str], ui_hash: str, *, token_env: str | None = None
) -> Report:
    """Headless: is the backend compatible with a UI built from a manifest with `ui_hash`/`expected`?

    Compatible means the same manifest_hash when the backend reports one; when it reports none (as
    RusToK does), the same module set. Module health is not preflight's business (smoke checks it)."""
    problem = _http_problem(modules, MODULES_PATH, token_env)
    if problem is not None:
        return Report(False, (problem[0],), permanent=problem[1])
    served, shape = parse_modules_answer(modules)
    if served is None:
        return Report(False, (shape or "bad answer",))
    want = set(expected)
    missing = tuple(sorted(want - served.modules.keys()))
    unexpected = tuple(sorted(served.modules.keys() - want))
    diff = []
    if missing:
        diff.append(f"the UI expects modules the backend lacks: {', '.join(missing)}")
    if unexpected:
        diff.append(f"the backend serves modules the UI was not built for: {', '.join(unexpected)}")
    problems: list[str] = []
    want_hash = normalize_hash(ui_hash)
    if served.manifest_hash is not None:
        if served.manifest_hash != want_hash:
            problems.append(
                f"the backend runs manifest_hash {served.manifest_hash[:12]}…"
                + (f" (release {served.release_id})" if served.release_id else "")
                + f", the UI was built from {str(want_hash)[:12]}…"
            )
            problems += diff
    else:
        problems += diff
    return Report(not problems, tuple(problems), missing, unexpected, (), served)


# --- retry loops (I/O) --------------------------------------------------------------------------

Fetch = Callable[[str], Answer]


@dataclass(slots=True)
class RunResult:
    report: Report
    attempts: int
    seconds: float
    history: list[str] = field(default_factory=list)  # one line per failed attempt


def _retry(
    attempt: Callable[[float], Report],
    *,
    timeout: float,
    interval: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    start = clock()
    deadline = start + timeout
    attempts = 0
    history: list[str] = []
    while True:
        attempts += 1
        remaining = max(deadline - clock(), 0.5)
        report = attempt(min(10.0, remaining))
        now = clock()
        if report.ok or report.permanent or now + interval > deadline:
            return RunResult(report, attempts, now - start, history)
        history.append(f"attempt {attempts}: " + "; ".join(report.problems))
        sleep(interval)


def probe_health(base_url: str, get: Fetch) -> tuple[str, Answer]:
    """(path, answer) of the first of HEALTH_PATHS that is not a 404 (else the last 404)."""
    for path in HEALTH_PATHS:
        answer = get(endpoint(base_url, path))
        if answer.status != 404:
            break
    return path, answer


def run_smoke(
    base_url: str,
    expected: Collection[str],
    *,
    expected_hash: str | None,
    token: str | None,
    token_env: str | None = None,
    timeout: float,
    interval: float,
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """`token_env` names the variable `token` came from, for the messages (never the value)."""
    sent = (token_env or "the token") if token else None

    def attempt(request_timeout: float) -> Report:
        def get(url: str) -> Answer:
            return fetch(url, token=token, timeout=request_timeout)

        path, health = probe_health(base_url, get)
        # no point asking for modules when /health fails
        modules = health if health.status != 200 else get(endpoint(base_url, MODULES_PATH))
        return judge_smoke(health, modules, expected, expected_hash, health_path=path, token_env=sent)

    return _retry(attempt, timeout=timeout, interval=interval, sleep=sleep)


def run_preflight(
    backend_url: str,
    expected: Collection[str],
    *,
    ui_hash: str,
    token: str | None,
    token_env: str | None = None,
    timeout: float,
    interval: float,
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """Retries only while the backend cannot be reached or answers 5xx; an incompatible answer is final."""
    sent = (token_env or "the token") if token else None

    def attempt(request_timeout: float) -> Report:
        answer = fetch(endpoint(backend_url, MODULES_PATH), token=token, timeout=request_timeout)
        report = judge_preflight(answer, expected, ui_hash, token_env=sent)
        transient = answer.error is not None or (answer.status or 0) >= 500
        if not report.ok and not transient:
            return Report(False, report.problems, report.missing, report.unexpected, (), report.served, True)
        return report

    return _retry(attempt, timeout=timeout, interval=interval, sleep=sleep)
