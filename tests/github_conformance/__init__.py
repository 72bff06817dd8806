"""Check the bot's GitHub traffic in tests against GitHub's own published descriptions.

Sources (npm, pinned in package.json / package-lock.json, installed into node_modules/ by `make`):
``@octokit/openapi`` (REST, OpenAPI 3.0.3), ``@octokit/openapi-webhooks`` (webhook schemas, OpenAPI 3.1)
and ``@octokit/webhooks-examples`` (real webhook payloads). Nothing from them is copied into the repo.

Import it as ``tests.github_conformance`` (as tests/conftest.py does), never as a bare
``github_conformance``: two import names would mean two module copies, with separate caches and
distinct exception classes.

Usage in a test::

    def test_posts_sticky_comment(github_api):
        github_api.add("GET", "/repos/o/r", json=github_api.example("GET", "/repos/o/r"))
        github_api.add("POST", "/repos/o/r/issues/1/comments",
                       json=github_api.example("POST", "/repos/o/r/issues/1/comments"))
        ...  # run code that uses PyGithub / requests against https://api.github.com
        [call] = github_api.calls_to("POST", "/repos/o/r/issues/1/comments")
        assert call.json == {"body": "..."}

    def test_webhook():
        payload = webhook_example("pull_request", "opened")
        payload["pull_request"]["title"] = "Bump module"
        validate_webhook("pull_request", payload)
"""

from .mock import DEFAULT_BASE_URL, Call, GitHubMock, Route, UnmockedRequestError
from .rest import (
    ConformanceError,
    GitHubAPI,
    Match,
    MethodNotAllowedError,
    Operation,
    RequestConformanceError,
    ResponseConformanceError,
    UnknownEndpointError,
    load_api,
)
from .webhooks import (
    WebhookConformanceError,
    WebhookSchemas,
    load_webhook_schemas,
    validate_webhook,
    webhook_events,
    webhook_example,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "Call",
    "ConformanceError",
    "GitHubAPI",
    "GitHubMock",
    "Match",
    "MethodNotAllowedError",
    "Operation",
    "RequestConformanceError",
    "ResponseConformanceError",
    "Route",
    "UnknownEndpointError",
    "UnmockedRequestError",
    "WebhookConformanceError",
    "WebhookSchemas",
    "load_api",
    "load_webhook_schemas",
    "validate_webhook",
    "webhook_events",
    "webhook_example",
]
