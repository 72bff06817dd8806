"""`GitHubMock`: a `responses.RequestsMock` that only serves what GitHub's REST description allows.

* ``add(method, path_or_url, json=..., status=...)`` checks *at once* that the endpoint exists and that the
  mocked response (status and body) matches the description, so a test cannot mock an endpoint GitHub
  does not have or a response of the wrong shape.
* Every request made while the mock is active (any HTTP client built on `requests`, e.g. PyGithub) goes
  through one callback per HTTP method for the configured base URL, which checks the endpoint, path and
  query parameters and JSON body (`GitHubAPI.check_request`), records a `Call`, and serves the first
  unused mock registered for that method and path (the last one repeats, as in `responses`). Query
  strings take no part in choosing a mock.
* ``serve(method, template, respond)`` answers every request to a route template (e.g.
  ``/repos/{owner}/{repo}/issues/{issue_number}/comments``) that no mock above serves by calling
  ``respond(call, match)``: a stand-in GitHub with state (what a POST created, a GET lists), which may
  also fail on purpose after doing the work (answer 502, or raise a `requests` exception for a timeout).
  Documented answers are validated like mocked ones.
* A request that fails validation, or has no mock, raises `ConformanceError` (an `AssertionError`)
  into the code under test *and* is kept in ``failures``; the pytest fixture fails the test at teardown
  if any are left, so an error swallowed by a broad ``except`` cannot go unnoticed. Tests that provoke
  failures on purpose take them with ``pop_failures()``.
"""

from __future__ import annotations

import json as jsonlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import unquote

import responses
from requests import PreparedRequest

from .rest import (
    ConformanceError,
    GitHubAPI,
    Match,
    Operation,
    normalize_base_url,
    split_url,
)

DEFAULT_BASE_URL = "https://api.github.com"
MOCKED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
_UNSET: Any = object()


class UnmockedRequestError(ConformanceError):
    """A valid GitHub request that the test did not mock."""


@dataclass
class Call:
    """One request the code under test made, as seen by the mock."""

    method: str
    url: str
    path: str  # API path: no base path, no query
    query: dict[str, list[str]]
    body: bytes | None
    json: Any  # the decoded JSON body, or None
    headers: dict[str, str] = field(repr=False)
    operation_id: str | None = None
    status: int | None = None  # status served; None when the request failed validation or was unmocked
    error: ConformanceError | None = None


@dataclass
class Route:
    """One mocked response."""

    method: str
    path: str
    operation: Operation
    status: int
    body: bytes
    headers: dict[str, str]
    calls: list[Call] = field(default_factory=list)

    @property
    def called(self) -> bool:
        return bool(self.calls)


def _base_regex(base_url: str) -> re.Pattern[str]:
    scheme, netloc, base_path = normalize_base_url(base_url)
    default_port = {"https": "443", "http": "80"}.get(scheme)
    port = f"(?::{default_port})?" if default_port and ":" not in netloc else ""
    return re.compile(
        rf"^{re.escape(scheme)}://{re.escape(netloc)}{port}{re.escape(base_path)}(?:[/?#]|$)", re.I
    )


def _as_bytes(body: bytes | str | None) -> bytes | None:
    if body is None:
        return None
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


Responder = Callable[[Call, Match], tuple[int, Any]]
"""What a served route answers: (status, JSON body; None for no body). May raise a `requests` error."""


class GitHubMock:
    """Mocks GitHub's REST API at ``base_url``, validating both sides against ``api``."""

    def __init__(self, api: GitHubAPI, base_url: str = DEFAULT_BASE_URL) -> None:
        self.api = api
        self.base_url = base_url.rstrip("/")
        self.responses = responses.RequestsMock(assert_all_requests_are_fired=False)
        self.routes: list[Route] = []
        self.calls: list[Call] = []
        self.failures: list[ConformanceError] = []
        self.responders: dict[tuple[str, str], Responder] = {}
        base = _base_regex(self.base_url)
        for method in MOCKED_METHODS:
            self.responses.add_callback(method, base, callback=self._dispatch)

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> GitHubMock:
        self.responses.start()
        return self

    def stop(self) -> None:
        self.responses.stop()
        self.responses.reset()

    def __enter__(self) -> GitHubMock:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        if exc_type is None:
            self.assert_no_failures()

    # --- mocking -------------------------------------------------------------------------------
    def add(
        self,
        method: str,
        path_or_url: str,
        json: Any = _UNSET,
        *,
        status: int | None = None,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> Route:
        """Mock ``method path_or_url`` (an API path like ``/repos/o/r/pulls/1`` or a full URL; any query
        string is ignored) with a response validated right now against GitHub's description.

        ``status`` defaults to the operation's first documented 2xx status. Give the body as ``json``
        (any JSON value, ``None`` included) or raw ``body``; with neither, the response has no body.
        """
        method = method.upper()
        url_without_query = path_or_url.split("?", 1)[0]
        match = self.api.resolve(method, url_without_query, base_url=self.base_url)
        op = match.operation
        status = status if status is not None else self.api.default_status(op)
        out_headers = dict(headers or {})
        if json is not _UNSET:
            if body is not None:
                raise TypeError("give either json= or body=, not both")
            self.api.validate_response_body(op, status, json, content_type=content_type)
            raw = jsonlib.dumps(json).encode("utf-8")
            out_headers.setdefault("Content-Type", content_type or "application/json; charset=utf-8")
        else:
            raw = _as_bytes(body) or b""
            self.api.validate_response_body(
                op, status, raw if body is not None else None, content_type=content_type
            )
            if content_type:
                out_headers.setdefault("Content-Type", content_type)
        route = Route(
            method=method, path=match.path, operation=op, status=status, body=raw, headers=out_headers
        )
        self.routes.append(route)
        return route

    def serve(self, method: str, template: str, respond: Responder) -> None:
        """Answer ``method template`` (a route template of GitHub's description) with ``respond`` whenever
        no mock added with `add` serves the request."""
        method = method.upper()
        if not any(op.method == method and op.template == template for op in self.api.operations):
            raise ConformanceError(f"GitHub has no {method} {template}")
        self.responders[(method, template)] = respond

    def example(self, method: str, path_or_url: str, status: int | None = None, **kwargs: Any) -> Any:
        """The documented example response (see `GitHubAPI.example`), to adjust and pass to `add`."""
        url_without_query = path_or_url.split("?", 1)[0]
        path, _ = split_url(url_without_query, self.base_url if "://" in url_without_query else None)
        return self.api.example(method, path, status, **kwargs)

    # --- serving -------------------------------------------------------------------------------
    def _dispatch(self, request: PreparedRequest) -> tuple[int, Mapping[str, str], bytes]:
        method = (request.method or "GET").upper()
        url = request.url or ""
        raw_body = request.body
        body = _as_bytes(raw_body) if isinstance(raw_body, bytes | str) else None
        headers = {k: v.decode("latin-1") if isinstance(v, bytes) else v for k, v in request.headers.items()}
        decoded: Any = None
        if body:
            try:
                decoded = jsonlib.loads(body)
            except ValueError:
                decoded = None
        try:
            path, query = split_url(url, self.base_url)
        except ConformanceError:
            path, query = url, {}
        call = Call(method=method, url=url, path=path, query=query, body=body, json=decoded, headers=headers)
        self.calls.append(call)
        try:
            match = self.api.check_request(
                method, url, body, content_type=headers.get("Content-Type"), base_url=self.base_url
            )
            call.operation_id = match.operation.operation_id
            route = self._route_for(method, match.path)
            responder = self.responders.get((method, match.operation.template))
            if route is None and responder is not None:
                return self._respond(call, match, responder)
            if route is None:
                raise UnmockedRequestError(
                    f"no mock for {method} {match.path} ({match.operation.operation_id}); add one, e.g. "
                    f"github_api.add({method!r}, {match.path!r}, json=github_api.example({method!r}, "
                    f"{match.path!r}))"
                )
        except ConformanceError as error:
            call.error = error
            self.failures.append(error)
            raise
        route.calls.append(call)
        call.status = route.status
        return route.status, route.headers, route.body

    def _respond(
        self, call: Call, match: Match, responder: Responder
    ) -> tuple[int, Mapping[str, str], bytes]:
        call.operation_id = match.operation.operation_id
        status, data = responder(call, match)  # a requests exception propagates: no answer at all
        if str(status) in match.operation.statuses:
            try:
                self.api.validate_response_body(match.operation, status, data)
            except ConformanceError as error:
                call.error = error
                self.failures.append(error)
                raise
        call.status = status
        body = b"" if data is None else jsonlib.dumps(data).encode("utf-8")
        return status, {"Content-Type": "application/json; charset=utf-8"}, body

    def _route_for(self, method: str, path: str) -> Route | None:
        wanted = unquote(path)
        matching = [r for r in self.routes if r.method == method and unquote(r.path) == wanted]
        for route in matching:
            if not route.called:
                return route
        return matching[-1] if matching else None

    # --- assertions ----------------------------------------------------------------------------
    def pop_failures(self) -> list[ConformanceError]:
        """Take the recorded failures (for tests that provoke them on purpose)."""
        failures, self.failures = self.failures, []
        return failures

    def assert_no_failures(self) -> None:
        if self.failures:
            details = "\n".join(f"- {f}" for f in self.failures)
            raise ConformanceError(
                f"{len(self.failures)} GitHub request(s) failed conformance checks (possibly swallowed by "
                f"the code under test):\n{details}"
            )

    def assert_all_used(self) -> None:
        unused = [f"{r.method} {r.path}" for r in self.routes if not r.called]
        if unused:
            raise AssertionError(f"mocked but never requested: {unused}")

    def calls_to(self, method: str, path: str) -> list[Call]:
        """The recorded calls for ``method path`` (an API path, compared without query)."""
        wanted = unquote(path.split("?", 1)[0])
        return [c for c in self.calls if c.method == method.upper() and unquote(c.path) == wanted]
