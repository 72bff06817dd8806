"""``modbot local serve``: single-host mode, the whole loop on one machine (docs/single-host.md).

On the first start it seeds the managed repository in the data folder from an example workspace
(``--seed``, `make run` gives examples/rustok-mini) and makes the console's first account, ``admin``, whose
generated password is printed once (only its hash is kept). Later starts resume from the data folder.
It serves the console on 127.0.0.1, runs builds and deploys, and supervises staging and production;
Ctrl-C stops all of it, the servers included.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bot.cli.bot_commands import EXIT_OK, _error, _run, _settings, _store
from bot.cli.output import paint

DEFAULT_REPO = "local/rustok-mini"


def register(local_commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = local_commands.add_parser("serve", help="run single-host mode: console, builds, deploys, servers")
    p.add_argument("--data", type=Path, default=Path(os.environ.get("MODBOT_DATA") or ".modbot-data"),
                   help="the data folder (default: $MODBOT_DATA or .modbot-data)")  # fmt: skip
    p.add_argument("--repo", default=DEFAULT_REPO, metavar="OWNER/NAME", help=f"default: {DEFAULT_REPO}")
    p.add_argument("--seed", type=Path, help="on the first start, the workspace the repository is made from")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", default=os.environ.get("MODBOT_PORT") or "8000", help="$MODBOT_PORT or 8000")
    p.add_argument("--staging-port", default=os.environ.get("MODBOT_STAGING_PORT") or "8101")
    p.add_argument("--production-port", default=os.environ.get("MODBOT_PRODUCTION_PORT") or "8102")
    p.add_argument("--cargo-target", type=Path, default=os.environ.get("MODBOT_CARGO_TARGET") or None,
                   help="CARGO_TARGET_DIR (default: $MODBOT_CARGO_TARGET, else in --data)")  # fmt: skip
    p.add_argument("--no-baseline", action="store_true",
                   help="first start: do not build and deploy the seeded repository")  # fmt: skip
    p.add_argument("--online", action="store_true", help="let cargo use the network (default: offline)")
    p.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    def body() -> int:
        import uvicorn
        from pydantic import SecretStr

        from bot import logs
        from bot.forge import validate_repo
        from bot.forge.local.base import WEB_URL_FILE, repository_path
        from bot.host.runner import RunnerError
        from bot.singlehost.compose import SingleHost, SingleHostOptions
        from bot.singlehost.seed import (
            Ports,
            console_secret,
            hook_command,
            port_from,
            seed_admin,
            seed_repository,
        )
        from bot.web.app import create_app

        try:
            repo = validate_repo(args.repo)
            port = port_from(str(args.port), "MODBOT_PORT")
            ports = Ports(port_from(args.staging_port, "--staging-port"),
                          port_from(args.production_port, "--production-port"))  # fmt: skip
        except ValueError as exc:
            return _error(str(exc))
        logs.configure(level=os.environ.get("MODBOT_LOG_LEVEL", "INFO"), json=False)
        data = args.data.resolve()
        data.mkdir(parents=True, exist_ok=True)
        database = f"sqlite:///{data / 'modbot.db'}"
        settings = _settings()
        try:
            secret = settings.console_secret or SecretStr(console_secret(data))
        except (OSError, ValueError) as exc:
            return _error(f"the console's session key: {exc}")
        settings = settings.model_copy(
            update={
                "console_secret": secret,
                "forge": "local",
                "database_url": SecretStr(database),
                "repositories": frozenset({repo.lower()}),
                "console_sign_in": "local",
                "poll_seconds": 0.2,  # events are queued in-process: pick them up at once
            }
        )
        path = repository_path(data / "repos", repo)
        seeded = False
        if not (path / "HEAD").exists():
            if args.seed is None:
                return _error(f"{path} does not exist: give --seed WORKSPACE for the first start")
            seed_repository(
                path, args.seed.resolve(), ports, hook_command=hook_command(data / "repos", repo, database)
            )
            print(f"seeded {repo} from {args.seed} in {path}")
            seeded = True
        web_url = f"http://{args.host}:{port}"
        with _store(settings) as store:
            password = seed_admin(store)
            host = SingleHost(settings, store, SingleHostOptions(data=data, repo=repo, web_url=web_url,
                                                                 offline=not args.online,
                                                                 cargo_target=args.cargo_target))  # fmt: skip
            try:
                try:
                    said = host.start()
                except (RuntimeError, RunnerError) as exc:  # another modbot serves this data folder
                    return _error(str(exc))
                # where the console is, for the links the `modbot local …` commands' events carry
                (data / "repos" / WEB_URL_FILE).write_text(web_url + "\n", encoding="utf-8")
                if seeded and not args.no_baseline:
                    host.baseline()
                    said.append("building the seeded repository for staging and production (Builds page)")
                app = create_app(host.runtime, workers=1)
                print(f"\n{paint('modbot', 'green')} single-host mode: open {web_url}/console/")
                if password is not None:
                    print(f"  sign in as admin with the password {password}  (shown once: note it)")
                else:
                    print("  sign in with your account (forgot the password? "
                          "`modbot users set-password admin --generate` with MODBOT_DATABASE_URL="
                          f"{database})")  # fmt: skip
                for line in said:
                    print(f"  {line}")
                print(
                    f"  repository: git clone {path}   data: {data}   Ctrl-C stops everything\n", flush=True
                )
                uvicorn.run(app, host=args.host, port=port, log_config=None, log_level=None)
            finally:
                host.close()
        print("modbot stopped; `make run` resumes", file=sys.stderr)
        return EXIT_OK

    return _run(body)
