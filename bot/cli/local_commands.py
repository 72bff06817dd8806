"""``modbot local …``: the local forge of single-host mode from the command line.

- ``modbot local init OWNER/NAME``: a bare repository under the forge's root, with the post-receive hook
  that turns every ``git push`` into events (``git push`` to ``<root>/<owner>/<name>.git``) and the
  pre-receive hook that refuses pushes to what only modbot writes (release and deploy tags, and the
  default branch after its first push, unless ``--allow-push-to-default-branch``);
- ``modbot local propose OWNER/NAME BRANCH --title …``: open a change request from a pushed branch;
- ``modbot local hook post-receive OWNER/NAME``: what the hook runs (it can be run by hand to take
  pushes the hook could not record while modbot's store was unreachable, and to catch up change
  requests whose branch moved without modbot hearing of it).

The forge's root is ``--root``, else ``$MODBOT_LOCAL_ROOT``, else ``.modbot-data/repos`` (`make run`'s).
Events go into the store's delivery queue (``--database`` for the hook, else ``MODBOT_DATABASE_URL``, else
the ``modbot.db`` that ``modbot local serve`` keeps next to the root). Permissions are the local accounts'
roles (``modbot users``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli import change_commands, single_host_commands
from bot.cli.bot_commands import EXIT_OK, _error, _me, _run, _settings, _Stop, _store
from bot.cli.output import paint, print_json

if TYPE_CHECKING:
    from bot.forge.local import LocalForge

DEFAULT_ROOT = ".modbot-data/repos"  # `make run`'s data folder (`modbot local serve --data .modbot-data`)
SERVE_DATABASE = "modbot.db"  # where `modbot local serve` keeps the store: next to repos/


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    local = commands.add_parser("local", help="the local git forge (single-host mode)")
    local_commands = local.add_subparsers(dest="local_command", metavar="COMMAND", required=True)

    p = local_commands.add_parser("init", help="create a repository and install its post-receive hook")
    p.add_argument("repo", metavar="OWNER/NAME")
    p.add_argument("--default-branch", default="main")
    p.add_argument(
        "--allow-push-to-default-branch",
        action="store_true",
        help="let people push to the default branch directly (by default it changes by change requests)",
    )
    _root_option(p)
    p.set_defaults(handler=cmd_init)

    p = local_commands.add_parser("propose", help="open a change request from a pushed branch")
    p.add_argument("repo", metavar="OWNER/NAME")
    p.add_argument("branch", metavar="BRANCH", help="the branch with the change")
    p.add_argument("--base", help="the branch to change (default: the repository's default branch)")
    p.add_argument("--title", required=True)
    p.add_argument("--body", default="")
    p.add_argument("--draft", action="store_true")
    p.add_argument("--as", dest="author", help="the local account proposing it (default: your user name)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    _root_option(p)
    p.set_defaults(handler=cmd_propose)

    hook = local_commands.add_parser("hook", help="what the repository hooks run")
    hook_commands = hook.add_subparsers(dest="hook_command", metavar="HOOK", required=True)
    p = hook_commands.add_parser("post-receive", help="turn the spooled pushes into events")
    p.add_argument("repo", metavar="OWNER/NAME")
    p.add_argument("--database", help="the store's URL (default: MODBOT_DATABASE_URL)")
    _root_option(p)
    p.set_defaults(handler=cmd_post_receive)

    single_host_commands.register(local_commands)
    change_commands.register(local_commands)


def _root_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--root",
        type=Path,
        default=Path(os.environ.get("MODBOT_LOCAL_ROOT") or DEFAULT_ROOT),
        help=f"where the repositories live (default: $MODBOT_LOCAL_ROOT or {DEFAULT_ROOT})",
    )


@contextmanager
def _forge(args: argparse.Namespace) -> Iterator[LocalForge]:
    from bot.forge.local import LocalForge
    from bot.forge.local.base import web_url_of
    from bot.store import LocalForgeStore

    settings = _settings()
    database = getattr(args, "database", None)
    served = args.root.resolve().parent / SERVE_DATABASE
    if not database and "MODBOT_DATABASE_URL" not in os.environ and served.exists():
        database = f"sqlite:///{served}"  # the store of the `modbot local serve` that owns this root
    if database:
        from pydantic import SecretStr

        settings = settings.model_copy(update={"database_url": SecretStr(database)})
    with _store(settings) as store:
        yield LocalForge(
            args.root.resolve(),
            LocalForgeStore(store.engine),
            store.role_of,  # the local accounts' roles (`modbot users`)
            web_url=web_url_of(args.root.resolve()),
        )


def _checked(args: argparse.Namespace) -> str:
    from bot.forge import validate_repo

    try:
        return validate_repo(args.repo)
    except ValueError as exc:
        raise _Stop(_error(str(exc))) from None


def _absolute_sqlite(url: str) -> str:
    """A SQLite URL with an absolute path: the hook runs in the repository, not where modbot runs."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        return prefix + str(Path(url.removeprefix(prefix)).resolve())
    return url


def cmd_init(args: argparse.Namespace) -> int:
    def body() -> int:
        from bot.forge.local import GitRepository
        from bot.forge.local.base import repository_path
        from bot.forge.local.hook import install_post_receive, install_pre_receive

        repo = _checked(args)
        settings = _settings()
        path = repository_path(args.root.resolve(), repo)
        git = GitRepository.init_bare(path, default_branch=args.default_branch)
        command = [
            sys.executable,
            "-m",
            "bot",
            "local",
            "hook",
            "post-receive",
            repo,
            "--root",
            str(args.root.resolve()),
        ]
        url = _absolute_sqlite(settings.database_url.get_secret_value())
        if "@" not in url:  # no credentials in it: the hook may name it (a pusher's environment lacks ours)
            command += ["--database", url]
        else:
            print(
                f"{paint('note:', 'yellow')} the database URL holds credentials, so the hook does not "
                "name it: pushers need MODBOT_DATABASE_URL in their environment",
                file=sys.stderr,
            )
        hook = install_post_receive(git, command)
        guard = install_pre_receive(git, protect_default_branch=not args.allow_push_to_default_branch)
        print(f"{repo}: {git.path}")
        print(f"  push to it:  git push {git.path} <branch>")
        print(f"  hooks:       {hook}, {guard}")
        return EXIT_OK

    return _run(body)


def cmd_propose(args: argparse.Namespace) -> int:
    def body() -> int:
        from bot.forge import ForgeError

        repo = _checked(args)
        author = args.author or _me()
        with _forge(args) as forge:
            try:
                base = args.base or forge.default_branch(repo)
                pull = forge.open_change_request(
                    repo,
                    head=args.branch,
                    base=base,
                    title=args.title,
                    body=args.body,
                    draft=args.draft,
                    author=author,
                )
            except (ForgeError, ValueError) as exc:
                return _error(str(exc))
        if args.format == "json":
            print_json(
                {
                    "number": pull.number,
                    "url": pull.html_url,
                    "head_sha": pull.head_sha,
                    "base": pull.base_ref,
                }
            )
        else:
            print(f"{paint('opened', 'green')} change request #{pull.number}: {pull.html_url}")
        return EXIT_OK

    return _run(body)


def cmd_post_receive(args: argparse.Namespace) -> int:
    def body() -> int:
        from bot.forge import ForgeError
        from bot.forge.local.hook import catch_up

        repo = _checked(args)
        with _forge(args) as forge:
            try:
                count = catch_up(forge, repo)
            except ForgeError as exc:
                return _error(f"the pushes stay spooled: {exc}")
        print(f"modbot: {count} ref update(s) and change request(s) recorded", file=sys.stderr)
        return EXIT_OK

    return _run(body)
