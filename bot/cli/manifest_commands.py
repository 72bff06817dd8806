"""validate | diff | hash | install | uninstall | upgrade | enable | disable | schema."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.output import UsageError, paint, print_json

if TYPE_CHECKING:
    from bot.manifest.delta import ModulesDelta
    from bot.manifest.edit import EditResult
    from bot.manifest.validate import ValidationResult

DEFAULT_MANIFEST = "modules.toml"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser("validate", help="check a manifest and list every problem")
    p.add_argument(
        "paths", nargs="*", metavar="PATH", default=[DEFAULT_MANIFEST], help="default: modules.toml"
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(handler=cmd_validate)

    p = commands.add_parser("diff", help="the modules_delta between two manifests")
    p.add_argument("base", metavar="BASE")
    p.add_argument("head", metavar="HEAD")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.set_defaults(handler=cmd_diff)

    p = commands.add_parser("hash", help="print the manifest_hash of a valid manifest")
    p.add_argument("path", nargs="?", default=DEFAULT_MANIFEST, metavar="PATH")
    p.set_defaults(handler=cmd_hash)

    p = commands.add_parser("schema", help="print the JSON Schema of modules.toml")
    p.set_defaults(handler=cmd_schema)

    p = commands.add_parser("install", help="add a module to the manifest")
    p.add_argument("slug", metavar="SLUG")
    p.add_argument("--crate", required=True)
    p.add_argument("--source", required=True, choices=("crates-io", "registry", "git", "path"))
    _location_args(p)
    p.add_argument("--required", action="store_true", help="a core module: always compiled")
    p.add_argument("--runtime", choices=("extension",), help="a deployment-scoped extension")
    p.add_argument("--enable", action="store_true", help="also add it to settings.default_enabled")
    _edit_args(p)
    p.set_defaults(handler=cmd_install)

    p = commands.add_parser("uninstall", help="remove a module (and its default_enabled entry)")
    p.add_argument("slug", metavar="SLUG")
    _edit_args(p)
    p.set_defaults(handler=cmd_uninstall)

    p = commands.add_parser("upgrade", help="change a module's version, rev, source or features")
    p.add_argument("slug", metavar="SLUG")
    p.add_argument("--source", choices=("crates-io", "registry", "git", "path"))
    _location_args(p)
    _edit_args(p)
    p.set_defaults(handler=cmd_upgrade)

    for name, verb in (("enable", "add"), ("disable", "remove")):
        p = commands.add_parser(name, help=f"{verb} a module in settings.default_enabled")
        p.add_argument("slug", metavar="SLUG")
        _edit_args(p)
        p.set_defaults(handler=cmd_toggle, action=name)


def _location_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--version", dest="version", help="Cargo version requirement (crates-io)")
    p.add_argument("--git", help="git URL (git source)")
    p.add_argument("--rev", help="commit SHA, tag or branch (git source)")
    p.add_argument("--path", help="path relative to the manifest (path source)")
    p.add_argument("--features", type=_csv, help="comma-separated cargo features")
    p.add_argument("--depends-on", type=_csv, help="comma-separated slugs")


def _edit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest", default=DEFAULT_MANIFEST, metavar="PATH", help="default: modules.toml")
    p.add_argument("--dry-run", action="store_true", help="show the change, write nothing")


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


# --- read-only commands ---------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    results = [(path, _validate_path(Path(path))) for path in args.paths]
    if args.format == "json":
        documents = [result.to_json() for _, result in results]
        print_json(documents[0] if len(documents) == 1 else documents)
    else:
        for path, result in results:
            _print_validation(path, result)
    return 0 if all(result.valid for _, result in results) else 1


def cmd_hash(args: argparse.Namespace) -> int:
    result = _validate_path(Path(args.path))
    if not result.valid:
        _print_validation(args.path, result)
        return 1
    print(result.manifest_hash)
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from bot.manifest.delta import compute_delta

    base, head = _validate_path(Path(args.base)), _validate_path(Path(args.head))
    invalid = [(p, r) for p, r in ((args.base, base), (args.head, head)) if not r.valid]
    if invalid:
        for path, result in invalid:
            _print_validation(path, result)
        return 1
    assert base.manifest is not None
    assert head.manifest is not None
    delta = compute_delta(base.manifest, head.manifest)
    if args.format == "json":
        print_json(delta.to_json())
    elif args.format == "markdown":
        from bot.render import render_delta_markdown

        print(render_delta_markdown(delta))
    else:
        _print_delta(delta)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from bot.manifest.schema import manifest_json_schema

    print_json(manifest_json_schema())
    return 0


# --- edits ----------------------------------------------------------------------------------


def _spec_from(args: argparse.Namespace, keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: getattr(args, key) for key in keys if getattr(args, key, None) is not None}


def cmd_install(args: argparse.Namespace) -> int:
    from bot.manifest import edit

    spec = _spec_from(
        args, ("crate", "source", "version", "git", "rev", "path", "features", "depends_on", "runtime")
    )
    if args.required:
        spec["required"] = True
    return _apply(
        args, lambda text, d: edit.install(text, args.slug, spec, enable=args.enable, manifest_dir=d)
    )


def cmd_uninstall(args: argparse.Namespace) -> int:
    from bot.manifest import edit

    return _apply(args, lambda text, d: edit.uninstall(text, args.slug, manifest_dir=d))


def cmd_upgrade(args: argparse.Namespace) -> int:
    from bot.manifest import edit

    changes = _spec_from(args, ("source", "version", "git", "rev", "path", "features", "depends_on"))
    return _apply(args, lambda text, d: edit.upgrade(text, args.slug, changes, manifest_dir=d))


def cmd_toggle(args: argparse.Namespace) -> int:
    from bot.manifest import edit

    action = edit.enable if args.action == "enable" else edit.disable
    return _apply(args, lambda text, d: action(text, args.slug, manifest_dir=d))


def _apply(args: argparse.Namespace, make: Any) -> int:
    from bot.manifest.edit import EditRefused

    path = Path(args.manifest)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        _print_validation(args.manifest, _validate_path(path))
        return 1
    try:
        result: EditResult = make(text, repo_relative_dir(path))
    except EditRefused as refused:
        print(f"{paint('refused:', 'red')} {args.manifest} was not changed")
        for reason in refused.reasons:
            print(f"  - {reason}")
        return 1
    if args.dry_run:
        import difflib

        print(
            "".join(
                difflib.unified_diff(
                    text.splitlines(True), result.text.splitlines(True), args.manifest, args.manifest
                )
            )
        )
    else:
        write_atomically(path, result.text)
    verb = "would change" if args.dry_run else "changed"
    print(f"{paint(verb, 'green')} {args.manifest}: {result.delta.summary}")
    for risk in result.delta.risks:
        print(f"  {paint('risk:', 'yellow')} {risk.message}")
    return 0


def write_atomically(path: Path, text: str) -> None:
    """Replace the file in one step, so a crash never leaves half a manifest."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- shared ---------------------------------------------------------------------------------


def repo_relative_dir(manifest: Path) -> str:
    """The manifest's folder relative to its repository root (the nearest parent with .git), so
    `path` sources are checked against the repository, not just the manifest's folder."""
    folder = manifest.resolve().parent
    for parent in (folder, *folder.parents):
        if (parent / ".git").exists():
            relative = folder.relative_to(parent).as_posix()
            return "" if relative == "." else relative
    return ""


def _validate_path(path: Path) -> ValidationResult:
    from bot.manifest.validate import validate_file

    if path.is_dir():
        raise UsageError(f"{path} is a directory; give the path of a modules.toml")
    return validate_file(path, manifest_dir=repo_relative_dir(path))


def _print_validation(path: str, result: ValidationResult) -> None:
    for problem in result.problems:
        colour = "red" if problem.is_error else "yellow"
        where = f"{path}:{problem.line}" if problem.line else path
        at = f" ({problem.path})" if problem.path else ""
        print(f"{where}: {paint(problem.severity.value, colour)}[{problem.rule}]{at}: {problem.message}")
    errors = len(result.errors)
    warnings = len(result.problems) - errors
    counts = f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
    if result.valid:
        tail = f", {_plural(warnings, 'warning')}" if warnings else ""
        print(f"{path}: {paint('valid', 'green')}{tail} (manifest_hash {result.manifest_hash})")
    else:
        print(f"{path}: {paint('invalid', 'red')}: {counts}")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def _print_delta(delta: ModulesDelta) -> None:
    print(paint(delta.summary, "bold"))
    for slug, spec in delta.added.items():
        print(f"  {paint('+', 'green')} {slug}: {spec['crate']} ({spec['source']})")
    for slug in delta.removed:
        print(f"  {paint('-', 'red')} {slug}")
    for slug, changes in delta.changed.items():
        for change in changes:
            print(f"  {paint('~', 'yellow')} {slug}.{change.field}: {change.old!r} -> {change.new!r}")
    for slug in delta.default_enabled_added:
        print(f"  {paint('+', 'green')} default_enabled: {slug}")
    for slug in delta.default_enabled_removed:
        print(f"  {paint('-', 'red')} default_enabled: {slug}")
    for change in (*delta.build, *delta.other):
        print(f"  {paint('~', 'yellow')} {change.field}: {change.old!r} -> {change.new!r}")
    for risk in delta.risks:
        print(f"  {paint('risk:', 'yellow')} {risk.message}")
    print(paint(f"base {delta.base_hash[:12]} -> head {delta.head_hash[:12]}", "dim"))
