"""The GitHub forge: `bot.forge.Forge` over GitHub's REST API, and the only package of modbot that imports
PyGithub.

- ``client``: the request loop (retries, rate limits, pagination, redaction of secrets, call counting,
  metrics), ``auth``: PyGithub's client for a token or an App installation and the installation token's
  refresh, ``conversions``: GitHub's JSON to the forge's values and back to REST bodies (pure),
  ``routes``: request URLs as route templates (metric labels), ``forge``: `GitHubForge` (the operations)
  and `GitHubForgeProvider` (one forge per installation).

What the rest of modbot uses is re-exported here.
"""

from bot.forge.github.client import ForgeStats, RetryPolicy, redact
from bot.forge.github.forge import GitHubForge, GitHubForgeProvider

__all__ = [
    "ForgeStats",
    "GitHubForge",
    "GitHubForgeProvider",
    "RetryPolicy",
    "redact",
]
