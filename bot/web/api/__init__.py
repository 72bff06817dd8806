"""The admin API under ``/admin``: one module per resource, endpoints as module-level functions with
FastAPI dependencies (bot/web/api/context.py: store, settings, forge factory; bot/web/api/auth.py: the
authenticated caller), one error shape answered by one handler (bot/web/api/problems.py). See
docs/admin-api.md."""

from __future__ import annotations

from fastapi import FastAPI

from bot.runtime import Runtime
from bot.web.api import audit, build_commands, builds, dead_letters, environments, modules, releases
from bot.web.api.context import install_runtime

__all__ = ["include_admin_api"]

# in the order the served OpenAPI document has always listed them
ROUTERS = (
    modules.router,
    builds.router,
    releases.router,
    environments.router,
    audit.router,
    dead_letters.router,
    build_commands.router,
)


def include_admin_api(app: FastAPI, runtime: Runtime) -> None:
    install_runtime(app, runtime)
    for router in ROUTERS:
        app.include_router(router)
