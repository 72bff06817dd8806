"""``modbot local review|merge|comment``: what a person does on a change request of the local forge, as
a local account (``--as LOGIN``, default your user name): the forge checks the account's role (approve
and merge need write; comment needs read), as GitHub checks a collaborator's. A comment is read by
chat-ops like one on GitHub (``/deploy staging``, ``/rollback production``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.cli.output import paint, print_json

if TYPE_CHECKING:
    from bot.forge.local import LocalForge

Act = Callable[["LocalForge", str, str], dict[str, Any]]


def register(local_commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from bot.cli.local_commands import _root_option

    p = local_commands.add_parser("review", help="approve a change request, or ask for changes")
    _common(p)
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--approve", dest="action", action="store_const", const="approve")
    how.add_argument("--request-changes", dest="action", action="store_const", const="request_changes")
    how.add_argument("--comment", dest="action", action="store_const", const="comment")
    p.add_argument("--body", default="")
    _root_option(p)
    p.set_defaults(handler=cmd_review)

    p = local_commands.add_parser("merge", help="merge a change request (a real git merge)")
    _common(p)
    _root_option(p)
    p.set_defaults(handler=cmd_merge)

    p = local_commands.add_parser("comment", help="comment on a change request (chat-ops commands too)")
    _common(p)
    p.add_argument("body", metavar="TEXT")
    _root_option(p)
    p.set_defaults(handler=cmd_comment)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("repo", metavar="OWNER/NAME")
    p.add_argument("number", type=int, metavar="N", help="the change request's number")
    p.add_argument("--as", dest="login", help="the local account (default: your user name)")
    p.add_argument("--format", choices=("text", "json"), default="text")


def _act(args: argparse.Namespace, what: str, act: Act) -> int:
    from bot.cli.bot_commands import EXIT_OK, _error, _me, _run
    from bot.cli.local_commands import _checked, _forge

    def body() -> int:
        from bot.forge import ForgeError

        repo = _checked(args)
        login = args.login or _me()
        with _forge(args) as forge:
            try:
                done = act(forge, repo, login)
            except (ForgeError, ValueError) as exc:
                return _error(str(exc))
        if args.format == "json":
            print_json(done)
        else:
            print(f"{paint(what, 'green')} #{args.number} as {login}: {done}")
        return EXIT_OK

    return _run(body)


def cmd_review(args: argparse.Namespace) -> int:
    def act(forge: LocalForge, repo: str, login: str) -> dict[str, Any]:
        review = forge.submit_review(repo, args.number, by=login, action=args.action, body=args.body)
        return {"review": review.id, "state": review.state, "commit_sha": review.commit_id}

    return _act(args, "reviewed", act)


def cmd_merge(args: argparse.Namespace) -> int:
    def act(forge: LocalForge, repo: str, login: str) -> dict[str, Any]:
        pull = forge.merge_pull(repo, args.number, by=login)
        return {"number": pull.number, "merged": pull.merged, "merge_commit_sha": pull.merge_commit_sha}

    return _act(args, "merged", act)


def cmd_comment(args: argparse.Namespace) -> int:
    def act(forge: LocalForge, repo: str, login: str) -> dict[str, Any]:
        comment = forge.add_comment(repo, args.number, args.body, by=login)
        return {"comment": comment.id, "url": comment.html_url}

    return _act(args, "commented on", act)
