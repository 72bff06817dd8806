"""The forge: what handlers may ask of the place the repository lives, as a small typed interface of our own.

The use cases take a `Forge` and never see PyGithub (only the `bot.forge.github` package imports it),
so they stay pure and are tested against `tests.fakes.FakeForge`; a contract suite
(tests/contract/test_forge_contract.py) runs the same checks against the fake, against `GitHubForge`
behind GitHub's published API description and against `LocalForge` on real git, so the fake cannot
drift from the real things.

- `bot.forge.ports`: the capabilities (files and refs, change requests and reviews, comments,
  reactions, check runs, commit statuses, deployments, workflow runs, permissions) as small protocols,
  `Forge` their composition, and how a forge declines one (``capabilities``, `CapabilityDeclined`);
- `bot.forge.values`: what a forge returns, and `ForgeError`;
- `bot.forge.arguments`: the argument checks every forge makes before a call (ValueError);
- `bot.forge.calls`: per-task call counting and the write fence, around every request of every forge;
- `bot.forge.github`: the GitHub forge (its limits, REST bodies, JSON conversions, client and auth).

Failures raise `ForgeError` (never PyGithub's exceptions). This module re-exports the interface.
"""

from __future__ import annotations

from bot.forge.arguments import (
    check_limit,
    normalize_ref,
    validate_login,
    validate_org,
    validate_path,
    validate_repo,
    validate_tag_prefix,
    validate_team_slug,
    validate_workflow,
)
from bot.forge.calls import CallCounter, check_write_fence, count_calls, record_call, write_fence
from bot.forge.ports import (
    CAPABILITY_PROTOCOLS,
    CHECK_OUTPUT_LIMIT,
    COMMENT_LIMIT,
    STATUS_DESCRIPTION_LIMIT,
    Capability,
    CapabilityDeclined,
    ChangeRequests,
    CheckRuns,
    Comments,
    CommitStatuses,
    Deployments,
    FilesAndRefs,
    Forge,
    ForgeProvider,
    Permissions,
    Reactions,
    WorkflowRuns,
    require,
    supports,
)
from bot.forge.values import (
    PERMISSIONS,
    Annotation,
    AnnotationLevel,
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
)

__all__ = [
    "CAPABILITY_PROTOCOLS",
    "CHECK_OUTPUT_LIMIT",
    "COMMENT_LIMIT",
    "PERMISSIONS",
    "STATUS_DESCRIPTION_LIMIT",
    "Annotation",
    "AnnotationLevel",
    "CallCounter",
    "Capability",
    "CapabilityDeclined",
    "ChangeRequests",
    "CheckRun",
    "CheckRuns",
    "Comment",
    "Comments",
    "CommitInfo",
    "CommitStatus",
    "CommitStatuses",
    "Deployment",
    "DeploymentStatus",
    "Deployments",
    "FilesAndRefs",
    "Forge",
    "ForgeError",
    "ForgeProvider",
    "Permission",
    "Permissions",
    "PullRequest",
    "Reactions",
    "Ref",
    "Review",
    "TagObject",
    "WorkflowRun",
    "WorkflowRuns",
    "check_limit",
    "check_write_fence",
    "count_calls",
    "normalize_ref",
    "record_call",
    "require",
    "supports",
    "validate_login",
    "validate_org",
    "validate_path",
    "validate_repo",
    "validate_tag_prefix",
    "validate_team_slug",
    "validate_workflow",
    "write_fence",
]
