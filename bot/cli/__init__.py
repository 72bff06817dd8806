"""`modbot`: the command line. Exit codes: 0 ok, 1 invalid manifest or refused edit, 2 usage or
I/O error, 3 internal error. Subcommand modules import heavy code only when they run, so
`modbot validate` starts fast and never loads the web server or the GitHub client."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from bot import __version__
from bot.cli import (
    bot_commands,
    local_commands,
    manifest_commands,
    ops_commands,
    pipeline_commands,
    user_commands,
    workflow_commands,
)
from bot.cli.output import UsageError, fail

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modbot",
        description="GitOps for RusToK's modules.toml: validate, diff and edit the manifest, run the webhook "
        "bot, build and release, deploy and roll back.",
    )
    parser.add_argument("--version", action="version", version=f"modbot {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    manifest_commands.register(commands)
    pipeline_commands.register(commands)
    workflow_commands.register(commands)
    bot_commands.register(commands)
    ops_commands.register(commands)
    user_commands.register(commands)
    local_commands.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except UsageError as exc:
        return fail(str(exc), EXIT_USAGE)
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        return fail(f"cannot access{where}: {exc.strerror or exc}", EXIT_USAGE)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("MODBOT_DEBUG"):
            raise
        return fail(
            f"internal error ({type(exc).__name__}: {exc}); please report it with MODBOT_DEBUG=1 output",
            EXIT_INTERNAL,
        )
    return code
