"""What the console's pages share, built once by `include_console`: the session codec, one Jinja2
environment per language, the repository it shows and the way to its forge, a short-lived cache of
people's roles for display, and the sign-in throttle."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import jinja2
from markupsafe import Markup
from starlette.requests import Request

from bot.config import BotSettings, SettingsError
from bot.forge import Forge, ForgeError, Permission
from bot.render import templates_dir
from bot.runtime import Runtime
from bot.store import Store
from bot.web.console.i18n import LANGUAGES, load_translations
from bot.web.console.session import SessionCodec
from bot.web.console.throttle import SignInThrottle

__all__ = ["STATIC_DIR", "ConsoleState", "console_state", "static_version"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
# a person's role, for showing which buttons they may press: asked again after this long (every action
# asks afresh through `authorize`, so a demotion takes effect at once where it matters)
ROLE_DISPLAY_SECONDS = 60.0


@dataclass
class ConsoleState:
    runtime: Runtime
    codec: SessionCodec
    repository: str | None
    environments: dict[str, jinja2.Environment]
    throttle: SignInThrottle = field(default_factory=SignInThrottle)
    clock: Callable[[], float] = time.monotonic
    _roles: dict[str, tuple[float, Permission | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def settings(self) -> BotSettings:
        return self.runtime.settings

    @property
    def store(self) -> Store:
        return self.runtime.store

    def forge(self) -> Forge:
        """The forge of the console's repository: in App mode, the installation its deliveries came
        from; ForgeError when there is none yet (nothing to ask GitHub with)."""
        if self.repository is None:
            raise ForgeError("console", None, "no repository: set MODBOT_REPOSITORIES to exactly one")
        installation = None
        try:
            app_mode = self.settings.auth_mode == "app"
        except SettingsError as error:  # no forge credentials: nothing to ask (fail closed)
            raise ForgeError("console", None, "; ".join(error.problems)) from None
        if app_mode:
            installation = self.store.installation_of(self.repository)
            if installation is None:
                raise ForgeError(
                    "console", None, f"no delivery from {self.repository} named its installation"
                )
        return self.runtime.forges.for_installation(installation)

    def display_role(self, login: str, kind: str) -> Permission | None:
        """The person's role for showing what they may do (None: it could not be asked)."""
        if kind == "local":
            return self.store.role_of(login)
        now = self.clock()
        with self._lock:
            cached = self._roles.get(login)
        if cached is not None and now - cached[0] < ROLE_DISPLAY_SECONDS:
            return cached[1]
        role: Permission | None
        try:
            assert self.repository is not None
            role = self.forge().get_permission(self.repository, login)
        except ForgeError:
            role = None  # not cached: asked again on the next page
        else:
            with self._lock:
                self._roles[login] = (now, role)
        return role

    def forget_role(self, login: str) -> None:
        with self._lock:
            self._roles.pop(login, None)


def session_secret(settings: BotSettings) -> str:
    """The signing key; with local accounts and none set, a random one for this process (sessions then
    end when modbot restarts). Never a built-in key."""
    if settings.console_secret is not None:
        return settings.console_secret.get_secret_value()
    return secrets.token_urlsafe(32)


def console_state(request: Request) -> ConsoleState:
    state = getattr(request.app.state, "console", None)
    assert isinstance(state, ConsoleState), "include_console installs the console's state"
    return state


def make_environments() -> dict[str, jinja2.Environment]:
    environments = {}
    for language in LANGUAGES:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir()),
            undefined=jinja2.StrictUndefined,
            autoescape=True,  # HTML: everything is escaped unless marked safe
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.install_gettext_translations(load_translations(language), newstyle=True)  # type: ignore[attr-defined]
        env.globals["static_url"] = static_url
        env.filters["when"] = when
        environments[language] = env
    return environments


def when(value: datetime | None) -> Markup:
    """A moment as ``<time>``: UTC minutes for people, the exact ISO time for machines."""
    if value is None:
        return Markup("")
    utc = value.astimezone(UTC)
    return Markup('<time datetime="{}">{}</time>').format(utc.isoformat(), utc.strftime("%Y-%m-%d %H:%M UTC"))


@cache
def static_version(name: str) -> str:
    """A short hash of a static file's content: a changed file gets a new URL (cache busting)."""
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    return f"/console/static/{name}?v={static_version(name)}"
