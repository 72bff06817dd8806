"""`modbot workflows render | check`: the generated GitHub Actions workflows (docs/workflows.md).

Both read the pipeline config (default .github/modbot.toml) and the manifest it names; `render`
writes the workflow files (default: .github/workflows/ of the repository the config belongs to),
`check` exits 1 when the files on disk differ from a fresh render (drift), naming each file.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.output import UsageError, paint

if TYPE_CHECKING:
    from bot.manifest.model import Manifest
    from bot.pipeline.config import RepositoryPolicy

DEFAULT_CONFIG = ".github/modbot.toml"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    workflows = commands.add_parser(
        "workflows",
        help="render or check the generated GitHub Actions workflows",
        description="The build and deploy workflows of a managed repository. Reference: docs/workflows.md.",
    )
    actions = workflows.add_subparsers(dest="workflows_action", metavar="ACTION", required=True)

    p = actions.add_parser("render", help="write the workflow files", description="write the workflow files")
    _common(p)
    p.add_argument(
        "--out", metavar="DIR", help="where to write (default: .github/workflows of the config's repository)"
    )
    p.set_defaults(handler=cmd_render)

    p = actions.add_parser(
        "check",
        help="exit 1 if the workflow files differ from a fresh render",
        description="exit 1 if the workflow files differ from a fresh render (missing, edited, stale)",
    )
    _common(p)
    p.add_argument(
        "--dir",
        metavar="DIR",
        help="where the files are (default: .github/workflows of the config's repository)",
    )
    p.set_defaults(handler=cmd_check)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=DEFAULT_CONFIG, metavar="PATH", help=f"default: {DEFAULT_CONFIG}")
    p.add_argument("--manifest", metavar="PATH", help="default: build.manifest of the config")


def _inputs(args: argparse.Namespace) -> tuple[RepositoryPolicy, Manifest, Path] | int:
    """The config, the manifest and the repository root; an exit code after printing why not."""
    from bot.pipeline.config import PolicyError, load_pipeline_config, repository_root

    config_path = Path(args.config)
    if not config_path.is_file():
        raise UsageError(f"no pipeline config at {config_path} (see docs/pipeline.md, or pass --config)")
    try:
        config = load_pipeline_config(config_path)
    except PolicyError as exc:
        raise UsageError(str(exc)) from None
    root = repository_root(config_path)
    manifest_path = Path(args.manifest) if args.manifest else root / config.build.manifest
    manifest = _load_manifest(manifest_path, root)
    if manifest is None:
        return EXIT_FAILED
    return config, manifest, root


def _load_manifest(path: Path, root: Path) -> Manifest | None:
    from bot.manifest.validate import validate_file

    if not path.is_file():
        raise UsageError(f"no manifest at {path}")
    try:
        manifest_dir = path.resolve().parent.relative_to(root.resolve()).as_posix()
    except ValueError:
        manifest_dir = ""
    result = validate_file(path, manifest_dir="" if manifest_dir == "." else manifest_dir)
    if result.valid and result.manifest is not None:
        return result.manifest
    print(f"{paint('invalid:', 'red')} {path}; run `modbot validate {path}`")
    for problem in result.errors[:20]:
        print(f"  - {problem.message}")
    return None


def _render(config: RepositoryPolicy, manifest: Manifest) -> dict[str, str] | None:
    from bot.workflows import RenderError, render_workflows

    try:
        return render_workflows(config, manifest)
    except RenderError as exc:
        print(f"{paint('cannot render:', 'red')} {exc}")
        return None


def _rendered_with_root(args: argparse.Namespace) -> tuple[dict[str, str], Path] | int:
    """The fresh render and the repository root, or the exit code to stop with."""
    loaded = _inputs(args)
    if isinstance(loaded, int):
        return loaded
    config, manifest, root = loaded
    rendered = _render(config, manifest)
    return EXIT_FAILED if rendered is None else (rendered, root)


def cmd_render(args: argparse.Namespace) -> int:
    from bot.workflows import write_workflows

    result = _rendered_with_root(args)
    if isinstance(result, int):
        return result
    rendered, root = result
    out = Path(args.out) if args.out else root / ".github" / "workflows"
    written = {path.name for path in write_workflows(rendered, out)}
    for name in sorted(rendered):
        state = "written" if name in written else "unchanged"
        print(f"{out / name}: {state}")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from bot.workflows import check_workflows

    result = _rendered_with_root(args)
    if isinstance(result, int):
        return result
    rendered, root = result
    directory = Path(args.dir) if args.dir else root / ".github" / "workflows"
    drifts = check_workflows(rendered, directory)
    if not drifts:
        print(f"{directory}: {len(rendered)} workflow(s) up to date")
        return EXIT_OK
    for drift in drifts:
        print(f"{paint('drift:', 'red')} {drift}")
    print(f"regenerate with: modbot workflows render --config {args.config}")
    return EXIT_FAILED
