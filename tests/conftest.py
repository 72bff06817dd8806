"""Shared pytest configuration for the modbot test suite."""

# GitHub conformance fixtures (github_api, github_rest_spec): see tests/github_conformance/.
# The chat-ops world and its store and clock (tests/chatops_world.py); a module's own fixture of the same name wins.
from tests.chatops_world import clock, store, world  # noqa: F401
from tests.github_conformance.plugin import github_api, github_rest_spec  # noqa: F401
