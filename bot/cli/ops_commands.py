"""Operations from a shell: ``deploy``, ``rollback``, ``unlock``, ``status`` (the chat-ops service, the same
path as a PR comment and the admin API), ``audit`` (the store's audit log), ``releases sync`` (rebuild the
history from GitHub) and ``dead-letters list|retry`` (deliveries whose job gave up).

The CLI runs with the bot's own settings (``MODBOT_*``): the GitHub App key or token and the database. Whoever
can run it already holds the bot's credentials, so it acts like an admin-API token: actor ``cli:<os
user>``, kind ``token``, source ``cli``; the chat-ops rules (`bot.app.chatops.authorize`) still decide, as for
every other caller (a frozen environment, a lock, a missing release refuse). Exit codes: 0 done, 1 refused
by a rule (or a command that could not be carried out), 2 usage, configuration, store or GitHub error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.cli.bot_commands import EXIT_OK, EXIT_REFUSED, _checked_repo, _error, _me, _run, _settings, _store
from bot.cli.output import paint, print_json
from bot.forge import ForgeProvider

if TYPE_CHECKING:
    from bot.app.commands.service import CommandResult
    from bot.config import BotSettings
    from bot.forge import Forge

__all__ = ["ForgeProviderHandle", "cli_actor", "open_forge_provider", "register"]

FORMATS = ("text", "json")


class ForgeProviderHandle(ForgeProvider, Protocol):
    """A forge provider the commands close when done (tests hand in a fake one)."""

    def close(self) -> None: ...


def open_forge_provider(settings: BotSettings) -> ForgeProviderHandle:
    """The GitHub provider for the bot's settings (App or token)."""
    from bot.forge.github import GitHubForgeProvider

    return GitHubForgeProvider.from_settings(settings)


@contextmanager
def _forge(settings: BotSettings, installation_id: int | None) -> Iterator[Forge]:
    """The forge for the installation; its provider is closed when the command is done."""
    provider = open_forge_provider(settings)
    try:
        yield provider.for_installation(installation_id)
    finally:
        provider.close()


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, summary in (
        ("deploy", "deploy a release to an environment (moves deploy/<env>)"),
        ("rollback", "roll an environment back (to the release it ran before, or --release)"),
    ):
        p = commands.add_parser(name, help=summary)
        p.add_argument("environment", metavar="ENV")
        p.add_argument("--release", metavar="REL", help="rel_YYYY_MM_DD_NNN")
        _repo_arguments(p)
        p.add_argument("--reason", help="why; in the GitHub Deployment and the audit log")
        p.set_defaults(handler=cmd_command, action=name)
    p = commands.add_parser("unlock", help="release an environment's lock, whoever holds it")
    p.add_argument("environment", metavar="ENV")
    _repo_arguments(p)
    p.add_argument("--reason", help="kept in the audit log")
    p.set_defaults(handler=cmd_command, action="unlock", release=None)
    p = commands.add_parser("status", help="what runs where, what is in flight, locks, freezes")
    p.add_argument("environment", metavar="ENV", nargs="?")
    _repo_arguments(p)
    p.set_defaults(handler=cmd_command, action="status", release=None, reason=None)

    p = commands.add_parser("audit", help="read the audit log (newest first)")
    p.add_argument("--actor", help="exactly this actor, e.g. alice or api:ops-portal")
    p.add_argument("--action", help="exactly this action, e.g. deploy.start or command.rollback")
    p.add_argument("--target", help="exactly this target, e.g. owner/name:prod")
    p.add_argument("--since", type=_when, metavar="TIME", help="ISO 8601 (UTC when no zone is given)")
    p.add_argument("--limit", type=_limit, default=50, metavar="N", help="1-1000 (default 50)")
    p.add_argument("--cursor", type=int, metavar="ID", help="the next_cursor of the previous page")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.set_defaults(handler=cmd_audit)

    releases = commands.add_parser("releases", help="the releases cache and deployment history")
    release_commands = releases.add_subparsers(dest="releases_command", metavar="COMMAND", required=True)
    p = release_commands.add_parser(
        "sync", help="rebuild the history from GitHub (release tags, Deployments)"
    )
    _repo_arguments(p)
    p.add_argument(
        "--environment",
        action="append",
        metavar="ENV",
        help="only these environments (repeatable; default: the policy's on the default branch)",
    )
    p.set_defaults(handler=cmd_releases_sync)

    dead = commands.add_parser("dead-letters", help="deliveries whose job gave up: list or retry them")
    dead_commands = dead.add_subparsers(dest="dead_letters_command", metavar="COMMAND", required=True)
    p = dead_commands.add_parser("list", help="failed deliveries, newest first, with their last error")
    p.add_argument("--limit", type=_limit, default=50, metavar="N", help="1-1000 (default 50)")
    p.add_argument("--cursor", type=int, metavar="ID", help="the next_cursor of the previous page")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.set_defaults(handler=cmd_dead_letters_list)
    p = dead_commands.add_parser(
        "retry", help="run failed deliveries again, with a fresh attempt budget (audited)"
    )
    p.add_argument("delivery_ids", nargs="*", metavar="DELIVERY_ID", help="X-GitHub-Delivery ids")
    p.add_argument("--all", action="store_true", help="every dead letter")
    p.add_argument("--reason", help="kept in the audit log")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.set_defaults(handler=cmd_dead_letters_retry)


def _repo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--repo", required=True, metavar="OWNER/NAME")
    p.add_argument("--installation-id", type=int, metavar="N", help="the App installation (App mode)")
    p.add_argument("--format", choices=FORMATS, default="text")


def _when(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _limit(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if not 1 <= number <= 1000:
        raise argparse.ArgumentTypeError("must be between 1 and 1000")
    return number


def cli_actor() -> str:
    """The CLI's actor: a token of the operator's OS user (see the module docstring)."""
    return f"cli:{_me()}"


# --- deploy, rollback, unlock, status ----------------------------------------------------------------------
def cmd_command(args: argparse.Namespace) -> int:
    return _run(lambda: _command(args))


def _command(args: argparse.Namespace) -> int:
    from bot.app.commands.service import CommandRequest, execute
    from bot.forge import ForgeError

    settings = _settings()
    problem = _checked_repo(settings, args.repo, args.installation_id)
    if problem is not None:
        return _error(problem)
    request = CommandRequest(
        repo=args.repo,
        action=args.action,
        environment=args.environment,
        release_id=args.release,
        actor=cli_actor(),
        actor_kind="token",
        source="cli",
        reason=args.reason,
    )
    with _store(settings) as store, _forge(settings, args.installation_id) as forge:
        try:
            result = execute(request, forge=forge, store=store, settings=settings)
        except ValueError as error:
            return _error(f"invalid request: {error}")
        except ForgeError as error:
            return _error(str(error))
    _show_result(result, args.format)
    return EXIT_OK if result.ok else EXIT_REFUSED


def _show_result(result: CommandResult, fmt: str) -> None:
    decision = result.decision
    if fmt == "json":
        print_json(
            {
                "ok": result.ok,
                "action": result.action,
                "rule": decision.rule,
                "message": decision.message,
                "next_step": decision.next_step,
                "warnings": list(decision.warnings),
                "data": _plain(result.data),
            }
        )
        return
    if not decision.allowed:
        print(f"{paint('refused', 'red')} [{decision.rule}] {decision.message}")
        if decision.next_step:
            print(f"  next: {decision.next_step}")
        return
    if not result.ok:
        print(f"{paint('failed', 'red')} {result.data.get('error') or decision.message}")
        if result.data.get("github_error"):
            print(f"  GitHub: {result.data['github_error']}")
        return
    if result.action == "status":
        _show_status(result.data)
        return
    print(f"{paint('ok', 'green')} {decision.message}")
    for warning in decision.warnings:
        print(f"  {paint('warning:', 'yellow')} {warning}")
    if result.deployment is not None:
        record = result.deployment
        print(
            f"  deployment {record.id} (GitHub {record.github_deployment_id}): {record.kind} of "
            f"{record.release_id} to {record.environment}, {record.status}"
        )
    released = result.data.get("released")
    if result.action == "unlock":
        if isinstance(released, dict):
            print(f"  released the lock of {released.get('holder')} ({released.get('purpose')})")
        else:
            print("  nothing held the lock")


def _show_status(data: Any) -> None:
    environments = data.get("environments", []) if isinstance(data, dict) else []
    if not environments:
        print("no environments (no policy, and nothing deployed yet)")
    for env in environments:
        current = env.get("current_release") or "nothing deployed"
        line = f"{paint(env['environment'], 'bold')}: {current}"
        if env.get("frozen"):
            line += f" {paint('frozen', 'yellow')}" + (
                f" ({env['freeze_reason']})" if env.get("freeze_reason") else ""
            )
        print(line)
        flight = env.get("in_flight")
        if flight:
            what = f"{flight['kind']} of {flight['release_id']}"
            print(f"  in flight: {what} ({flight['status']}, {flight['stage']})")
        lock = env.get("lock")
        if lock:
            print(f"  locked by {lock['holder']} ({lock['purpose']}) until {lock['expires_at']}")


def _plain(value: Any) -> Any:
    """JSON-able copy of result data (datetimes as ISO text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


# --- audit -------------------------------------------------------------------------------------------------
def cmd_audit(args: argparse.Namespace) -> int:
    def body() -> int:
        with _store(_settings()) as store:
            try:
                page = store.query_audit(
                    actor=args.actor,
                    action=args.action,
                    target=args.target,
                    since=args.since,
                    limit=args.limit,
                    cursor=args.cursor,
                )
            except ValueError as error:
                return _error(str(error))
        if args.format == "json":
            print_json(
                {"entries": [_plain(asdict(e)) for e in page.entries], "next_cursor": page.next_cursor}
            )
            return EXIT_OK
        if not page.entries:
            print("no audit entries match")
        for e in page.entries:
            why = f"  — {e.reason}" if e.reason else ""
            print(
                f"{e.id}\t{e.at.isoformat(timespec='seconds')}\t{e.actor}\t{e.action}\t{e.target or '-'}{why}"
            )
        if page.next_cursor is not None:
            print(paint(f"more: --cursor {page.next_cursor}", "dim"), file=sys.stderr)
        return EXIT_OK

    return _run(body)


# --- releases sync -----------------------------------------------------------------------------------------
def cmd_releases_sync(args: argparse.Namespace) -> int:
    return _run(lambda: _releases_sync(args))


def _releases_sync(args: argparse.Namespace) -> int:
    from bot.app.sync import sync_releases_audited
    from bot.forge import ForgeError

    settings = _settings()
    problem = _checked_repo(settings, args.repo, args.installation_id)
    if problem is not None:
        return _error(problem)
    if args.environment:
        from bot.store.values import check_environment

        try:
            for name in args.environment:
                check_environment(name)
        except ValueError as error:
            return _error(str(error))
    with _store(settings) as store, _forge(settings, args.installation_id) as forge:
        try:
            report = sync_releases_audited(
                args.repo,
                actor=cli_actor(),
                forge=forge,
                store=store,
                environments=args.environment,
                policy_path=settings.policy_path,
            )
        except ForgeError as error:  # audited by the use case
            return _error(f"{error} (what was synced before it stays; run it again)")
    if args.format == "json":
        print_json(report.to_json())
        return EXIT_OK
    print(
        f"{paint('synced', 'green')} {args.repo}: {report.release_tags} release tags "
        f"({len(report.releases_added)} new), {report.deployments_seen} deployments "
        f"({len(report.deployments_added)} new, {len(report.deployments_updated)} moved on) in "
        f"{', '.join(report.environments) or 'no environment'}"
    )
    for warning in report.warnings:
        print(f"  {paint('warning:', 'yellow')} {warning}")
    return EXIT_OK


# --- dead letters ----------------------------------------------------------------------------------------
def cmd_dead_letters_list(args: argparse.Namespace) -> int:
    def body() -> int:
        with _store(_settings()) as store:
            page = store.dead_letters(limit=args.limit, cursor=args.cursor)
        if args.format == "json":
            print_json(
                {
                    "dead_letters": [_plain(asdict(d)) for d in page.dead_letters],
                    "next_cursor": page.next_cursor,
                }
            )
            return EXIT_OK
        if not page.dead_letters:
            print("no dead letters")
        for d in page.dead_letters:
            what = f"{d.event}.{d.action}" if d.action else d.event
            failed = d.failed_at.isoformat(timespec="seconds") if d.failed_at else "-"
            print(
                f"{d.delivery_id}\t{what}\t{d.repository or '-'}\tfailed {failed}\t"
                f"attempts {d.attempts}\t{d.last_error or '-'}"
            )
        if page.next_cursor is not None:
            print(paint(f"more: --cursor {page.next_cursor}", "dim"), file=sys.stderr)
        return EXIT_OK

    return _run(body)


def cmd_dead_letters_retry(args: argparse.Namespace) -> int:
    def body() -> int:
        if args.all == bool(args.delivery_ids):
            return _error("name the deliveries to retry (DELIVERY_ID ...) or pass --all, not both")
        asked = None if args.all else list(dict.fromkeys(args.delivery_ids))
        with _store(_settings()) as store:
            try:
                retried = store.retry_dead_letters(asked, actor=cli_actor(), reason=args.reason)
            except ValueError as error:
                return _error(str(error))
        left = [d for d in asked or () if d not in retried]
        if args.format == "json":
            print_json({"retried": retried, "not_dead_letters": left})
        else:
            print(f"{paint('retried', 'green')} {len(retried)} deliver{'y' if len(retried) == 1 else 'ies'}")
            for delivery_id in retried:
                print(f"  {delivery_id}")
            for delivery_id in left:
                print(f"{paint('not a dead letter:', 'yellow')} {delivery_id} (unknown, or not failed)")
        return EXIT_REFUSED if left else EXIT_OK

    return _run(body)
