"""`modbot pipeline deploy`: each backend runs the right argv (fake kubectl / docker / deploy
script on PATH record what they were given), values are never re-split or shell-interpreted, and
failures say which step failed."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.pipeline.config import parse_pipeline_config
from bot.pipeline.deploy import DeployError, deploy_steps
from tests.unit.test_pipeline_release import DIGEST_A, DIGEST_B, create, git, repo  # noqa: F401 - fixture

IMAGE = f"ghcr.io/rustok/rustok-mini@{DIGEST_A}"

RECORDER = f"""#!{sys.executable}
import json, os, sys
with open(os.environ["RECORD"], "a", encoding="utf-8") as f:
    f.write(json.dumps({{"argv": [os.path.basename(sys.argv[0]), *sys.argv[1:]],
                         "image_env": os.environ.get("IMAGE")}}) + "\\n")
sys.exit(int(os.environ.get("FAKE_EXIT_" + os.path.basename(sys.argv[0]).replace("-", "_"), "0")))
"""

CONFIG = """
[image]
repository = "rustok/rustok-mini"
[[environments]]
name = "staging"
url = "https://staging.example.com"
backend = "kubernetes"
kubernetes = { namespace = "rustok", deployment = "rustok-server", container = "server", timeout = "90s" }
[[environments]]
name = "production"
url = "https://example.com"
backend = "compose"
compose = { file = "deploy/compose.yml", service = "server", project_name = "rustok" }
[[environments]]
name = "lab"
url = "https://lab.example.com"
backend = "command"
command = "deploy-lab --image={image} 'release id' {release_id} {environment} {service}"
[[headless.ui]]
name = "admin"
repository = "rustok/rustok-admin"
dockerfile = "apps/admin/Dockerfile"
[[headless.ui]]
name = "storefront"
repository = "rustok/rustok-storefront"
dockerfile = "apps/storefront/Dockerfile"
deployment = "shop"
service = "shop-web"
[workflows]
modbot_install = "modbot==0.1.0"
"""


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fake kubectl, docker and deploy-lab first on PATH; returns the record file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("kubectl", "docker", "deploy-lab"):
        path = bin_dir / name
        path.write_text(RECORDER)
        path.chmod(0o755)
    record = tmp_path / "record.jsonl"
    monkeypatch.setenv("RECORD", str(record))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return record


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    (root / ".github").mkdir(parents=True)
    path = root / ".github/modbot.toml"
    path.write_text(CONFIG)
    monkeypatch.chdir(root)
    return path


def calls(record: Path) -> list[dict[str, Any]]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines()]


def deploy(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["pipeline", "deploy", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_kubernetes_sets_the_image_by_digest_and_waits(
    capsys: pytest.CaptureFixture[str], tools: Path, config_file: Path
) -> None:
    code, out, _ = deploy(capsys, "--environment", "staging", "--image", IMAGE, "--format", "json")
    assert code == 0
    assert json.loads(out)["image"] == IMAGE
    assert [c["argv"] for c in calls(tools)] == [
        ["kubectl", "--namespace", "rustok", "set", "image", "deployment/rustok-server", f"server={IMAGE}"],
        [
            "kubectl",
            "--namespace",
            "rustok",
            "rollout",
            "status",
            "deployment/rustok-server",
            "--timeout=90s",
        ],
    ]


def test_compose_passes_the_image_in_the_environment(
    capsys: pytest.CaptureFixture[str], tools: Path, config_file: Path
) -> None:
    assert deploy(capsys, "--environment", "production", "--image", IMAGE)[0] == 0
    (call,) = calls(tools)
    assert call["argv"] == [
        "docker", "compose", "-f", "deploy/compose.yml", "-p", "rustok", "up", "-d", "--no-deps", "server",
    ]  # fmt: skip
    assert call["image_env"] == IMAGE


def test_command_template_values_are_separate_words(
    capsys: pytest.CaptureFixture[str], tools: Path, config_file: Path
) -> None:
    assert deploy(capsys, "--environment", "lab", "--image", IMAGE)[0] == 0
    (call,) = calls(tools)
    assert call["argv"] == ["deploy-lab", f"--image={IMAGE}", "release id", "", "lab", "server"]


def test_headless_ui_services_use_their_own_deployment_and_service(
    capsys: pytest.CaptureFixture[str], tools: Path, config_file: Path
) -> None:
    ui_image = f"ghcr.io/rustok/rustok-storefront@{DIGEST_B}"
    assert deploy(capsys, "--environment", "staging", "--image", ui_image, "--ui", "storefront")[0] == 0
    assert deploy(capsys, "--environment", "production", "--image", ui_image, "--ui", "admin")[0] == 0
    assert deploy(capsys, "--environment", "lab", "--image", ui_image, "--ui", "storefront")[0] == 0
    k8s_set, _k8s_wait, compose, command = calls(tools)
    assert k8s_set["argv"][-2:] == ["deployment/shop", f"storefront={ui_image}"]
    assert compose["argv"][-1] == "admin"
    assert command["argv"][-1] == "storefront"
    code, _, err = deploy(capsys, "--environment", "staging", "--image", ui_image, "--ui", "mobile")
    assert code == 1 and "not a [[headless.ui]] service" in err


def test_failures_name_the_step(
    capsys: pytest.CaptureFixture[str], tools: Path, config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_EXIT_kubectl", "3")
    code, _, err = deploy(capsys, "--environment", "staging", "--image", IMAGE)
    assert code == 1
    assert "set the image of deployment/rustok-server failed: kubectl exited with 3" in err
    assert len(calls(tools)) == 1  # stopped at the first failing step
    monkeypatch.setenv("PATH", "/nonexistent")
    code, _, err = deploy(capsys, "--environment", "production", "--image", IMAGE)
    assert code == 1 and "docker is not installed" in err


def test_only_digest_pinned_images_and_known_environments(
    capsys: pytest.CaptureFixture[str], tools: Path, config_file: Path
) -> None:
    for image in (
        "ghcr.io/rustok/rustok-mini:latest",
        "ghcr.io/rustok/rustok-mini@sha256:abc",
        "x; rm -rf /",
    ):
        code, _, err = deploy(capsys, "--environment", "staging", "--image", image)
        assert code == 2 and "not pinned by digest" in err
    code, _, err = deploy(capsys, "--environment", "qa", "--image", IMAGE)
    assert code == 1 and "not in the config" in err
    with pytest.raises(SystemExit):
        main(["pipeline", "deploy", "--environment", "Staging!", "--image", IMAGE])
    capsys.readouterr()
    assert calls(tools) == []


def test_dry_run_runs_nothing(capsys: pytest.CaptureFixture[str], tools: Path, config_file: Path) -> None:
    code, out, err = deploy(capsys, "--environment", "staging", "--image", IMAGE, "--dry-run")
    assert code == 0
    assert "would deploy" in out
    assert f"$ kubectl --namespace rustok set image deployment/rustok-server server={IMAGE}" in err
    assert calls(tools) == []


def test_deploy_a_release_by_id(
    capsys: pytest.CaptureFixture[str],
    tools: Path,
    repo: Path,  # noqa: F811 - the fixture
) -> None:
    head = git(repo, "rev-parse", "HEAD")
    assert create(capsys, head)[0] == 0
    code, out, _ = deploy(
        capsys, "--environment", "staging", "--release", "release/rel_2026_08_16_001", "--format", "json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["release_id"] == "rel_2026_08_16_001" and data["image"] == IMAGE
    assert calls(tools)[0]["argv"][-1] == f"server={IMAGE}"
    code, _, err = deploy(capsys, "--environment", "staging", "--release", "rel_2026_08_16_002")
    assert code == 1 and "no tag release/rel_2026_08_16_002" in err


def test_deploy_steps_refuse_unpinned_images() -> None:
    config = parse_pipeline_config(CONFIG)
    with pytest.raises(DeployError, match="not pinned"):
        deploy_steps(config.environment("staging"), image="rustok:1", release_id="")


def test_headless_release_records_ui_images_and_deploys_them(
    capsys: pytest.CaptureFixture[str],
    tools: Path,
    repo: Path,  # noqa: F811 - the fixture
) -> None:
    config = repo / ".github/modbot.toml"
    config.write_text(
        config.read_text()
        + '\n[[headless.ui]]\nname = "admin"\nrepository = "rustok/rustok-admin"\ndockerfile = "apps/admin/Dockerfile"\n'
    )
    manifest = repo / "modules.toml"
    # a monolith manifest with [headless] in the config is refused, naming the fix
    head = git(repo, "rev-parse", "HEAD")
    code, _, err = create(capsys, head)
    assert code == 1 and "profile is monolith" in err
    manifest.write_text(manifest.read_text().replace("embed_admin = true", "embed_admin = false"))
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "headless")
    head = git(repo, "rev-parse", "HEAD")
    admin = f"ghcr.io/rustok/rustok-admin@{DIGEST_B}"
    code, _, err = create(capsys, head, "--ui-image", f"admin={admin}")
    assert code == 0, err
    assert main(["pipeline", "release", "show", "rel_2026_08_16_001", "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["ui_images"] == {"admin": admin}
    code, out, _ = deploy(
        capsys, "--environment", "staging", "--release", "rel_2026_08_16_001", "--ui", "admin"
    )
    assert code == 0
    assert calls(tools)[0]["argv"][-2:] == ["deployment/admin", f"admin={admin}"]
    code = main(["pipeline", "config", "--format", "json"])
    assert code == 0 and json.loads(capsys.readouterr().out)["headless"]["ui"][0]["name"] == "admin"
