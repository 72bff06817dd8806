"""A stand-in GitHub on loopback that fails on purpose: the fault-injection suite's GitHub
(tests/e2e/test_faults.py, bench/faults.py, docs/reliability.md).

A real HTTP/1.1 server (the standard library's threading server, in a thread of the test process)
serving the part of GitHub's REST API that `modbot serve` uses to review a manifest PR: the PR and its
files, file contents at a ref, issue comments (list, get, create, edit), commit statuses (create, list,
combined), check runs (create, edit, get, list for a ref) and, for App mode, the installation token
exchange. It keeps state (comments per PR, statuses and check runs per SHA) so a test can count what
the bot did to GitHub.

Faithful to GitHub by construction: every request is routed and checked by GitHub's own description
(`tests.github_conformance`, @octokit/openapi: endpoint, path and query parameters, JSON body) and
every answer it serves, errors included, is validated against the operation's documented response
schema; mismatches are kept in `conformance_failures` (tests assert there are none).

Faults are chosen per request by `FaultRule`s: `before` (answer 5xx without doing anything), `after`
(do it, then answer 502, as GitHub sometimes does), `hang` (do it, then answer only after `seconds`
or `release_holds()`: past the client's timeout), `hold` (wait first, then do it and answer: a slow
GitHub that keeps a job busy), `rate_limit` (403 with `X-RateLimit-Remaining: 0` and
`X-RateLimit-Reset`, or 429 with `Retry-After`; nothing done). Which matching requests a rule hits is a
seeded hash of the rule, the request and how often that request was seen before, so the same seed
picks the same requests whatever order concurrent workers send them in.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from tests.github_conformance import ConformanceError, GitHubAPI, Operation, load_api

FaultKind = Literal["before", "after", "hang", "hold", "rate_limit"]

#: the operations that change something on GitHub (what "30 % of writes" means)
WRITE_OPERATIONS = frozenset(
    {
        "issues/create-comment",
        "issues/update-comment",
        "repos/create-commit-status",
        "checks/create",
        "checks/update",
    }
)


@dataclass(frozen=True)
class Request:
    """One request as the stand-in saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    operation_id: str
    params: dict[str, str]  # path parameters
    body: Any  # decoded JSON or None
    seen: int  # 1 for the first request of this method and path (query included), 2 for the next ...


@dataclass(frozen=True)
class FaultRule:
    """Which requests fail, and how. `operations`: operation ids (e.g. ``issues/create-comment``);
    `rate`: the share of matching requests hit (seeded); `first`: only a request seen at most this many
    times before (1 = the first of its method and path); `where`: any further condition."""

    kind: FaultKind
    operations: frozenset[str]
    rate: float = 1.0
    first: int | None = None
    seconds: float = 0.0  # hang / hold: how long; rate_limit: when GitHub says to come back
    status: int = 502  # before: the 5xx; rate_limit: 403 or 429
    where: Callable[[Request], bool] | None = None

    def matches(self, request: Request, seed: int, index: int) -> bool:
        if request.operation_id not in self.operations:
            return False
        if self.first is not None and request.seen > self.first:
            return False
        if self.where is not None and not self.where(request):
            return False
        if self.rate >= 1.0:
            return True
        key = f"{seed}:{index}:{request.method}:{request.path}:{sorted(request.query.items())}:{request.seen}"
        fraction = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
        return fraction < self.rate


@dataclass
class Served:
    """The log line of one request: what was asked, which fault hit it, what was answered."""

    request: Request
    fault: FaultKind | None
    status: int
    at: float


@dataclass
class Pull:
    repo: str
    number: int
    base_sha: str
    head_sha: str
    files: list[str]
    head_ref: str = "feature"
    base_ref: str = "main"


@dataclass
class _Store:
    files: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)  # (repo, sha) -> files
    pulls: dict[tuple[str, int], Pull] = field(default_factory=dict)
    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)  # per issue
    statuses: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)  # per sha
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)


class _Answer(Exception):
    """An error answer from a handler (404, 422 ...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class StandInGitHub:
    """The stand-in. `start()`, then point `MODBOT_GITHUB_API_URL` at `url`; `stop()` at the end."""

    def __init__(
        self,
        *,
        rules: Iterable[FaultRule] = (),
        seed: int = 0,
        bot_login: str = "modbot[bot]",
        app_id: int = 4242,
        api: GitHubAPI | None = None,
    ) -> None:
        self.api = api or load_api()
        self.app_id = app_id
        self.rules = list(rules)
        self.seed = seed
        self.bot_login = bot_login
        self.conformance_failures: list[str] = []
        self.unhandled: list[str] = []
        self.log: list[Served] = []
        self._state = _Store()
        self._lock = threading.RLock()
        self._seen: Counter[tuple[str, str, str]] = Counter()
        self._faults: Counter[FaultKind] = Counter()
        self._ids = 1000
        self._release = threading.Event()
        self._holding = 0
        self._held = threading.Condition(self._lock)
        self._examples: dict[tuple[str, str, int], Any] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> StandInGitHub:
        handler = type("_Handler", (_Handler,), {"standin": self})
        server = _Server(("127.0.0.1", 0), handler)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="standin-github", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release_holds()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StandInGitHub:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- fixtures -----------------------------------------------------------------------------------
    def add_commit(self, repo: str, sha: str, files: dict[str, bytes]) -> None:
        with self._lock:
            self._state.files[(repo, sha)] = dict(files)

    def add_pull(self, pull: Pull) -> None:
        with self._lock:
            self._state.pulls[(pull.repo, pull.number)] = pull

    # --- what the bot did ---------------------------------------------------------------------------
    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._state.comments.get((repo, number), []))

    def statuses(self, repo: str, sha: str) -> list[dict[str, Any]]:
        """Every status created on `sha`, oldest first (GitHub keeps them all)."""
        with self._lock:
            return copy.deepcopy(self._state.statuses.get((repo, sha), []))

    def check_runs(self, repo: str, sha: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                copy.deepcopy(run)
                for run in self._state.check_runs.values()
                if run["_repo"] == repo and run["head_sha"] == sha
            ]

    def faults(self) -> Counter[FaultKind]:
        """How many requests each kind of fault has hit so far (counted when chosen)."""
        with self._lock:
            return Counter(self._faults)

    def wait_for_fault(self, kind: FaultKind, count: int = 1, timeout: float = 60.0) -> bool:
        """Wait until `count` answers with fault `kind` have gone out; True if they have."""
        deadline = time.monotonic() + timeout
        while self.faults()[kind] < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    # --- holds --------------------------------------------------------------------------------------
    def wait_for_hold(self, count: int = 1, timeout: float = 60.0) -> bool:
        """Wait until `count` requests have been held (hang or hold) in all; True if they were."""
        deadline = time.monotonic() + timeout
        with self._held:
            while self._holding < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._held.wait(left)
            return True

    def release_holds(self) -> None:
        """End every hang and hold now (and those to come)."""
        self._release.set()

    def rearm_holds(self) -> None:
        self._release.clear()

    def _hold(self, seconds: float) -> None:
        with self._held:
            self._holding += 1
            self._held.notify_all()
        self._release.wait(seconds)

    # --- serving ------------------------------------------------------------------------------------
    def serve(self, method: str, target: str, raw_body: bytes) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        body: Any = None
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body = None
        try:
            match = self.api.check_request(method, target, raw_body or None, content_type="application/json")
        except ConformanceError as error:
            with self._lock:
                self.conformance_failures.append(f"request {method} {target}: {error}")
            return 422, {}, _json({"message": "Validation Failed (stand-in: not GitHub's API)"})
        op = match.operation
        with self._lock:
            key = (method, parts.path, parts.query)
            self._seen[key] += 1
            request = Request(
                method, parts.path, query, op.operation_id, dict(match.path_params), body, self._seen[key]
            )
            rule = next(
                (r for i, r in enumerate(self.rules) if r.matches(request, self.seed, i)),
                None,
            )
            if rule is not None:  # counted now: a hang's answer may go out long after the bot moved on
                self._faults[rule.kind] += 1
        fault = rule.kind if rule is not None else None
        status, headers, payload = self._faulty(rule, op, request)
        with self._lock:
            self.log.append(Served(request, fault, status, time.monotonic()))
        return status, headers, payload

    def _faulty(
        self, rule: FaultRule | None, op: Operation, request: Request
    ) -> tuple[int, dict[str, str], bytes]:
        if rule is None:
            return self._answer(op, request)
        if rule.kind == "before":
            return rule.status, {}, _json({"message": "Server Error"})
        if rule.kind == "rate_limit":
            return self._rate_limited(rule)
        if rule.kind == "hold":
            self._hold(rule.seconds)
            return self._answer(op, request)
        answer = self._answer(op, request)  # after / hang: GitHub did it
        if rule.kind == "hang":
            self._hold(rule.seconds)
            return answer
        return 502, {}, _json({"message": "Server Error"})

    def _rate_limited(self, rule: FaultRule) -> tuple[int, dict[str, str], bytes]:
        wait = max(1, round(rule.seconds))
        if rule.status == 429:
            headers = {"Retry-After": str(wait)}
            message = (
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
            )
        else:
            headers = {
                "X-RateLimit-Limit": "5000",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(time.time()) + wait),
            }
            message = "API rate limit exceeded for installation ID 42."
        doc = "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"
        return rule.status, headers, _json({"message": message, "documentation_url": doc})

    def _answer(self, op: Operation, request: Request) -> tuple[int, dict[str, str], bytes]:
        handler = _HANDLERS.get(op.operation_id)
        if handler is None:
            with self._lock:
                self.unhandled.append(f"{request.method} {request.path} ({op.operation_id})")
            status, payload = 404, {"message": "Not Found (the stand-in does not implement this endpoint)"}
        else:
            try:
                with self._lock:
                    status, payload = handler(self, request)
            except _Answer as answer:
                status = answer.status
                payload = {"message": answer.message, "documentation_url": "https://docs.github.com/rest"}
        try:
            self.api.validate_response_body(op, status, None if status == 204 else payload)
        except ConformanceError as error:
            with self._lock:
                self.conformance_failures.append(f"response {request.method} {request.path}: {error}")
        return status, {}, b"" if status == 204 else _json(payload)

    # --- building answers ---------------------------------------------------------------------------
    def example(self, method: str, path: str, status: int | None = None, name: str | None = None) -> Any:
        """GitHub's documented example answer (schema-repaired), as the base of what is served."""
        key = (method, path, status or 0, name or "")
        if key not in self._examples:
            self._examples[key] = self.api.example(method, path, status, name=name)
        return copy.deepcopy(self._examples[key])

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def app(self) -> dict[str, Any]:
        """The bot's App (GET /app, and the `app` of every check run it creates)."""
        data = self.example("GET", "/app")
        slug = self.bot_login.removesuffix("[bot]")
        data.update(id=self.app_id, slug=slug, name=slug, node_id=f"A_{self.app_id}")
        return dict(data)

    def user(self, login: str) -> dict[str, Any]:
        user = self.example("GET", "/repos/o/r/issues/comments/1")["user"]
        user["login"] = login
        user["type"] = "Bot" if login.endswith("[bot]") else "User"
        return dict(user)


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _repo(request: Request) -> str:
    return f"{request.params['owner']}/{request.params['repo']}"


# --- endpoint handlers: (standin, request) -> (status, JSON body); called under the stand-in's lock ---
Answer = tuple[int, Any]


def _pull(gh: StandInGitHub, request: Request) -> Pull:
    pull = gh._state.pulls.get((_repo(request), int(request.params["pull_number"])))
    if pull is None:
        raise _Answer(404, "Not Found")
    return pull


def get_pull(gh: StandInGitHub, request: Request) -> Answer:
    pull = _pull(gh, request)
    data = gh.example("GET", "/repos/o/r/pulls/1")
    data.update(number=pull.number, state="open", draft=False, merged=False, merged_at=None, closed_at=None)
    data["head"].update(sha=pull.head_sha, ref=pull.head_ref)
    data["base"].update(sha=pull.base_sha, ref=pull.base_ref)
    return 200, data


def list_pull_files(gh: StandInGitHub, request: Request) -> Answer:
    pull = _pull(gh, request)
    template = gh.example("GET", "/repos/o/r/pulls/1/files")[0]
    files = []
    for name in pull.files:
        entry = copy.deepcopy(template)
        entry.update(filename=name, status="modified")
        entry.pop("previous_filename", None)
        files.append(entry)
    return 200, files


def get_content(gh: StandInGitHub, request: Request) -> Answer:
    repo, path = _repo(request), request.params["path"]
    ref = (request.query.get("ref") or ["main"])[0]
    content = gh._state.files.get((repo, ref), {}).get(path)
    if content is None:
        raise _Answer(404, "Not Found")
    sha = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()  # noqa: S324 (git's blob id)
    url = f"https://api.github.com/repos/{repo}/contents/{path}?ref={ref}"
    html = f"https://github.com/{repo}/blob/{ref}/{path}"
    git = f"https://api.github.com/repos/{repo}/git/blobs/{sha}"
    return 200, {
        "type": "file",
        "encoding": "base64",
        "size": len(content),
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "content": base64.b64encode(content).decode(),
        "sha": sha,
        "url": url,
        "git_url": git,
        "html_url": html,
        "download_url": f"https://raw.githubusercontent.com/{repo}/{ref}/{path}",
        "_links": {"self": url, "git": git, "html": html},
    }


def _comment(gh: StandInGitHub, repo: str, number: int, comment_id: int, body: str) -> dict[str, Any]:
    data = gh.example("GET", "/repos/o/r/issues/comments/1")
    data.update(
        id=comment_id,
        node_id=f"IC_{comment_id}",
        body=body,
        user=gh.user(gh.bot_login),
        created_at=_now(),
        updated_at=_now(),
        url=f"https://api.github.com/repos/{repo}/issues/comments/{comment_id}",
        html_url=f"https://github.com/{repo}/pull/{number}#issuecomment-{comment_id}",
        issue_url=f"https://api.github.com/repos/{repo}/issues/{number}",
    )
    return dict(data)


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if not k.startswith("_")}


def list_comments(gh: StandInGitHub, request: Request) -> Answer:
    comments = gh._state.comments.get((_repo(request), int(request.params["issue_number"])), [])
    per_page = int((request.query.get("per_page") or ["30"])[0])
    page = int((request.query.get("page") or ["1"])[0])
    return 200, [_public(c) for c in comments[(page - 1) * per_page : page * per_page]]


def _find_comment(gh: StandInGitHub, repo: str, comment_id: int) -> dict[str, Any]:
    for (owner_repo, _), comments in gh._state.comments.items():
        for comment in comments:
            if owner_repo == repo and comment["id"] == comment_id:
                return comment
    raise _Answer(404, "Not Found")


def get_comment(gh: StandInGitHub, request: Request) -> Answer:
    return 200, _public(_find_comment(gh, _repo(request), int(request.params["comment_id"])))


def create_comment(gh: StandInGitHub, request: Request) -> Answer:
    repo, number = _repo(request), int(request.params["issue_number"])
    if (repo, number) not in gh._state.pulls:
        raise _Answer(404, "Not Found")
    comment = _comment(gh, repo, number, gh.next_id(), request.body["body"])
    gh._state.comments.setdefault((repo, number), []).append(comment)
    return 201, _public(comment)


def update_comment(gh: StandInGitHub, request: Request) -> Answer:
    comment = _find_comment(gh, _repo(request), int(request.params["comment_id"]))
    comment.update(body=request.body["body"], updated_at=_now())
    comment["_edits"] = comment.get("_edits", 0) + 1
    return 200, _public(comment)


def _status(gh: StandInGitHub, request: Request, entry: dict[str, Any]) -> dict[str, Any]:
    data = gh.example("POST", "/repos/o/r/statuses/abc")
    data.update({k: v for k, v in entry.items() if not k.startswith("_")})
    data["node_id"] = f"SC_{entry['id']}"
    data["url"] = f"https://api.github.com/repos/{_repo(request)}/statuses/{entry['_sha']}"
    data["creator"] = gh.user(gh.bot_login)
    return dict(data)


def create_status(gh: StandInGitHub, request: Request) -> Answer:
    sha = request.params["sha"]
    entry = {
        "id": gh.next_id(),
        "state": request.body["state"],
        "context": request.body.get("context", "default"),
        "description": request.body.get("description"),
        "target_url": request.body.get("target_url"),
        "created_at": _now(),
        "updated_at": _now(),
        "_sha": sha,
    }
    gh._state.statuses.setdefault((_repo(request), sha), []).append(entry)
    return 201, _status(gh, request, entry)


def list_statuses(gh: StandInGitHub, request: Request) -> Answer:
    entries = gh._state.statuses.get((_repo(request), request.params["ref"]), [])
    return 200, [_status(gh, request, e) for e in reversed(entries)]  # newest first, as GitHub lists them


def combined_status(gh: StandInGitHub, request: Request) -> Answer:
    repo, ref = _repo(request), request.params["ref"]
    latest: dict[str, dict[str, Any]] = {}
    for entry in gh._state.statuses.get((repo, ref), []):
        latest[entry["context"]] = entry
    data = gh.example("GET", "/repos/o/r/commits/abc/status")
    template = data["statuses"][0] if data["statuses"] else {}
    statuses = []
    for entry in latest.values():
        item = copy.deepcopy(template)
        item.update({k: v for k, v in entry.items() if not k.startswith("_")})
        item["node_id"] = f"SC_{entry['id']}"
        statuses.append(item)
    states = {e["state"] for e in latest.values()}
    state = (
        "failure"
        if states & {"failure", "error"}
        else "pending"
        if not states or "pending" in states
        else "success"
    )
    data.update(state=state, statuses=statuses, sha=ref, total_count=len(statuses))
    return 200, data


def _check_run_body(gh: StandInGitHub, run: dict[str, Any]) -> dict[str, Any]:
    data = gh.example("POST", "/repos/o/r/check-runs")
    data.update({k: v for k, v in run.items() if not k.startswith("_") and k != "output"})
    data["node_id"] = f"CR_{run['id']}"
    data["check_suite"] = data.get("check_suite") or {"id": 1}
    data["app"] = gh.app()  # the App whose installation token created it
    output = dict(data.get("output") or {})
    output.update(
        title=run["output"].get("title"),
        summary=run["output"].get("summary"),
        text=run["output"].get("text"),
        annotations_count=run["_annotations"],
    )
    data["output"] = output
    return dict(data)


def create_check_run(gh: StandInGitHub, request: Request) -> Answer:
    body = request.body
    output = body.get("output") or {}
    run = {
        "id": gh.next_id(),
        "name": body["name"],
        "head_sha": body["head_sha"],
        "status": body.get("status", "queued"),
        "conclusion": body.get("conclusion"),
        "started_at": _now(),
        "completed_at": _now() if body.get("conclusion") else None,
        "external_id": body.get("external_id"),
        "details_url": body.get("details_url"),
        "output": {k: output.get(k) for k in ("title", "summary", "text")},
        "_annotations": len(output.get("annotations") or []),
        "_repo": _repo(request),
    }
    gh._state.check_runs[run["id"]] = run
    return 201, _check_run_body(gh, run)


def _run(gh: StandInGitHub, request: Request) -> dict[str, Any]:
    run = gh._state.check_runs.get(int(request.params["check_run_id"]))
    if run is None or run["_repo"] != _repo(request):
        raise _Answer(404, "Not Found")
    return run


def update_check_run(gh: StandInGitHub, request: Request) -> Answer:
    run, body = _run(gh, request), request.body
    for key in ("status", "conclusion", "name", "details_url", "external_id"):
        if key in body:
            run[key] = body[key]
    output = body.get("output") or {}
    run["output"].update({k: output[k] for k in ("title", "summary", "text") if k in output})
    run["_annotations"] += len(output.get("annotations") or [])
    run["_edits"] = run.get("_edits", 0) + 1
    return 200, _check_run_body(gh, run)


def get_check_run(gh: StandInGitHub, request: Request) -> Answer:
    return 200, _check_run_body(gh, _run(gh, request))


def list_check_runs(gh: StandInGitHub, request: Request) -> Answer:
    repo, ref = _repo(request), request.params["ref"]
    name = (request.query.get("check_name") or [None])[0]
    runs = [
        _check_run_body(gh, run)
        for run in gh._state.check_runs.values()
        if run["_repo"] == repo and run["head_sha"] == ref and name in (None, run["name"])
    ]
    runs.reverse()  # newest first
    return 200, {"total_count": len(runs), "check_runs": runs}


def installation_token(gh: StandInGitHub, request: Request) -> Answer:
    data = gh.example("POST", "/app/installations/1/access_tokens")
    expires = datetime.fromtimestamp(time.time() + 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    data.update(
        token="ghs_" + hashlib.sha256(str(gh.next_id()).encode()).hexdigest()[:36], expires_at=expires
    )
    return 201, data


def get_app(gh: StandInGitHub, request: Request) -> Answer:
    return 200, gh.app()


def get_user(gh: StandInGitHub, request: Request) -> Answer:
    data = gh.example("GET", "/user")
    data["login"] = gh.bot_login
    return 200, data


_HANDLERS: dict[str, Callable[[StandInGitHub, Request], Answer]] = {
    "pulls/get": get_pull,
    "pulls/list-files": list_pull_files,
    "repos/get-content": get_content,
    "issues/list-comments": list_comments,
    "issues/get-comment": get_comment,
    "issues/create-comment": create_comment,
    "issues/update-comment": update_comment,
    "repos/create-commit-status": create_status,
    "repos/list-commit-statuses-for-ref": list_statuses,
    "repos/get-combined-status-for-ref": combined_status,
    "checks/create": create_check_run,
    "checks/update": update_check_run,
    "checks/get": get_check_run,
    "checks/list-for-ref": list_check_runs,
    "apps/create-installation-access-token": installation_token,
    "apps/get-authenticated": get_app,
    "users/get-authenticated": get_user,
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a killed bot resets its connections: normal here
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    standin: StandInGitHub
    protocol_version = "HTTP/1.1"  # keep-alive, as GitHub

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, headers, payload = self.standin.serve(self.command, self.path, raw)
        try:
            self.send_response(status)
            if payload:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (a hang past its timeout, a killed bot)
            self.close_connection = True

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass
