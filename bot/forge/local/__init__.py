"""The local forge (single-host mode): a bare git repository on disk is the system of record, the
store keeps what git cannot (change requests, reviews, comments, checks, deployments, runs).

- `bot.forge.local.git`: the git layer (the git CLI by argv; why in its docstring);
- `bot.forge.local.files`, `changes`, `checks`: the capabilities; `forge.LocalForge` is all of them;
- `bot.forge.local.records`: what the forge needs of the store (`bot.store.LocalForgeStore` is it);
- `bot.forge.local.events`: what happens here, as `bot.forge.events` typed events queued with the records
  they announce (an outbox);
- `bot.forge.local.hook`: the post-receive hook that turns ``git push`` into events.
"""

from bot.forge.local.base import DEFAULT_EMAIL_DOMAIN, LocalForgeError, RoleOf
from bot.forge.local.events import announcement
from bot.forge.local.forge import LocalForge, LocalForgeProvider
from bot.forge.local.git import GitError, GitRepository, Identity, MergeConflict, RefMoved

__all__ = [
    "DEFAULT_EMAIL_DOMAIN",
    "GitError",
    "GitRepository",
    "Identity",
    "LocalForge",
    "LocalForgeError",
    "LocalForgeProvider",
    "MergeConflict",
    "RefMoved",
    "RoleOf",
    "announcement",
]
