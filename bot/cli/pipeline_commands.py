"""`modbot pipeline ...`: the only logic generated workflows run; the same commands work on a laptop.

Every step takes `--config PATH` (default .github/modbot.toml) and `--format text|json|github`
(`github` appends the outputs to $GITHUB_OUTPUT and prints the text report). Exit codes: 0 ok,
1 the check or step failed (missing feature, smoke failure, refused release, failed deploy...),
2 usage, config or I/O problem (bad flags, invalid config, unreadable file, git missing), 3 internal.
The output keys are a contract with the workflow templates: see docs/pipeline.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shlex
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.output import UsageError, paint, print_json
from bot.domain.ids import (
    CI_BUILD_ID_PATTERN,
    ENVIRONMENT_NAME_PATTERN,
    GIT_SHA_PATTERN,
    IMAGE_DIGEST_PATTERN,
    RELEASE_ID_PATTERN,
    SHA256_HEX_PATTERN,
)

if TYPE_CHECKING:
    from bot.manifest.model import Manifest
    from bot.pipeline.config import EnvironmentConfig, RepositoryPolicy
    from bot.pipeline.features import FeaturePlan
    from bot.pipeline.git import Git
    from bot.pipeline.health import RunResult
    from bot.pipeline.outputs import OutputValue
    from bot.pipeline.release import BuildKeyInputs, ReleaseRecord, ReleaseTag

DEFAULT_CONFIG = ".github/modbot.toml"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_RELEASE_ID_RE = re.compile(RELEASE_ID_PATTERN)  # the shape only: a real day is checked later
_ENV_NAME_RE = re.compile(ENVIRONMENT_NAME_PATTERN)
_DIGEST_RE = re.compile(IMAGE_DIGEST_PATTERN)
_MANIFEST_HASH_RE = re.compile(SHA256_HEX_PATTERN)
_GIT_SHA_RE = re.compile(GIT_SHA_PATTERN)
_BUILD_ID_RE = re.compile(CI_BUILD_ID_PATTERN)
_ENV_VAR_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_UI_IMAGE_RE = re.compile(r"([a-z0-9][a-z0-9_.-]{0,62})=(.+)")


class StepFailed(Exception):
    """A pipeline step failed for a reason the user must fix: exit 1 with these lines."""

    def __init__(self, *lines: str) -> None:
        self.lines = lines
        super().__init__("; ".join(lines))


# --- argument types (a bad value is a usage error, exit 2, from argparse) -----------------------


def _pattern(regex: re.Pattern[str], what: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if not regex.fullmatch(value):
            raise argparse.ArgumentTypeError(f"{value!r} is not {what}")
        return value

    parse.__name__ = what
    return parse


def _release_arg(value: str) -> str:
    release = value.removeprefix("refs/tags/").removeprefix("release/")
    if not _RELEASE_ID_RE.fullmatch(release):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a release id (rel_YYYY_MM_DD_NNN) or release/ tag"
        )
    return release


def _url_arg(value: str) -> str:
    from bot.pipeline.config import url_problem

    problem = url_problem(value)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return value


def _remote_arg(value: str) -> str:
    from bot.manifest.cargo import unsafe_word_problem

    problem = unsafe_word_problem(value)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return value


def _now_arg(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} has no time zone (add Z or +00:00)")
    return moment


def _seconds_arg(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not 0 < seconds <= 24 * 3600:
        raise argparse.ArgumentTypeError(f"{value!r}: give between 0 and 86400 seconds")
    return seconds


def _ui_image_arg(value: str) -> tuple[str, str]:
    from bot.pipeline.deploy import check_image_ref

    match = _UI_IMAGE_RE.fullmatch(value)
    if match is None:
        raise argparse.ArgumentTypeError(f"{value!r} is not NAME=IMAGE@sha256:DIGEST")
    problem = check_image_ref(match.group(2))
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return match.group(1), match.group(2)


def _manifest_hash_arg(value: str) -> str:
    digest = value.lower().removeprefix("sha256:")
    if not _MANIFEST_HASH_RE.fullmatch(digest):
        raise argparse.ArgumentTypeError(f"{value!r} is not a manifest_hash (64 hex digits)")
    return digest


_env_name = _pattern(_ENV_NAME_RE, "an environment name")
_digest = _pattern(_DIGEST_RE, "an image digest (sha256:<64 hex>)")
_git_sha = _pattern(_GIT_SHA_RE, "a full commit SHA (40 or 64 lowercase hex)")
_build_id = _pattern(_BUILD_ID_RE, "a build id (letters, digits, . _ : / + -)")
_env_var = _pattern(_ENV_VAR_RE, "an environment variable name")


# --- registration -----------------------------------------------------------------------------


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pipeline = commands.add_parser(
        "pipeline",
        help="build, release, deploy and check (the steps generated workflows run)",
        description="The build -> release -> deploy pipeline. Reference: docs/pipeline.md.",
    )
    steps = pipeline.add_subparsers(dest="pipeline_step", metavar="STEP", required=True)

    def step(
        name: str, help_text: str, handler: Callable[[argparse.Namespace], int]
    ) -> argparse.ArgumentParser:
        p = steps.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--config", default=DEFAULT_CONFIG, metavar="PATH", help=f"default: {DEFAULT_CONFIG}")
        p.add_argument("--format", choices=("text", "json", "github"), default="text")
        p.set_defaults(handler=_guarded(handler))
        return p

    def manifest_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--manifest", metavar="PATH", help="default: build.manifest of the config")

    p = step(
        "features", "the exact cargo arguments for the manifest, checked against Cargo.toml", cmd_features
    )
    manifest_arg(p)

    p = step("build", "run cargo build with exactly the manifest's features", cmd_build)
    manifest_arg(p)
    p.add_argument("--release-id", type=_release_arg, help="baked in as RUSTOK_RELEASE_ID")
    p.add_argument("--offline", action="store_true", help="cargo --offline")
    p.add_argument("--target-dir", metavar="DIR", help="cargo --target-dir")
    p.add_argument(
        "--expect-manifest-hash",
        type=_manifest_hash_arg,
        metavar="HEX",
        help="fail before cargo runs unless the manifest has this manifest_hash (the planned release's)",
    )

    p = step("build-key", "the build key: what decides the image", cmd_build_key)
    manifest_arg(p)
    p.add_argument("--git-sha", type=_git_sha, help="take key_paths from this commit (default HEAD)")

    release = step("release", "plan, create or show releases (release/<id> tags)", _no_handler)
    actions = release.add_subparsers(dest="release_action", metavar="ACTION", required=True)

    def release_action(
        name: str, help_text: str, handler: Callable[[argparse.Namespace], int]
    ) -> argparse.ArgumentParser:
        p = actions.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--config", default=argparse.SUPPRESS, metavar="PATH")
        p.add_argument("--format", choices=("text", "json", "github"), default=argparse.SUPPRESS)
        p.set_defaults(handler=_guarded(handler))
        return p

    p = release_action(
        "plan", "build key, the release to reuse (if any), the next release id", cmd_release_plan
    )
    manifest_arg(p)
    p.add_argument("--now", type=_now_arg, help="ISO 8601 time for the release id (default: now, UTC)")
    p.add_argument("--git-sha", type=_git_sha, help="take key_paths from this commit (default HEAD)")

    p = release_action("create", "make the immutable annotated tag release/<id>", cmd_release_create)
    manifest_arg(p)
    p.add_argument("--image-digest", required=True, type=_digest)
    p.add_argument("--build-id", required=True, type=_build_id, help="e.g. the workflow run id and attempt")
    p.add_argument("--git-sha", required=True, type=_git_sha, help="the commit that was built")
    p.add_argument("--release-id", type=_release_arg, help="default: the next free id")
    p.add_argument("--ui-image", action="append", type=_ui_image_arg, default=[], metavar="NAME=IMAGE@DIGEST")
    p.add_argument("--now", type=_now_arg)
    p.add_argument(
        "--allow-same-key", action="store_true", help="release even if a release has this build key"
    )
    p.add_argument("--push", action="store_true", help="push the tag")
    p.add_argument("--remote", default="origin", type=_remote_arg)

    p = release_action("show", "read a release tag back", cmd_release_show)
    p.add_argument("release", type=_release_arg, metavar="RELEASE", help="rel_... or release/rel_...")

    p = step("resolve", "the release (and image) a deploy/<env> tag points at", cmd_resolve)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--tag", help="deploy/<environment>")
    where.add_argument("--ref", help="refs/tags/deploy/<environment> (GITHUB_REF)")
    p.add_argument("--previous-ref", help="what the tag pointed at before (the push event's `before`)")

    p = step("deploy", "deploy a release's image (by digest) with the environment's backend", cmd_deploy)
    p.add_argument("--environment", required=True, type=_env_name)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--release", type=_release_arg)
    which.add_argument("--image", help="REGISTRY/REPOSITORY@sha256:DIGEST")
    p.add_argument("--ui", metavar="NAME", help="headless: deploy this UI service instead of the server")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")

    p = step("smoke", "GET /health and /health/modules until they match the manifest", cmd_smoke)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", type=_url_arg, help="the server's base URL")
    target.add_argument("--environment", type=_env_name, help="take url, token and timeout from the config")
    manifest_arg(p)
    p.add_argument("--token-env", type=_env_var, metavar="NAME", help="env var holding the bearer token")
    p.add_argument("--timeout", type=_seconds_arg, help="seconds (default: the environment's, else 120)")
    p.add_argument("--interval", type=_seconds_arg, default=2.0, help="seconds between attempts (default 2)")

    p = step("preflight", "headless: is the backend compatible with this UI build?", cmd_preflight)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--backend-url", type=_url_arg)
    target.add_argument("--environment", type=_env_name, help="take the backend URL from the config")
    manifest_arg(p)
    p.add_argument("--token-env", type=_env_var, metavar="NAME")
    p.add_argument("--timeout", type=_seconds_arg, default=30.0, help="seconds (default 30)")
    p.add_argument("--interval", type=_seconds_arg, default=2.0)

    for name, flag, help_text in (
        (
            "rollback-tag",
            "--to-release",
            "move deploy/<env> back to a release's commit (force, that tag only)",
        ),
        ("promote", "--release", "move deploy/<env> to a release's commit (what auto-deploy does)"),
    ):
        p = step(name, help_text, cmd_move_tag)
        p.add_argument("--environment", required=True, type=_env_name)
        p.add_argument(flag, dest="target_release", required=True, type=_release_arg)
        p.add_argument("--push", action="store_true", help="push the tag (force-update of that one tag)")
        p.add_argument("--remote", default="origin", type=_remote_arg)

    p = step("schema", "print the JSON Schema of .github/modbot.toml", cmd_schema)
    p = step("config", "check the config (and the manifest's profile) and print it as JSON", cmd_config)
    manifest_arg(p)


def _no_handler(args: argparse.Namespace) -> int:  # pragma: no cover - argparse requires an action
    raise UsageError("give a release action: plan, create or show")


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Known failures become one clear message and an exit code, never a traceback."""

    def run(args: argparse.Namespace) -> int:
        from bot.pipeline.config import PolicyError
        from bot.pipeline.deploy import DeployError
        from bot.pipeline.git import GitError
        from bot.pipeline.outputs import OutputError
        from bot.pipeline.release import ReleaseError

        try:
            return handler(args)
        except StepFailed as exc:
            return _report_failure(args, exc.lines)
        except (ReleaseError, DeployError) as exc:
            return _report_failure(args, (str(exc),))
        except PolicyError as exc:
            _error(str(exc))
            return EXIT_USAGE
        except (GitError, OutputError) as exc:
            _error(str(exc))
            return EXIT_USAGE

    return run


def _error(message: str) -> None:
    print(f"{paint('modbot:', 'red', sys.stderr)} {message}", file=sys.stderr)


def _warn(message: str) -> None:
    print(f"{paint('warning:', 'yellow', sys.stderr)} {message}", file=sys.stderr)


def _note(message: str) -> None:
    print(f"{paint('note:', 'cyan', sys.stderr)} {message}", file=sys.stderr)


def _report_failure(args: argparse.Namespace, lines: tuple[str, ...] | list[str]) -> int:
    if getattr(args, "format", "text") == "json":
        print_json({"ok": False, "errors": list(lines)})
    for line in lines:
        _error(line)
    return EXIT_FAILED


# --- shared loading ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Context:
    config: RepositoryPolicy
    config_path: Path
    root: Path  # the repository root the config's paths are relative to

    def path(self, relative: str) -> Path:
        return self.root / relative

    def git(self) -> Git:
        from bot.pipeline.git import Git

        return Git(self.root)


def _context(args: argparse.Namespace) -> Context:
    from bot.pipeline.config import load_pipeline_config, repository_root

    path = Path(args.config)
    if not path.exists():
        raise UsageError(f"no pipeline config at {path} (write one, see docs/pipeline.md, or pass --config)")
    if path.is_dir():
        raise UsageError(f"{path} is a directory; --config names the .github/modbot.toml file")
    return Context(load_pipeline_config(path), path, repository_root(path))


def _optional_context(args: argparse.Namespace) -> Context | None:
    """The config when it exists (smoke/preflight with an explicit URL do not need one)."""
    if args.config == DEFAULT_CONFIG and not Path(DEFAULT_CONFIG).exists():
        return None
    return _context(args)


def _manifest_path(args: argparse.Namespace, ctx: Context | None) -> Path:
    if getattr(args, "manifest", None):
        return Path(args.manifest)
    if ctx is not None:
        return ctx.path(ctx.config.build.manifest)
    return Path("modules.toml")


def _load_manifest(path: Path) -> Manifest:
    return _read_manifest(path)[0]


def _read_manifest(path: Path) -> tuple[Manifest, bytes]:
    """The checked manifest and the exact bytes it was checked (and is hashed) from."""
    from bot.cli.manifest_commands import repo_relative_dir
    from bot.manifest.validate import validate_bytes

    if path.is_dir():
        raise UsageError(f"{path} is a directory; give the path of a modules.toml")
    raw = path.read_bytes()
    result = validate_bytes(raw, manifest_dir=repo_relative_dir(path))
    if not result.valid or result.manifest is None:
        lines = [f"{path}: the manifest is invalid; run `modbot validate {path}`"]
        errors = [p for p in result.problems if p.is_error][:20]
        lines += [f"{_where(path, p.line)}: {p.rule}: {p.message}" for p in errors]
        raise StepFailed(*lines)
    for problem in result.problems:
        _warn(f"{_where(path, problem.line)}: {problem.message}")
    return result.manifest, raw


def _where(path: Path, line: int | None) -> str:
    return f"{path}:{line}" if line else str(path)


def _load_cargo_toml(path: Path) -> dict[str, Any]:
    import tomli

    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise StepFailed(f"{path} is not UTF-8") from None
    try:
        return tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        raise StepFailed(f"{path} is not valid TOML: {exc}") from None


def _plan(ctx: Context, manifest: Manifest) -> FeaturePlan:
    from bot.pipeline.config import manifest_problems
    from bot.pipeline.features import cargo_package_info, plan_features

    cargo_path = ctx.path(ctx.config.build.cargo_toml)
    plan = plan_features(manifest, ctx.config.build, cargo_package_info(_load_cargo_toml(cargo_path)))
    for warning in plan.warnings:
        _warn(warning)
    errors = [*plan.errors, *(str(p) for p in manifest_problems(ctx.config, manifest))]
    if errors:
        raise StepFailed(*errors)
    if plan.default_features:
        _note(
            f"carried over from {plan.package}'s default features: {', '.join(plan.default_features)} "
            "(build.exclude_default_features opts out)"
        )
    if plan.excluded_defaults:
        _note(f"left out by build.exclude_default_features: {', '.join(plan.excluded_defaults)}")
    return plan


def _key_inputs(ctx: Context, plan: FeaturePlan, rev: str | None) -> BuildKeyInputs:
    from bot.pipeline.release import build_key_inputs
    from bot.pipeline.version import TEMPLATE_VERSION

    build = ctx.config.build
    lock_path = ctx.path(build.workspace) / "Cargo.lock"
    try:
        lock = lock_path.read_bytes()
    except FileNotFoundError:
        raise StepFailed(
            f"{lock_path} does not exist: commit Cargo.lock (it is part of the build key, and the build "
            "runs with --locked)"
        ) from None
    trees: list[tuple[str, str]] = []
    if build.key_paths:
        git = ctx.git()
        for path in build.key_paths:
            trees.append((path, git.tree_id(path, rev=rev or "HEAD")))
        dirty = git.dirty(build.key_paths)
        if dirty and rev is None:
            _warn(
                f"uncommitted changes under build.key_paths ({len(dirty)} files); the build key describes "
                "HEAD, not the working tree"
            )
    return build_key_inputs(
        manifest_hash=plan.manifest_hash,
        cargo_lock=lock,
        toolchain=build.toolchain,
        template_version=TEMPLATE_VERSION,
        cargo_args=plan.cargo_args,
        source_trees=trees,
    )


def _emit(args: argparse.Namespace, outputs: Mapping[str, OutputValue], text: list[str]) -> int:
    from bot.pipeline.outputs import write_github_outputs

    if args.format == "json":
        print_json({"ok": True, **outputs})
        return EXIT_OK
    if args.format == "github":
        write_github_outputs(outputs)
    for line in text:
        print(line)
    return EXIT_OK


def _auto_deploy(config: RepositoryPolicy) -> list[str]:
    return [env.name for env in config.environments if env.auto_deploy]


def _environment(ctx: Context, name: str) -> EnvironmentConfig:
    try:
        return ctx.config.environment(name)
    except KeyError as exc:
        raise StepFailed(str(exc.args[0])) from None


def _release_tag(git: Git, release_id: str) -> ReleaseTag:
    found = git.release_tags(release_id)
    if not found:
        raise StepFailed(f"there is no tag release/{release_id} (fetch tags: git fetch --tags)")
    tag = found[0]
    if tag.record is None:
        raise StepFailed(tag.problem or f"release/{release_id} is not a readable release")
    return tag


def _record_outputs(record: ReleaseRecord) -> dict[str, OutputValue]:
    return {
        "release_id": record.release_id,
        "image": record.image,
        "image_digest": record.image_digest,
        "manifest_hash": record.manifest_hash,
        "modules": list(record.modules),
        "build_key": record.build_key,
        "git_sha": record.git_sha,
    }


# --- features / build / build-key -----------------------------------------------------------------


def cmd_features(args: argparse.Namespace) -> int:
    ctx = _context(args)
    plan = _plan(ctx, _load_manifest(_manifest_path(args, ctx)))
    outputs: dict[str, OutputValue] = {
        "cargo_args": plan.cargo_args,
        "features": ",".join(plan.features),
        "default_features": list(plan.default_features),
        "manifest_hash": plan.manifest_hash,
        "modules": list(plan.modules),
        "package": plan.package,
        "profile": plan.profile,
        "profile_dir": plan.profile_dir,
        "target": plan.target,
    }
    return _emit(args, outputs, [shlex.join(["cargo", "build", *plan.cargo_args])])


def cmd_build(args: argparse.Namespace) -> int:
    import subprocess

    from bot.pipeline.features import MODULES_MANIFEST_ENV

    ctx = _context(args)
    # The server's build script reads RUSTOK_MODULES_MANIFEST (else the workspace's modules.toml) and
    # registers the modules it lists: point it at the very file checked and hashed here, so the
    # compiled registry, the baked-in manifest_hash and the release record describe one manifest.
    manifest_file = _manifest_path(args, ctx).resolve()
    manifest, validated = _read_manifest(manifest_file)
    plan = _plan(ctx, manifest)
    if args.expect_manifest_hash is not None and args.expect_manifest_hash != plan.manifest_hash:
        raise StepFailed(
            f"{manifest_file} has manifest_hash {plan.manifest_hash}, but the release was planned for "
            f"{args.expect_manifest_hash}: the build would not match the release record"
        )
    argv = ["cargo", "build", *plan.cargo_args, "--message-format=json-render-diagnostics"]
    if args.offline:
        argv.append("--offline")
    if args.target_dir:
        argv += ["--target-dir", str(Path(args.target_dir).resolve())]  # cargo runs in the workspace
    env = {**os.environ, "RUSTOK_MANIFEST_HASH": plan.manifest_hash, MODULES_MANIFEST_ENV: str(manifest_file)}
    env.pop("RUSTOK_RELEASE_ID", None)
    if args.release_id:
        env["RUSTOK_RELEASE_ID"] = args.release_id
    _check_toolchain(ctx.config.build.toolchain, env)
    print(f"$ {MODULES_MANIFEST_ENV}={shlex.quote(str(manifest_file))} {shlex.join(argv)}", file=sys.stderr)
    try:
        done = subprocess.run(  # noqa: S603 - argv list, no shell
            argv, cwd=ctx.path(ctx.config.build.workspace), env=env, stdout=subprocess.PIPE, check=False
        )
    except FileNotFoundError:
        raise UsageError("cargo is not installed (or not on PATH)") from None
    if done.returncode != 0:
        raise StepFailed(f"cargo build failed (exit code {done.returncode})")
    if _read_bytes(manifest_file) != validated:
        raise StepFailed(
            f"{manifest_file} changed while cargo built from it: the binary may not be the manifest "
            f"{plan.manifest_hash} describes; build again"
        )
    executables = _executables(done.stdout, plan.package)
    outputs: dict[str, OutputValue] = {
        "cargo_args": plan.cargo_args,
        "manifest_hash": plan.manifest_hash,
        "modules_manifest": str(manifest_file),
        "modules": list(plan.modules),
        "binary": executables[0] if executables else None,
        "executables": executables,
    }
    return _emit(args, outputs, [f"built {', '.join(executables) or '(no executable)'}"])


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _check_toolchain(toolchain: str, env: Mapping[str, str]) -> None:
    """Warn when the rustc on PATH is not the toolchain the build key names (rustup honours
    RUSTUP_TOOLCHAIN and rust-toolchain.toml, so this asks rustc itself)."""
    import subprocess

    try:
        argv = ["rustc", "--version"]  # from PATH, as cargo finds it
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            argv, env=dict(env), capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return  # cargo will say what is wrong
    words = done.stdout.split()
    version = words[1] if len(words) > 1 and words[0] == "rustc" else ""
    if not version:
        return
    if toolchain[0].isdigit():
        matches = version == toolchain or version.startswith(toolchain + ".")
    else:  # nightly-2026-01-15: rustc 1.x.0-nightly (hash 2026-01-14): the date is the day before
        matches = "nightly" in version if toolchain.startswith("nightly") else "beta" in version
    if not matches:
        _warn(
            f"rustc is {version}, but build.toolchain is {toolchain}: the build key names {toolchain}, "
            "so a release made from this build would carry the wrong toolchain"
        )


def _executables(stdout: bytes, package: str) -> list[str]:
    found: list[str] = []
    for line in stdout.decode("utf-8", "replace").splitlines():
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(message, dict) or message.get("reason") != "compiler-artifact":
            continue
        package_id = str(message.get("package_id", ""))
        executable = message.get("executable")
        if executable and (
            f"#{package}@" in package_id
            or f"/{package}#" in package_id
            or package_id.startswith(f"{package} ")
        ):
            found.append(str(executable))
    return found


def cmd_build_key(args: argparse.Namespace) -> int:
    ctx = _context(args)
    plan = _plan(ctx, _load_manifest(_manifest_path(args, ctx)))
    inputs = _key_inputs(ctx, plan, args.git_sha)
    outputs: dict[str, OutputValue] = {
        "build_key": inputs.key,
        "manifest_hash": inputs.manifest_hash,
        "cargo_lock_sha256": inputs.cargo_lock_sha256,
        "toolchain": inputs.toolchain,
        "template_version": inputs.template_version,
        "key_inputs": inputs.to_json(),
    }
    return _emit(args, outputs, [inputs.key])


# --- releases -----------------------------------------------------------------------------------


def _now(args: argparse.Namespace) -> dt.datetime:
    now: dt.datetime | None = getattr(args, "now", None)
    return now if now is not None else dt.datetime.now(dt.UTC)


def _readable(tags: list[ReleaseTag]) -> list[ReleaseTag]:
    for tag in tags:
        if tag.record is None:
            _warn(f"ignoring {tag.tag}: {tag.problem}")
    return tags


def cmd_release_plan(args: argparse.Namespace) -> int:
    from bot.pipeline.release import (
        RELEASE_STATUS_CONTEXT,
        newest_release,
        next_release_id,
        release_for_build_key,
        reuse_status_description,
    )

    ctx = _context(args)
    plan = _plan(ctx, _load_manifest(_manifest_path(args, ctx)))
    key = _key_inputs(ctx, plan, args.git_sha).key
    tags = _readable(ctx.git().release_tags())
    existing = release_for_build_key(tags, key)
    previous = newest_release(tags)
    release_id = next_release_id([t.release_id for t in tags], _now(args))
    record = existing.record if existing else None
    outputs: dict[str, OutputValue] = {
        "build_key": key,
        "build_needed": existing is None,
        "existing_release": existing.release_id if existing else "",
        "existing_image": record.image if record else "",
        "release_id": release_id,
        "previous_release": previous.release_id if previous else "",
        "manifest_hash": plan.manifest_hash,
        "modules": list(plan.modules),
        "auto_deploy_environments": _auto_deploy(ctx.config),
        # the commit status the workflow sets on a commit that reuses a release, for chat-ops to find it
        "status_context": RELEASE_STATUS_CONTEXT,
        "status_description": reuse_status_description(existing.release_id) if existing else "",
    }
    if existing is not None:
        text = [f"reuse {existing.release_id}: it was built from the same build key {key[:12]}…"]
    else:
        text = [f"build needed: next release {release_id} (build key {key[:12]}…)"]
    return _emit(args, outputs, text)


def cmd_release_create(args: argparse.Namespace) -> int:
    from bot.pipeline.release import make_record, newest_release, next_release_id, release_for_build_key
    from bot.pipeline.version import TEMPLATE_VERSION

    ctx = _context(args)
    git = ctx.git()
    manifest = _load_manifest(_manifest_path(args, ctx))
    plan = _plan(ctx, manifest)
    if git.commit_of(args.git_sha) != args.git_sha:
        raise StepFailed(f"commit {args.git_sha} is not in this repository (fetch it first)")
    key = _key_inputs(ctx, plan, args.git_sha).key
    tags = _readable(git.release_tags())
    same = release_for_build_key(tags, key)
    if same is not None and not args.allow_same_key:
        raise StepFailed(
            f"release {same.release_id} was already built from build key {key[:12]}…; reuse it "
            "(release plan reports it as existing_release) or pass --allow-same-key"
        )
    release_id = args.release_id or next_release_id([t.release_id for t in tags], _now(args))
    if git.tag_exists(f"release/{release_id}"):
        raise StepFailed(f"release/{release_id} already exists; release tags are immutable")
    previous = newest_release(tags, before=release_id)
    ui_names = {ui.name for ui in ctx.config.headless.ui} if ctx.config.headless else set()
    ui_images = dict(args.ui_image)
    unknown = sorted(set(ui_images) - ui_names)
    if unknown:
        raise StepFailed(f"--ui-image names UI services not in [[headless.ui]]: {', '.join(unknown)}")
    record = make_record(
        release_id=release_id,
        manifest_hash=plan.manifest_hash,
        modules=plan.modules,
        image_repository=ctx.config.image.name,
        image_digest=args.image_digest,
        build_id=args.build_id,
        git_sha=args.git_sha,
        previous_release=previous.release_id if previous else None,
        build_key=key,
        template_version=TEMPLATE_VERSION,
        created_at=_now(args),
        ui_images=ui_images,
    )
    git.create_annotated_tag(record.tag, args.git_sha, record.to_message())
    if args.push:
        from bot.pipeline.git import GitError

        try:
            git.push(args.remote, f"refs/tags/{record.tag}:refs/tags/{record.tag}")
        except GitError as exc:
            git.delete_tag(record.tag)
            raise StepFailed(
                f"could not push {record.tag} (the local tag was removed again): {exc}"
            ) from None
    outputs: dict[str, OutputValue] = {
        **_record_outputs(record),
        "tag": record.tag,
        "previous_release": record.previous_release,
        "auto_deploy_environments": _auto_deploy(ctx.config),
        "pushed": bool(args.push),
    }
    return _emit(args, outputs, [f"created {record.tag} -> {args.git_sha[:12]} ({record.image})"])


def cmd_release_show(args: argparse.Namespace) -> int:
    ctx = _optional_context(args)
    git = ctx.git() if ctx else _cwd_git()
    tag = _release_tag(git, args.release)
    assert tag.record is not None
    outputs: dict[str, OutputValue] = {**tag.record.model_dump(), "tag": tag.tag, "commit": tag.commit}
    text = [f"{tag.tag} -> {tag.commit}", tag.record.to_message().rstrip()]
    return _emit(args, outputs, text)


def _cwd_git() -> Git:
    from bot.pipeline.git import Git

    return Git(Path.cwd())


# --- resolve / deploy / tags ----------------------------------------------------------------------


def _deploy_env_name(args: argparse.Namespace) -> str:
    raw: str = args.tag if args.tag is not None else args.ref
    name = raw.removeprefix("refs/tags/") if args.ref is not None else raw
    if args.ref is not None and not raw.startswith("refs/tags/"):
        raise UsageError(f"--ref {raw!r} is not a tag ref (refs/tags/deploy/<environment>)")
    if not name.startswith("deploy/") or not _ENV_NAME_RE.fullmatch(name.removeprefix("deploy/")):
        raise UsageError(f"{raw!r} is not a deploy tag (deploy/<environment>)")
    return name.removeprefix("deploy/")


def cmd_resolve(args: argparse.Namespace) -> int:
    from bot.pipeline.release import newest_release, releases_at

    ctx = _context(args)
    env = _environment(ctx, _deploy_env_name(args))
    git = ctx.git()
    commit = git.commit_of(f"refs/tags/{env.deploy_tag}")
    if commit is None:
        raise StepFailed(f"there is no tag {env.deploy_tag} (fetch tags: git fetch --tags)")
    tags = _readable(git.release_tags())
    at = releases_at(tags, commit)
    if not at:
        raise StepFailed(
            f"{env.deploy_tag} points at {commit[:12]}, which no release/* tag points at; move it to a "
            f"release (modbot pipeline promote --environment {env.name} --release <id>)"
        )
    current = at[0]
    assert current.record is not None
    previous = None
    if args.previous_ref:
        before = git.commit_of(args.previous_ref)
        if before is not None and before != commit:
            candidates = releases_at(tags, before)
            previous = candidates[0] if candidates else None
    if previous is None:
        previous = newest_release(tags, before=current.release_id)
    outputs: dict[str, OutputValue] = {
        "environment": env.name,
        "deploy_tag": env.deploy_tag,
        "commit": commit,
        **_record_outputs(current.record),
        "previous_release": previous.release_id if previous else "",
        "previous_image": previous.record.image if previous and previous.record else "",
        "url": env.url,
        "backend": env.backend,
        "health_token_env": env.health_token_env or "",
        "smoke_timeout": env.smoke_timeout,
    }
    text = [f"{env.deploy_tag} -> {current.release_id} ({current.record.image})"]
    if previous:
        text.append(f"previous: {previous.release_id}")
    return _emit(args, outputs, text)


def cmd_deploy(args: argparse.Namespace) -> int:
    from bot.pipeline.deploy import check_image_ref, deploy_steps, run_steps

    ctx = _context(args)
    env = _environment(ctx, args.environment)
    ui = None
    if args.ui is not None:
        uis = {u.name: u for u in ctx.config.headless.ui} if ctx.config.headless else {}
        if args.ui not in uis:
            raise StepFailed(f"--ui {args.ui!r} is not a [[headless.ui]] service of the config")
        ui = uis[args.ui]
    release_id = ""
    if args.release is not None:
        record = _release_tag(ctx.git(), args.release).record
        assert record is not None
        release_id = record.release_id
        if ui is not None:
            image = record.ui_images.get(ui.name, "")
            if not image:
                raise StepFailed(f"release {release_id} records no image for UI {ui.name}; pass --image")
        else:
            image = record.image
    else:
        image = args.image
        problem = check_image_ref(image)
        if problem is not None:
            raise UsageError(problem)
    steps = deploy_steps(env, image=image, release_id=release_id, ui=ui)
    for one in steps:
        extra = " ".join(f"{k}={v}" for k, v in one.env.items())
        print(f"$ {extra + ' ' if extra else ''}{shlex.join(one.argv)}", file=sys.stderr)
    if not args.dry_run:
        run_steps(steps, cwd=ctx.root)
    outputs: dict[str, OutputValue] = {
        "environment": env.name,
        "release_id": release_id,
        "image": image,
        "service": ui.name if ui else "server",
        "backend": env.backend,
        "dry_run": bool(args.dry_run),
    }
    verb = "would deploy" if args.dry_run else "deployed"
    return _emit(args, outputs, [f"{verb} {image} to {env.name} ({env.backend})"])


def cmd_move_tag(args: argparse.Namespace) -> int:
    ctx = _context(args)
    env = _environment(ctx, args.environment)
    git = ctx.git()
    tag = _release_tag(git, args.target_release)
    previous = git.force_tag(env.deploy_tag, tag.commit)
    if args.push:
        git.push(args.remote, f"+refs/tags/{env.deploy_tag}:refs/tags/{env.deploy_tag}")
    outputs: dict[str, OutputValue] = {
        "environment": env.name,
        "deploy_tag": env.deploy_tag,
        "release_id": tag.release_id,
        "commit": tag.commit,
        "previous_commit": previous or "",
        "pushed": bool(args.push),
    }
    was = f" (was {previous[:12]})" if previous else ""
    return _emit(args, outputs, [f"{env.deploy_tag} -> {tag.release_id} at {tag.commit[:12]}{was}"])


# --- smoke / preflight --------------------------------------------------------------------------


def _token(name: str | None) -> str | None:
    from bot.pipeline.health import SERVER_TOKEN_ENV

    if name is None:
        return None
    value = os.environ.get(name, "")
    if not value:
        raise UsageError(
            f"the token variable {name} is empty or unset: it must hold the value of the server's "
            f"{SERVER_TOKEN_ENV} (in the workflows, a secret named after the environment's health_token_env)"
        )
    return value


def _health_report(result: RunResult, title: str) -> list[str]:
    report = result.report
    verdict = paint("passed", "green") if report.ok else paint("FAILED", "red")
    lines = [f"{title}: {verdict} after {result.attempts} attempt(s), {result.seconds:.1f}s"]
    lines += [f"  - {problem}" for problem in report.problems]
    if report.health_path is not None:
        slash = (
            " (RusToK's route at 4ea8a036, with a trailing slash)" if report.health_path.endswith("/") else ""
        )
        version = f"; version {report.version}" if report.version else ""
        lines.append(f"  health answered at {report.health_path}{slash}{version}")
    if report.served is not None:
        served = ", ".join(f"{s} ({st})" for s, st in sorted(report.served.modules.items())) or "none"
        lines.append(f"  served modules: {served}")
    return lines


def _health_outputs(result: RunResult, url: str) -> dict[str, OutputValue]:
    return {
        "url": url,
        "attempts": result.attempts,
        "seconds": round(result.seconds, 3),
        **result.report.to_json(),
    }


def cmd_smoke(args: argparse.Namespace) -> int:
    from bot.manifest.hashing import manifest_hash
    from bot.pipeline.config import duration_seconds
    from bot.pipeline.health import run_smoke

    ctx = _optional_context(args) if args.url else _context(args)
    token_env, timeout, url = args.token_env, args.timeout, args.url
    if args.environment is not None:
        assert ctx is not None
        env = _environment(ctx, args.environment)
        url = env.url
        token_env = token_env or env.health_token_env
        timeout = timeout or float(duration_seconds(env.smoke_timeout))
    manifest = _load_manifest(_manifest_path(args, ctx))
    result = run_smoke(
        url,
        manifest.modules.keys(),
        expected_hash=manifest_hash(manifest),
        token=_token(token_env),
        token_env=token_env,
        timeout=timeout or 120.0,
        interval=args.interval,
    )
    return _health_result(args, result, url, f"smoke {url}")


def _health_result(args: argparse.Namespace, result: RunResult, url: str, title: str) -> int:
    from bot.pipeline.outputs import write_github_outputs

    outputs = _health_outputs(result, url)
    if args.format == "json":
        print_json(outputs)
    else:
        if args.format == "github":
            write_github_outputs(outputs)
        for line in _health_report(result, title):
            print(line)
    return EXIT_OK if result.report.ok else EXIT_FAILED


def cmd_preflight(args: argparse.Namespace) -> int:
    from bot.manifest.hashing import manifest_hash
    from bot.pipeline.health import run_preflight

    ctx = _optional_context(args) if args.backend_url else _context(args)
    url, token_env = args.backend_url, args.token_env
    if args.environment is not None:
        assert ctx is not None
        env = _environment(ctx, args.environment)
        url, token_env = env.preflight_url, token_env or env.health_token_env
    manifest = _load_manifest(_manifest_path(args, ctx))
    result = run_preflight(
        url,
        manifest.modules.keys(),
        ui_hash=manifest_hash(manifest),
        token=_token(token_env),
        token_env=token_env,
        timeout=args.timeout,
        interval=args.interval,
    )
    return _health_result(args, result, url, f"preflight {url}")


# --- schema / config ------------------------------------------------------------------------------


def cmd_schema(args: argparse.Namespace) -> int:
    from bot.pipeline.config import pipeline_config_json_schema

    print_json(pipeline_config_json_schema())
    return EXIT_OK


def cmd_config(args: argparse.Namespace) -> int:
    from bot.pipeline.config import manifest_problems

    ctx = _context(args)
    manifest_path = _manifest_path(args, ctx)
    problems = []
    if manifest_path.exists():
        problems = [str(p) for p in manifest_problems(ctx.config, _load_manifest(manifest_path))]
    if problems:
        raise StepFailed(*problems)
    print_json(ctx.config.model_dump(mode="json"))
    return EXIT_OK
