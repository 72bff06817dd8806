"""`GitHubForge`: the `Forge` over GitHub's REST API. The only module of modbot that imports PyGithub.

PyGithub provides the authentication (a GitHub App's JWT, installation tokens and their refresh; or a
plain token), the HTTP session, GitHub Enterprise Server base URLs and error mapping. Requests go through
its public ``Requester.requestJsonAndCheck`` with explicit paths and bodies rather than through its typed
objects, because the typed layer adds calls or gets URLs wrong for what we need: a lazy ``GitRef.edit``
PATCHes ``/git/ref/…`` (GitHub only has ``PATCH /git/refs/…``; the conformance harness rejects it),
permission and role name are two GETs (one answer holds both), and its paginated lists hide the page
requests we must retry, count and stop early. Paths are built from the repository's full name, so no
object is ever fetched just to learn its URL. Every request shape is checked against GitHub's OpenAPI
description in tests (tests/test_forge_github.py).

Retries are ours (PyGithub's are switched off) so that every attempt is counted and every wait is
injectable: 5xx and network errors are retried for idempotent requests (GET, PUT, PATCH, DELETE and the
POSTs that are idempotent by nature: git blobs/trees/commits, reactions, deployment statuses); 429 and
403 rate limits (``Retry-After``, ``X-RateLimit-Remaining: 0`` + ``X-RateLimit-Reset``, or GitHub's
"secondary rate limit" message) for every request, since GitHub did not process it. A POST that creates
something visible (a comment, a check run, a PR, a ref, a deployment) is not retried on 5xx: GitHub may
have done it; the job is retried instead and re-reads GitHub (finds the sticky comment by its marker,
the check run by its name and head) first. A commit status whose answer is lost is read back before it
is sent again (each POST would add one more). Waits use exponential backoff with jitter, or what GitHub
asks for (plus jitter); a wait longer than ``RetryPolicy.max_wait`` is not slept but raised as
`ForgeError.retry_after`, so the worker reschedules instead of blocking. Every request's duration is
reported by route template, method and outcome (`ForgeStats.record_latency`).
"""

from __future__ import annotations

import base64
import email.utils
import json
import logging
import random
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests
from github import Auth, Github, GithubException

from bot import __version__
from bot.config import (
    DEFAULT_API_URL,
    DEFAULT_GITHUB_MAX_ATTEMPTS,
    DEFAULT_GITHUB_MAX_WAIT_SECONDS,
    DEFAULT_GITHUB_RETRY_BASE_SECONDS,
    DEFAULT_GITHUB_RETRY_CAP_SECONDS,
    DEFAULT_GITHUB_RETRY_JITTER_SECONDS,
    DEFAULT_GITHUB_SECONDARY_WAIT_SECONDS,
    DEFAULT_GITHUB_TIMEOUT_SECONDS,
)
from bot.domain.text import redact_text
from bot.forge import (
    COMMIT_STATES,
    MAX_ANNOTATIONS_PER_REQUEST,
    MAX_PULL_FILES,
    REACTIONS,
    Annotation,
    CheckRun,
    Comment,
    CommitInfo,
    CommitStatus,
    Deployment,
    DeploymentStatus,
    ForgeError,
    Permission,
    PullRequest,
    Ref,
    Review,
    TagObject,
    WorkflowRun,
    check_comment_body,
    check_limit,
    check_run_fields,
    check_write_fence,
    deployment_request,
    deployment_status_request,
    normalize_ref,
    permission_from,
    record_call,
    status_description,
    truncate_output,
    validate_environment,
    validate_login,
    validate_org,
    validate_path,
    validate_repo,
    validate_tag_prefix,
    validate_team_slug,
    validate_workflow,
)
from bot.forge.routes import route_template

if TYPE_CHECKING:
    from github.InstallationAuthorization import InstallationAuthorization

    from bot.config import BotSettings

__all__ = [
    "ForgeStats",
    "GitHubForge",
    "GitHubForgeProvider",
    "RetryPolicy",
    "deployment_from_json",
    "deployment_status_from_json",
    "redact",
    "workflow_run_from_json",
]

log = logging.getLogger(__name__)

PER_PAGE = 100
USER_AGENT = f"modbot/{__version__}"
_IDEMPOTENT_VERBS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})
_READ_VERBS = frozenset({"GET", "HEAD"})


# --- secrets never reach a log line or an exception ----------------------------------------------------
def redact(text: str) -> str:
    """``text`` with anything that looks like a token, JWT or private key masked (bot.domain.text)."""
    return redact_text(text, mask="***")


class _RedactingFilter(logging.Filter):
    """PyGithub logs whole request/response pairs at DEBUG, including the access_tokens answer."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: drop its arguments rather than the record
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        return True


for _name in ("github", "github.Requester", "github.GithubRetry", "github.GithubIntegration"):
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, _RedactingFilter) for f in _logger.filters):
        _logger.addFilter(_RedactingFilter())


# --- retries and metrics -----------------------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy:
    """Settings: MODBOT_GITHUB_* (bot/config.py owns the defaults; docs/github-app.md)."""

    max_attempts: int = DEFAULT_GITHUB_MAX_ATTEMPTS  # attempts in all, the first included
    backoff_base: float = DEFAULT_GITHUB_RETRY_BASE_SECONDS  # before the first retry of a 5xx (doubling)
    backoff_cap: float = DEFAULT_GITHUB_RETRY_CAP_SECONDS
    secondary_wait: float = DEFAULT_GITHUB_SECONDARY_WAIT_SECONDS  # secondary rate limit, no header
    max_wait: float = DEFAULT_GITHUB_MAX_WAIT_SECONDS  # longer waits are raised (ForgeError.retry_after)
    jitter: float = DEFAULT_GITHUB_RETRY_JITTER_SECONDS  # up to this added to a wait GitHub asked for

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    @classmethod
    def from_settings(cls, settings: BotSettings) -> RetryPolicy:
        return cls(
            max_attempts=settings.github_max_attempts,
            backoff_base=settings.github_retry_base_seconds,
            backoff_cap=settings.github_retry_cap_seconds,
            secondary_wait=settings.github_secondary_wait_seconds,
            max_wait=settings.github_max_wait_seconds,
            jitter=settings.github_retry_jitter_seconds,
        )


class ForgeStats:
    """Process-wide counters for /metrics: calls by operation, errors by status ("network" when there was
    no answer), retries and installation-token exchanges. Thread-safe."""

    def __init__(
        self,
        *,
        on_call: Callable[[str], None] | None = None,
        on_error: Callable[[str, str], None] | None = None,
        on_latency: Callable[[str, str, str, float], None] | None = None,
    ) -> None:
        """``on_call(operation)`` / ``on_error(operation, status)`` forward each count, e.g. to Prometheus
        counters (``bot.metrics.Metrics.github_calls`` / ``github_errors``); ``on_latency(route, method,
        outcome, seconds)`` each HTTP request's duration (``Metrics.github_call_seconds``)."""
        self._lock = threading.Lock()
        self._on_call = on_call
        self._on_error = on_error
        self._on_latency = on_latency
        self.calls: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.rate_limit_remaining: int | None = None

    def record_call(self, operation: str) -> None:
        with self._lock:
            self.calls[operation] += 1
        if self._on_call is not None:
            self._on_call(operation)

    def record_error(self, operation: str, status: int | None) -> None:
        label = str(status) if status is not None else "network"
        with self._lock:
            self.errors[label] += 1
        if self._on_error is not None:
            self._on_error(operation, label)

    def record_latency(self, url: str, method: str, outcome: str, seconds: float) -> None:
        """One HTTP request's duration, labelled by its route template (never the URL: ids and refs
        would make a label value per request)."""
        if self._on_latency is not None:
            self._on_latency(route_template(url), method, outcome, seconds)

    def record_retry(self, operation: str) -> None:
        with self._lock:
            self.retries[operation] += 1

    def record_rate_limit(self, remaining: int) -> None:
        with self._lock:
            self.rate_limit_remaining = remaining

    @property
    def total_calls(self) -> int:
        with self._lock:
            return sum(self.calls.values())

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(self.calls),
                "errors": dict(self.errors),
                "retries": dict(self.retries),
                "rate_limit_remaining": self.rate_limit_remaining,
            }


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return str(value)
    return None


def _message(data: Any) -> str:
    """GitHub's error message, with the details of a 422 ("Validation Failed: Reference already exists")."""
    if not isinstance(data, dict):
        return redact(str(data))[:500] if data else "(no message)"
    message = str(data.get("message") or "(no message)")
    details = []
    for error in data.get("errors") or []:
        if isinstance(error, dict):
            detail = error.get("message") or " ".join(
                str(error[k]) for k in ("resource", "field", "code") if error.get(k)
            )
            if detail:
                details.append(str(detail))
        elif error:
            details.append(str(error))
    if details:
        message += f" ({'; '.join(details)})"
    return redact(message)[:1000]


def _is_rate_limited(status: int | None, headers: Mapping[str, Any] | None, message: str) -> bool:
    if status == 429:
        return True
    if status != 403:
        return False
    return (
        _header(headers, "retry-after") is not None
        or _header(headers, "x-ratelimit-remaining") == "0"
        or "rate limit" in message.lower()
        or "abuse detection" in message.lower()  # the older wording of a secondary rate limit
    )


def _outcome(status: int | None, headers: Mapping[str, Any] | None, message: str) -> str:
    """A failed request's outcome label: rate_limited, client_error, server_error or network_error."""
    if status is None:
        return "network_error"
    if _is_rate_limited(status, headers, message):
        return "rate_limited"
    return "server_error" if status >= 500 else "client_error"


def _unanswered(error: ForgeError) -> bool:
    """GitHub gave no usable answer (a network error, a timeout, a 5xx): the request may have been done."""
    return error.retry_after is None and (error.status is None or error.status >= 500)


def _next_link(headers: Mapping[str, Any]) -> str | None:
    link = _header(headers, "link")
    if not link:
        return None
    for part in link.split(","):
        match = re.match(r"\s*<([^>]+)>\s*;(.*)", part)
        if match and re.search(r'rel="?next"?', match.group(2)):
            return match.group(1)
    return None


# --- App authentication -----------------------------------------------------------------------------
class _InstallationAuth(Auth.AppInstallationAuth):
    """PyGithub's installation auth with a wider refresh margin (a token is replaced ``refresh_margin``
    before it expires, not 20 s), an injectable clock, one refresh at a time, and counting."""

    def __init__(
        self,
        app_auth: Auth.AppAuth,
        installation_id: int,
        *,
        stats: ForgeStats,
        clock: Callable[[], float],
        refresh_margin: float,
    ) -> None:
        super().__init__(app_auth, installation_id)
        self._stats = stats
        self._clock = clock
        self._margin = timedelta(seconds=refresh_margin)
        self._current: InstallationAuthorization | None = None
        self._lock = threading.Lock()

    @property
    def token(self) -> str:
        with self._lock:
            now = datetime.fromtimestamp(self._clock(), UTC)
            current = self._current
            if current is None or current.expires_at - self._margin <= now:
                current = self._current = self._exchange()
            return str(current.token)

    def invalidate(self) -> None:
        with self._lock:
            self._current = None

    def _exchange(self) -> InstallationAuthorization:
        operation = "installation_token"
        self._stats.record_call(operation)
        record_call(operation, token_exchange=True)
        try:
            authorization = self._get_installation_authorization()
        except GithubException as exc:
            self._stats.record_error(operation, exc.status)
            raise ForgeError(
                f"{operation} (installation {self.installation_id})", exc.status, _message(exc.data)
            ) from None
        log.info(
            "GitHub installation %s: new access token, expires %s",
            self.installation_id,
            authorization.expires_at.isoformat(),
        )
        return authorization


def _client(auth: Auth.Auth, base_url: str, timeout: float) -> Github:
    return Github(
        auth=auth,
        base_url=base_url,
        timeout=int(timeout),
        user_agent=USER_AGENT,
        per_page=PER_PAGE,
        retry=None,  # ours: see the module docstring
        seconds_between_requests=None,
        seconds_between_writes=None,
        lazy=True,
    )


# --- the forge --------------------------------------------------------------------------------------
class GitHubForge:
    """`bot.forge.Forge` over one authenticated GitHub client (one installation, or a token)."""

    def __init__(
        self,
        github: Github,
        *,
        bot_login: str | Callable[[], str],
        retry: RetryPolicy | None = None,
        stats: ForgeStats | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        allowed_repositories: frozenset[str] | None = None,
        app_mode: bool = False,
    ) -> None:
        self._github = github
        self._requester = github.requester
        self._auth = self._requester.auth
        self._bot_login = bot_login
        self._bot_login_lock = threading.Lock()
        self.retry = retry or RetryPolicy()
        self.stats = stats or ForgeStats()
        self._sleep = sleep
        self._clock = clock
        self._rand = rand
        self._allowed = (
            frozenset(r.lower() for r in allowed_repositories) if allowed_repositories is not None else None
        )
        self.app_mode = app_mode

    @classmethod
    def with_token(
        cls,
        token: str,
        *,
        base_url: str = DEFAULT_API_URL,
        timeout: float = DEFAULT_GITHUB_TIMEOUT_SECONDS,
        **kwargs: Any,
    ) -> GitHubForge:
        """A forge authenticated with a personal access / fine-grained token (token mode)."""
        return cls(_client(Auth.Token(token), base_url, timeout), **kwargs)

    def close(self) -> None:
        self._github.close()

    @property
    def bot_login(self) -> str:
        if callable(self._bot_login):
            with self._bot_login_lock:
                if callable(self._bot_login):
                    self._bot_login = self._bot_login()
        assert isinstance(self._bot_login, str)
        return self._bot_login

    # --- the request loop ---------------------------------------------------------------------------
    def _repo(self, repo: str) -> str:
        validate_repo(repo)
        if self._allowed is not None and repo.lower() not in self._allowed:
            raise ForgeError("repository check", None, f"{repo} is not in MODBOT_REPOSITORIES")
        return f"/repos/{repo}"

    def request(
        self,
        operation: str,
        verb: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        idempotent: bool | None = None,
        not_found: bool = False,
    ) -> tuple[dict[str, Any], Any] | None:
        """One API request with retries. With ``not_found``, a 404 returns None (and is no error)."""
        if idempotent is None:
            idempotent = verb in _IDEMPOTENT_VERBS
        policy = self.retry
        attempt = 0
        while True:
            attempt += 1
            if verb not in _READ_VERBS:
                check_write_fence(operation)  # e.g. the job's lease was lost: refuse before sending
            self.stats.record_call(operation)
            record_call(operation)
            status: int | None
            headers: Mapping[str, Any] | None = None
            failed = operation
            started = time.perf_counter()
            try:
                response_headers, data = self._requester.requestJsonAndCheck(
                    verb, url, parameters=dict(params) if params else None, input=body
                )
            except GithubException as exc:
                status, headers, message = exc.status, exc.headers, _message(exc.data)
                outcome = "ok" if status == 404 and not_found else _outcome(status, headers, message)
                self.stats.record_latency(url, verb, outcome, time.perf_counter() - started)
                if status == 404 and not_found:
                    return None
                if status == 401 and attempt == 1 and isinstance(self._auth, _InstallationAuth):
                    # the installation token was revoked or expired early: forget it, exchange once more
                    self._auth.invalidate()
                    self.stats.record_error(operation, status)
                    log.warning(
                        "GitHub %s: HTTP 401 with the installation token; requesting a new one", operation
                    )
                    continue
            except ForgeError as exc:  # the installation-token exchange under this request failed
                status, message, failed = exc.status, exc.message, exc.operation
            except requests.RequestException as exc:
                status, message = None, redact(f"{type(exc).__name__}: {exc}")[:500]
                self.stats.record_latency(url, verb, "network_error", time.perf_counter() - started)
            else:
                self.stats.record_latency(url, verb, "ok", time.perf_counter() - started)
                remaining = _header(response_headers, "x-ratelimit-remaining")
                if remaining is not None and remaining.isdigit():
                    self.stats.record_rate_limit(int(remaining))
                return response_headers, data
            if failed == operation:  # (a failed token exchange counted its own error)
                self.stats.record_error(operation, status)
            wait = self._wait(
                failed, status, headers=headers, message=message, attempt=attempt, idempotent=idempotent
            )
            if wait is None or attempt >= policy.max_attempts:
                error = ForgeError(failed, status, message, attempts=attempt)
                level = (
                    logging.WARNING if status is not None and status < 500 and wait is None else logging.ERROR
                )
                log.log(level, "%s", error)
                raise error
            log.warning(
                "GitHub %s: %s: %s; retrying in %.1fs (attempt %d of %d)",
                failed,
                f"HTTP {status}" if status is not None else "no response",
                message,
                wait,
                attempt + 1,
                policy.max_attempts,
            )
            self.stats.record_retry(operation)
            self._sleep(wait)

    def _wait(
        self,
        operation: str,
        status: int | None,
        *,
        headers: Mapping[str, Any] | None,
        message: str,
        attempt: int,
        idempotent: bool,
    ) -> float | None:
        """Seconds to wait before retrying, None for no retry; raises when GitHub asks for too long."""
        policy = self.retry
        if _is_rate_limited(status, headers, message):
            wait = self._rate_limit_wait(headers)
            if wait > policy.max_wait:
                error = ForgeError(operation, status, message, retry_after=wait, attempts=attempt)
                log.error("%s", error)
                raise error
            return float(wait + self._rand() * policy.jitter)
        if status is None or status >= 500:
            if not idempotent:
                return None
            backoff = min(policy.backoff_cap, policy.backoff_base * 2 ** (attempt - 1))
            wait = backoff / 2 + self._rand() * backoff / 2
            asked = _header(headers, "retry-after")  # a 503 may say when to come back
            if asked is not None and asked.strip().isdigit():
                wait = max(wait, min(float(asked.strip()), policy.max_wait))
            return float(wait)
        return None

    def _rate_limit_wait(self, headers: Mapping[str, Any] | None) -> float:
        retry_after = _header(headers, "retry-after")
        if retry_after is not None:
            if retry_after.strip().isdigit():
                return float(retry_after.strip())
            try:
                when = email.utils.parsedate_to_datetime(retry_after)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                return max(0.0, when.timestamp() - self._clock())
        reset = _header(headers, "x-ratelimit-reset")
        if _header(headers, "x-ratelimit-remaining") == "0" and reset is not None and reset.isdigit():
            return max(0.0, int(reset) - self._clock()) + 1.0  # the reset happens somewhere in that second
        return self.retry.secondary_wait

    def _get(self, operation: str, url: str, params: Mapping[str, Any] | None = None) -> Any:
        result = self.request(operation, "GET", url, params=params)
        assert result is not None
        return result[1]

    def _send(self, operation: str, verb: str, url: str, body: Any, *, idempotent: bool | None = None) -> Any:
        result = self.request(operation, verb, url, body=body, idempotent=idempotent)
        assert result is not None
        return result[1]

    def _pages(
        self,
        operation: str,
        url: str,
        params: Mapping[str, Any] | None = None,
        *,
        per_page: int | None = PER_PAGE,
    ) -> Iterator[Any]:
        """Each page's data, following ``Link: rel="next"`` (which carries the query from then on).
        ``per_page=None`` sends no page size (for endpoints that document none)."""
        next_url: str | None = url
        first: dict[str, Any] = {**(params or {})}
        if per_page is not None:
            first["per_page"] = per_page
        query: Mapping[str, Any] | None = first or None
        while next_url is not None:
            result = self.request(operation, "GET", next_url, params=query)
            assert result is not None
            headers, data = result
            yield data
            next_url, query = _next_link(headers), None

    def _items(
        self,
        operation: str,
        url: str,
        params: Mapping[str, Any] | None,
        *,
        limit: int,
        key: str | None = None,
    ) -> Iterator[Any]:
        """At most ``limit`` items of a listing (``key``: the list inside each page's object), asking for
        pages no larger than needed and no page after the one that completes the answer."""
        taken = 0
        for page in self._pages(operation, url, params, per_page=min(limit, PER_PAGE)):
            for item in page[key] if key is not None else page:
                yield item
                taken += 1
                if taken >= limit:
                    return

    # --- reading ------------------------------------------------------------------------------------
    def get_file(self, repo: str, path: str, ref: str) -> bytes | None:
        base = self._repo(repo)
        validate_path(path)
        result = self.request(
            "get_file", "GET", f"{base}/contents/{quote(path)}", params={"ref": ref}, not_found=True
        )
        if result is None:
            return None
        data = result[1]
        if isinstance(data, list):
            raise ForgeError("get_file", None, f"{path} at {ref} is a directory, not a file")
        kind = data.get("type")
        if kind != "file":
            raise ForgeError("get_file", None, f"{path} at {ref} is a {kind}, not a file")
        content, encoding = data.get("content") or "", data.get("encoding")
        if encoding == "base64" and (content or not data.get("size")):
            return base64.b64decode(content)
        # 1-100 MB: the contents API leaves "content" empty (encoding "none"); the blob API has it.
        blob = self._get("get_file", f"{base}/git/blobs/{quote(str(data['sha']), safe='')}")
        return _blob_bytes(blob)

    def get_pull(self, repo: str, number: int) -> PullRequest:
        data = self._get("get_pull", f"{self._repo(repo)}/pulls/{int(number)}")
        return _pull(repo, data)

    def pull_touches(self, repo: str, number: int, path: str) -> bool:
        validate_path(path)
        seen = 0
        for page in self._pages("pull_touches", f"{self._repo(repo)}/pulls/{int(number)}/files"):
            for entry in page:
                if path in (entry.get("filename"), entry.get("previous_filename")):
                    return True
            seen += len(page)
        return seen >= MAX_PULL_FILES  # GitHub lists no more: we cannot know, so we say yes (and validate)

    def default_branch(self, repo: str) -> str:
        return str(self._get("default_branch", self._repo(repo))["default_branch"])

    def branch_head(self, repo: str, branch: str) -> str:
        ref = normalize_ref(f"heads/{branch}")
        return str(self._get("branch_head", f"{self._repo(repo)}/git/ref/{quote(ref)}")["object"]["sha"])

    def get_permission(self, repo: str, username: str) -> Permission:
        result = self.request(
            "get_permission",
            "GET",
            f"{self._repo(repo)}/collaborators/{quote(username, safe='')}/permission",
            not_found=True,
        )
        if result is None:
            return "none"
        data = result[1]
        return permission_from(data.get("permission"), data.get("role_name"))

    # --- comments -----------------------------------------------------------------------------------
    def find_comment(self, repo: str, number: int, marker: str) -> Comment | None:
        if not marker:
            raise ValueError("an empty marker would match every comment")
        me = self.bot_login.lower()
        for page in self._pages("find_comment", f"{self._repo(repo)}/issues/{int(number)}/comments"):
            for data in page:
                comment = _comment(data)
                if comment.author.lower() == me and marker in comment.body:
                    return comment
        return None

    def create_comment(self, repo: str, number: int, body: str) -> Comment:
        check_comment_body(body)
        url = f"{self._repo(repo)}/issues/{int(number)}/comments"
        return _comment(self._send("create_comment", "POST", url, {"body": body}))

    def update_comment(self, repo: str, comment_id: int, body: str) -> Comment:
        check_comment_body(body)
        url = f"{self._repo(repo)}/issues/comments/{int(comment_id)}"
        return _comment(self._send("update_comment", "PATCH", url, {"body": body}))

    def add_reaction(self, repo: str, comment_id: int, content: str) -> None:
        if content not in REACTIONS:
            raise ValueError(f"reaction must be one of {sorted(REACTIONS)}, not {content!r}")
        url = f"{self._repo(repo)}/issues/comments/{int(comment_id)}/reactions"
        self._send("add_reaction", "POST", url, {"content": content}, idempotent=True)  # same one twice: 200

    # --- checks and statuses ------------------------------------------------------------------------
    def create_check_run(
        self,
        repo: str,
        head_sha: str,
        name: str,
        *,
        status: str = "completed",
        conclusion: str | None = None,
        title: str = "",
        summary: str = "",
        text: str | None = None,
        annotations: Sequence[Annotation] = (),
        details_url: str | None = None,
        external_id: str | None = None,
    ) -> CheckRun:
        check_run_fields(status, conclusion)
        batches = _batches(annotations)
        body: dict[str, Any] = {"name": name, "head_sha": head_sha, "status": status}
        if conclusion is not None:
            body["conclusion"] = conclusion
        if details_url is not None:
            body["details_url"] = details_url
        if external_id is not None:
            body["external_id"] = external_id
        output = _output(title, summary, text, batches[0])
        if output is not None:
            body["output"] = output
        run = _check_run(self._send("create_check_run", "POST", f"{self._repo(repo)}/check-runs", body))
        return self._more_annotations(repo, run, title, summary, batches[1:])

    def update_check_run(
        self,
        repo: str,
        check_run_id: int,
        *,
        status: str | None = None,
        conclusion: str | None = None,
        title: str = "",
        summary: str = "",
        text: str | None = None,
        annotations: Sequence[Annotation] = (),
    ) -> CheckRun:
        check_run_fields(status, conclusion)
        batches = _batches(annotations)
        body: dict[str, Any] = {}
        if status is not None:
            body["status"] = status
        if conclusion is not None:
            body["conclusion"] = conclusion
        output = _output(title, summary, text, batches[0])
        if output is not None:
            body["output"] = output
        url = f"{self._repo(repo)}/check-runs/{int(check_run_id)}"
        run = _check_run(self._send("update_check_run", "PATCH", url, body))
        return self._more_annotations(repo, run, title, summary, batches[1:])

    def _more_annotations(
        self, repo: str, run: CheckRun, title: str, summary: str, batches: Sequence[Sequence[Annotation]]
    ) -> CheckRun:
        url = f"{self._repo(repo)}/check-runs/{run.id}"
        for batch in batches:  # GitHub appends each request's annotations to the run's
            output = _output(title, summary, None, batch)
            run = _check_run(self._send("update_check_run", "PATCH", url, {"output": output}))
        return run

    def find_check_run(self, repo: str, head_sha: str, name: str) -> CheckRun | None:
        url = f"{self._repo(repo)}/commits/{quote(head_sha, safe='')}/check-runs"
        app = self.bot_login.lower().removesuffix("[bot]")  # an App's runs carry its slug
        ours: list[CheckRun] = []
        for page in self._pages("find_check_run", url, {"check_name": name, "filter": "all"}):
            for data in page.get("check_runs") or []:
                slug = (data.get("app") or {}).get("slug")
                if data.get("name") == name and isinstance(slug, str) and slug.lower() == app:
                    ours.append(_check_run(data))
        return max(ours, key=lambda run: run.id, default=None)

    def latest_commit_status(self, repo: str, sha: str, context: str) -> CommitStatus | None:
        url = f"{self._repo(repo)}/commits/{quote(sha, safe='')}/status"
        combined = self._get("latest_commit_status", url, {"per_page": PER_PAGE})
        for data in combined.get("statuses") or []:  # the latest status of each context
            if data.get("context") == context:
                return CommitStatus(
                    state=str(data.get("state")),
                    context=context,
                    description=str(data.get("description") or ""),
                    target_url=_url(data.get("target_url")),
                )
        return None

    def set_commit_status(
        self,
        repo: str,
        sha: str,
        state: str,
        *,
        context: str,
        description: str,
        target_url: str | None = None,
    ) -> None:
        if state not in COMMIT_STATES:
            raise ValueError(f"commit status state must be one of {sorted(COMMIT_STATES)}, not {state!r}")
        body: dict[str, Any] = {
            "state": state,
            "context": context,
            "description": status_description(description),
        }
        if target_url is not None:
            body["target_url"] = target_url
        url = f"{self._repo(repo)}/statuses/{quote(sha, safe='')}"
        try:
            self._send("set_commit_status", "POST", url, body, idempotent=False)
            return
        except ForgeError as exc:
            if not _unanswered(exc):
                raise
        # GitHub may have set it before its answer was lost: each POST adds a status, so read it back
        # and ask again (with the usual retries) only when it is not there
        wanted = CommitStatus(state, context, body["description"], target_url)
        if self.latest_commit_status(repo, sha, context) == wanted:
            return
        self._send("set_commit_status", "POST", url, body, idempotent=True)

    # --- branches, commits, pull requests -----------------------------------------------------------
    def create_branch(self, repo: str, branch: str, from_sha: str) -> None:
        self._create_ref("create_branch", repo, f"heads/{branch}", from_sha)

    def update_branch_ref(self, repo: str, branch: str, sha: str, *, force: bool = False) -> None:
        self._update_ref("update_branch_ref", repo, f"heads/{branch}", sha, force)

    def commit_file(
        self,
        repo: str,
        branch: str,
        path: str,
        content: bytes,
        *,
        message: str,
        parent_sha: str,
        force: bool = False,
    ) -> str:
        base = self._repo(repo)
        validate_path(path)
        normalize_ref(f"heads/{branch}")
        # Git data API, not the contents API: the commit gets exactly these bytes (base64 blob), exactly
        # this parent, and the branch moves once, at the end, to a commit that is already complete.
        parent = self._get("commit_file", f"{base}/git/commits/{quote(parent_sha, safe='')}")
        blob = self._send(
            "commit_file",
            "POST",
            f"{base}/git/blobs",
            {"content": base64.b64encode(content).decode("ascii"), "encoding": "base64"},
            idempotent=True,  # content-addressed
        )
        tree = self._send(
            "commit_file",
            "POST",
            f"{base}/git/trees",
            {
                "base_tree": parent["tree"]["sha"],
                "tree": [{"path": path, "mode": "100644", "type": "blob", "sha": blob["sha"]}],
            },
            idempotent=True,
        )
        commit = self._send(
            "commit_file",
            "POST",
            f"{base}/git/commits",
            {"message": message, "tree": tree["sha"], "parents": [parent_sha]},
            idempotent=True,  # a retry at worst leaves an unreferenced twin commit
        )
        sha = str(commit["sha"])
        self._update_ref("commit_file", repo, f"heads/{branch}", sha, force)
        return sha

    def find_open_pull_by_branch(self, repo: str, head_branch: str) -> PullRequest | None:
        normalize_ref(f"heads/{head_branch}")
        owner = repo.split("/", 1)[0]
        data = self._get(
            "find_open_pull_by_branch",
            f"{self._repo(repo)}/pulls",
            {"state": "open", "head": f"{owner}:{head_branch}", "per_page": 1},
        )
        return _pull(repo, data[0]) if data else None

    def create_pull(
        self, repo: str, *, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> PullRequest:
        check_comment_body(body)
        payload = {"title": title, "head": head, "base": base, "body": body, "draft": draft}
        return _pull(repo, self._send("create_pull", "POST", f"{self._repo(repo)}/pulls", payload))

    def update_pull(
        self, repo: str, number: int, *, title: str | None = None, body: str | None = None
    ) -> PullRequest:
        payload: dict[str, Any] = {}
        if title is not None:
            payload["title"] = title
        if body is not None:
            payload["body"] = check_comment_body(body)
        url = f"{self._repo(repo)}/pulls/{int(number)}"
        return _pull(repo, self._send("update_pull", "PATCH", url, payload))

    def branch_commits_authors(self, repo: str, base: str, head: str) -> list[CommitInfo]:
        url = f"{self._repo(repo)}/compare/{quote(base)}...{quote(head)}"
        commits: list[CommitInfo] = []
        for page in self._pages("branch_commits_authors", url):
            commits.extend(_commit_info(c) for c in page.get("commits") or [])
        return commits

    # --- refs ---------------------------------------------------------------------------------------
    def get_ref(self, repo: str, ref: str) -> Ref | None:
        short = normalize_ref(ref)
        result = self.request("get_ref", "GET", f"{self._repo(repo)}/git/ref/{quote(short)}", not_found=True)
        return _ref(result[1]) if result is not None else None

    def create_ref(self, repo: str, ref: str, sha: str) -> Ref:
        return self._create_ref("create_ref", repo, ref, sha)

    def update_ref(self, repo: str, ref: str, sha: str, *, force: bool = False) -> Ref:
        return self._update_ref("update_ref", repo, ref, sha, force)

    def _create_ref(self, operation: str, repo: str, ref: str, sha: str) -> Ref:
        short = normalize_ref(ref)
        body = {"ref": f"refs/{short}", "sha": sha}
        return _ref(self._send(operation, "POST", f"{self._repo(repo)}/git/refs", body))

    def _update_ref(self, operation: str, repo: str, ref: str, sha: str, force: bool) -> Ref:
        short = normalize_ref(ref)
        url = f"{self._repo(repo)}/git/refs/{quote(short)}"
        return _ref(self._send(operation, "PATCH", url, {"sha": sha, "force": force}))

    def list_tags(self, repo: str, prefix: str) -> list[Ref]:
        validate_tag_prefix(prefix)
        url = f"{self._repo(repo)}/git/matching-refs/{quote(f'tags/{prefix}')}"
        wanted = f"refs/tags/{prefix}"
        tags: list[Ref] = []
        # GitHub documents no page size here: ask for none, follow whatever Link it sends.
        for page in self._pages("list_tags", url, per_page=None):
            tags.extend(_ref(item) for item in page if str(item.get("ref", "")).startswith(wanted))
        return tags

    def get_tag_object(self, repo: str, sha: str) -> TagObject:
        url = f"{self._repo(repo)}/git/tags/{quote(sha, safe='')}"
        return _tag_object(self._get("get_tag_object", url))

    # --- reviews and teams --------------------------------------------------------------------------
    def list_reviews(self, repo: str, number: int) -> list[Review]:
        url = f"{self._repo(repo)}/pulls/{int(number)}/reviews"
        return [_review(item) for page in self._pages("list_reviews", url) for item in page]

    def is_team_member(self, org: str, team_slug: str, username: str) -> bool:
        url = (
            f"/orgs/{quote(validate_org(org), safe='')}/teams/{quote(validate_team_slug(team_slug), safe='')}"
            f"/memberships/{quote(validate_login(username), safe='')}"
        )
        result = self.request("is_team_member", "GET", url, not_found=True)
        return result is not None and result[1].get("state") == "active"

    # --- deployments --------------------------------------------------------------------------------
    def create_deployment(
        self,
        repo: str,
        *,
        ref: str,
        environment: str,
        description: str,
        payload: Mapping[str, Any],
        task: str = "deploy",
        production_environment: bool | None = None,
    ) -> Deployment:
        body = deployment_request(
            ref=ref,
            environment=environment,
            description=description,
            payload=payload,
            task=task,
            production_environment=production_environment,
        )
        data = self._send("create_deployment", "POST", f"{self._repo(repo)}/deployments", body)
        if not isinstance(data, dict) or "id" not in data:  # 202: GitHub merged instead (auto_merge is off)
            raise ForgeError("create_deployment", 202, _message(data))
        return deployment_from_json(data)

    def create_deployment_status(
        self,
        repo: str,
        deployment_id: int,
        state: str,
        *,
        description: str,
        log_url: str | None = None,
        environment_url: str | None = None,
        auto_inactive: bool = True,
    ) -> DeploymentStatus:
        body = deployment_status_request(state, description, log_url, environment_url, auto_inactive)
        url = f"{self._repo(repo)}/deployments/{int(deployment_id)}/statuses"
        # A repeated status says the same thing again: retried after a 5xx (a handler that must not repeat
        # one reads the latest first, as the workflow_run handler does).
        return deployment_status_from_json(
            self._send("create_deployment_status", "POST", url, body, idempotent=True)
        )

    def list_deployments(
        self,
        repo: str,
        *,
        environment: str | None = None,
        sha: str | None = None,
        ref: str | None = None,
        task: str | None = None,
        limit: int = 100,
    ) -> list[Deployment]:
        check_limit(limit)
        if environment is not None:
            validate_environment(environment)
        filters = {"environment": environment, "sha": sha, "ref": ref, "task": task}
        params = {name: value for name, value in filters.items() if value is not None}
        url = f"{self._repo(repo)}/deployments"
        return [
            deployment_from_json(item) for item in self._items("list_deployments", url, params, limit=limit)
        ]

    def list_deployment_statuses(
        self, repo: str, deployment_id: int, *, limit: int = 100
    ) -> list[DeploymentStatus]:
        check_limit(limit)
        url = f"{self._repo(repo)}/deployments/{int(deployment_id)}/statuses"
        items = self._items("list_deployment_statuses", url, None, limit=limit)
        return [deployment_status_from_json(item) for item in items]

    # --- GitHub Actions -----------------------------------------------------------------------------
    def list_workflow_runs(
        self,
        repo: str,
        *,
        head_sha: str | None = None,
        workflow: str | int | None = None,
        event: str | None = None,
        limit: int = 30,
    ) -> list[WorkflowRun]:
        check_limit(limit)
        base = self._repo(repo)
        if workflow is not None:
            url = f"{base}/actions/workflows/{quote(validate_workflow(workflow), safe='')}/runs"
        else:
            url = f"{base}/actions/runs"
        filters = {"head_sha": head_sha, "event": event}
        params = {name: value for name, value in filters.items() if value is not None}
        items = self._items("list_workflow_runs", url, params, limit=limit, key="workflow_runs")
        return [workflow_run_from_json(item) for item in items]

    def get_workflow_run(self, repo: str, run_id: int) -> WorkflowRun:
        url = f"{self._repo(repo)}/actions/runs/{int(run_id)}"
        return workflow_run_from_json(self._get("get_workflow_run", url))

    def rerun_workflow_run(self, repo: str, run_id: int) -> None:
        url = f"{self._repo(repo)}/actions/runs/{int(run_id)}/rerun"
        self._send("rerun_workflow_run", "POST", url, None)


# --- JSON → our types ---------------------------------------------------------------------------------
def _blob_bytes(blob: Mapping[str, Any]) -> bytes:
    encoding, content = blob.get("encoding"), str(blob.get("content") or "")
    if encoding == "base64":
        return base64.b64decode(content)
    if encoding in ("utf-8", "utf8"):
        return content.encode("utf-8")
    raise ForgeError("get_file", None, f"blob {blob.get('sha')} has an unknown encoding {encoding!r}")


def _login(user: Any) -> str | None:
    return str(user["login"]) if isinstance(user, dict) and user.get("login") else None


def _pull(repo: str, data: Mapping[str, Any]) -> PullRequest:
    head, base = data["head"], data["base"]
    head_repo = head.get("repo")
    return PullRequest(
        repo=repo,
        number=int(data["number"]),
        state=str(data["state"]),
        merged=bool(data.get("merged") or data.get("merged_at")),
        draft=bool(data.get("draft")),
        title=str(data.get("title") or ""),
        body=str(data.get("body") or ""),
        author=_login(data.get("user")) or "",
        html_url=str(data["html_url"]),
        head_sha=str(head["sha"]),
        head_ref=str(head["ref"]),
        head_repo=str(head_repo["full_name"]) if isinstance(head_repo, dict) else None,
        base_sha=str(base["sha"]),
        base_ref=str(base["ref"]),
        merge_commit_sha=str(data["merge_commit_sha"]) if data.get("merge_commit_sha") else None,
    )


def _comment(data: Mapping[str, Any]) -> Comment:
    user = data.get("user") or {}
    return Comment(
        id=int(data["id"]),
        body=str(data.get("body") or ""),
        author=_login(user) or "",
        author_type=str(user.get("type") or ""),
        html_url=str(data.get("html_url") or ""),
    )


def _check_run(data: Mapping[str, Any]) -> CheckRun:
    output = data.get("output") or {}
    return CheckRun(
        id=int(data["id"]),
        name=str(data["name"]),
        head_sha=str(data["head_sha"]),
        status=str(data["status"]),
        conclusion=data.get("conclusion"),
        html_url=data.get("html_url"),
        annotations_count=int(output.get("annotations_count") or 0),
    )


def _ref(data: Mapping[str, Any]) -> Ref:
    return Ref(ref=str(data["ref"]), sha=str(data["object"]["sha"]), object_type=str(data["object"]["type"]))


def _commit_info(data: Mapping[str, Any]) -> CommitInfo:
    git = data.get("commit") or {}
    return CommitInfo(
        sha=str(data["sha"]),
        author_login=_login(data.get("author")),
        committer_login=_login(data.get("committer")),
        author_email=str((git.get("author") or {}).get("email") or ""),
        committer_email=str((git.get("committer") or {}).get("email") or ""),
    )


def _time(value: Any) -> datetime:
    """GitHub's ISO 8601 timestamp as an aware UTC datetime."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise ForgeError("reading GitHub's answer", None, f"not a timestamp: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _url(value: Any) -> str | None:
    return str(value) if value else None  # GitHub sends "" for a URL never set


def _review(data: Mapping[str, Any]) -> Review:
    submitted = data.get("submitted_at")
    return Review(
        id=int(data["id"]),
        author=_login(data.get("user")),
        state=str(data["state"]),
        commit_id=str(data["commit_id"]) if data.get("commit_id") else None,
        submitted_at=_time(submitted) if submitted else None,
    )


def _deployment_payload(value: Any) -> dict[str, Any]:
    """GitHub keeps a payload sent as a JSON string as that string; modbot's own are objects."""
    if isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return dict(value) if isinstance(value, dict) else {}


def deployment_from_json(data: Mapping[str, Any]) -> Deployment:
    """A Deployment object, as the REST API answers it and the `deployment_status` webhook carries it."""
    description = data.get("description")
    return Deployment(
        id=int(data["id"]),
        sha=str(data["sha"]),
        ref=str(data["ref"]),
        environment=str(data["environment"]),
        task=str(data["task"]),
        description=str(description) if description is not None else None,
        payload=_deployment_payload(data.get("payload")),
        creator=_login(data.get("creator")),
        created_at=_time(data["created_at"]),
    )


def deployment_status_from_json(data: Mapping[str, Any]) -> DeploymentStatus:
    """A Deployment status object, as the REST API answers it and the `deployment_status` webhook
    carries it."""
    return DeploymentStatus(
        id=int(data["id"]),
        state=str(data["state"]),
        description=str(data.get("description") or ""),
        log_url=_url(data.get("log_url")) or _url(data.get("target_url")),
        environment_url=_url(data.get("environment_url")),
        creator=_login(data.get("creator")),
        created_at=_time(data["created_at"]),
    )


def _tag_object(data: Mapping[str, Any]) -> TagObject:
    target = data["object"]
    return TagObject(
        sha=str(data["sha"]),
        tag=str(data["tag"]),
        message=str(data.get("message") or ""),
        object_sha=str(target["sha"]),
        object_type=str(target["type"]),
    )


def workflow_run_from_json(data: Mapping[str, Any]) -> WorkflowRun:
    """A workflow run object, as the REST API answers it and the `workflow_run` webhook carries it."""
    return WorkflowRun(
        id=int(data["id"]),
        name=str(data["name"]) if data.get("name") is not None else None,
        path=str(data.get("path") or ""),  # older payloads lack it: then no workflow file of ours matches
        head_sha=str(data["head_sha"]),
        head_branch=str(data["head_branch"]) if data.get("head_branch") is not None else None,
        event=str(data["event"]),
        status=str(data["status"]) if data.get("status") is not None else None,
        conclusion=str(data["conclusion"]) if data.get("conclusion") is not None else None,
        html_url=str(data["html_url"]),
        run_attempt=int(data.get("run_attempt") or 1),
        created_at=_time(data["created_at"]),
    )


def _batches(annotations: Sequence[Annotation]) -> list[Sequence[Annotation]]:
    if not annotations:
        return [()]
    size = MAX_ANNOTATIONS_PER_REQUEST
    return [annotations[i : i + size] for i in range(0, len(annotations), size)]


def _output(
    title: str, summary: str, text: str | None, annotations: Sequence[Annotation]
) -> dict[str, Any] | None:
    if not (title or summary or text or annotations):
        return None
    if not title or not summary:
        raise ValueError("a check run output needs a title and a summary")
    output: dict[str, Any] = {"title": title[:255], "summary": truncate_output(summary)}
    if text:
        output["text"] = truncate_output(text)
    if annotations:
        output["annotations"] = [_annotation(a) for a in annotations]
    return output


def _annotation(a: Annotation) -> dict[str, Any]:
    data: dict[str, Any] = {
        "path": a.path,
        "start_line": a.start_line,
        "end_line": a.end_line,
        "annotation_level": a.level,
        "message": a.message,
    }
    if a.title:
        data["title"] = a.title
    return data


# --- the provider: one forge per installation ------------------------------------------------------------
class GitHubForgeProvider:
    """Hands out `GitHubForge` clients: per installation in App mode (a small LRU cache, each client
    keeping and refreshing its installation token), the same one in token mode."""

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_API_URL,
        token: str | None = None,
        app_id: int | None = None,
        private_key: str | None = None,
        bot_login: str | None = None,
        retry: RetryPolicy | None = None,
        stats: ForgeStats | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        timeout: float = DEFAULT_GITHUB_TIMEOUT_SECONDS,
        allowed_repositories: frozenset[str] | None = None,
        cache_size: int = 64,
        token_refresh_margin: float = 300.0,
    ) -> None:
        if (token is None) == (app_id is None or private_key is None):
            raise ValueError("give either a token, or an App id and its private key")
        self.base_url = base_url.rstrip("/")
        self.stats = stats or ForgeStats()
        self._retry = retry or RetryPolicy()
        self._sleep, self._clock, self._rand = sleep, clock, rand
        self._timeout = timeout
        self._allowed = allowed_repositories
        self._cache_size = cache_size
        self._margin = token_refresh_margin
        self._lock = threading.Lock()
        self._forges: OrderedDict[int, GitHubForge] = OrderedDict()
        self._bot_login = bot_login
        self._app_auth: Auth.AppAuth | None = None
        self._token_forge: GitHubForge | None = None
        if token is not None:
            self._token_forge = self._forge(Auth.Token(token), app_mode=False)
        else:
            assert app_id is not None
            assert private_key is not None
            self._app_auth = Auth.AppAuth(app_id, private_key)

    @classmethod
    def from_settings(cls, settings: BotSettings, **kwargs: Any) -> GitHubForgeProvider:
        mode = settings.auth_mode  # raises SettingsError when credentials are missing
        common: dict[str, Any] = {
            "base_url": settings.github_api_url,
            "bot_login": settings.bot_login,
            "allowed_repositories": settings.repositories,
            "retry": RetryPolicy.from_settings(settings),
            "timeout": settings.github_timeout_seconds,
            **kwargs,
        }
        if mode == "token":
            assert settings.github_token is not None
            return cls(token=settings.github_token.get_secret_value(), **common)
        assert settings.github_app_id is not None
        assert settings.github_private_key is not None
        return cls(
            app_id=settings.github_app_id,
            private_key=settings.github_private_key.get_secret_value(),
            **common,
        )

    @property
    def app_mode(self) -> bool:
        return self._app_auth is not None

    def _forge(self, auth: Auth.Auth, *, app_mode: bool) -> GitHubForge:
        return GitHubForge(
            _client(auth, self.base_url, self._timeout),
            bot_login=self._resolve_bot_login,
            retry=self._retry,
            stats=self.stats,
            sleep=self._sleep,
            clock=self._clock,
            rand=self._rand,
            allowed_repositories=self._allowed,
            app_mode=app_mode,
        )

    def for_installation(self, installation_id: int | None) -> GitHubForge:
        if self._token_forge is not None:
            return self._token_forge
        if installation_id is None:
            raise ForgeError("for_installation", None, "App mode needs the webhook's installation id")
        assert self._app_auth is not None
        with self._lock:
            forge = self._forges.get(installation_id)
            if forge is not None:
                self._forges.move_to_end(installation_id)
                return forge
            auth = _InstallationAuth(
                self._app_auth,
                int(installation_id),
                stats=self.stats,
                clock=self._clock,
                refresh_margin=self._margin,
            )
            forge = self._forges[installation_id] = self._forge(auth, app_mode=True)
            while len(self._forges) > self._cache_size:
                _, evicted = self._forges.popitem(last=False)
                evicted.close()
            return forge

    def _resolve_bot_login(self) -> str:
        """MODBOT_BOT_LOGIN, else asked once: the App's slug + ``[bot]`` (GET /app with the App's JWT),
        or the token's user (GET /user)."""
        with self._lock:
            if self._bot_login is not None:
                return self._bot_login
        if self._app_auth is not None:
            app = GitHubForge(
                _client(self._app_auth, self.base_url, self._timeout),
                bot_login="",
                retry=self._retry,
                stats=self.stats,
                sleep=self._sleep,
                clock=self._clock,
                rand=self._rand,
            )
            try:
                login = f"{app._get('get_app', '/app')['slug']}[bot]"
            finally:
                app.close()
        else:
            assert self._token_forge is not None
            login = str(self._token_forge._get("get_user", "/user")["login"])
        with self._lock:
            self._bot_login = login
        return login

    def close(self) -> None:
        with self._lock:
            forges = list(self._forges.values())
            self._forges.clear()
        for forge in forges:
            forge.close()
        if self._token_forge is not None:
            self._token_forge.close()
