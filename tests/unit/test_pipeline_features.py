"""`modbot pipeline features`: the exact cargo arguments, and the check that every module has its
feature, on rustok-mini and on RusToK's real server Cargo.toml and manifest history."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import tomli

from bot.cli import main
from bot.manifest import validate_text
from bot.pipeline.config import BuildConfig
from bot.pipeline.features import cargo_package_info, cargo_profile, plan_features
from tests.corpus import HISTORY, LATEST, ROOT, SERVER_BUILD_RS, SERVER_CARGO_TOML, version_number

MINI = ROOT / "examples" / "rustok-mini"
REAL_CARGO = SERVER_CARGO_TOML
MINI_CARGO = tomli.loads((MINI / "apps/server/Cargo.toml").read_text())


def manifest(text: str):  # type: ignore[no-untyped-def]
    result = validate_text(text)
    assert result.manifest is not None, result.problems
    return result.manifest


def mini_manifest(extra_modules: str = "", build: str = "") -> str:
    return f"""schema = 2
app = "rustok-server"
[build]
{build}
[modules]
outbox = {{ crate = "rustok-outbox", source = "path", path = "crates/rustok-outbox", required = true }}
content = {{ crate = "rustok-content", source = "path", path = "crates/rustok-content" }}
{extra_modules}
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# --- the pure plan --------------------------------------------------------------------------------


def test_plan_for_rustok_mini_manifest() -> None:
    text = (MINI / "modules.toml").read_text()
    plan = plan_features(manifest(text), BuildConfig(), cargo_package_info(MINI_CARGO))
    assert plan.ok, plan.errors
    assert plan.cargo_args == [
        "-p", "rustok-server", "--locked", "--no-default-features",
        "--features", "mod-blog,mod-content,mod-outbox,mod-pages,access-log,embed-admin,embed-storefront",
        "--release",
    ]  # fmt: skip
    assert plan.modules == ("blog", "content", "outbox", "pages")
    assert plan.profile_dir == "release"
    assert len(plan.manifest_hash) == 64


def test_a_module_without_its_feature_fails_and_is_named() -> None:
    # crates/rustok-search exists, but the server has no mod-search feature
    text = mini_manifest(
        'search = { crate = "rustok-search", source = "path", path = "crates/rustok-search" }'
    )
    plan = plan_features(manifest(text), BuildConfig(), cargo_package_info(MINI_CARGO))
    assert not plan.ok
    assert len(plan.errors) == 1
    assert "optional module search" in plan.errors[0]
    assert "no feature mod-search" in plan.errors[0]
    assert 'mod-search = ["dep:rustok-search"]' in plan.errors[0]


def test_required_and_extension_modules_are_passed_too() -> None:
    cargo = {
        "package": {"name": "rustok-server"},
        "features": {
            "mod-outbox": [],
            "mod-content": [],
            "mod-ai": [],
            "embed-admin": [],
            "embed-storefront": [],
        },
        "dependencies": {"rustok-core": {"path": "x"}, "rustok-ai": {"path": "y", "optional": True}},
    }
    text = mini_manifest(
        'ai = { crate = "rustok-ai", source = "path", path = "crates/rustok-ai", runtime = "extension" }\n'
        'core = { crate = "rustok-core", source = "path", path = "crates/rustok-core", required = true }'
    )
    plan = plan_features(manifest(text), BuildConfig(), cargo_package_info(cargo))
    assert plan.ok, plan.errors
    # outbox (required) and ai (extension) by their features; core is a plain dependency: no feature
    assert plan.features[:3] == ("mod-ai", "mod-content", "mod-outbox")
    assert plan.compiled_by_feature == ("ai", "content", "outbox")
    assert "core" in plan.modules
    assert plan.warnings == ()


def test_required_module_without_feature_nor_dependency_is_a_warning() -> None:
    text = mini_manifest(
        'core = { crate = "rustok-nowhere", source = "path", path = "crates/x", required = true }'
    )
    plan = plan_features(manifest(text), BuildConfig(), cargo_package_info(MINI_CARGO))
    assert plan.ok
    assert any("required module core" in w for w in plan.warnings)


def test_module_crate_features_become_dependency_features() -> None:
    cargo = {
        "features": {"mod-outbox": [], "mod-content": [], "embed-admin": [], "embed-storefront": []},
        "dependencies": {"content-crate": {"package": "rustok-content", "path": "c", "optional": True}},
    }
    text = mini_manifest().replace(
        'path = "crates/rustok-content" }', 'path = "crates/rustok-content", features = ["graphql", "fts"] }'
    )
    plan = plan_features(manifest(text), BuildConfig(), cargo_package_info(cargo))
    assert plan.ok, plan.errors
    assert "content-crate/graphql" in plan.features
    assert "content-crate/fts" in plan.features


def test_embed_flags_follow_build_server_and_profile() -> None:
    cargo = cargo_package_info(MINI_CARGO)
    headless = mini_manifest(build="[build.server]\nembed_admin = false\nembed_storefront = true")
    plan = plan_features(manifest(headless), BuildConfig(), cargo)
    assert "embed-admin" not in plan.features
    assert "embed-storefront" in plan.features
    # a monolith with no [build.server] embeds both (that is what monolith means)
    plan = plan_features(manifest(mini_manifest()), BuildConfig(), cargo)
    assert plan.features[-2:] == ("embed-admin", "embed-storefront")
    # schema 1 headless without a server table embeds nothing
    schema1 = mini_manifest(build='deployment_profile = "headless"').replace("schema = 2", "schema = 1")
    plan = plan_features(manifest(schema1), BuildConfig(), cargo)
    assert not any(f.startswith("embed") for f in plan.features)


@pytest.mark.parametrize(
    ("profile", "cargo", "flags"),
    [
        (None, "release", ["--release"]),
        ("release", "release", ["--release"]),
        ("debug", "dev", []),
        ("dev", "dev", []),
        ("ci-fast", "ci-fast", ["--profile", "ci-fast"]),
    ],
)
def test_profiles(profile: str | None, cargo: str, flags: list[str]) -> None:
    assert cargo_profile(profile) == cargo
    build = f'profile = "{profile}"' if profile else ""
    plan = plan_features(manifest(mini_manifest(build=build)), BuildConfig(), cargo_package_info(MINI_CARGO))
    tail = plan.cargo_args[plan.cargo_args.index("--features") + 2 :]
    assert tail == flags


def test_target_and_extra_features() -> None:
    text = mini_manifest(build='target = "x86_64-unknown-linux-gnu"')
    build = BuildConfig(extra_features=["embed-admin", "rustok-outbox/metrics"])
    plan = plan_features(manifest(text), build, cargo_package_info(MINI_CARGO))
    assert plan.ok, plan.errors
    assert plan.cargo_args[-2:] == ["--target", "x86_64-unknown-linux-gnu"]
    assert plan.features.count("embed-admin") == 1
    missing = plan_features(
        manifest(text), BuildConfig(extra_features=["redis-cache"]), cargo_package_info(MINI_CARGO)
    )
    assert missing.errors == ("apps/server/Cargo.toml has no feature redis-cache (build.extra_features)",)


def test_wrong_package_is_reported() -> None:
    plan = plan_features(
        manifest(mini_manifest()), BuildConfig(package="rustok-api"), cargo_package_info(MINI_CARGO)
    )
    assert any('is the package "rustok-server"' in e for e in plan.errors)


def test_real_rustok_latest_manifest_has_one_gap_iggy_connector() -> None:
    """RusToK's real server Cargo.toml against its latest real manifest: `iggy_connector` (an
    extension) has no `mod-iggy_connector`, and its crate is a non-optional dependency, so the
    manifest cannot decide whether it is compiled."""
    real = manifest(LATEST.read_text())
    cargo = cargo_package_info(tomli.loads(REAL_CARGO.read_text()))
    plan = plan_features(real, BuildConfig(extra_features=["redis-cache"]), cargo)
    assert len(plan.errors) == 1, plan.errors
    assert "extension module iggy_connector" in plan.errors[0]
    assert "mod-iggy_connector" in plan.errors[0]
    assert "non-optional dependency" in plan.errors[0]
    # required core modules are plain dependencies in RusToK: no feature needed, none passed
    assert "mod-auth" not in plan.features
    assert "mod-commerce" in plan.features and "mod-ai" in plan.features
    # flex has mod-flex but its crate is always compiled in: said, not failed
    assert any(w.startswith("module flex:") for w in plan.warnings)


# --- the command ------------------------------------------------------------------------------------


def real_repo(tmp_path: Path, manifest_file: Path) -> Path:
    (tmp_path / ".github").mkdir()
    (tmp_path / "apps/server").mkdir(parents=True)
    shutil.copy(REAL_CARGO, tmp_path / "apps/server/Cargo.toml")
    shutil.copy(manifest_file, tmp_path / "modules.toml")
    config = (
        (MINI / ".github/modbot.toml")
        .read_text()
        .replace("extra_features = []", 'extra_features = ["redis-cache"]')
    )
    (tmp_path / ".github/modbot.toml").write_text(config)
    return tmp_path / ".github/modbot.toml"


def test_cli_catches_the_real_iggy_connector_gap(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = real_repo(tmp_path, LATEST)
    code, out, err = run(capsys, "pipeline", "features", "--config", str(config))
    assert code == 1
    assert out == ""
    assert "extension module iggy_connector" in err and "mod-iggy_connector" in err
    assert "Traceback" not in err
    code, out, _ = run(capsys, "pipeline", "features", "--config", str(config), "--format", "json")
    assert code == 1
    assert json.loads(out)["ok"] is False


def test_cli_on_an_older_real_manifest_passes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # manifest 37 predates iggy_connector (added in 38); every module of it has its feature in today's Cargo.toml
    older = next((ROOT / "tests/fixtures/rustok-history").glob("37-*.toml"))
    config = real_repo(tmp_path, older)
    code, out, err = run(capsys, "pipeline", "features", "--config", str(config), "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["cargo_args"][:4] == ["-p", "rustok-server", "--locked", "--no-default-features"]
    assert "redis-cache" in data["features"].split(",")
    assert data["target"] == "x86_64-unknown-linux-gnu"


def test_cli_features_text_json_github(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = str(MINI / ".github/modbot.toml")
    code, out, _ = run(capsys, "pipeline", "features", "--config", config)
    assert code == 0
    assert out.strip() == (
        "cargo build -p rustok-server --locked --no-default-features --features "
        "mod-blog,mod-content,mod-outbox,mod-pages,access-log,embed-admin,embed-storefront --release"
    )
    outputs = tmp_path / "outputs"
    outputs.write_text("earlier=1\n")
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    code, out, _ = run(capsys, "pipeline", "features", "--config", config, "--format", "github")
    assert code == 0
    from bot.pipeline.outputs import parse_github_outputs

    written = parse_github_outputs(outputs.read_text())
    assert written["earlier"] == "1"  # appended, never truncated
    assert json.loads(written["cargo_args"])[-1] == "--release"
    assert json.loads(written["modules"]) == ["blog", "content", "outbox", "pages"]
    assert len(written["manifest_hash"]) == 64
    assert written["target"] == ""
    monkeypatch.delenv("GITHUB_OUTPUT")
    code, _, err = run(capsys, "pipeline", "features", "--config", config, "--format", "github")
    assert code == 2
    assert "GITHUB_OUTPUT" in err


def test_cli_usage_and_io_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "pipeline", "features", "--config", str(tmp_path / "nope.toml"))
    assert code == 2 and "no pipeline config" in err
    bad = tmp_path / "modbot.toml"
    bad.write_text('[image]\nrepository = "x"\n')
    code, _, err = run(capsys, "pipeline", "features", "--config", str(bad))
    assert code == 2
    assert "environments: required key is missing" in err
    code, _, err = run(
        capsys,
        "pipeline",
        "features",
        "--config",
        str(MINI / ".github/modbot.toml"),
        "--manifest",
        str(tmp_path / "x"),
    )
    assert code == 2 and "cannot access" in err
    broken = tmp_path / "modules.toml"
    broken.write_text(
        'schema = 2\napp = "rustok-server"\n[modules]\nx = { crate = "a b", source = "path" }\n'
    )
    code, _, err = run(
        capsys,
        "pipeline",
        "features",
        "--config",
        str(MINI / ".github/modbot.toml"),
        "--manifest",
        str(broken),
    )
    assert code == 1 and "the manifest is invalid" in err
    assert "Traceback" not in err


def test_build_warns_when_rustc_is_not_the_configured_toolchain(capsys: pytest.CaptureFixture[str]) -> None:
    import os

    from bot.cli.pipeline_commands import _check_toolchain

    if shutil.which("rustc") is None:
        pytest.skip("rustc is not installed")
    _check_toolchain("1.2.3", dict(os.environ))
    assert "but build.toolchain is 1.2.3" in capsys.readouterr().err
    version = subprocess.run(
        ["rustc", "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    _check_toolchain(version, dict(os.environ))
    assert capsys.readouterr().err == ""


# --- default features carried over (issue #10, 2) --------------------------------------------------

REAL = cargo_package_info(tomli.loads(REAL_CARGO.read_text()))
MANIFEST_37 = next(p for p in HISTORY if version_number(p) == 37)  # has ai, not translation


def test_the_real_default_list_is_what_the_rule_is_about() -> None:
    """RusToK's server Cargo.toml at HEAD: `default` names every mod-* plus these non-module
    features; if upstream changes it, this fails here rather than in a deploy."""
    non_module = [f for f in REAL.default_features if not f.startswith("mod-")]
    assert non_module == ["redis-cache", "embed-admin", "embed-storefront", "ai-translation"]
    assert "mod-translation" in REAL.enabled_by("ai-translation")
    assert REAL.enabled_by("redis-cache") == {"redis-cache"}


def test_non_module_defaults_are_carried_over_against_the_real_cargo_toml() -> None:
    # HEAD's manifest (the latest of the history) has ai and translation: ai-translation may come too
    plan = plan_features(manifest(LATEST.read_text()), BuildConfig(), REAL)
    assert plan.default_features == ("redis-cache", "ai-translation")
    assert "redis-cache" in plan.features and "ai-translation" in plan.features
    # the module defaults are not: only the manifest's modules are passed
    real = manifest(LATEST.read_text())
    module_features = {f for f in plan.features if f.startswith("mod-")}
    assert module_features == {f"mod-{slug}" for slug in plan.compiled_by_feature}
    assert module_features < {f for f in REAL.default_features if f.startswith("mod-")} | {
        f"mod-{s}" for s in real.modules
    }


def test_a_default_that_enables_a_module_the_manifest_leaves_out_is_not_carried() -> None:
    """Manifest 37 has `ai` but not `translation`; `ai-translation` turns on mod-translation, so
    carrying it would compile translation in although the manifest does not name it."""
    plan = plan_features(manifest(MANIFEST_37.read_text()), BuildConfig(), REAL)
    assert plan.ok, plan.errors
    assert plan.default_features == ("redis-cache",)
    assert "ai-translation" not in plan.features and "mod-translation" not in plan.features
    assert any(
        w.startswith("default feature ai-translation of rustok-server is not carried over")
        and "mod-translation" in w
        for w in plan.warnings
    )


def test_embed_flags_keep_their_own_rule_even_though_they_are_defaults() -> None:
    headless = (
        LATEST.read_text()
        .replace("embed_admin = true", "embed_admin = false")
        .replace("embed_storefront = true", "embed_storefront = false")
    )
    plan = plan_features(manifest(headless), BuildConfig(), REAL)
    assert "embed-admin" not in plan.features and "embed-storefront" not in plan.features
    assert plan.default_features == ("redis-cache", "ai-translation")


def test_a_carried_default_that_would_turn_on_an_embed_flag_the_manifest_refuses_is_left_out() -> None:
    cargo = dict(MINI_CARGO)
    cargo["features"] = {
        **MINI_CARGO["features"],
        "default": ["access-log", "ui-extras"],
        "ui-extras": ["embed-admin"],
    }
    headless = mini_manifest(build="[build.server]\nembed_admin = false\nembed_storefront = true")
    plan = plan_features(manifest(headless), BuildConfig(), cargo_package_info(cargo))
    assert plan.default_features == ("access-log",)
    assert any("ui-extras" in w and "embed-admin" in w for w in plan.warnings)
    # when the manifest embeds the admin anyway, nothing is turned on behind its back: it is carried
    plan = plan_features(manifest(mini_manifest()), BuildConfig(), cargo_package_info(cargo))
    assert plan.default_features == ("access-log", "ui-extras")


def test_the_config_opts_out_explicitly() -> None:
    build = BuildConfig(exclude_default_features=["redis-cache"])
    plan = plan_features(manifest(MANIFEST_37.read_text()), build, REAL)
    assert plan.ok, plan.errors
    assert "redis-cache" not in plan.features
    assert plan.default_features == ()
    assert plan.excluded_defaults == ("redis-cache",)
    # a name that is not a non-module default is an error, not a silent no-op (a typo keeps the feature)
    for name in ("redis-cach", "mod-blog", "embed-admin"):
        plan = plan_features(
            manifest(MANIFEST_37.read_text()), BuildConfig(exclude_default_features=[name]), REAL
        )
        assert plan.errors == (
            f"build.exclude_default_features: {name} is not a non-module default feature of "
            "rustok-server (those in apps/server/Cargo.toml: redis-cache, ai-translation)",
        )
    both = BuildConfig(extra_features=["redis-cache"], exclude_default_features=["redis-cache"])
    plan = plan_features(manifest(MANIFEST_37.read_text()), both, REAL)
    assert "redis-cache is in both build.extra_features and build.exclude_default_features" in plan.errors


def test_no_defaults_carried_when_the_prefix_cannot_tell_modules_apart() -> None:
    cargo = {
        "features": {
            "default": ["blog", "access-log"],
            "blog": [],
            "access-log": [],
            "embed-admin": [],
            "embed-storefront": [],
        }
    }
    text = 'schema = 2\napp = "rustok-server"\n[modules]\nblog = { crate = "rustok-blog", source = "path", path = "crates/rustok-blog" }\n'
    plan = plan_features(manifest(text), BuildConfig(feature_prefix=""), cargo_package_info(cargo))
    assert plan.default_features == ()


def test_cli_prints_the_carried_defaults(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = real_repo(tmp_path, MANIFEST_37)
    config.write_text(config.read_text().replace('extra_features = ["redis-cache"]', "extra_features = []"))
    code, out, err = run(capsys, "pipeline", "features", "--config", str(config))
    assert code == 0, err
    assert "--features" in out and "redis-cache" in out.split("--features ")[1].split()[0].split(",")
    assert "carried over from rustok-server's default features: redis-cache" in err
    assert "default feature ai-translation of rustok-server is not carried over" in err
    code, out, _ = run(capsys, "pipeline", "features", "--config", str(config), "--format", "json")
    assert json.loads(out)["default_features"] == ["redis-cache"]
    config.write_text(
        config.read_text().replace(
            "extra_features = []", 'extra_features = []\nexclude_default_features = ["redis-cache"]'
        )
    )
    code, out, err = run(capsys, "pipeline", "features", "--config", str(config), "--format", "json")
    assert code == 0, err
    assert "redis-cache" not in json.loads(out)["features"].split(",")
    assert "left out by build.exclude_default_features: redis-cache" in err


# --- the manifest the binary is built from (issue #10, 3) --------------------------------------------


def test_rustok_build_rs_reads_the_variable_modbot_sets() -> None:
    """RusToK's apps/server/build.rs (HEAD): the variable's name, the fallback, a relative value joined
    to the workspace root (modbot passes an absolute path, so the two cannot differ), rerun on change,
    and `mod-<slug>` as the feature of each registered module (BuildConfig's default prefix)."""
    from bot.pipeline.features import MODULES_MANIFEST_ENV

    rust = SERVER_BUILD_RS.read_text()
    assert f'std::env::var("{MODULES_MANIFEST_ENV}")' in rust
    assert f"cargo:rerun-if-env-changed={MODULES_MANIFEST_ENV}" in rust
    assert 'workspace_root().join("modules.toml")' in rust
    assert "if raw.is_absolute() {\n            return raw;" in rust
    assert f'let feature = format!("{BuildConfig().feature_prefix}{{slug}}");' in rust
    assert '#[cfg(feature = \\"{feature}\\")]' in rust
    # rustok-mini's build.rs mirrors it
    mini = (MINI / "apps/server/build.rs").read_text()
    assert f'env::var("{MODULES_MANIFEST_ENV}")' in mini
    assert f"cargo:rerun-if-env-changed={MODULES_MANIFEST_ENV}" in mini
    assert '#[cfg(feature = \\"mod-{slug}\\")]' in mini


FAKE_CARGO = """#!/bin/sh
# records what `modbot pipeline build` ran cargo with; optionally edits the manifest meanwhile
printf '%s\\n%s\\n%s\\n' "$RUSTOK_MODULES_MANIFEST" "$RUSTOK_MANIFEST_HASH" "$PWD" > "$FAKE_CARGO_LOG"
if [ -n "$FAKE_CARGO_TOUCH" ]; then printf '\\n# edited\\n' >> "$FAKE_CARGO_TOUCH"; fi
exit 0
"""


@pytest.fixture
def fake_cargo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("cargo", "rustc"):
        (bin_dir / tool).write_text(FAKE_CARGO)
        (bin_dir / tool).chmod(0o755)
    log = tmp_path / "cargo.log"
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    monkeypatch.setenv("FAKE_CARGO_LOG", str(log))
    monkeypatch.setenv("RUSTOK_MODULES_MANIFEST", "/somewhere/else/modules.toml")  # overridden
    return log


def mini_copy(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(MINI, repo, ignore=shutil.ignore_patterns("target"))
    return repo


def test_build_points_the_build_script_at_the_validated_manifest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_cargo: Path
) -> None:
    repo = mini_copy(tmp_path)
    other = repo / "manifests" / "with-forum.toml"
    other.parent.mkdir()
    other.write_text(
        (MINI / "modules.toml")
        .read_text()
        .replace(
            "[settings]",
            'forum = { crate = "rustok-forum", source = "path", path = "crates/rustok-forum" }\n\n[settings]',
        )
    )
    monkeypatch.chdir(repo / "manifests")  # a relative --manifest, while cargo runs in the workspace
    code, out, err = run(
        capsys, "pipeline", "build", "--config", "../.github/modbot.toml", "--manifest", "with-forum.toml",
        "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    manifest_env, hash_env, cwd = fake_cargo.read_text().splitlines()
    assert manifest_env == str(other.resolve())  # absolute: the file checked and hashed, not ./modules.toml
    result = json.loads(out)
    assert result["modules_manifest"] == manifest_env
    assert hash_env == result["manifest_hash"]
    assert "forum" in result["modules"]
    assert Path(cwd).resolve() == repo.resolve()
    assert f"$ RUSTOK_MODULES_MANIFEST={other.resolve()} cargo build" in err
    # without --manifest: the config's build.manifest, absolute
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "pipeline", "build", "--config", str(repo / ".github/modbot.toml"))
    assert code == 0, err
    assert fake_cargo.read_text().splitlines()[0] == str((repo / "modules.toml").resolve())


def test_build_fails_when_the_manifest_changed_while_cargo_read_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_cargo: Path
) -> None:
    repo = mini_copy(tmp_path)
    monkeypatch.setenv("FAKE_CARGO_TOUCH", str(repo / "modules.toml"))
    code, out, err = run(capsys, "pipeline", "build", "--config", str(repo / ".github/modbot.toml"))
    assert code == 1
    assert "modules.toml changed while cargo built from it" in err
    assert out == ""


def test_build_refuses_a_manifest_other_than_the_planned_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fake_cargo: Path
) -> None:
    repo = mini_copy(tmp_path)
    config = str(repo / ".github/modbot.toml")
    code, out, _ = run(capsys, "pipeline", "features", "--config", config, "--format", "json")
    planned = json.loads(out)["manifest_hash"]
    code, _, err = run(capsys, "pipeline", "build", "--config", config, "--expect-manifest-hash", "0" * 64)
    assert code == 1
    assert f"has manifest_hash {planned}, but the release was planned for {'0' * 64}" in err
    assert not fake_cargo.exists()  # cargo never ran
    code, _, err = run(
        capsys, "pipeline", "build", "--config", config, "--expect-manifest-hash", f"sha256:{planned}"
    )
    assert code == 0, err
    with pytest.raises(SystemExit) as exited:
        main(["pipeline", "build", "--config", config, "--expect-manifest-hash", "nope"])
    assert exited.value.code == 2
    assert "'nope' is not a manifest_hash" in capsys.readouterr().err


def test_a_default_that_compiles_in_a_left_out_module_crate_is_not_carried() -> None:
    """Not through a module feature but through the crate itself (`rustok-forum/search`, which turns
    on the optional dependency as `dep:rustok-forum` does)."""
    cargo = dict(MINI_CARGO)
    features = {
        **MINI_CARGO["features"],
        "default": ["access-log", "forum-search", "lazy-forum", "rustok-forum/x"],
    }
    cargo["features"] = {
        **features,
        "forum-search": ["rustok-forum/search"],
        "lazy-forum": ["rustok-forum?/search"],
    }
    without = plan_features(manifest(mini_manifest()), BuildConfig(), cargo_package_info(cargo))
    # `?/` only reaches a crate something else compiles in: harmless, carried
    assert without.default_features == ("access-log", "lazy-forum")
    assert any("forum-search" in w and "compiles in rustok-forum" in w for w in without.warnings)
    assert any("rustok-forum/x" in w and "compiles in rustok-forum" in w for w in without.warnings)
    forum = 'forum = { crate = "rustok-forum", source = "path", path = "crates/rustok-forum" }'
    with_forum = plan_features(manifest(mini_manifest(forum)), BuildConfig(), cargo_package_info(cargo))
    assert with_forum.default_features == ("access-log", "forum-search", "lazy-forum", "rustok-forum/x")
