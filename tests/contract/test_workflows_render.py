"""The generated workflows (bot/workflows.py, templates/workflows/): rendering for both profiles, the
committed `workflows/` against a fresh render (drift), the security audits (one harness call for
every rendered file), structural security rules read with a YAML parser, and hostile config values.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import main
from bot.manifest.model import Manifest
from bot.manifest.validate import validate_file
from bot.pipeline.config import RepositoryPolicy, load_pipeline_config, parse_pipeline_config
from bot.pipeline.version import TEMPLATE_VERSION
from bot.workflows import (
    ACTIONS,
    WORKFLOW_FILES,
    RenderError,
    check_workflows,
    expr_str,
    inputs_digest,
    parse_header,
    render_workflows,
    yaml_str,
)
from tests.corpus import ROOT
from tests.workflow_audit import Finding, audit_workflows

EXAMPLES = {
    "monolith": ROOT / "examples" / "rustok-mini",
    "headless": ROOT / "examples" / "headless",
}
RENDERED = ROOT / "workflows"
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>.+?)\s*$")


def load(profile: str) -> tuple[RepositoryPolicy, Manifest]:
    root = EXAMPLES[profile]
    config = load_pipeline_config(root / ".github" / "modbot.toml")
    result = validate_file(root / config.build.manifest)
    assert result.valid, result.problems
    assert result.manifest is not None
    return config, result.manifest


# libyaml's parser when present (20x faster than the pure-Python ones; the hostile-value tests parse
# hundreds of renders)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse(text: str) -> dict[str, Any]:
    doc = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    assert isinstance(doc, dict)
    if True in doc:  # YAML 1.1 reads the key `on` as a boolean
        doc["on"] = doc.pop(True)
    return doc


def with_(model: Any, path: str, value: Any) -> Any:
    """A copy of a frozen pydantic model with the dotted `path` replaced, unvalidated (to prove the
    renderer's own checks, behind the config's)."""
    head, _, rest = path.partition(".")
    if "[" in head:
        name, index = head[:-1].split("[")
        items = list(getattr(model, name))
        items[int(index)] = with_(items[int(index)], rest, value) if rest else value
        return model.model_copy(update={name: items})
    return model.model_copy(update={head: with_(getattr(model, head), rest, value) if rest else value})


# --- variants: every template branch, rendered once per test session ------------------------------

VARIANT_TOML = """
[build]
package = "rustok-server"
manifest = "deploy+ops/modules.toml"
cargo_toml = "server/apps/server/Cargo.toml"
workspace = "server"
toolchain = "nightly-2026-01-15"
key_paths = []

[image]
registry = "registry.example.com:5000"
repository = "platform/rustok-server"
dockerfile = "docker/server.Dockerfile"
context = "server"

[[environments]]
name = "qa"
url = "https://qa.example.com/base/"
backend = "compose"
compose = { file = "deploy/compose.yml", service = "server" }

[[environments]]
name = "prod-eu"
url = "https://eu.example.com"
health_token_env = "PROD_HEALTH"
backend = "command"
command = "./deploy/rollout.sh {environment} {image}"

[workflows]
modbot_install = "modbot @ git+https://github.com/rustok/modbot@0123456789abcdef0123456789abcdef01234567"
default_branch = "trunk"
runs_on = "ubuntu-24.04"
python_version = "3.12"
"""


def variant() -> tuple[RepositoryPolicy, Manifest]:
    """No GHCR (registry credentials), compose and command backends, no auto_deploy, a workspace in
    a sub-folder, a target triple, a `+` in paths (escaped in path filters)."""
    config = parse_pipeline_config(VARIANT_TOML)
    _, manifest = load("monolith")
    build = manifest.build.model_copy(update={"target": "x86_64-unknown-linux-musl"})
    return config, manifest.model_copy(update={"build": build})


@pytest.fixture(scope="module")
def renders() -> dict[str, dict[str, str]]:
    out = {profile: render_workflows(*load(profile)) for profile in EXAMPLES}
    out["variant"] = render_workflows(*variant())
    return out


@pytest.fixture(scope="module")
def docs(renders: dict[str, dict[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (profile, name): parse(text) for profile, files in renders.items() for name, text in files.items()
    }


@pytest.fixture(scope="module")
def audit(renders: dict[str, dict[str, str]], tmp_path_factory: pytest.TempPathFactory) -> list[Finding]:
    """One harness call (one process per tool) over every rendered file of every profile."""
    folder = tmp_path_factory.mktemp("rendered")
    paths = []
    for profile, files in renders.items():
        for name, text in files.items():
            path = folder / f"{profile}-{name}"
            path.write_text(text, encoding="utf-8")
            paths.append(path)
    return audit_workflows(paths, persona="pedantic")


def jobs(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from doc["jobs"].items()


def steps(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_id, job in jobs(doc):
        for step in job.get("steps", []):
            yield job_id, step


# --- rendering ------------------------------------------------------------------------------------


def test_both_profiles_render_a_build_and_a_deploy_workflow(renders: dict[str, dict[str, str]]) -> None:
    for files in renders.values():
        assert set(files) == set(WORKFLOW_FILES)


def test_monolith_is_one_pipeline(docs: dict[tuple[str, str], dict[str, Any]]) -> None:
    build, deploy = docs["monolith", "modbot-build.yml"], docs["monolith", "modbot-deploy.yml"]
    assert list(build["jobs"]) == ["check", "plan", "build", "image", "release", "promote"]
    assert list(deploy["jobs"]) == ["resolve", "deploy-staging", "deploy-production"]
    assert build["jobs"]["release"]["needs"] == ["plan", "image"]
    # staging auto-deploys (promote moves only its tag); production is moved by hand
    promote_runs = [s for s in build["jobs"]["promote"]["steps"] if "run" in s and "promote" in s["run"]]
    assert [s["env"]["ENVIRONMENT"] for s in promote_runs] == ["staging"]


def test_a_reused_release_is_named_on_its_commit_and_nothing_else_runs(
    docs: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """Issue #10: the commit whose build reuses a release gets the modbot/release status (what chat-ops
    resolves the merged PR by), from the plan job, with the plan's own outputs."""
    for (profile, name), doc in docs.items():
        if name != "modbot-build.yml":
            continue
        plan = doc["jobs"]["plan"]
        [named] = [s for s in plan["steps"] if "statuses/" in s.get("run", "")]
        assert named["if"] == "steps.plan.outputs.existing_release != ''", profile
        assert named["env"]["STATUS_CONTEXT"] == "${{ steps.plan.outputs.status_context }}"
        assert named["env"]["STATUS_DESCRIPTION"] == "${{ steps.plan.outputs.status_description }}"
        assert named["env"]["GH_TOKEN"] == "${{ github.token }}"
        assert 'gh api --method POST "repos/$GITHUB_REPOSITORY/statuses/$GITHUB_SHA"' in named["run"]
        assert plan["permissions"] == {"contents": "read", "statuses": "write"}
        # every job that builds, tags or moves a deploy tag is skipped for a reused release
        for job_id, job in jobs(doc):
            if job_id in ("check", "plan"):
                continue
            needs = job["needs"] if isinstance(job["needs"], list) else [job["needs"]]
            gated = job.get("if") == "needs.plan.outputs.existing_release == ''"
            assert gated or set(needs) - {"plan"}, (profile, job_id)


def test_headless_builds_and_deploys_the_uis_apart(docs: dict[tuple[str, str], dict[str, Any]]) -> None:
    build, deploy = docs["headless", "modbot-build.yml"], docs["headless", "modbot-deploy.yml"]
    assert {"image-ui-admin", "image-ui-storefront"} <= set(build["jobs"])
    assert build["jobs"]["release"]["needs"] == ["plan", "image", "image-ui-admin", "image-ui-storefront"]
    release_run = build["jobs"]["release"]["steps"][-1]["run"]
    assert release_run.count("--ui-image") == 2
    ui = deploy["jobs"]["deploy-staging-ui"]
    assert ui["needs"] == ["resolve", "deploy-staging"]
    step_ids = [s.get("id") for s in ui["steps"]]
    # the UI deploy is gated by preflight against the backend of that environment
    assert step_ids.index("preflight") < step_ids.index("deploy")
    preflight = next(s for s in ui["steps"] if s.get("id") == "preflight")
    assert 'preflight --config "$MODBOT_CONFIG" --environment "$ENVIRONMENT"' in preflight["run"]
    deploy_run = next(s for s in ui["steps"] if s.get("id") == "deploy")["run"]
    assert deploy_run.count("--ui ") == 2
    assert ui["env"]["UI_0_NAME"] == "admin"


def test_monolith_has_no_ui_jobs(docs: dict[tuple[str, str], dict[str, Any]]) -> None:
    assert not [j for j in docs["monolith", "modbot-build.yml"]["jobs"] if j.startswith("image-ui")]
    assert not [j for j in docs["monolith", "modbot-deploy.yml"]["jobs"] if j.endswith("-ui")]


def test_variant_uses_registry_credentials_and_escapes_path_filters(
    docs: dict[tuple[str, str], dict[str, Any]], renders: dict[str, dict[str, str]]
) -> None:
    build = docs["variant", "modbot-build.yml"]
    login = next(s for _, s in steps(build) if str(s.get("uses", "")).startswith("docker/login-action@"))
    assert login["with"]["password"] == "${{ secrets.MODBOT_REGISTRY_PASSWORD }}"
    assert "packages" not in build["jobs"]["image"]["permissions"]  # GHCR only
    assert "promote" not in build["jobs"]  # no auto_deploy environment
    paths = build["on"]["pull_request"]["paths"]
    assert "deploy\\+ops/modules.toml" in paths and "server/**/Cargo.toml" in paths
    assert build["on"]["push"]["branches"] == ["trunk"]
    assert "RUST_TARGET" in build["env"]
    deploy = renders["variant"]["modbot-deploy.yml"]
    assert "DOCKER_HOST: ${{ vars.MODBOT_DOCKER_HOST }}" in deploy
    assert "MODBOT_DEPLOY_TOKEN: ${{ secrets.MODBOT_DEPLOY_TOKEN }}" in deploy
    assert "MODBOT_HEALTH_TOKEN: ${{ secrets.PROD_HEALTH }}" in deploy


def test_installing_a_module_changes_no_workflow() -> None:
    config, manifest = load("monolith")
    modules = dict(manifest.modules)
    modules["forum"] = modules["blog"].model_copy(
        update={"crate": "rustok-forum", "path": "crates/rustok-forum"}
    )
    assert render_workflows(config, manifest.model_copy(update={"modules": modules})) == render_workflows(
        config, manifest
    )


def test_a_config_that_does_not_fit_the_profile_is_refused() -> None:
    config, _ = load("monolith")
    _, headless_manifest = load("headless")
    with pytest.raises(RenderError, match="headless"):
        render_workflows(config, headless_manifest)


# --- header and drift -----------------------------------------------------------------------------


def test_every_file_carries_template_version_and_inputs_hash(renders: dict[str, dict[str, str]]) -> None:
    for profile, files in renders.items():
        config, manifest = load(profile) if profile in EXAMPLES else variant()
        for text in files.values():
            assert parse_header(text) == (TEMPLATE_VERSION, inputs_digest(config, manifest))
            assert "do not edit" in text.splitlines()[0]


def test_inputs_hash_follows_config_and_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    config, manifest = load("monolith")
    digest = inputs_digest(config, manifest)
    moved = with_(config, "environments[0].url", "https://elsewhere.example.com")
    assert inputs_digest(moved, manifest) != digest
    import bot.workflows

    real = bot.workflows.template_sources
    monkeypatch.setattr(bot.workflows, "template_sources", lambda: {**real(), "workflows/x.j2": "0" * 64})
    assert inputs_digest(config, manifest) != digest


@pytest.mark.parametrize("profile", list(EXAMPLES))
def test_committed_workflows_match_a_fresh_render(
    profile: str, renders: dict[str, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = RENDERED / profile
    assert check_workflows(renders[profile], folder) == [], "run `make workflows`"
    config_path = EXAMPLES[profile] / ".github" / "modbot.toml"
    assert main(["workflows", "check", "--config", str(config_path), "--dir", str(folder)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_drift_is_detected_on_a_copy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "monolith"
    shutil.copytree(RENDERED / "monolith", copy)
    config_path = str(EXAMPLES["monolith"] / ".github" / "modbot.toml")
    check = ["workflows", "check", "--config", config_path, "--dir", str(copy)]
    assert main(check) == 0

    # a hand edit below the header
    build = copy / "modbot-build.yml"
    pristine = build.read_text()
    build.write_text(pristine.replace("timeout-minutes: 90", "timeout-minutes: 600", 1))
    capsys.readouterr()
    assert main(check) == 1
    out = capsys.readouterr().out
    assert "modbot-build.yml: differs from a fresh render: was edited after rendering" in out

    # rendered from other inputs (the header names them)
    build.write_text(re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, pristine, count=1))
    assert main(check) == 1
    assert "rendered from other inputs" in capsys.readouterr().out

    # a missing file, and a stale generated one
    build.unlink()
    (copy / "modbot-old.yml").write_text(pristine)
    assert main(check) == 1
    out = capsys.readouterr().out
    assert "modbot-build.yml: missing" in out and "modbot-old.yml: stale" in out

    # render repairs it (the stale file is reported, not deleted)
    (copy / "modbot-old.yml").unlink()
    assert main(["workflows", "render", "--config", config_path, "--out", str(copy)]) == 0
    assert build.read_text() == pristine
    assert main(check) == 0
    capsys.readouterr()
    assert main(["workflows", "render", "--config", config_path, "--out", str(copy)]) == 0
    assert capsys.readouterr().out.count("unchanged") == 2


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["workflows", "render", "--config", str(tmp_path / "none.toml")]) == 2
    bad = tmp_path / ".github" / "modbot.toml"
    bad.parent.mkdir()
    bad.write_text('[workflows]\nrunsOn = "x"\n')
    assert main(["workflows", "check", "--config", str(bad)]) == 2
    assert "invalid pipeline config" in capsys.readouterr().err
    # a config for a monolith with a headless manifest: cannot render
    monolith_config = str(EXAMPLES["monolith"] / ".github" / "modbot.toml")
    headless_manifest = str(EXAMPLES["headless"] / "modules.toml")
    out = ["--out", str(tmp_path / "out")]
    assert (
        main(["workflows", "render", "--config", monolith_config, "--manifest", headless_manifest, *out]) == 1
    )
    assert "cannot render" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


# --- security: the audits and the rules, read with a YAML parser ----------------------------------


def test_every_rendered_workflow_passes_the_audits_with_zero_findings(audit: list[Finding]) -> None:
    assert audit == [], "\n".join(map(str, audit))


def test_top_level_permissions_are_empty_and_every_job_is_least_privilege(
    docs: dict[tuple[str, str], dict[str, Any]],
) -> None:
    allowed_writes = {
        "plan": {"statuses"},  # only to name a reused release on the commit (modbot/release)
        "image": {"packages"},
        "release": {"contents"},
        "image-ui-admin": {"packages"},
        "image-ui-storefront": {"packages"},
    }
    for (profile, name), doc in docs.items():
        assert doc["permissions"] == {}, (profile, name)
        assert "concurrency" in doc
        for job_id, job in jobs(doc):
            assert isinstance(job["timeout-minutes"], int), (profile, name, job_id)
            perms = job["permissions"]
            writes = {scope for scope, level in perms.items() if level == "write"}
            if job_id.startswith("deploy-"):
                assert writes == {"deployments"}, job_id
            else:
                assert writes <= allowed_writes.get(job_id, set()), (profile, name, job_id, perms)
            assert "secrets." not in str(job.get("env", {})), f"{job_id}: a secret in job-level env"


def test_triggers(docs: dict[tuple[str, str], dict[str, Any]]) -> None:
    for (_, name), doc in docs.items():
        assert "pull_request_target" not in doc["on"] and "workflow_run" not in doc["on"]
        if name == "modbot-build.yml":
            assert set(doc["on"]) == {"pull_request", "push"}
            assert doc["on"]["pull_request"]["paths"]
        else:
            assert doc["on"] == {"push": {"tags": ["deploy/*"]}}


def test_pull_request_job_has_no_secrets_and_no_write(docs: dict[tuple[str, str], dict[str, Any]]) -> None:
    for (_, name), doc in docs.items():
        if name != "modbot-build.yml":
            continue
        check = doc["jobs"]["check"]
        assert check["if"] == "github.event_name == 'pull_request'"
        assert check["permissions"] == {"contents": "read"}
        assert "secrets." not in str(check)
        for job_id, job in jobs(doc):
            if job_id != "check":
                assert job.get("if", "").startswith(("github.event_name == 'push'", "needs.")) or job.get(
                    "needs"
                ), job_id


def test_every_checkout_keeps_no_credentials(docs: dict[tuple[str, str], dict[str, Any]]) -> None:
    checkouts = 0
    for doc in docs.values():
        for job_id, step in steps(doc):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                checkouts += 1
                assert step["with"]["persist-credentials"] is False, job_id
    assert checkouts >= 20


def test_every_uses_is_pinned_to_a_full_sha(renders: dict[str, dict[str, str]]) -> None:
    seen = set()
    for files in renders.values():
        for text in files.values():
            for line in text.splitlines():
                match = USES_LINE.match(line)
                if match:
                    assert SHA_PIN.match(match["ref"]), line
                    seen.add(match["ref"])
    assert seen == set(ACTIONS.values())


def test_no_expression_inside_any_run_script(docs: dict[tuple[str, str], dict[str, Any]]) -> None:
    runs = 0
    for doc in docs.values():
        for job_id, step in steps(doc):
            if "run" in step:
                runs += 1
                assert "${{" not in step["run"], f"{job_id}: {step.get('name')}"
    assert runs > 50


def test_deploy_jobs_are_bound_to_their_environment(docs: dict[tuple[str, str], dict[str, Any]]) -> None:
    for profile in (*EXAMPLES, "variant"):
        doc = docs[profile, "modbot-deploy.yml"]
        config = load(profile)[0] if profile in EXAMPLES else variant()[0]
        for env in config.environments:
            job_ids = [f"deploy-{env.name}"] + ([f"deploy-{env.name}-ui"] if config.headless else [])
            for job_id in job_ids:
                job = doc["jobs"][job_id]
                assert job["environment"] == {"name": env.name, "url": env.url}
                group = f"deploy-{env.name}" + ("-ui" if job_id.endswith("-ui") else "")
                assert job["concurrency"] == {"group": group, "cancel-in-progress": False}
                assert job["if"] == f"github.ref == 'refs/tags/deploy/{env.name}'"
                assert "resolve" in job["needs"]
        assert doc["concurrency"]["cancel-in-progress"] is False


def test_deploy_rolls_back_once_and_moves_the_tag_with_the_app_token(
    docs: dict[tuple[str, str], dict[str, Any]],
) -> None:
    job = docs["monolith", "modbot-deploy.yml"]["jobs"]["deploy-staging"]
    by_id = {s["id"]: s for s in job["steps"] if "id" in s}
    order = [s.get("id") for s in job["steps"]]
    assert order.index("deploy") < order.index("smoke") < order.index("redeploy")
    assert order.index("redeploy") < order.index("previous-smoke") < order.index("app-token")
    assert order.index("app-token") < order.index("move-back")
    assert '--release "$PREVIOUS_RELEASE"' in by_id["redeploy"]["run"]
    assert by_id["redeploy"]["if"].startswith("failure()")
    assert "steps.previous-smoke.outcome == 'success'" in by_id["app-token"]["if"]
    assert by_id["app-token"]["with"] == {
        "app-id": "${{ vars.MODBOT_APP_ID }}",
        "private-key": "${{ secrets.MODBOT_APP_PRIVATE_KEY }}",
        "permission-contents": "write",
    }
    move = by_id["move-back"]
    assert "rollback-tag" in move["run"] and "--push" in move["run"]
    assert move["env"]["MODBOT_PUSH_TOKEN"] == "${{ steps.app-token.outputs.token }}"
    # the token reaches git only through this step's environment
    assert "$MODBOT_PUSH_TOKEN" in move["env"]["GIT_CONFIG_VALUE_1"]
    assert by_id["deploy"]["run"].endswith('--release "$RELEASE_ID"')
    assert "MODBOT_HEALTH_TOKEN" in by_id["smoke"]["env"]


# --- the Deployment contract with modbot (docs/workflows.md) ---------------------------------------

# Step ids of a server deploy job, in the order they must run: the Deployment first (before setup, so
# a failing checkout is reported too), a status before each stage, the final statuses last.
SERVER_STEPS = [
    "deployment",
    "deploy",
    "smoke-stage",
    "smoke",
    "record-success",
    "rollback-scope",
    "rollback-deployment",
    "redeploy",
    "rollback-smoke-stage",
    "previous-smoke",
    "app-token",
    "move-back",
    "record-failure",
    "record-rollback",
]
UI_STEPS = ["preflight", "deploy", "record-success", *SERVER_STEPS[SERVER_STEPS.index("rollback-scope") :]]
BOOKKEEPING = {
    "deployment",
    "smoke-stage",
    "record-success",
    "rollback-deployment",
    "rollback-smoke-stage",
    "record-failure",
    "record-rollback",
}
STATUS_PREFIX = re.compile(r'^DESCRIPTION="(deploying |smoke testing |deployed |\$[A-Z_]+ failed: )')
CREATES_DEPLOYMENT = 'gh api --method POST "repos/$GITHUB_REPOSITORY/deployments" --input -'


def _deploy_jobs(docs: dict[tuple[str, str], dict[str, Any]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for profile in (*EXAMPLES, "variant"):
        for job_id, job in jobs(docs[profile, "modbot-deploy.yml"]):
            if job_id != "resolve":
                yield profile, job_id, job


def test_deploy_jobs_report_each_stage_on_their_deployment_in_order(
    docs: dict[tuple[str, str], dict[str, Any]],
) -> None:
    seen = 0
    for profile, job_id, job in _deploy_jobs(docs):
        order = [s.get("id") for s in job["steps"]]
        expected = UI_STEPS if job_id.endswith("-ui") else SERVER_STEPS
        assert [i for i in order if i in expected] == expected, (profile, job_id, order)
        by_id = {s["id"]: s for s in job["steps"] if "id" in s}
        for step_id in BOOKKEEPING & set(by_id):
            assert by_id[step_id]["continue-on-error"] is True, (profile, job_id, step_id)
            assert '/statuses" --input -' in by_id[step_id]["run"], (profile, job_id, step_id)
        creators = {s.get("id") for s in job["steps"] if CREATES_DEPLOYMENT in s.get("run", "")}
        if job_id.endswith("-ui"):
            # the UI job reports on the server job's Deployment; only a rollback makes a new one
            assert "deployment" not in by_id and creators == {"rollback-deployment"}, (profile, job_id)
            assert job["env"]["DEPLOYMENT_ID"] == f"${{{{ needs.{job_id[:-3]}.outputs.deployment_id }}}}"
        else:
            assert order[0] == "deployment", (profile, job_id)
            assert creators == {"deployment", "rollback-deployment"}, (profile, job_id)
            if profile == "headless":  # the UI job reports on the same Deployment
                assert job["outputs"] == {"deployment_id": "${{ steps.deployment.outputs.id }}"}
        seen += 1
    assert seen == 8  # monolith 2, headless 2 server + 2 UI jobs, variant 2


def test_every_status_description_starts_with_a_contract_prefix(
    docs: dict[tuple[str, str], dict[str, Any]],
) -> None:
    descriptions = 0
    for profile, job_id, job in _deploy_jobs(docs):
        for step in job["steps"]:
            for raw in step.get("run", "").splitlines():
                line = raw.strip()
                if line.startswith("DESCRIPTION="):
                    assert STATUS_PREFIX.match(line), (profile, job_id, step.get("id"), line)
                    descriptions += 1
    assert descriptions >= 40


def test_the_deployment_step_looks_for_modbots_deployment_before_it_creates_one(
    docs: dict[tuple[str, str], dict[str, Any]],
) -> None:
    for profile, job_id, job in _deploy_jobs(docs):
        if job_id.endswith("-ui"):
            continue
        step = next(s for s in job["steps"] if s.get("id") == "deployment")
        run = step["run"]
        lookup = run.index('gh api --method GET "repos/$GITHUB_REPOSITORY/deployments"')
        assert lookup < run.index(CREATES_DEPLOYMENT) < run.index('/statuses" --input -'), (profile, job_id)
        for clause in (
            '.modbot == 1 and .trigger == "modbot" and .deploy_tag == $tag and .release_id == $release',
            '"" | queued | pending)',
            "statuses?per_page=1",
        ):
            assert clause in run, (profile, job_id, clause)
        env = dict(step["env"])
        assert env.pop("GH_TOKEN") == "${{ github.token }}"
        assert env == {
            "DEPLOY_KIND": "deploy",
            "DEPLOY_RELEASE": "${{ needs.resolve.outputs.release_id }}",
            "DEPLOY_IMAGE": "${{ needs.resolve.outputs.image }}",
            "DEPLOY_MANIFEST_HASH": "${{ needs.resolve.outputs.manifest_hash }}",
            "DEPLOY_SHA": "${{ needs.resolve.outputs.commit }}",
            "DEPLOY_PREVIOUS_RELEASE": "${{ needs.resolve.outputs.previous_release }}",
            "DEPLOY_ROLLBACK_OF": "",
            "DEPLOY_REASON": "",
            "REQUESTED_BY": "${{ github.actor }}",
        }
        rollback = next(s for s in job["steps"] if s.get("id") == "rollback-deployment")
        assert rollback["env"]["DEPLOY_KIND"] == "auto_rollback"
        assert rollback["env"]["DEPLOY_SHA"] == "${{ needs.resolve.outputs.previous_commit }}"
        assert (
            rollback["env"]["DEPLOY_MANIFEST_HASH"] == "${{ needs.resolve.outputs.previous_manifest_hash }}"
        )
        assert rollback["env"]["DEPLOY_ROLLBACK_OF"] == "${{ needs.resolve.outputs.release_id }}"


def test_resolve_hands_the_deploy_jobs_both_releases_commits_and_hashes(
    docs: dict[tuple[str, str], dict[str, Any]],
) -> None:
    for profile in (*EXAMPLES, "variant"):
        resolve = docs[profile, "modbot-deploy.yml"]["jobs"]["resolve"]
        expected = {
            "commit": "${{ steps.resolve.outputs.commit }}",
            "manifest_hash": "${{ steps.resolve.outputs.manifest_hash }}",
            "previous_commit": "${{ steps.previous.outputs.commit }}",
            "previous_manifest_hash": "${{ steps.previous.outputs.manifest_hash }}",
        }
        assert {key: resolve["outputs"].get(key) for key in expected} == expected, profile
        previous = next(s for s in resolve["steps"] if s.get("id") == "previous")
        assert previous["if"] == "steps.resolve.outputs.previous_release != ''"
        assert previous["env"] == {"PREVIOUS_RELEASE": "${{ steps.resolve.outputs.previous_release }}"}
        assert previous["run"].startswith("modbot pipeline release show ")
        assert previous["run"].endswith('"$PREVIOUS_RELEASE" --format github')


def _documented_contract() -> tuple[str, dict[str, Any]]:
    """docs/workflows.md's "The Deployment contract" section and its JSON payload example."""
    text = (ROOT / "docs" / "workflows.md").read_text(encoding="utf-8")
    section = text.split("## The Deployment contract", 1)[1].split("\n## ", 1)[0]
    example = re.search(r"```json\n(.*?)\n```", section, re.DOTALL)
    assert example is not None, "docs/workflows.md: the contract has no JSON payload example"
    payload = json.loads(example[1])
    assert isinstance(payload, dict)
    return section, payload


def test_the_documented_contract_is_the_payload_the_workflow_records(
    docs: dict[tuple[str, str], dict[str, Any]], tmp_path: Path
) -> None:
    section, example = _documented_contract()
    doc = docs["monolith", "modbot-deploy.yml"]
    done, _, calls = _run_step(doc, "deploy-staging", "deployment", RESOLVED, tmp_path)
    assert done.returncode == 0, done.stderr
    (create,) = _posts(calls, "/deployments")
    assert list(create["payload"]) == list(example)
    assert example["modbot"] == 1 and example["modbot_template_version"] == TEMPLATE_VERSION
    for term in ('"deploying "', '"smoke testing "', '"deployed "', '" failed: "', "auto_rollback"):
        assert term in section, term


# --- hostile config values ------------------------------------------------------------------------

HOSTILE = [
    'a"b',
    "a'b",
    "a: b",
    "a # b",
    "- a",
    "{a: b}",
    "[a]",
    "&a *a !!str",
    "a\\nb",
    "\\u0022",
    "a\nevil: 1",
    "a\r\nb",
    "${{ github.token }}",
    "x${{secrets.A}}",
    "a\u2028b",
    "}} ${{ github.token",
]
# (where in the config, does the value end up in a job id / expression too)
FIELDS = [
    "environments[0].url",
    "environments[0].name",
    "image.repository",
    "image.registry",
    "image.dockerfile",
    "image.context",
    "build.manifest",
    "build.package",
    "build.toolchain",
    "build.workspace",
    "workflows.modbot_install",
    "workflows.default_branch",
    "workflows.runs_on",
    "workflows.python_version",
    "headless.ui[0].name",
    "headless.ui[0].repository",
    "environments[0].health_token_env",
]


def _shape(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _shape(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_shape(v) for v in node]
    return type(node).__name__


@pytest.mark.parametrize("field", FIELDS)
def test_hostile_values_cannot_inject_yaml_or_expressions(field: str) -> None:
    config, manifest = load("headless")
    # the baseline: the same field with a plain value (a registry other than GHCR changes the login)
    plain = "registry.example.com" if field == "image.registry" else "x"
    baseline = render_workflows(with_(config, field, plain), manifest)
    baseline_shapes = {name: _shape(parse(text)) for name, text in baseline.items()}
    for value in HOSTILE:
        try:
            rendered = render_workflows(with_(config, field, value), manifest)
        except RenderError:
            continue  # refused: nothing rendered
        # names become job ids, step names and expression literals: only the safe alphabet passes
        assert not field.endswith((".name", "health_token_env")), f"{field}={value!r} was not refused"
        scalars: set[str] = set()
        for name, text in rendered.items():
            # no new expression and the same YAML structure (no injected key, job or step)
            assert text.count("${{") == baseline[name].count("${{"), (field, value)
            doc = parse(text)
            assert _shape(doc) == baseline_shapes[name], (field, value)
            scalars |= _scalars(doc)
        assert any(value in scalar for scalar in scalars), (field, value)  # present, as data


def _scalars(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set().union(*(_scalars(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_scalars(v) for v in node)) if node else set()
    return {node} if isinstance(node, str) else set()


def test_a_url_the_config_accepts_cannot_smuggle_an_expression() -> None:
    # The config's URL check allows "${{...}}" without spaces in a path; the renderer refuses it.
    text = (EXAMPLES["headless"] / ".github" / "modbot.toml").read_text()
    hostile = text.replace(
        '"https://api.staging.rustok.example.com"', '"https://x.example.com/${{secrets.A}}"'
    )
    config = parse_pipeline_config(hostile)
    _, manifest = load("headless")
    with pytest.raises(RenderError, match=r"GitHub expression"):
        render_workflows(config, manifest)
    quoted = text.replace('"https://api.staging.rustok.example.com"', '"https://x.example.com/a\'b\\"c"')
    rendered = render_workflows(parse_pipeline_config(quoted), manifest)
    doc = parse(rendered["modbot-deploy.yml"])
    assert doc["jobs"]["deploy-staging"]["environment"]["url"] == "https://x.example.com/a'b\"c"


def test_filters() -> None:
    assert yaml_str('a"b') == '"a\\"b"'
    assert yaml_str("ü") == '"ü"'
    for bad in ("${{ x }}", "a\nb", "a\x00", "a\u2028", 3):
        with pytest.raises(RenderError):
            yaml_str(bad)
    assert expr_str("refs/tags/deploy/prod-eu") == "'refs/tags/deploy/prod-eu'"
    for bad in ("it's", "a b", "", "a}}", "${{"):
        with pytest.raises(RenderError):
            expr_str(bad)


def test_clashing_ui_job_ids_are_refused() -> None:
    config, manifest = load("headless")
    assert config.headless is not None
    clash = with_(config, "headless.ui[1].name", "admin")
    with pytest.raises(RenderError, match="job id"):
        render_workflows(clash, manifest)
    dotted = with_(with_(config, "headless.ui[0].name", "ui.v2"), "headless.ui[1].name", "ui_v2")
    with pytest.raises(RenderError, match="image-ui-ui_v2"):
        render_workflows(dotted, manifest)


# --- contract with the CLI: every modbot command the YAML runs parses ------------------------------

SAMPLES = {
    "RELEASE_ID": "rel_2026_11_26_002",
    "PREVIOUS_RELEASE": "rel_2026_11_26_001",
    "IMAGE_DIGEST": "sha256:" + "a" * 64,
    "BUILD_ID": "123456-1",
    "DEPLOY_TAG": "deploy/staging",
    "BEFORE": "0" * 40,
    "GITHUB_SHA": "b" * 40,
    "RUNNER_TEMP": "runner-temp",
    "MANIFEST_HASH": "d" * 64,
}


def _sample(key: str, value: str) -> str:
    if "${{" not in value:
        return value
    if re.fullmatch(r"UI_\d+_DIGEST", key):
        return "sha256:" + "c" * 64
    return SAMPLES.get(key, "x")


def _modbot_commands(script: str, env: dict[str, str]) -> Iterator[list[str]]:
    joined = script.replace("\\\n", " ")
    for raw in joined.splitlines():
        line = raw.strip()
        if not line.startswith("modbot "):
            continue
        expanded = re.sub(r"\$\{?([A-Z_][A-Z0-9_]*)\}?", lambda m: env.get(m[1], SAMPLES.get(m[1], "")), line)
        yield shlex.split(expanded)


def test_every_modbot_command_in_the_yaml_is_accepted_by_the_cli(
    docs: dict[tuple[str, str], dict[str, Any]],
) -> None:
    from bot.cli import build_parser

    parser = build_parser()
    seen: set[str] = set()
    for (profile, name), doc in docs.items():
        for job_id, job in jobs(doc):
            for step in job.get("steps", []):
                if "run" not in step:
                    continue
                env = {**doc.get("env", {}), **job.get("env", {}), **step.get("env", {})}
                env = {k: _sample(k, str(v)) for k, v in env.items()}
                for argv in _modbot_commands(step["run"], env):
                    try:
                        parser.parse_args(argv[1:])
                    except SystemExit as exc:  # argparse: unknown flag or a value its type refuses
                        raise AssertionError(f"{profile}/{name} {job_id}: {argv}") from exc
                    seen.add(" ".join(argv[1:3]))
    assert {
        "validate modules.toml",
        "workflows check",
        "pipeline features",
        "pipeline build",
        "pipeline release",
        "pipeline resolve",
        "pipeline deploy",
        "pipeline smoke",
        "pipeline preflight",
        "pipeline rollback-tag",
        "pipeline promote",
    } <= seen, seen


def test_the_release_build_is_held_to_the_planned_manifest(
    docs: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """The binary is built from the manifest whose hash the plan (and so the release tag) records:
    `pipeline build` gets the plan's manifest_hash and refuses any other (docs/workflows.md)."""
    for (profile, name), doc in docs.items():
        if name != "modbot-build.yml":
            continue
        step = next(s for s in doc["jobs"]["build"]["steps"] if s.get("id") == "build")
        assert step["env"]["MANIFEST_HASH"] == "${{ needs.plan.outputs.manifest_hash }}", profile
        assert '--expect-manifest-hash "$MANIFEST_HASH"' in step["run"], profile
        assert "manifest_hash" in doc["jobs"]["plan"]["outputs"], profile


# --- the scripts themselves, run with bash (gh faked) ----------------------------------------------

# A stand-in for the GitHub CLI: records each call (argv, and stdin when --input is given) and answers
# from a table keyed "METHOD path" (the query string dropped); `{"exit": n}` makes the call fail. With
# --jq it filters its answer through the real jq, as gh does. Unknown calls get a plausible default.
FAKE_GH = """\
import json, subprocess, sys
args = sys.argv[1:]
body = sys.stdin.read() if "--input" in args else ""
with open(sys.argv[0] + ".calls", "a", encoding="utf-8") as log:
    log.write(json.dumps({"args": args, "input": body}) + "\\n")
method = args[args.index("--method") + 1] if "--method" in args else "GET"
path = next(a for a in args if a.startswith("repos/")).partition("?")[0]
with open(sys.argv[0] + ".answers", encoding="utf-8") as table:
    answers = json.load(table)
key = method + " " + path
if key in answers:
    answer = answers[key]
elif method == "POST" and path.endswith("/deployments"):
    answer = {"id": 4242}
else:
    answer = {} if method == "POST" else []
if isinstance(answer, dict) and "exit" in answer:
    print("gh: HTTP 502", file=sys.stderr)
    sys.exit(answer["exit"])
text = json.dumps(answer)
if "--jq" in args:
    done = subprocess.run(["jq", "-r", args[args.index("--jq") + 1]], input=text, text=True, check=True,
                          capture_output=True)
    text = done.stdout.rstrip("\\n")
print(text)
"""

REPO_API = "repos/rustok/rustok"
RELEASE = "rel_2026_11_26_002"
PREVIOUS = "rel_2026_11_26_001"
COMMIT = "c" * 40
PREVIOUS_COMMIT = "d" * 40
HASH = "e" * 64
PREVIOUS_HASH = "f" * 64
IMAGE = "ghcr.io/rustok/rustok-mini@sha256:" + "a" * 64
PREVIOUS_IMAGE = "ghcr.io/rustok/rustok-mini@sha256:" + "b" * 64
# what the resolve job hands every deploy job
RESOLVED = {
    "needs.resolve.outputs.release_id": RELEASE,
    "needs.resolve.outputs.image": IMAGE,
    "needs.resolve.outputs.manifest_hash": HASH,
    "needs.resolve.outputs.commit": COMMIT,
    "needs.resolve.outputs.previous_release": PREVIOUS,
    "needs.resolve.outputs.previous_image": PREVIOUS_IMAGE,
    "needs.resolve.outputs.previous_commit": PREVIOUS_COMMIT,
    "needs.resolve.outputs.previous_manifest_hash": PREVIOUS_HASH,
    "github.token": "t0ken",
    "github.actor": "alice",
    "job.status": "failure",
}


def _run_step(
    doc: dict[str, Any],
    job_id: str,
    step_id: str,
    expressions: dict[str, str],
    tmp_path: Path,
    *,
    gh_answers: dict[str, Any] | None = None,
) -> tuple[subprocess.CompletedProcess[str], dict[str, str], list[dict[str, Any]]]:
    """Run one step's script as GitHub's `shell: bash` does, with `${{ X }}` in env: replaced from
    `expressions`; `gh` is FAKE_GH answering from `gh_answers`. Returns the process, the step outputs
    and the recorded gh calls."""
    job = doc["jobs"][job_id]
    step = next(s for s in job["steps"] if s.get("id") == step_id)
    env = {**doc.get("env", {}), **job.get("env", {}), **step.get("env", {})}
    resolved = {
        k: re.sub(r"\$\{\{\s*(.*?)\s*\}\}", lambda m: expressions.get(m[1], ""), str(v))
        for k, v in env.items()
    }
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "gh"
    fake.write_text(f"#!{sys.executable}\n{FAKE_GH}")
    fake.chmod(0o755)
    (bin_dir / "gh.answers").write_text(json.dumps(gh_answers or {}))
    calls = bin_dir / "gh.calls"
    calls.unlink(missing_ok=True)
    output = tmp_path / "github-output"
    output.write_text("")
    base = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_REPOSITORY": "rustok/rustok",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "99",
        "GITHUB_REF_NAME": "deploy/staging",
        "RUNNER_TEMP": str(tmp_path),
    }
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        env={**base, **resolved},
        capture_output=True,
        text=True,
        check=False,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    recorded = [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []
    return done, outputs, recorded


def _posts(calls: list[dict[str, Any]], path_end: str) -> list[dict[str, Any]]:
    """The JSON bodies of the POSTs to an API path ending with `path_end`."""
    return [
        json.loads(call["input"])
        for call in calls
        if call["args"][:3] == ["api", "--method", "POST"] and call["args"][3].endswith(path_end)
    ]


@pytest.mark.parametrize(
    ("outcomes", "previous", "expected"),
    [
        (("failure", "skipped"), PREVIOUS, {"stage": "deploy step", "needed": "true"}),
        (("success", "failure"), PREVIOUS, {"stage": "smoke test", "needed": "true"}),
        # first deploy: nothing to go back to
        (("success", "failure"), "", {"stage": "smoke test", "needed": "false"}),
        # the tag came back from a newer release: never forward
        (("success", "failure"), "rel_2026_11_27_001", {"stage": "smoke test", "needed": "false"}),
        (("success", "failure"), RELEASE, {"stage": "smoke test", "needed": "false"}),
        # a step before the deploy failed: nothing was deployed
        (("", ""), PREVIOUS, {"stage": "", "needed": "false"}),
    ],
)
def test_rollback_is_needed_only_after_a_failure_and_never_forward(
    docs: dict[tuple[str, str], dict[str, Any]],
    tmp_path: Path,
    outcomes: tuple[str, str],
    previous: str,
    expected: dict[str, str],
) -> None:
    doc = docs["monolith", "modbot-deploy.yml"]
    deploy, smoke = outcomes  # of the deploy and smoke steps
    expressions = {
        **RESOLVED,
        "steps.deploy.outcome": deploy,
        "steps.smoke.outcome": smoke,
        "needs.resolve.outputs.previous_release": previous,
    }
    done, outputs, _ = _run_step(doc, "deploy-staging", "rollback-scope", expressions, tmp_path)
    assert done.returncode == 0, done.stderr
    assert outputs == expected


@pytest.mark.parametrize(
    ("preflight", "deploy", "stage"),
    [("failure", "skipped", "preflight"), ("success", "failure", "UI deploy step"), ("", "", "")],
)
def test_the_ui_job_names_the_stage_that_failed(
    docs: dict[tuple[str, str], dict[str, Any]], tmp_path: Path, preflight: str, deploy: str, stage: str
) -> None:
    doc = docs["headless", "modbot-deploy.yml"]
    expressions = {**RESOLVED, "steps.preflight.outcome": preflight, "steps.deploy.outcome": deploy}
    done, outputs, _ = _run_step(doc, "deploy-staging-ui", "rollback-scope", expressions, tmp_path)
    assert done.returncode == 0, done.stderr
    assert outputs == {"stage": stage, "needed": "true" if stage else "false"}


def _modbot_deployment(
    deployment_id: int, *, release: str = RELEASE, trigger: str = "modbot", tag: str = "deploy/staging"
) -> dict[str, Any]:
    payload = {
        "modbot": 1,
        "kind": "deploy",
        "release_id": release,
        "manifest_hash": HASH,
        "image": IMAGE,
        "deploy_tag": tag,
        "requested_by": "alice",
        "reason": "ship the forum",
        "previous_release": PREVIOUS,
        "rollback_of": None,
        "trigger": trigger,
        "modbot_template_version": TEMPLATE_VERSION,
    }
    return {
        "id": deployment_id,
        "sha": COMMIT,
        "environment": "staging",
        "task": "deploy",
        "payload": payload,
    }


def test_the_run_follows_the_deployment_modbot_created_for_this_tag_move(
    docs: dict[tuple[str, str], dict[str, Any]], tmp_path: Path
) -> None:
    doc = docs["monolith", "modbot-deploy.yml"]
    as_string = _modbot_deployment(20)
    as_string["payload"] = json.dumps(as_string["payload"])  # GitHub keeps a string payload a string
    listing = [
        {"id": 90, "sha": COMMIT, "environment": "staging", "task": "deploy", "payload": {}},  # Actions' own
        _modbot_deployment(80, release=PREVIOUS),  # another release at the same commit
        _modbot_deployment(70, trigger="tag"),  # recorded by a run, not by modbot
        _modbot_deployment(60, tag="deploy/production"),
        _modbot_deployment(50),  # modbot's, but another run picked it up already
        _modbot_deployment(40),  # modbot's, status read failed
        as_string,  # modbot's, queued: this one
        _modbot_deployment(10),  # older, also unclaimed: not this one
        {"id": 5, "payload": ["not", "an", "object"]},
    ]
    answers = {
        f"GET {REPO_API}/deployments": listing,
        f"GET {REPO_API}/deployments/50/statuses": [{"state": "success"}],
        f"GET {REPO_API}/deployments/40/statuses": {"exit": 1},
        f"GET {REPO_API}/deployments/20/statuses": [{"state": "queued"}],
    }
    done, outputs, calls = _run_step(
        doc, "deploy-staging", "deployment", RESOLVED, tmp_path, gh_answers=answers
    )
    assert done.returncode == 0, done.stderr
    assert outputs == {"reused": "true", "id": "20"}
    lookup = calls[0]["args"]
    assert lookup[:4] == ["api", "--method", "GET", f"{REPO_API}/deployments"]
    fields = [lookup[i + 1] for i, arg in enumerate(lookup) if arg == "-f"]
    assert fields == [f"sha={COMMIT}", "environment=staging", "task=deploy", "per_page=10"]
    # newest first, only the matching ones, and only until one is unclaimed
    status_reads = [call["args"][1] for call in calls[1:] if "--method" not in call["args"]]
    assert status_reads == [f"{REPO_API}/deployments/{n}/statuses?per_page=1" for n in (50, 40, 20)]
    assert not _posts(calls, "/deployments")  # no second Deployment
    (status,) = _posts(calls, "/deployments/20/statuses")
    assert status["state"] == "in_progress" and status["description"] == f"deploying {RELEASE}"
    assert status["log_url"] == "https://github.com/rustok/rustok/actions/runs/99"


@pytest.mark.parametrize(
    "answers",
    [
        {f"GET {REPO_API}/deployments": []},  # a tag moved by hand: modbot made no Deployment
        {f"GET {REPO_API}/deployments": {"exit": 1}},  # the lookup failed: record one anyway
        {  # modbot's Deployment, already picked up by an earlier run (a re-run or a second move)
            f"GET {REPO_API}/deployments": [_modbot_deployment(20)],
            f"GET {REPO_API}/deployments/20/statuses": [{"state": "in_progress"}],
        },
    ],
    ids=["none", "lookup-failed", "claimed"],
)
def test_the_run_records_a_deployment_with_the_full_payload_when_modbot_made_none(
    docs: dict[tuple[str, str], dict[str, Any]], tmp_path: Path, answers: dict[str, Any]
) -> None:
    doc = docs["monolith", "modbot-deploy.yml"]
    hostile = 'rel_2026_11_26_002"; echo pwned; "'
    expressions = {**RESOLVED, "needs.resolve.outputs.release_id": hostile}
    done, outputs, calls = _run_step(
        doc, "deploy-staging", "deployment", expressions, tmp_path, gh_answers=answers
    )
    assert done.returncode == 0, done.stderr
    assert "pwned" not in done.stdout
    assert outputs == {"reused": "false", "id": "4242"}
    (create,) = _posts(calls, "/deployments")
    assert {k: create[k] for k in ("ref", "environment", "task", "auto_merge", "required_contexts")} == {
        "ref": COMMIT,
        "environment": "staging",
        "task": "deploy",
        "auto_merge": False,
        "required_contexts": [],
    }
    assert create["payload"] == {
        "modbot": 1,
        "kind": "deploy",
        "release_id": hostile,  # data, never code
        "manifest_hash": HASH,
        "image": IMAGE,
        "deploy_tag": "deploy/staging",
        "requested_by": "alice",
        "reason": "",
        "previous_release": PREVIOUS,
        "rollback_of": None,
        "trigger": "tag",
        "modbot_template_version": TEMPLATE_VERSION,
    }
    (status,) = _posts(calls, "/deployments/4242/statuses")
    assert status["state"] == "in_progress" and status["description"] == f"deploying {hostile}"
    assert status["environment_url"] == "https://staging.rustok-mini.example.com"


def test_a_first_deploy_records_no_previous_release(
    docs: dict[tuple[str, str], dict[str, Any]], tmp_path: Path
) -> None:
    doc = docs["headless", "modbot-deploy.yml"]
    expressions = {**RESOLVED, "needs.resolve.outputs.previous_release": ""}
    done, outputs, calls = _run_step(doc, "deploy-staging", "deployment", expressions, tmp_path)
    assert done.returncode == 0, done.stderr
    assert outputs["id"] == "4242"
    (create,) = _posts(calls, "/deployments")
    assert create["payload"]["previous_release"] is None and create["payload"]["manifest_hash"] == HASH


@pytest.mark.parametrize(
    ("stage", "previous_smoke", "kind_of_reason"),
    [("smoke test", "success", "its smoke test"), ("deploy step", "failure", "its deploy step")],
)
def test_an_automatic_rollback_is_a_deployment_of_its_own(
    docs: dict[tuple[str, str], dict[str, Any]],
    tmp_path: Path,
    stage: str,
    previous_smoke: str,
    kind_of_reason: str,
) -> None:
    doc = docs["monolith", "modbot-deploy.yml"]
    expressions = {**RESOLVED, "steps.rollback-scope.outputs.stage": stage}
    done, outputs, calls = _run_step(doc, "deploy-staging", "rollback-deployment", expressions, tmp_path)
    assert done.returncode == 0, done.stderr
    assert outputs == {"id": "4242"}
    (create,) = _posts(calls, "/deployments")
    assert create["ref"] == PREVIOUS_COMMIT and create["environment"] == "staging"
    assert create["payload"] == {
        "modbot": 1,
        "kind": "auto_rollback",
        "release_id": PREVIOUS,
        "manifest_hash": PREVIOUS_HASH,
        "image": PREVIOUS_IMAGE,
        "deploy_tag": "deploy/staging",
        "requested_by": "alice",
        "reason": f"automatic rollback: {RELEASE} failed {kind_of_reason}",
        "previous_release": RELEASE,
        "rollback_of": RELEASE,
        "trigger": "tag",
        "modbot_template_version": TEMPLATE_VERSION,
    }
    (started,) = _posts(calls, "/deployments/4242/statuses")
    assert started["state"] == "in_progress"
    assert started["description"] == f"deploying {PREVIOUS} (automatic rollback of {RELEASE})"

    rollback = {
        **RESOLVED,
        "steps.rollback-deployment.outputs.id": "4343",
        "steps.redeploy.outcome": "success",
        "steps.previous-smoke.outcome": previous_smoke,
        "steps.move-back.outcome": "success" if previous_smoke == "success" else "skipped",
    }
    done, _, calls = _run_step(doc, "deploy-staging", "rollback-smoke-stage", rollback, tmp_path)
    assert done.returncode == 0, done.stderr
    (smoking,) = _posts(calls, "/deployments/4343/statuses")
    assert smoking["description"] == f"smoke testing {PREVIOUS} (automatic rollback of {RELEASE})"
    done, _, calls = _run_step(doc, "deploy-staging", "record-rollback", rollback, tmp_path)
    assert done.returncode == 0, done.stderr
    (final,) = _posts(calls, "/deployments/4343/statuses")
    if previous_smoke == "success":
        assert final["state"] == "success"
        assert final["description"] == (
            f"deployed {PREVIOUS} (automatic rollback of {RELEASE}; tag moved back: success)"
        )
    else:
        assert final["state"] == "failure"
        assert final["description"] == (
            f"{PREVIOUS} failed: smoke test (automatic rollback of {RELEASE}; the tag stays)"
        )


@pytest.mark.parametrize(
    ("outcomes", "state", "description"),
    [
        (
            {"stage": "smoke test", "redeploy": "success", "smoke": "success", "move": "success"},
            "failure",
            f"{RELEASE} failed: smoke test; rolled back to {PREVIOUS} (smoke: success, tag moved back: success)",
        ),
        (
            {"stage": "deploy step", "redeploy": "failure", "smoke": "skipped", "move": "skipped"},
            "failure",
            f"{RELEASE} failed: deploy step; not rolled back (previous release: {PREVIOUS}, redeploy: failure)",
        ),
        (
            {"stage": "", "redeploy": "skipped", "smoke": "skipped", "move": "skipped"},
            "failure",
            f"{RELEASE} failed: setup; not rolled back (previous release: {PREVIOUS}, redeploy: skipped)",
        ),
        (
            {"stage": "", "redeploy": "skipped", "smoke": "skipped", "move": "skipped", "job": "cancelled"},
            "error",
            f"{RELEASE} failed: the run was cancelled (redeploy of the previous release: skipped)",
        ),
    ],
    ids=["rolled-back", "redeploy-failed", "setup-failed", "cancelled"],
)
def test_failure_is_recorded_with_the_stage_and_what_the_rollback_did(
    docs: dict[tuple[str, str], dict[str, Any]],
    tmp_path: Path,
    outcomes: dict[str, str],
    state: str,
    description: str,
) -> None:
    doc = docs["monolith", "modbot-deploy.yml"]
    expressions = {
        **RESOLVED,
        "steps.deployment.outputs.id": "4242",
        "steps.rollback-scope.outputs.stage": outcomes["stage"],
        "steps.redeploy.outcome": outcomes["redeploy"],
        "steps.previous-smoke.outcome": outcomes["smoke"],
        "steps.move-back.outcome": outcomes["move"],
        "job.status": outcomes.get("job", "failure"),
    }
    done, _, calls = _run_step(doc, "deploy-staging", "record-failure", expressions, tmp_path)
    assert done.returncode == 0, done.stderr
    (status,) = _posts(calls, "/deployments/4242/statuses")
    assert (status["state"], status["description"]) == (state, description)
    assert len(status["description"]) <= 140


@pytest.mark.parametrize(
    ("where", "status"),
    [
        (("monolith", "deploy-staging", "smoke-stage"), ("in_progress", f"smoke testing {RELEASE}")),
        (
            ("monolith", "deploy-staging", "record-success"),
            ("success", f"deployed {RELEASE}, smoke test passed"),
        ),
        (("headless", "deploy-staging", "smoke-stage"), ("in_progress", f"smoke testing {RELEASE}")),
        (
            ("headless", "deploy-staging", "record-success"),
            ("in_progress", f"deploying {RELEASE}: server deployed and healthy; now the UIs"),
        ),
        (
            ("headless", "deploy-staging-ui", "record-success"),
            ("success", f"deployed {RELEASE}: server and UIs"),
        ),
    ],
)
def test_each_stage_is_a_status_on_the_same_deployment(
    docs: dict[tuple[str, str], dict[str, Any]],
    tmp_path: Path,
    where: tuple[str, str, str],
    status: tuple[str, str],
) -> None:
    profile, job_id, step_id = where
    doc = docs[profile, "modbot-deploy.yml"]
    expressions = {
        **RESOLVED,
        "steps.deployment.outputs.id": "4242",
        "needs.deploy-staging.outputs.deployment_id": "4242",
    }
    done, _, calls = _run_step(doc, job_id, step_id, expressions, tmp_path)
    assert done.returncode == 0, done.stderr
    (posted,) = _posts(calls, "/deployments/4242/statuses")
    assert (posted["state"], posted["description"]) == status


def test_the_push_token_reaches_git_only_through_the_step_environment(
    docs: dict[tuple[str, str], dict[str, Any]], tmp_path: Path
) -> None:
    move = next(
        s
        for s in docs["monolith", "modbot-deploy.yml"]["jobs"]["deploy-staging"]["steps"]
        if s.get("id") == "move-back"
    )
    env = {k: v for k, v in move["env"].items() if k.startswith("GIT_CONFIG_")}
    env |= {"MODBOT_PUSH_TOKEN": "s3cret", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        ["git", "credential", "fill"],
        input="protocol=https\nhost=github.com\npath=rustok/rustok.git\n\n",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "username=x-access-token\n" in done.stdout and "password=s3cret\n" in done.stdout
    # without the token variable git gets no password from the helper (and would prompt, disabled here)
    env.pop("MODBOT_PUSH_TOKEN")
    done = subprocess.run(
        ["git", "credential", "fill"],
        input="protocol=https\nhost=github.com\n\n",
        env={**env, "GIT_TERMINAL_PROMPT": "0"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert "password=s3cret" not in done.stdout
