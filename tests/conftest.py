"""Shared pytest configuration for the modbot test suite."""

# GitHub conformance fixtures (github_api, github_rest_spec): see tests/github_conformance/.
# The chat-ops world and its store and clock (tests/chatops_world.py); a module's own fixture of the same name wins.
# Single-host mode's session-wide cargo target folder and checkout (tests/host_world.py).
from tests.chatops_world import clock, store, world  # noqa: F401
from tests.github_conformance.plugin import github_api, github_rest_spec  # noqa: F401
from tests.host_world import host_cargo_cache  # noqa: F401
