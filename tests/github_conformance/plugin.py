"""pytest fixtures; `tests/conftest.py` imports them.

* ``github_rest_spec`` (session): the shared `GitHubAPI` for api.github.com (loaded once per process).
* ``github_api``: a started `GitHubMock` on ``https://api.github.com``; fails the test at teardown if a
  request failed validation or was unmocked (even if the code under test swallowed the error). For
  another base URL or description, parametrize it indirectly::

      @pytest.mark.parametrize(
          "github_api", [{"base_url": "https://ghe.example.com/api/v3", "description": "ghes-3.19"}],
          indirect=True,
      )
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .mock import DEFAULT_BASE_URL, GitHubMock
from .rest import GitHubAPI, load_api


@pytest.fixture(scope="session")
def github_rest_spec() -> GitHubAPI:
    return load_api()


@pytest.fixture
def github_api(request: pytest.FixtureRequest, github_rest_spec: GitHubAPI) -> Iterator[GitHubMock]:
    options = dict(getattr(request, "param", None) or {})
    description = options.pop("description", None)
    base_url = options.pop("base_url", DEFAULT_BASE_URL)
    if options:
        raise TypeError(f"unknown github_api options: {sorted(options)}")
    api = load_api(description) if description else github_rest_spec
    mock = GitHubMock(api, base_url=base_url).start()
    try:
        yield mock
    finally:
        mock.stop()
    mock.assert_no_failures()
