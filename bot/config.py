"""Bot settings: environment variables (``MODBOT_*``), optionally a TOML file (``MODBOT_CONFIG``); env wins.

`load_settings()` reports every problem at once (`SettingsError`), names each by its environment variable,
and never echoes a secret: tokens, the private key, webhook secrets and the database URL (which may hold a
password) are `pydantic.SecretStr`. A variable set to the empty string counts as unset.

In the file, keys are the variable names without ``MODBOT_``, lower-cased; lists may be TOML arrays;
relative paths are relative to the file::

    github_app_id = 123456
    github_private_key_path = "modbot.private-key.pem"
    webhook_secret = ["new-secret", "old-secret"]
    repositories = ["rustok/rustok"]

The repository policy (who may run which command, environments…) is not bot configuration: it lives in
the managed repository and `read_policy_file` reads it from the default branch only, never from a
pull request's head (a PR could otherwise grant itself rights).
"""

from __future__ import annotations

import logging
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, field_validator, model_validator

from bot.domain.ids import is_login, is_repo_path, validate_repo

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_DATABASE_URL",
    "DEFAULT_MAX_BODY_BYTES",
    "ENV_PREFIX",
    "BotSettings",
    "PolicyFile",
    "PolicyFileError",
    "SettingsError",
    "load_settings",
    "read_policy_file",
]

log = logging.getLogger(__name__)

ENV_PREFIX = "MODBOT_"
CONFIG_ENV = "MODBOT_CONFIG"
DEFAULT_API_URL = "https://api.github.com"  # the one default, bot.forge.github uses it too
DEFAULT_DATABASE_URL = "sqlite:///modbot.sqlite3"
DEFAULT_MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB
DEFAULT_POLICY_PATH = ".github/modbot.toml"
# The worker's timings (bot.worker.Worker takes its defaults from here; docs/webhook-bot.md).
DEFAULT_LEASE_SECONDS = 15.0  # a job's lease; a dead worker's job is taken again after it
DEFAULT_HEARTBEAT_SECONDS = 5.0  # the lease is renewed this often while the job runs
DEFAULT_POLL_SECONDS = 2.0  # an idle worker looks for due jobs this often (a new delivery wakes it)
DEFAULT_RETRY_BASE_SECONDS = 15.0  # a failed job's first retry waits up to this (doubling, jittered)
DEFAULT_RETRY_CAP_SECONDS = 300.0  # and never more than this
# The GitHub client's timings (bot.forge.github.RetryPolicy takes its defaults from here).
DEFAULT_GITHUB_TIMEOUT_SECONDS = 15.0  # one HTTP request to GitHub
DEFAULT_GITHUB_MAX_ATTEMPTS = 5  # attempts of one call in all, the first included
DEFAULT_GITHUB_RETRY_BASE_SECONDS = 1.0  # before the first retry of a 5xx (doubling, capped, jittered)
DEFAULT_GITHUB_RETRY_CAP_SECONDS = 30.0
DEFAULT_GITHUB_SECONDARY_WAIT_SECONDS = 60.0  # a secondary rate limit with no header: "at least a minute"
DEFAULT_GITHUB_MAX_WAIT_SECONDS = 90.0  # longer waits are not slept but raised (the job is retried later)
DEFAULT_GITHUB_RETRY_JITTER_SECONDS = 1.0  # up to this much added to a wait GitHub asked for
DEFAULT_DELIVERY_DRAIN_SECONDS = 30.0  # on shutdown, deliveries waiting to be recorded are written this long
# The SQLite store's timings (bot.store.timings.StoreTimings takes its defaults from here; docs/store.md).
DEFAULT_SQLITE_BUSY_TIMEOUT_SECONDS = 10.0  # a connection waits this long for another process's write lock
DEFAULT_SQLITE_WRITER_WAIT_SECONDS = 30.0  # a writer waits this long for the other threads of its process
DEFAULT_SQLITE_CHECKPOINT_INTERVAL_SECONDS = 0.05  # the background WAL checkpoint runs this often, if needed
DEFAULT_SQLITE_CHECKPOINT_BUSY_TIMEOUT_SECONDS = 5.0  # and waits this long for a lock
DEFAULT_SQLITE_WAL_AUTOCHECKPOINT_PAGES = 16_384  # past 64 MB of log a commit checkpoints by itself

AuthMode = Literal["app", "token", "local"]
ForgeKind = Literal["github", "local"]
ConsoleSignIn = Literal["github", "local"]

# environment variable (without prefix) -> BotSettings field; the file uses the same names lower-cased
_FIELDS: dict[str, str] = {
    "GITHUB_API_URL": "github_api_url",
    "GITHUB_APP_ID": "github_app_id",
    "GITHUB_PRIVATE_KEY": "github_private_key",
    "GITHUB_PRIVATE_KEY_PATH": "github_private_key_path",
    "GITHUB_TOKEN": "github_token",
    "WEBHOOK_SECRET": "webhook_secrets",
    "DATABASE_URL": "database_url",
    "MANIFEST_PATH": "manifest_path",
    "POLICY_PATH": "policy_path",
    "REPOSITORIES": "repositories",
    "MAX_BODY_BYTES": "max_body_bytes",
    "BOT_LOGIN": "bot_login",
    "LEASE_SECONDS": "lease_seconds",
    "HEARTBEAT_SECONDS": "heartbeat_seconds",
    "POLL_SECONDS": "poll_seconds",
    "SHUTDOWN_GRACE_SECONDS": "shutdown_grace_seconds",
    "RETRY_BASE_SECONDS": "retry_base_seconds",
    "RETRY_CAP_SECONDS": "retry_cap_seconds",
    "MAX_ATTEMPTS": "max_attempts",
    "GITHUB_TIMEOUT_SECONDS": "github_timeout_seconds",
    "GITHUB_MAX_ATTEMPTS": "github_max_attempts",
    "GITHUB_RETRY_BASE_SECONDS": "github_retry_base_seconds",
    "GITHUB_RETRY_CAP_SECONDS": "github_retry_cap_seconds",
    "GITHUB_SECONDARY_WAIT_SECONDS": "github_secondary_wait_seconds",
    "GITHUB_MAX_WAIT_SECONDS": "github_max_wait_seconds",
    "GITHUB_RETRY_JITTER_SECONDS": "github_retry_jitter_seconds",
    "DELIVERY_DRAIN_SECONDS": "delivery_drain_seconds",
    "SQLITE_BUSY_TIMEOUT_SECONDS": "sqlite_busy_timeout_seconds",
    "SQLITE_WRITER_WAIT_SECONDS": "sqlite_writer_wait_seconds",
    "SQLITE_CHECKPOINT_INTERVAL_SECONDS": "sqlite_checkpoint_interval_seconds",
    "SQLITE_CHECKPOINT_BUSY_TIMEOUT_SECONDS": "sqlite_checkpoint_busy_timeout_seconds",
    "SQLITE_WAL_AUTOCHECKPOINT_PAGES": "sqlite_wal_autocheckpoint_pages",
    "CONSOLE_SECRET": "console_secret",
    "CONSOLE_SIGN_IN": "console_sign_in",
    "FORGE": "forge",
    "GITHUB_CLIENT_ID": "github_client_id",
    "GITHUB_CLIENT_SECRET": "github_client_secret",
}
_ENV_OF = {field_name: ENV_PREFIX + env for env, field_name in _FIELDS.items()}
_LISTS = frozenset({"webhook_secrets", "repositories"})
_PATHS = frozenset({"github_private_key_path"})
_SECRETS = frozenset(
    {
        "github_private_key",
        "github_token",
        "webhook_secrets",
        "database_url",
        "console_secret",
        "github_client_secret",
    }
)
# the console's session signing key: at least this many characters (`openssl rand -hex 32` gives 64)
MIN_CONSOLE_SECRET_CHARS = 32


class SettingsError(ValueError):
    """The configuration is unusable; ``problems`` lists every reason (no secret values in them)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(dict.fromkeys(problems))
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid modbot configuration:\n{lines}")


def _auth_problems(*, app_id: bool, key: bool, key_path: bool, token: bool) -> list[str]:
    problems = []
    env = _ENV_OF
    if key and key_path:
        problems.append(
            f"{env['github_private_key']} and {env['github_private_key_path']} are both set; give one"
        )
    has_key = key or key_path
    if app_id and not has_key:
        problems.append(
            f"{env['github_app_id']} is set but the App's private key is not "
            f"({env['github_private_key']} or {env['github_private_key_path']})"
        )
    if has_key and not app_id:
        problems.append(f"a GitHub App private key is set but {env['github_app_id']} is not")
    if token and (app_id or has_key):
        problems.append(
            f"both GitHub App credentials and {env['github_token']} are set; give one "
            "(the App is the production mode: its tags and pushes trigger workflows)"
        )
    return problems


def _relative_repo_path(value: str, what: str) -> str:
    if not is_repo_path(value):
        raise ValueError(f"{what} must be a relative path inside the repository, like 'modules.toml'")
    return value


class BotSettings(BaseModel):
    """The bot's settings. Build with `load_settings()` (environment + file), or directly in tests."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    github_api_url: str = DEFAULT_API_URL
    github_app_id: int | None = None
    github_private_key: SecretStr | None = None
    github_private_key_path: Path | None = None
    github_token: SecretStr | None = None
    webhook_secrets: tuple[SecretStr, ...] = ()
    database_url: SecretStr = SecretStr(DEFAULT_DATABASE_URL)
    manifest_path: str = "modules.toml"
    policy_path: str = DEFAULT_POLICY_PATH
    repositories: frozenset[str] | None = None  # lower-cased owner/name; None = every installed repository
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    bot_login: str | None = None  # e.g. "modbot[bot]"; None = asked from GitHub once
    # the worker's timings (docs/webhook-bot.md, "Jobs, leases and retries")
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS
    poll_seconds: float = DEFAULT_POLL_SECONDS
    shutdown_grace_seconds: float = 5.0  # on SIGTERM, in-flight jobs may finish this long, then go back
    retry_base_seconds: float = DEFAULT_RETRY_BASE_SECONDS
    retry_cap_seconds: float = DEFAULT_RETRY_CAP_SECONDS
    max_attempts: int = 10  # attempts before a job is dead-lettered (failed): 14-28 min of retries
    # the GitHub client's timings (docs/github-app.md, "Settings")
    github_timeout_seconds: float = DEFAULT_GITHUB_TIMEOUT_SECONDS
    github_max_attempts: int = DEFAULT_GITHUB_MAX_ATTEMPTS
    github_retry_base_seconds: float = DEFAULT_GITHUB_RETRY_BASE_SECONDS
    github_retry_cap_seconds: float = DEFAULT_GITHUB_RETRY_CAP_SECONDS
    github_secondary_wait_seconds: float = DEFAULT_GITHUB_SECONDARY_WAIT_SECONDS
    github_max_wait_seconds: float = DEFAULT_GITHUB_MAX_WAIT_SECONDS
    github_retry_jitter_seconds: float = DEFAULT_GITHUB_RETRY_JITTER_SECONDS
    delivery_drain_seconds: float = DEFAULT_DELIVERY_DRAIN_SECONDS
    sqlite_busy_timeout_seconds: float = DEFAULT_SQLITE_BUSY_TIMEOUT_SECONDS
    sqlite_writer_wait_seconds: float = DEFAULT_SQLITE_WRITER_WAIT_SECONDS
    sqlite_checkpoint_interval_seconds: float = DEFAULT_SQLITE_CHECKPOINT_INTERVAL_SECONDS
    sqlite_checkpoint_busy_timeout_seconds: float = DEFAULT_SQLITE_CHECKPOINT_BUSY_TIMEOUT_SECONDS
    sqlite_wal_autocheckpoint_pages: int = DEFAULT_SQLITE_WAL_AUTOCHECKPOINT_PAGES
    # the web console (docs/console.md): its session signing key, how people sign in, the OAuth App
    console_secret: SecretStr | None = None
    console_sign_in: ConsoleSignIn = "github"
    # which forge modbot works with: GitHub, or the local forge of single-host mode (docs/single-host.md)
    forge: ForgeKind = "github"
    github_client_id: str | None = None
    github_client_secret: SecretStr | None = None

    @field_validator(
        "lease_seconds",
        "heartbeat_seconds",
        "poll_seconds",
        "retry_base_seconds",
        "retry_cap_seconds",
        "github_timeout_seconds",
        "github_retry_base_seconds",
        "github_retry_cap_seconds",
        "github_secondary_wait_seconds",
        "github_max_wait_seconds",
        "delivery_drain_seconds",
        "sqlite_busy_timeout_seconds",
        "sqlite_writer_wait_seconds",
        "sqlite_checkpoint_interval_seconds",
        "sqlite_checkpoint_busy_timeout_seconds",
    )
    @classmethod
    def _positive_seconds(cls, value: float) -> float:
        if not (math.isfinite(value) and value > 0):
            raise ValueError("must be a positive number of seconds")
        return value

    @field_validator("shutdown_grace_seconds", "github_retry_jitter_seconds")
    @classmethod
    def _grace(cls, value: float) -> float:
        if not (math.isfinite(value) and value >= 0):
            raise ValueError("must be 0 or a positive number of seconds")
        return value

    @field_validator("max_attempts", "github_max_attempts", "sqlite_wal_autocheckpoint_pages")
    @classmethod
    def _max_attempts(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value

    @field_validator("github_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        match = re.fullmatch(r"(https?)://([^/?#\s]+)(/[^?#\s]*)?", value.strip())
        if not match:
            raise ValueError("must be an https:// URL such as https://ghe.example.com/api/v3")
        host = match.group(2).split(":")[0].lower()
        if match.group(1) == "http" and host not in {"localhost", "127.0.0.1", "::1"}:
            raise ValueError("must use https:// (tokens would cross the network in clear)")
        return value.strip().rstrip("/")

    @field_validator("github_app_id")
    @classmethod
    def _app_id(cls, value: int | None) -> int | None:
        if value is not None and value <= 0:
            raise ValueError("must be a positive integer (the App's numeric id, not its client id)")
        return value

    @field_validator("github_private_key")
    @classmethod
    def _private_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        text = value.get_secret_value()
        if "\n" not in text and "\\n" in text:  # a PEM squeezed into one env line
            text = text.replace("\\n", "\n")
        try:
            key = load_pem_private_key(text.strip().encode("utf-8"), password=None)
        except (ValueError, TypeError):
            raise ValueError(
                "is not an unencrypted PEM private key (download it from the App's settings page)"
            ) from None
        if not isinstance(key, RSAPrivateKey):
            raise ValueError("must be an RSA key (GitHub signs App JWTs with RS256)")
        return SecretStr(text.strip() + "\n")

    @field_validator("github_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and (not value.get_secret_value().strip() or " " in value.get_secret_value()):
            raise ValueError("must be a single token without spaces")
        return value

    @field_validator("webhook_secrets")
    @classmethod
    def _webhook_secrets(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        return tuple(s for s in value if s.get_secret_value())

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr) -> SecretStr:
        if not re.match(r"^[a-z][a-z0-9+]*://", value.get_secret_value()):
            raise ValueError("must be a SQLAlchemy URL such as sqlite:///modbot.sqlite3 or postgresql://…")
        return value

    @field_validator("manifest_path")
    @classmethod
    def _manifest_path(cls, value: str) -> str:
        return _relative_repo_path(value, "the manifest path")

    @field_validator("policy_path")
    @classmethod
    def _policy_path(cls, value: str) -> str:
        return _relative_repo_path(value, "the policy path")

    @field_validator("repositories")
    @classmethod
    def _repositories(cls, value: frozenset[str] | None) -> frozenset[str] | None:
        if value is None:
            return None
        bad = sorted(r for r in value if not _is_repo(r))
        if bad:
            raise ValueError(f"not owner/name: {', '.join(repr(b) for b in bad)}")
        return frozenset(r.lower() for r in value) or None

    @field_validator("max_body_bytes")
    @classmethod
    def _max_body_bytes(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be a positive number of bytes")
        return value

    @field_validator("console_secret")
    @classmethod
    def _console_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < MIN_CONSOLE_SECRET_CHARS:
            raise ValueError(
                f"must be at least {MIN_CONSOLE_SECRET_CHARS} random characters (e.g. `openssl rand -hex 32`)"
            )
        return value

    @field_validator("github_client_id")
    @classmethod
    def _client_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", value.strip()):
            raise ValueError("must be the OAuth client id of the GitHub App (letters, digits, . _ -)")
        return value.strip() if value is not None else None

    @field_validator("bot_login")
    @classmethod
    def _bot_login(cls, value: str | None) -> str | None:
        if value is not None and not is_login(value):
            raise ValueError("must be a GitHub login, e.g. modbot[bot]")
        return value

    @model_validator(mode="before")
    @classmethod
    def _read_private_key_file(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data.get("github_private_key_path"):
            return data
        if data.get("github_private_key"):
            raise ValueError(_auth_problems(app_id=True, key=True, key_path=True, token=False)[0])
        path = Path(data["github_private_key_path"])
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
            raise ValueError(f"{_ENV_OF['github_private_key_path']}: cannot read {path}: {reason}") from None
        return {**data, "github_private_key": SecretStr(text)}

    @model_validator(mode="after")
    def _timings_consistent(self) -> BotSettings:
        if self.heartbeat_seconds * 2 > self.lease_seconds:
            raise ValueError(
                f"{_ENV_OF['heartbeat_seconds']} ({self.heartbeat_seconds:g}) must be at most half of "
                f"{_ENV_OF['lease_seconds']} ({self.lease_seconds:g}): a lease must survive a missed renewal"
            )
        if self.retry_base_seconds > self.retry_cap_seconds:
            raise ValueError(
                f"{_ENV_OF['retry_base_seconds']} must not exceed {_ENV_OF['retry_cap_seconds']}"
            )
        if self.github_retry_base_seconds > self.github_retry_cap_seconds:
            raise ValueError(
                f"{_ENV_OF['github_retry_base_seconds']} must not exceed "
                f"{_ENV_OF['github_retry_cap_seconds']}"
            )
        return self

    @model_validator(mode="after")
    def _console_consistent(self) -> BotSettings:
        if (self.github_client_id is None) != (self.github_client_secret is None):
            raise ValueError(
                f"{_ENV_OF['github_client_id']} and {_ENV_OF['github_client_secret']} go together: "
                "set both (the GitHub App's OAuth client) or neither"
            )
        return self

    @model_validator(mode="after")
    def _auth_consistent(self) -> BotSettings:
        problems = _auth_problems(
            app_id=self.github_app_id is not None,
            key=self.github_private_key is not None,
            key_path=False,
            token=self.github_token is not None,
        )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # --- what the rest of the bot asks ------------------------------------------------------------------
    @property
    def auth_mode(self) -> AuthMode:
        """``app`` or ``token``; `SettingsError` when no GitHub credentials are configured. ``local``: the
        local forge of single-host mode, which needs none."""
        if self.forge == "local":
            return "local"
        if self.github_app_id is not None and self.github_private_key is not None:
            return "app"
        if self.github_token is not None:
            return "token"
        raise SettingsError(
            [
                f"no GitHub credentials: set {_ENV_OF['github_app_id']} and {_ENV_OF['github_private_key']} "
                f"(or {_ENV_OF['github_private_key_path']}) for a GitHub App, or {_ENV_OF['github_token']}"
            ]
        )

    def require_serve(self) -> None:
        """Fail closed before serving webhooks: a secret to verify deliveries and credentials to answer."""
        if self.forge == "local":
            return  # no webhook: the local forge queues its events itself
        problems = []
        if not self.webhook_secrets:
            problems.append(
                f"{_ENV_OF['webhook_secrets']} is not set: without a secret no delivery can be verified, "
                "so modbot refuses to start (comma-separate several to rotate one)"
            )
        try:
            self.auth_mode  # noqa: B018
        except SettingsError as exc:
            problems.extend(exc.problems)
        if problems:
            raise SettingsError(problems)

    def console_problems(self) -> list[str]:
        """Why the web console cannot start (empty: it can). GitHub sign-in needs the session key and
        the OAuth client; local accounts (single-host mode) may run on a key made at start-up."""
        problems = []
        if self.repositories is None or len(self.repositories) != 1:
            problems.append(
                f"{_ENV_OF['repositories']} must name exactly one repository: the one the console shows"
            )
        if self.console_sign_in == "local":
            return problems
        if self.console_secret is None:
            problems.append(
                f"{_ENV_OF['console_secret']} is not set: the console signs its session cookies with it "
                "and has no built-in key, so it stays off (set it to `openssl rand -hex 32`)"
            )
        if self.github_client_id is None:
            problems.append(
                f"{_ENV_OF['github_client_id']} and {_ENV_OF['github_client_secret']} are not set: "
                "people sign in to the console with the GitHub App's OAuth client"
            )
        return problems

    def webhook_secret_values(self) -> tuple[str, ...]:
        return tuple(s.get_secret_value() for s in self.webhook_secrets)

    def allows_repository(self, full_name: str) -> bool:
        return self.repositories is None or full_name.lower() in self.repositories

    @property
    def database_url_redacted(self) -> str:
        """The database URL with any password masked, for logs and `modbot` output."""
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", self.database_url.get_secret_value())


def _is_repo(value: str) -> bool:
    try:
        validate_repo(value)
    except ValueError:
        return False
    return True


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _from_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    problems: list[str] = []
    try:
        with path.open("rb") as fh:
            table = tomllib.load(fh)
    except OSError as exc:
        return {}, [f"{CONFIG_ENV}: cannot read {path}: {exc.strerror or exc}"]
    except tomllib.TOMLDecodeError as exc:
        return {}, [f"{CONFIG_ENV}: {path} is not valid TOML: {exc}"]
    values: dict[str, Any] = {}
    for key, value in table.items():
        name = _FIELDS.get(key.upper())
        if name is None or key != key.lower():
            problems.append(
                f"{path}: unknown setting {key!r} (known: {', '.join(k.lower() for k in _FIELDS)})"
            )
            continue
        if name in _PATHS and isinstance(value, str) and not Path(value).is_absolute():
            values[name] = str((path.parent / value).resolve())
        else:
            values[name] = value
    if any(name in values for name in _SECRETS) and path.stat().st_mode & 0o077:
        log.warning("%s holds secrets and is readable by other users; chmod 600 it", path)
    return values, problems


def load_settings(environ: Mapping[str, str] | None = None) -> BotSettings:
    """Settings from ``environ`` (default: the process environment) over the ``MODBOT_CONFIG`` file."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    raw: dict[str, Any] = {}
    config_path = env.get(CONFIG_ENV, "").strip()
    if config_path:
        file_values, file_problems = _from_file(Path(config_path))
        raw.update(file_values)
        problems.extend(file_problems)
    for suffix, name in _FIELDS.items():
        value = env.get(ENV_PREFIX + suffix)
        if value is not None and value.strip():
            raw[name] = value.strip() if name not in _SECRETS else value
    for name in _LISTS:
        if name in raw:
            raw[name] = _split(raw[name])
    problems.extend(
        _auth_problems(
            app_id="github_app_id" in raw,
            key="github_private_key" in raw,
            key_path="github_private_key_path" in raw,
            token="github_token" in raw,
        )
    )
    if "github_private_key" in raw and "github_private_key_path" in raw:
        raw.pop("github_private_key_path")  # reported above; do not also read the file
    try:
        settings = BotSettings(**raw)
    except ValidationError as exc:
        problems.extend(_describe(exc, raw))
        raise SettingsError(problems) from None
    except ValueError as exc:  # the private key file could not be read
        problems.append(str(exc))
        raise SettingsError(problems) from None
    if problems:
        raise SettingsError(problems)
    return settings


def _describe(exc: ValidationError, raw: Mapping[str, Any]) -> list[str]:
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = error.get("loc") or ()
        name = str(loc[0]) if loc else ""
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if name in _ENV_OF:
            shown = ""
            if name not in _SECRETS and name in raw and error.get("type") != "value_error":
                shown = f" (got {raw[name]!r})"
            problems.append(f"{_ENV_OF[name]}: {message}{shown}")
        else:  # a model-level check: its message names the variables already
            problems.extend(part for part in message.split("; ") if part)
    return problems


# --- the repository policy -------------------------------------------------------------------------------
class PolicyFileError(ValueError):
    """The repository's policy file exists but cannot be read as TOML; handlers refuse commands (fail
    closed) and say why."""


class PolicyReader(Protocol):
    """What reading the policy needs of a forge (any `bot.forge.Forge` is one): settings sit below the
    forges, so they name only these two reads."""

    def default_branch(self, repo: str) -> str: ...
    def get_file(self, repo: str, path: str, ref: str) -> bytes | None: ...


@dataclass(frozen=True)
class PolicyFile:
    repo: str
    path: str
    ref: str  # the default branch it was read from
    found: bool  # False: no policy file; ``data`` is empty and defaults apply
    data: dict[str, Any] = field(default_factory=dict)


def read_policy_file(
    forge: PolicyReader, repo: str, *, path: str = DEFAULT_POLICY_PATH, default_branch: str | None = None
) -> PolicyFile:
    """The policy file as a TOML table, read from the **default branch** only (``default_branch`` from the
    webhook payload saves a call; else it is asked). The schema is checked by its consumers."""
    _relative_repo_path(path, "the policy path")
    branch = default_branch or forge.default_branch(repo)
    content = forge.get_file(repo, path, branch)
    if content is None:
        return PolicyFile(repo=repo, path=path, ref=branch, found=False)
    where = f"{path} on {repo}@{branch}"
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyFileError(f"{where} is not UTF-8 text (byte {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyFileError(f"{where} is not valid TOML: {exc}") from None
    return PolicyFile(repo=repo, path=path, ref=branch, found=True, data=data)
