"""``modbot users add|list|remove|set-password|set-role``: the web console's local accounts (single-host
mode, docs/console.md). A password is never an argument (it would show in ``ps`` and the shell's
history): it is asked twice on the terminal, read from standard input (``--password-stdin``), or made up
and printed once (``--generate``). Every change is audited as ``cli:<os user>``."""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys

from bot.cli.bot_commands import EXIT_OK, _error, _me, _run, _settings, _store
from bot.cli.output import paint, print_json

ROLES = ("read", "write", "maintain", "admin")  # = bot.store.ACCOUNT_ROLES (tests/unit/test_console_users.py)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = commands.add_parser("users", help="local accounts of the web console (single-host mode)")
    sub = users.add_subparsers(dest="users_command", metavar="COMMAND", required=True)

    add = sub.add_parser("add", help="create an account")
    add.add_argument("login")
    add.add_argument("--role", choices=ROLES, required=True, help="read, write, maintain or admin")
    _password_options(add)
    add.set_defaults(handler=cmd_add)

    listing = sub.add_parser("list", help="list the accounts and their roles")
    listing.add_argument("--format", choices=("text", "json"), default="text")
    listing.set_defaults(handler=cmd_list)

    remove = sub.add_parser("remove", help="delete an account (its sessions end at their next page)")
    remove.add_argument("login")
    remove.set_defaults(handler=cmd_remove)

    password = sub.add_parser("set-password", help="give an account a new password")
    password.add_argument("login")
    _password_options(password)
    password.set_defaults(handler=cmd_set_password)

    role = sub.add_parser("set-role", help="change an account's role")
    role.add_argument("login")
    role.add_argument("role", choices=ROLES)
    role.set_defaults(handler=cmd_set_role)


def _password_options(parser: argparse.ArgumentParser) -> None:
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    how.add_argument("--generate", action="store_true", help="make up a password and print it once")


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """The new password, and whether it was made up here (then it is printed once)."""
    if args.generate:
        return secrets.token_urlsafe(18), True
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first, False


def cmd_add(args: argparse.Namespace) -> int:
    def body() -> int:
        from bot.store import DuplicateUserError

        with _store(_settings()) as store:
            try:
                password, generated = _password(args)
                user = store.add_user(args.login, password, args.role, actor=f"cli:{_me()}")
            except (ValueError, DuplicateUserError) as error:
                return _error(str(error))
        if generated:
            print(password)
        print(f"{paint('added', 'green', sys.stderr)} {user.login} ({user.role})", file=sys.stderr)
        return EXIT_OK

    return _run(body)


def cmd_list(args: argparse.Namespace) -> int:
    def body() -> int:
        with _store(_settings()) as store:
            users = store.list_users()
        if args.format == "json":
            print_json(
                [
                    {
                        "login": u.login,
                        "role": u.role,
                        "created_at": u.created_at.isoformat(),
                        "password_changed_at": u.password_changed_at.isoformat(),
                    }
                    for u in users
                ]
            )
            return EXIT_OK
        if not users:
            print("no accounts (add one with `modbot users add LOGIN --role admin`)")
        for u in users:
            print(f"{u.login}\t{u.role}\tcreated {u.created_at.isoformat(timespec='seconds')}")
        return EXIT_OK

    return _run(body)


def cmd_remove(args: argparse.Namespace) -> int:
    def body() -> int:
        from bot.store import RecordNotFoundError

        with _store(_settings()) as store:
            try:
                store.remove_user(args.login, actor=f"cli:{_me()}")
            except (ValueError, RecordNotFoundError) as error:
                return _error(str(error))
        print(f"{paint('removed', 'green')} {args.login.lower()}")
        return EXIT_OK

    return _run(body)


def cmd_set_password(args: argparse.Namespace) -> int:
    def body() -> int:
        from bot.store import RecordNotFoundError

        with _store(_settings()) as store:
            try:
                password, generated = _password(args)
                store.set_password(args.login, password, actor=f"cli:{_me()}")
            except (ValueError, RecordNotFoundError) as error:
                return _error(str(error))
        if generated:
            print(password)
        print(f"{paint('password set', 'green', sys.stderr)} for {args.login.lower()}", file=sys.stderr)
        return EXIT_OK

    return _run(body)


def cmd_set_role(args: argparse.Namespace) -> int:
    def body() -> int:
        from bot.store import RecordNotFoundError

        with _store(_settings()) as store:
            try:
                user = store.set_role(args.login, args.role, actor=f"cli:{_me()}")
            except (ValueError, RecordNotFoundError) as error:
                return _error(str(error))
        print(f"{paint('role set', 'green')}: {user.login} is {user.role}")
        return EXIT_OK

    return _run(body)
