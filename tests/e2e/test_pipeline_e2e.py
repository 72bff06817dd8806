"""The pipeline on a real cargo build of examples/rustok-mini and the real running server:
features -> cargo build --offline with exactly those arguments -> start -> smoke; install a module
-> rebuild -> smoke with it; a module without its feature fails at `features`; a server built without
a module the manifest lists fails smoke; preflight against the real server; the compiled registry
follows the manifest `pipeline build` validated (RUSTOK_MODULES_MANIFEST), and the server's non-module
default feature survives --no-default-features.

One copy of the workspace and one CARGO_TARGET_DIR for the whole session, so every build after the
first is incremental (as the cached workflow runs them)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.corpus import ROOT

pytestmark = pytest.mark.slow

MINI = ROOT / "examples" / "rustok-mini"
TOKEN = "e2e-health-token"
SERVER_ENV = ("RUSTOK_OBSERVABILITY_BEARER_TOKEN", "RUSTOK_METRICS_BEARER_TOKEN", "RUSTOK_DEGRADED")
# a release build refuses /health/modules without a token (as RusToK's): every server gets one,
# and smoke/preflight read it from E2E_TOKEN unless a test says otherwise
GUARDED = {"RUSTOK_OBSERVABILITY_BEARER_TOKEN": TOKEN}
WITH_TOKEN = ("--token-env", "E2E_TOKEN")


def modbot(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess, as a workflow step runs it."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@dataclass
class Workspace:
    root: Path
    target_dir: Path

    def features(self, manifest: str = "modules.toml") -> dict[str, object]:
        done = modbot("pipeline", "features", "--manifest", manifest, "--format", "json", cwd=self.root)
        assert done.returncode == 0, done.stderr
        data: dict[str, object] = json.loads(done.stdout)
        return data

    def cargo_build(
        self, args: list[str], *, manifest_hash: str | None = None, modules_manifest: Path | None = None
    ) -> Path:
        env = {**os.environ, "CARGO_TARGET_DIR": str(self.target_dir)}
        env.pop("RUSTOK_RELEASE_ID", None)
        env.pop("RUSTOK_MANIFEST_HASH", None)
        env.pop("RUSTOK_MODULES_MANIFEST", None)  # the build script falls back to ./modules.toml
        if manifest_hash:
            env["RUSTOK_MANIFEST_HASH"] = manifest_hash
        if modules_manifest:
            env["RUSTOK_MODULES_MANIFEST"] = str(modules_manifest)
        done = subprocess.run(
            ["cargo", "build", "--offline", *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-4000:]
        return self.target_dir / "release" / "rustok-server"


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    if shutil.which("cargo") is None:
        pytest.skip("cargo is not installed")
    base = tmp_path_factory.mktemp("e2e")
    root = base / "rustok-mini"
    shutil.copytree(MINI, root, ignore=shutil.ignore_patterns("target"))
    return Workspace(root, base / "target")


class RunningServer:
    def __init__(self, binary: Path, env: dict[str, str] | None = None) -> None:
        clean = {k: v for k, v in os.environ.items() if k not in SERVER_ENV}
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in stop(); the server's stderr
        self.process = subprocess.Popen(
            [str(binary), "--port", "0"],
            env={**clean, **GUARDED, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        line: list[str] = []
        assert self.process.stdout is not None
        reader = threading.Thread(target=lambda: line.append(self.process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(10)
        if not line or not line[0].startswith("listening on http://"):
            self.stop()
            pytest.fail(f"the server did not start: {line!r}")
        self.url = line[0].strip().removeprefix("listening on ")

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)
        self.log.close()


@pytest.fixture
def serve() -> Iterator[object]:
    started: list[RunningServer] = []

    def start(binary: Path, env: dict[str, str] | None = None) -> RunningServer:
        server = RunningServer(binary, env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def smoke(
    ws: Workspace, url: str, *extra: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, object]]:
    """`extra` replaces the default `--token-env E2E_TOKEN` when it names its own or `--no-token`."""
    token = () if "--token-env" in extra or "--no-token" in extra else WITH_TOKEN
    extra = tuple(a for a in extra if a != "--no-token")
    done = modbot(
        "pipeline", "smoke", "--url", url, "--format", "json", "--timeout", "10", *token, *extra, cwd=ws.root,
        env={"E2E_TOKEN": TOKEN, **(env or {})},
    )  # fmt: skip
    assert "Traceback" not in done.stderr
    return done.returncode, json.loads(done.stdout)


def test_manifest_to_running_server_and_module_install(workspace: Workspace, serve) -> None:  # type: ignore[no-untyped-def]
    ws = workspace
    # 1. features -> cargo build --offline with exactly those arguments -> start -> smoke
    plan = ws.features()
    args = plan["cargo_args"]
    assert isinstance(args, list)
    assert "--no-default-features" in args and "--release" in args
    binary = ws.cargo_build(args, manifest_hash=str(plan["manifest_hash"]))
    server = serve(binary)
    code, report = smoke(ws, server.url)
    assert code == 0, report
    assert report["served_modules"] == ["blog", "content", "outbox", "pages"]
    assert report["unhealthy"] == {} and report["served_status"] == "ok"
    assert (
        report["health_path"] == "/health/" and report["served_version"]
    )  # RusToK's route, via the fallback
    assert report["served_manifest_hash"] == plan["manifest_hash"]  # baked in at build time
    without_forum = ws.target_dir / "rustok-server-without-forum"
    shutil.copy2(binary, without_forum)

    # the real server's token and degraded switches, seen by smoke
    code, report = smoke(ws, server.url, "--no-token")
    assert code == 1 and report["attempts"] == 1
    assert "HTTP 401: the server wants a bearer token and none was sent" in report["problems"][0]  # type: ignore[index]
    code, report = smoke(ws, server.url, env={"E2E_TOKEN": "wrong"})
    assert code == 1 and "HTTP 401: the server refused the token in E2E_TOKEN" in report["problems"][0]  # type: ignore[index]
    unconfigured = serve(binary, {"RUSTOK_OBSERVABILITY_BEARER_TOKEN": ""})
    code, report = smoke(ws, unconfigured.url)
    assert code == 1 and report["attempts"] == 1
    assert "HTTP 503: the server has no observability token configured" in report["problems"][0]  # type: ignore[index]
    legacy = serve(binary, {"RUSTOK_OBSERVABILITY_BEARER_TOKEN": "", "RUSTOK_METRICS_BEARER_TOKEN": TOKEN})
    assert smoke(ws, legacy.url)[0] == 0
    degraded = serve(binary, {"RUSTOK_DEGRADED": "blog"})
    code, report = smoke(ws, degraded.url, "--timeout", "1")
    assert code == 1 and report["unhealthy"] == {"blog": "degraded"}
    assert report["problems"] == ["unhealthy modules: blog (degraded)"]

    # 2. modbot install forum -> rebuild (the pipeline's own build step) -> smoke passes with forum
    done = modbot(
        "install", "forum", "--crate", "rustok-forum", "--source", "path", "--path", "crates/rustok-forum",
        "--depends-on", "content", "--enable", "--manifest", "modules.toml", cwd=ws.root,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    built = modbot(
        "pipeline", "build", "--offline", "--target-dir", str(ws.target_dir), "--release-id", "rel_2026_08_16_002",
        "--format", "json", cwd=ws.root,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-4000:]
    result = json.loads(built.stdout)
    assert "mod-forum" in result["cargo_args"][result["cargo_args"].index("--features") + 1]
    assert Path(result["binary"]) == ws.target_dir / "release" / "rustok-server"
    with_forum = serve(Path(result["binary"]))
    code, report = smoke(ws, with_forum.url)
    assert code == 0, report
    assert report["served_modules"] == ["blog", "content", "forum", "outbox", "pages"]
    assert report["served_release_id"] == "rel_2026_08_16_002"  # baked in by the pipeline's build
    assert report["served_manifest_hash"] == result["manifest_hash"]

    # 3. a server built without a module the manifest lists fails smoke, naming it
    old = serve(without_forum)
    code, report = smoke(ws, old.url, "--timeout", "1")
    assert code == 1
    assert report["missing"] == ["forum"]
    assert any("built from manifest_hash" in p for p in report["problems"])  # type: ignore[union-attr]

    # 4. preflight (headless UI gate) against the real server
    token = {"E2E_TOKEN": TOKEN}
    done = modbot(
        "pipeline",
        "preflight",
        "--backend-url",
        with_forum.url,
        "--format",
        "json",
        *WITH_TOKEN,
        cwd=ws.root,
        env=token,
    )
    assert done.returncode == 0, done.stdout
    done = modbot(
        "pipeline",
        "preflight",
        "--backend-url",
        old.url,
        "--format",
        "json",
        *WITH_TOKEN,
        cwd=ws.root,
        env=token,
    )
    assert done.returncode == 1
    assert "the UI expects modules the backend lacks: forum" in json.loads(done.stdout)["problems"]


def test_a_module_without_its_feature_fails_at_features_not_at_runtime(workspace: Workspace) -> None:
    manifest = workspace.root / "with-search.toml"
    text = (MINI / "modules.toml").read_text()
    text = text.replace(
        "[settings]",
        'search = { crate = "rustok-search", source = "path", path = "crates/rustok-search" }\n\n[settings]',
    )
    manifest.write_text(text)
    assert (workspace.root / "crates/rustok-search/Cargo.toml").exists()  # the crate is there
    done = modbot("pipeline", "features", "--manifest", "with-search.toml", cwd=workspace.root)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "optional module search" in done.stderr and "no feature mod-search" in done.stderr
    # and so does the pipeline's build step: cargo never runs
    done = modbot("pipeline", "build", "--manifest", "with-search.toml", "--offline", cwd=workspace.root)
    assert done.returncode == 1 and "no feature mod-search" in done.stderr
    assert "$ cargo" not in done.stderr


def test_the_compiled_registry_follows_the_manifest_the_build_validated(workspace: Workspace, serve) -> None:  # type: ignore[no-untyped-def]
    """Issue #10, 3 and 2: `pipeline build --manifest M` compiles the registry from M (the file it
    validated and hashed, passed as RUSTOK_MODULES_MANIFEST), not from the workspace's modules.toml;
    and the server's non-module default feature (access-log) survives --no-default-features."""
    ws = workspace
    elsewhere = ws.target_dir.parent / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    with_seo = elsewhere / "with-seo.toml"
    with_seo.write_text(
        (ws.root / "modules.toml")
        .read_text()
        .replace(
            "[settings]",
            'seo = { crate = "rustok-seo", source = "path", path = "crates/rustok-seo", '
            'depends_on = ["content"] }\n\n[settings]',
        )
    )
    assert "seo" not in (ws.root / "modules.toml").read_text()
    built = modbot(
        "pipeline", "build", "--offline", "--target-dir", str(ws.target_dir), "--manifest", str(with_seo),
        "--format", "json", cwd=ws.root,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-4000:]
    result = json.loads(built.stdout)
    assert result["modules_manifest"] == str(with_seo.resolve())
    assert "access-log" in result["cargo_args"][result["cargo_args"].index("--features") + 1]
    server = serve(Path(result["binary"]))
    code, report = smoke(ws, server.url, "--manifest", str(with_seo))
    assert code == 0, report
    assert "seo" in report["served_modules"]  # type: ignore[operator]
    assert report["served_manifest_hash"] == result["manifest_hash"]
    # the carried-over default is on: the startup line says so and each request is logged
    with urllib.request.urlopen(f"{server.url}/health/?token=secret", timeout=10) as answer:  # noqa: S310 - local server
        assert answer.status == 200
    log = server.stderr()
    assert "access_log on" in log
    assert "access: GET /health/ 200 " in log and "secret" not in log

    # the same features, but the build script reads the workspace's modules.toml (no seo): the
    # feature alone does not register a module the manifest does not list; no access-log, no log
    plan = ws.features()
    args = [a.replace("access-log,", "") for a in plan["cargo_args"]]  # type: ignore[union-attr]
    features = args[args.index("--features") + 1]
    args[args.index("--features") + 1] = features + ",mod-seo"
    binary = ws.cargo_build(args, modules_manifest=ws.root / "modules.toml")
    workspace_server = serve(binary)
    code, report = smoke(ws, workspace_server.url)
    assert code == 0, report
    assert "seo" not in report["served_modules"]  # type: ignore[operator]
    assert "access_log off" in workspace_server.stderr()


def test_an_empty_modules_manifest_variable_is_used_as_rustoks_build_script_uses_it(
    workspace: Workspace,
) -> None:
    """RusToK's build.rs falls back to modules.toml only when RUSTOK_MODULES_MANIFEST is unset: an empty
    value names the workspace root, which cannot be read as a manifest. rustok-mini's does the same."""
    env = {**os.environ, "CARGO_TARGET_DIR": str(workspace.target_dir), "RUSTOK_MODULES_MANIFEST": ""}
    done = subprocess.run(
        ["cargo", "build", "--offline", "-p", "rustok-server"],
        cwd=workspace.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode != 0
    assert "failed to generate the module registry: cannot read" in done.stderr
