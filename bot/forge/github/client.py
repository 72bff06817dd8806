"""The GitHub REST client under `GitHubForge`: the request loop with its retries, pagination, redaction,
call counting and metrics. With the rest of `bot.forge.github`, the only code of modbot that imports PyGithub.

PyGithub provides the authentication (a GitHub App's JWT, installation tokens and their refresh; or a
plain token), the HTTP session, GitHub Enterprise Server base URLs and error mapping. Requests go through
its public ``Requester.requestJsonAndCheck`` with explicit paths and bodies rather than through its typed
objects, because the typed layer adds calls or gets URLs wrong for what we need: a lazy ``GitRef.edit``
PATCHes ``/git/ref/…`` (GitHub only has ``PATCH /git/refs/…``; the conformance harness rejects it),
permission and role name are two GETs (one answer holds both), and its paginated lists hide the page
requests we must retry, count and stop early. Paths are built from the repository's full name, so no
object is ever fetched just to learn its URL. Every request shape is checked against GitHub's OpenAPI
description in tests (tests/unit/test_forge_github.py).

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

import email.utils
import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import requests
from github import Github, GithubException

from bot import __version__
from bot.config import (
    DEFAULT_GITHUB_MAX_ATTEMPTS,
    DEFAULT_GITHUB_MAX_WAIT_SECONDS,
    DEFAULT_GITHUB_RETRY_BASE_SECONDS,
    DEFAULT_GITHUB_RETRY_CAP_SECONDS,
    DEFAULT_GITHUB_RETRY_JITTER_SECONDS,
    DEFAULT_GITHUB_SECONDARY_WAIT_SECONDS,
)
from bot.domain.text import redact_text
from bot.forge import (
    ForgeError,
    check_write_fence,
    record_call,
    validate_repo,
)
from bot.forge.github.routes import route_template

if TYPE_CHECKING:
    from bot.config import BotSettings


# Logged under the package's name, as before the package was split (log filters and tests select on it).
log = logging.getLogger("bot.forge.github")

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


def error_message(data: Any) -> str:
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


def unanswered(error: ForgeError) -> bool:
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


@runtime_checkable
class _Renewable(Protocol):
    """An authentication whose token can be dropped and exchanged again (`auth.InstallationAuth`)."""

    def invalidate(self) -> None: ...


# --- the client -------------------------------------------------------------------------------------
class GitHubClient:
    """One authenticated GitHub client (one installation, or a token) and its request loop; `GitHubForge`
    adds the `bot.forge.Forge` operations on top."""

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
                status, headers, message = exc.status, exc.headers, error_message(exc.data)
                outcome = "ok" if status == 404 and not_found else _outcome(status, headers, message)
                self.stats.record_latency(url, verb, outcome, time.perf_counter() - started)
                if status == 404 and not_found:
                    return None
                if status == 401 and attempt == 1 and isinstance(self._auth, _Renewable):
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
