"""The bot's own commands: ``serve``, ``admin token create|list|revoke``, ``propose ACTION SLUG``.

They read the bot's settings (``MODBOT_*``, see bot/config.py) and its store; ``propose`` and ``serve``
talk to GitHub. Exit codes: 0 ok, 1 refused (the manifest core refused the edit, or someone else's
commits are on the branch and it was left alone), 2 usage, configuration, store or GitHub error.
Heavy modules (SQLAlchemy, PyGithub, FastAPI) are imported inside the handlers.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from bot.cli.output import paint, print_json

if TYPE_CHECKING:
    from bot.config import BotSettings
    from bot.store import Store

EXIT_OK, EXIT_REFUSED, EXIT_ERROR = 0, 1, 2
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")  # = bot.logs.LEVELS (tests/unit/test_logs.py)
ACTIONS = ("install", "uninstall", "upgrade", "enable", "disable")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser("serve", help="run the webhook server and its workers")
    p.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    p.add_argument("--port", type=int, default=8000, help="default: 8000")
    p.add_argument(
        "--workers", type=_count, default=1, metavar="N", help="worker threads (0: none); default 1"
    )
    p.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=_env_default("MODBOT_LOG_LEVEL", "info"),
        help="default: $MODBOT_LOG_LEVEL or info",
    )
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=_env_default("MODBOT_LOG_FORMAT", "text"),
        help="one line per record, text or a JSON object; default: $MODBOT_LOG_FORMAT or text",
    )
    p.add_argument(
        "--max-connections",
        type=_positive,
        default=None,
        metavar="N",
        help="open connections past which requests are answered 503 (default 1000)",
    )
    p.add_argument(
        "--head-timeout",
        type=_seconds,
        default=None,
        metavar="S",
        help="seconds a request's headers may take to arrive (default 10)",
    )
    p.add_argument(
        "--body-timeout",
        type=_seconds,
        default=None,
        metavar="S",
        help="seconds a request's body may take to arrive after its headers (default 60)",
    )
    p.set_defaults(handler=cmd_serve)

    admin = commands.add_parser("admin", help="admin API tokens")
    admin_commands = admin.add_subparsers(dest="admin_command", metavar="COMMAND", required=True)
    token = admin_commands.add_parser("token", help="create, list or revoke admin API tokens")
    token_commands = token.add_subparsers(dest="token_command", metavar="COMMAND", required=True)
    p = token_commands.add_parser("create", help="create a token (printed once, stored hashed)")
    p.add_argument("name", metavar="NAME", help="who or what uses it, e.g. ops-portal")
    p.add_argument("--reason", help="kept in the audit log")
    p.set_defaults(handler=cmd_token_create)
    p = token_commands.add_parser("list", help="list tokens (never the tokens themselves)")
    p.add_argument("--all", action="store_true", help="include revoked tokens")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(handler=cmd_token_list)
    p = token_commands.add_parser("revoke", help="revoke a token by id")
    p.add_argument("id", type=int, metavar="ID")
    p.add_argument("--reason", help="kept in the audit log")
    p.set_defaults(handler=cmd_token_revoke)

    p = commands.add_parser("propose", help="open (or refresh) the pull request for an admin action")
    p.add_argument("action", choices=ACTIONS, metavar="ACTION", help=" | ".join(ACTIONS))
    p.add_argument("slug", metavar="SLUG")
    p.add_argument("--repo", required=True, metavar="OWNER/NAME")
    p.add_argument("--installation-id", type=int, metavar="N", help="the App installation (App mode)")
    p.add_argument("--crate")
    p.add_argument("--source", choices=("crates-io", "registry", "git", "path"))
    p.add_argument("--version", dest="version", help="Cargo version requirement (crates-io)")
    p.add_argument("--git", help="git URL (git source)")
    p.add_argument("--rev", help="commit SHA, tag or branch (git source)")
    p.add_argument("--path", help="path relative to the manifest (path source)")
    p.add_argument("--features", type=_csv, help="comma-separated cargo features")
    p.add_argument("--depends-on", type=_csv, help="comma-separated slugs")
    p.add_argument("--required", action="store_true", help="install: a core module, always compiled")
    p.add_argument("--runtime", choices=("extension",), help="install: a deployment-scoped extension")
    p.add_argument("--enable", action="store_true", help="install: also add it to default_enabled")
    p.add_argument("--requested-by", help="the person asking (default: your user name)")
    p.add_argument("--reason", default="", help="why; shown in the PR and the audit log")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(handler=cmd_propose)


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return number


def _positive(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def _seconds(value: str) -> float:
    number = float(value)
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return number


def _env_default(name: str, default: str) -> str:
    """An option's default from the environment (argparse does not check defaults against the choices:
    cmd_serve does, naming the variable)."""
    return os.environ.get(name, "").strip().lower() or default


def _error(message: str) -> int:
    print(f"{paint('modbot:', 'red', sys.stderr)} {message}", file=sys.stderr)
    return EXIT_ERROR


def _me() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


class _Stop(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def _settings() -> BotSettings:
    from bot.config import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as error:
        raise _Stop(_error(str(error))) from None


@contextmanager
def _store(settings: BotSettings) -> Iterator[Store]:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.store import SchemaTooNewError, UnsupportedDatabaseError, open_store
    from bot.store.timings import StoreTimings

    try:
        store = open_store(
            settings.database_url.get_secret_value(),
            max_attempts=settings.max_attempts,
            timings=StoreTimings.from_settings(settings),
        )
    except (SQLAlchemyError, SchemaTooNewError, UnsupportedDatabaseError) as error:
        kind = type(error).__name__
        raise _Stop(_error(f"cannot open the store at {settings.database_url_redacted} ({kind})")) from None
    try:
        yield store
    except SQLAlchemyError as error:
        raise _Stop(
            _error(f"the store at {settings.database_url_redacted} failed ({type(error).__name__})")
        ) from None
    finally:
        store.engine.dispose()


def _run(body: Any) -> int:
    try:
        code: int = body()
    except _Stop as stop:
        return stop.code
    return code


# --- admin tokens ---------------------------------------------------------------------------------------
def cmd_token_create(args: argparse.Namespace) -> int:
    def body() -> int:
        with _store(_settings()) as store:
            try:
                record, token = store.create_admin_token(args.name, actor=f"cli:{_me()}", reason=args.reason)
            except ValueError as error:
                return _error(str(error))
        print(token)
        print(
            f"{paint('created', 'green', sys.stderr)} admin token {record.id} ({record.name}); it is shown "
            "only this once: store it now (send it as `Authorization: Bearer <token>`)",
            file=sys.stderr,
        )
        return EXIT_OK

    return _run(body)


def cmd_token_list(args: argparse.Namespace) -> int:
    def body() -> int:
        with _store(_settings()) as store:
            tokens = store.list_admin_tokens(include_revoked=args.all)
        if args.format == "json":
            print_json(
                [
                    {
                        "id": t.id,
                        "name": t.name,
                        "created_at": t.created_at.isoformat(),
                        "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                        "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
                    }
                    for t in tokens
                ]
            )
            return EXIT_OK
        if not tokens:
            print("no admin tokens (create one with `modbot admin token create NAME`)")
        for t in tokens:
            used = t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never"
            state = f"revoked {t.revoked_at.isoformat(timespec='seconds')}" if t.revoked_at else "active"
            created = t.created_at.isoformat(timespec="seconds")
            print(f"{t.id}\t{t.name}\tcreated {created}\tlast used {used}\t{state}")
        return EXIT_OK

    return _run(body)


def cmd_token_revoke(args: argparse.Namespace) -> int:
    def body() -> int:
        with _store(_settings()) as store:
            revoked = store.revoke_admin_token(args.id, actor=f"cli:{_me()}", reason=args.reason)
        if not revoked:
            return _error(f"no active admin token with id {args.id}")
        print(f"{paint('revoked', 'green')} admin token {args.id}")
        return EXIT_OK

    return _run(body)


# --- propose --------------------------------------------------------------------------------------------
def _checked_repo(settings: BotSettings, repo: str, installation_id: int | None) -> str | None:
    """Why the repository cannot be used, or None."""
    from bot.config import SettingsError
    from bot.forge import validate_repo

    try:
        validate_repo(repo)
    except ValueError as error:
        return str(error)
    if not settings.allows_repository(repo):
        return f"{repo} is not among the repositories this bot manages (MODBOT_REPOSITORIES)"
    try:
        mode = settings.auth_mode
    except SettingsError as error:
        return str(error)
    if mode == "app" and installation_id is None:
        return "--installation-id is required: the bot is configured as a GitHub App"
    return None


def cmd_propose(args: argparse.Namespace) -> int:
    return _run(lambda: _propose(args))


def _propose(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from bot.app.admin_requests import request_module_change
    from bot.app.audit import audit_safely
    from bot.app.proposals import Intent
    from bot.forge import ForgeError
    from bot.forge.github import GitHubForgeProvider
    from bot.manifest.edit import EditRefused

    settings = _settings()
    problem = _checked_repo(settings, args.repo, args.installation_id)
    if problem is not None:
        return _error(problem)
    module: dict[str, Any] = {
        key: getattr(args, key)
        for key in ("crate", "source", "version", "git", "rev", "path", "features", "depends_on", "runtime")
        if getattr(args, key) is not None
    }
    if args.required:
        module["required"] = True
    requested_by = args.requested_by or _me()
    try:
        intent = Intent.model_validate(
            {
                "action": args.action,
                "slug": args.slug,
                "module": module,
                "enable": args.enable,
                "requested_by": requested_by,
                "reason": args.reason,
            }
        )
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors(include_input=False)
        )
        return _error(f"invalid request: {problems}")
    actor = f"cli:{_me()}" + (f" ({requested_by})" if requested_by != _me() else "")
    with _store(settings) as store:
        provider = GitHubForgeProvider.from_settings(settings)
        details = {"slug": args.slug, "requested_by": requested_by}
        try:
            forge = provider.for_installation(args.installation_id)
        except ForgeError as error:
            provider.close()
            audit_safely(
                store,
                actor,
                f"module.{args.action}",
                args.repo,
                details={**details, "outcome": "failed", "detail": str(error)},
                reason=args.reason or "",
            )
            return _error(str(error))
        try:
            result = request_module_change(
                forge,
                store,
                args.repo,
                intent,
                manifest_path=settings.manifest_path,
                actor=actor,
                details=details,
            )
        except EditRefused as refused:  # audited by the use case
            print(f"{paint('refused:', 'red')} nothing was opened")
            for reason in refused.reasons:
                print(f"  - {reason}")
            return EXIT_REFUSED
        except ForgeError as error:
            return _error(str(error))
        finally:
            provider.close()
    if args.format == "json":
        print_json(result.model_dump(mode="json"))
    else:
        colour = "yellow" if result.status == "left-alone" else "green"
        print(f"{paint(result.status, colour)} {result.message}")
        if result.pull_url:
            print(f"  {result.pull_url}")
        print(f"  {result.summary} (branch {result.branch}, base {result.base_branch} {result.base_sha[:7]})")
    return EXIT_REFUSED if result.status == "left-alone" else EXIT_OK


# --- serve ----------------------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    def body() -> int:
        import uvicorn

        from bot import logs
        from bot.config import SettingsError
        from bot.forge.github import ForgeStats, GitHubForgeProvider
        from bot.metrics import Metrics
        from bot.runtime import Runtime
        from bot.web.app import DEFAULT_LIMITS, create_app, freeze_startup_objects
        from bot.web.edge import guarded_protocol

        if args.log_level not in LOG_LEVELS:
            return _error(f"MODBOT_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        if args.log_format not in ("text", "json"):
            return _error("MODBOT_LOG_FORMAT must be text or json")
        logs.configure(level=args.log_level, json=args.log_format == "json")
        given = {
            "max_connections": args.max_connections,
            "head_timeout": args.head_timeout,
            "body_timeout": args.body_timeout,
        }
        limits = dataclasses.replace(DEFAULT_LIMITS, **{k: v for k, v in given.items() if v is not None})
        settings = _settings()
        try:
            settings.require_serve()  # before opening anything: fail closed with every reason
        except SettingsError as error:
            return _error(str(error))
        metrics = Metrics()
        stats = ForgeStats(
            on_call=lambda operation: metrics.github_calls.labels(operation).inc(),
            on_error=lambda _operation, status: metrics.github_errors.labels(status).inc(),
            on_latency=metrics.observe_github_call,
        )
        with _store(settings) as store:
            provider = GitHubForgeProvider.from_settings(settings, stats=stats)
            try:
                runtime = Runtime(settings, store, provider, metrics=metrics)
                app = create_app(runtime, workers=args.workers, limits=limits)
                freeze_startup_objects()
                uvicorn.run(
                    app,
                    host=args.host,
                    port=args.port,
                    http=guarded_protocol(limits),  # head size, header count, read deadlines
                    limit_concurrency=limits.max_connections,
                    timeout_keep_alive=limits.keep_alive_timeout,
                    log_config=None,  # uvicorn's loggers propagate to the handler of logs.configure
                    log_level=None,
                )
            finally:
                provider.close()
        return EXIT_OK

    return _run(body)
