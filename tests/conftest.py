"""Shared pytest configuration for the modbot test suite."""

# GitHub conformance fixtures (github_api, github_rest_spec): see tests/github_conformance/.
from tests.github_conformance.plugin import github_api, github_rest_spec  # noqa: F401
