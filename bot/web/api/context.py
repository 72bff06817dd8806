"""What the admin API's endpoints use, as FastAPI dependencies: the runtime `create_app` was given
(`install_runtime`), and from it the store, the settings and the forge factory."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request

from bot.config import BotSettings
from bot.forge import ForgeProvider
from bot.runtime import Runtime
from bot.store import Store

__all__ = ["ForgesDep", "RuntimeDep", "SettingsDep", "StoreDep", "install_runtime", "runtime_of"]


def install_runtime(app: FastAPI, runtime: Runtime) -> None:
    app.state.runtime = runtime


# async: nothing here blocks, so FastAPI need not hop to its thread pool for them
async def runtime_of(request: Request) -> Runtime:
    runtime = request.app.state.runtime
    assert isinstance(runtime, Runtime), "create_app installs the runtime"
    return runtime


async def store_of(runtime: Annotated[Runtime, Depends(runtime_of)]) -> Store:
    return runtime.store


async def settings_of(runtime: Annotated[Runtime, Depends(runtime_of)]) -> BotSettings:
    return runtime.settings


async def forges_of(runtime: Annotated[Runtime, Depends(runtime_of)]) -> ForgeProvider:
    return runtime.forges


RuntimeDep = Annotated[Runtime, Depends(runtime_of)]
StoreDep = Annotated[Store, Depends(store_of)]
SettingsDep = Annotated[BotSettings, Depends(settings_of)]
ForgesDep = Annotated[ForgeProvider, Depends(forges_of)]
