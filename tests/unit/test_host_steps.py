"""The local runner runs the build workflow's own commands: its step list (bot/host/steps.py) is checked
word for word against the `run:` lines of the rendered workflow (workflows/monolith/modbot-build.yml,
itself checked against a fresh render by test_workflows_render), in the same order, and every
`modbot pipeline` command of the release path has its runner step."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.host.steps import BUILD_STEPS, StepError, StepSpec, expand_word, modbot_steps
from tests.corpus import ROOT

WORKFLOW = ROOT / "workflows" / "monolith" / "modbot-build.yml"
RELEASE_PATH_JOBS = ("plan", "build", "release", "promote")


def load(path: Path = WORKFLOW) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    return doc


def run_words(script: str) -> list[str]:
    """A run: script as bash reads it: line continuations joined, then split into words."""
    return shlex.split(script.replace("\\\n", " "))


def workflow_step(doc: dict[str, Any], spec: StepSpec) -> dict[str, Any]:
    steps = doc["jobs"][spec.job]["steps"]
    if spec.per_environment:
        found = [s for s in steps if str(s.get("name", "")).startswith(spec.workflow_step)]
    else:
        found = [s for s in steps if s.get("name") == spec.workflow_step]
    assert len(found) == 1, f"{spec.job}: {spec.workflow_step!r} found {len(found)} times"
    return found[0]


@pytest.mark.parametrize("spec", modbot_steps(), ids=lambda s: s.key)
def test_each_runner_step_is_the_workflows_run_line(spec: StepSpec) -> None:
    step = workflow_step(load(), spec)
    assert run_words(step["run"]) == list(spec.words)


def test_every_release_path_command_has_its_runner_step() -> None:
    doc = load()
    commands = [
        run_words(step["run"])
        for job in RELEASE_PATH_JOBS
        for step in doc["jobs"][job]["steps"]
        if "modbot pipeline" in step.get("run", "")
    ]
    assert commands  # the workflow still runs modbot
    runner = [list(spec.words) for spec in modbot_steps()]
    for words in commands:
        assert words in runner, f"the workflow runs {shlex.join(words)}, the runner does not"


def test_order_follows_the_jobs_needs() -> None:
    doc = load()
    keys = [spec.key for spec in BUILD_STEPS]
    assert keys.index("plan") < keys.index("features") < keys.index("build")
    assert keys.index("build") < keys.index("stage") < keys.index("release") < keys.index("finalize")
    assert keys.index("finalize") < keys.index("promote")
    jobs = doc["jobs"]
    assert jobs["build"]["needs"] == "plan"
    assert set(jobs["image"]["needs"]) == {"plan", "build"}
    assert set(jobs["release"]["needs"]) == {"plan", "image"}
    assert set(jobs["promote"]["needs"]) == {"plan", "release"}


def test_a_drifted_workflow_is_caught(tmp_path: Path) -> None:
    spec = next(s for s in modbot_steps() if s.key == "build")
    drifted = WORKFLOW.read_text().replace('--expect-manifest-hash "$MANIFEST_HASH"', "")
    path = tmp_path / "build.yml"
    path.write_text(drifted)
    assert run_words(workflow_step(load(path), spec)["run"]) != list(spec.words)


def test_variables_expand_into_one_word_each() -> None:
    spec = next(s for s in modbot_steps() if s.key == "promote")
    argv = spec.argv({"MODBOT_CONFIG": "a b/.github/modbot.toml", "ENVIRONMENT": "staging; rm -rf /",
                      "RELEASE_ID": "rel_2026_12_07_001"})  # fmt: skip
    assert argv[argv.index("--config") + 1] == "a b/.github/modbot.toml"
    assert argv[argv.index("--environment") + 1] == "staging; rm -rf /"
    with pytest.raises(StepError, match=r"\$NOPE"):
        expand_word("$NOPE", {})
