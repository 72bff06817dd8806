"""The build workflow's steps, as the local runner runs them: one list, in the workflow's order.

Each `modbot pipeline` step carries the words of its `run:` line in the rendered build workflow
(templates/workflows/build.yml.j2), `$VARIABLES` unexpanded, and where that line is (job and step
name); tests/unit/test_host_steps.py reads the rendered workflow and fails if the two ever differ. The
runner expands each `$VARIABLE` word into one argv word (never a shell, never split again).

The steps GitHub provides (check out, set up Python and Rust, the cargo cache, the artifact and
the container image) are the runner's own: `checkout` (a clone of the local repository at the
commit), `stage` (the binary into releases/.staging-<id>/; its digest stands for the image digest)
and `finalize` (release.json next to it, the folder renamed into place).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

StepKind = Literal["modbot", "internal"]
_VAR_RE = re.compile(r"\$([A-Z_][A-Z0-9_]*)")


class StepError(ValueError):
    """A step's words name a variable the runner did not set."""


@dataclass(frozen=True, slots=True)
class StepSpec:
    key: str  # the run record's step id and the log file's name
    title: str
    kind: StepKind
    words: tuple[str, ...] = ()  # `modbot ...` as in the workflow's run: line
    job: str = ""  # where that run: line is in the rendered build workflow
    workflow_step: str = ""  # its step name (a prefix, for the per-environment promote steps)
    per_environment: bool = False  # once per auto_deploy environment
    needs_build: bool = False  # skipped when the plan reuses an existing release

    def argv(self, values: Mapping[str, str]) -> list[str]:
        """The words with every `$NAME` word replaced by its value (a value stays one word)."""
        return [expand_word(word, values) for word in self.words]


def expand_word(word: str, values: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise StepError(f"the step uses ${name}, which the runner did not set")
        return values[name]

    return _VAR_RE.sub(value, word)


def _words(line: str) -> tuple[str, ...]:
    return tuple(line.split())  # the run: line without its quotes (no word of these has a space)


BUILD_STEPS: tuple[StepSpec, ...] = (
    StepSpec("checkout", "Check out", "internal"),
    StepSpec(
        "plan",
        "Plan the release",
        "modbot",
        _words("modbot pipeline release plan --config $MODBOT_CONFIG --format github"),
        job="plan",
        workflow_step="Plan the release",
    ),
    StepSpec(
        "features",
        "Cargo arguments for the manifest",
        "modbot",
        _words("modbot pipeline features --config $MODBOT_CONFIG"),
        job="check",
        workflow_step="Cargo arguments for the manifest",
        needs_build=True,
    ),
    StepSpec(
        "build",
        "Build with exactly the manifest's features",
        "modbot",
        _words(
            "modbot pipeline build --config $MODBOT_CONFIG --release-id $RELEASE_ID "
            "--expect-manifest-hash $MANIFEST_HASH --format github"
        ),
        job="build",
        workflow_step="Build with exactly the manifest's features",
        needs_build=True,
    ),
    StepSpec("stage", "Stage the server binary", "internal", needs_build=True),
    StepSpec(
        "release",
        "Create and push release/<id>",
        "modbot",
        _words(
            "modbot pipeline release create --config $MODBOT_CONFIG --release-id $RELEASE_ID "
            "--image-digest $IMAGE_DIGEST --build-id $BUILD_ID --git-sha $GITHUB_SHA --push"
        ),
        job="release",
        workflow_step="Create and push release/<id>",
        needs_build=True,
    ),
    StepSpec("finalize", "Write releases/<id>", "internal", needs_build=True),
    StepSpec(
        "promote",
        "Move deploy/<env> to the new release",
        "modbot",
        _words(
            "modbot pipeline promote --config $MODBOT_CONFIG --environment $ENVIRONMENT "
            "--release $RELEASE_ID --push"
        ),
        job="promote",
        workflow_step="Move deploy/",
        per_environment=True,
        needs_build=True,
    ),
)


def modbot_steps() -> list[StepSpec]:
    return [step for step in BUILD_STEPS if step.kind == "modbot"]


def checkout_commands(repository: Path, work: Path, commit: str, *, fresh: bool) -> list[list[str]]:
    """The `checkout` step: `work` at `commit`, with every branch and tag as the repository has them
    (release ids, build-key reuse). The folder is reused between runs: `checkout --force` rewrites only
    the files that changed, so cargo's fingerprints (paths and file times) keep builds incremental."""
    commands = [["git", "clone", "--quiet", "--no-checkout", str(repository), str(work)]] if fresh else []
    return [
        *commands,
        ["git", "remote", "set-url", "origin", str(repository)],
        [
            "git",
            "fetch",
            "--quiet",
            "--force",
            "--prune",
            "--prune-tags",
            "origin",
            "+refs/heads/*:refs/remotes/origin/*",
            "+refs/tags/*:refs/tags/*",
        ],
        ["git", "checkout", "--quiet", "--force", "--detach", commit],
        ["git", "clean", "-ffdxq"],
    ]
