"""The pipeline config a managed repository keeps at `.github/modbot.toml`.

Types and checks only (the functional core): `parse_pipeline_config` turns TOML text into a
`RepositoryPolicy` or raises `PolicyError` listing every problem with its TOML path; the one function
that touches the disk is `load_pipeline_config`. Strict: a string is never coerced to a bool or a
number, and an unknown key is an error (a typo in a deploy config must not silently fall back to a
default). Every value that may reach a command line is checked to be one safe argv word.

Paths in the config are relative to the repository root: the parent of the `.github` folder that holds
the config, or else the config's own folder (`repository_root`).

Reference: docs/pipeline.md. The workflow renderer (`modbot workflows render`) reads this model too.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import tomli
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.domain.ids import ENVIRONMENT_NAME_PATTERN, is_app_login, is_signup_login
from bot.manifest.cargo import (
    check_crate_name,
    check_feature_name,
    check_relative_path,
    unsafe_word_problem,
)
from bot.manifest.model import Manifest
from bot.pipeline.health import SERVER_TOKEN_ENV

DEFAULT_CONFIG_PATH = ".github/modbot.toml"
MAX_CONFIG_BYTES = 1_000_000

# --- value types ----------------------------------------------------------------------------------


def _checked(check: Any) -> AfterValidator:
    def run(value: str) -> str:
        problem = check(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    return AfterValidator(run)


def _path_problem(value: str) -> str | None:
    return None if value == "." else check_relative_path(value)


RelPath = Annotated[
    str,
    _checked(_path_problem),
    Field(description="A relative POSIX path inside the repository (relative to the repository root)."),
]

_DURATION_RE = re.compile(r"([1-9][0-9]{0,5})(s|m|h)")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600}


def duration_seconds(text: str) -> int:
    """`"300s"` -> 300, `"5m"` -> 300, `"1h"` -> 3600 (the kubectl spelling, one unit)."""
    match = _DURATION_RE.fullmatch(text)
    if match is None:
        raise ValueError(f'duration "{text}" is not a positive whole number of s, m or h, e.g. "300s"')
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


def _duration_problem(value: str) -> str | None:
    try:
        seconds = duration_seconds(value)
    except ValueError as exc:
        return str(exc)
    return None if seconds <= 24 * 3600 else f'duration "{value}" is longer than 24h'


Duration = Annotated[
    str,
    _checked(_duration_problem),
    Field(
        json_schema_extra={"pattern": r"^[1-9][0-9]{0,5}(s|m|h)$"},
        description='A duration such as "300s", "5m" or "1h".',
    ),
]

EnvironmentName = Annotated[
    str,
    Field(
        pattern=ENVIRONMENT_NAME_PATTERN,
        description="Lowercase letters, digits and '-', starting with a letter, at most 31 characters. "
        "The deploy tag is deploy/<name>.",
    ),
]

_DNS_LABEL = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
_DNS_SUBDOMAIN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
DnsLabel = Annotated[str, Field(pattern=_DNS_LABEL, description="A Kubernetes DNS-1123 label.")]
DnsSubdomain = Annotated[
    str, Field(pattern=_DNS_SUBDOMAIN, max_length=253, description="A Kubernetes DNS-1123 name.")
]
EnvVarName = Annotated[
    str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$", description="An environment variable name.")
]
ServiceName = Annotated[
    str,
    Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$", description="A compose service or UI service name."),
]


def _package_problem(value: str) -> str | None:
    return check_crate_name(value) or unsafe_word_problem(value)


CargoPackage = Annotated[str, _checked(_package_problem), Field(description="A cargo package name.")]


def _feature_problem(value: str) -> str | None:
    return check_feature_name(value) or unsafe_word_problem(value)


CargoFeature = Annotated[str, _checked(_feature_problem), Field(description="A cargo feature.")]

_TOOLCHAIN_RE = re.compile(r"[0-9]+\.[0-9]+(\.[0-9]+)?|(nightly|beta)-[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _toolchain_problem(value: str) -> str | None:
    if _TOOLCHAIN_RE.fullmatch(value):
        return None
    return (
        f'toolchain "{value}" is not pinned; write a Rust version ("1.95.0") or a dated channel '
        '("nightly-2026-01-15"): a floating channel such as "stable" would let one build key stand '
        "for builds by different compilers"
    )


Toolchain = Annotated[
    str,
    _checked(_toolchain_problem),
    Field(
        json_schema_extra={
            "pattern": r"^([0-9]+\.[0-9]+(\.[0-9]+)?|(nightly|beta)-[0-9]{4}-[0-9]{2}-[0-9]{2})$"
        },
        description="A pinned Rust toolchain: 1.95.0 or nightly-YYYY-MM-DD. Part of the build key.",
    ),
]

_REGISTRY_RE = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$"
_REPOSITORY_RE = r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$"
Registry = Annotated[str, Field(pattern=_REGISTRY_RE, description="An OCI registry host[:port].")]
ImageRepository = Annotated[
    str,
    Field(pattern=_REPOSITORY_RE, max_length=255, description="An OCI repository path, e.g. org/name."),
]


def url_problem(value: str) -> str | None:
    problem = None
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        return f'URL "{value}" contains whitespace or a control character'
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        return f'URL "{value}" is not a valid URL ({exc})'
    if parts.scheme not in ("http", "https"):
        problem = "must start with https:// or http://"
    elif not parts.hostname:
        problem = "has no host"
    elif parts.username is not None or parts.password is not None:
        # never echo the credentials back into a log
        shown = f"{parts.scheme}://***@{parts.hostname}"
        return f'URL "{shown}…" contains credentials; put a token in a secret and name it in health_token_env'
    elif parts.query or parts.fragment:
        problem = "has a query or fragment; give the base URL only"
    return None if problem is None else f'URL "{value}" {problem}'


HttpUrl = Annotated[
    str,
    _checked(url_problem),
    Field(
        json_schema_extra={"pattern": r"^https?://"},
        description="An http(s) base URL without credentials, query or fragment.",
    ),
]

_REF_NAME_RE = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._/-]{0,199}")


def _branch_problem(value: str) -> str | None:
    if (
        _REF_NAME_RE.fullmatch(value)
        and ".." not in value
        and "//" not in value
        and not value.endswith(("/", ".", ".lock"))
    ):
        return None
    return f'branch "{value}" is not a plain git branch name (letters, digits, . _ - /)'


BranchName = Annotated[str, _checked(_branch_problem), Field(description="A git branch name.")]

_GIT_INSTALL_RE = re.compile(
    r"modbot @ git\+https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~-]+)+@[0-9a-f]{40}"
)
_PYPI_INSTALL_RE = re.compile(r"modbot==[0-9]+(\.[0-9]+){1,3}((a|b|rc)[0-9]+)?(\.post[0-9]+)?")


def _install_problem(value: str) -> str | None:
    if _GIT_INSTALL_RE.fullmatch(value) or _PYPI_INSTALL_RE.fullmatch(value):
        return None
    return (
        f'modbot_install "{value}" is not a pinned requirement; write '
        '"modbot @ git+https://github.com/ORG/modbot@<40-hex commit sha>" or "modbot==X.Y.Z" '
        "(the workflows run it with the repository's secrets, so it must not float)"
    )


PinnedRequirement = Annotated[
    str,
    _checked(_install_problem),
    Field(description="modbot @ git+https://HOST/PATH@<40-hex sha>, or modbot==X.Y.Z."),
]
RunnerLabel = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="A runs-on label.")
]
PythonVersion = Annotated[str, Field(pattern=r"^3\.[0-9]{1,2}$", description="e.g. 3.11")]


# --- the deploy command template ---------------------------------------------------------------

COMMAND_PLACEHOLDERS = ("image", "release_id", "environment", "service")
_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
_SHELL_OPERATORS = frozenset({"|", "||", "&", "&&", ";", ";;", ">", ">>", "<", "<<", "2>", "2>&1", "(", ")"})


def command_template_problem(template: str) -> str | None:
    """`None` if the deploy command template can be run (argv, no shell), else why not."""
    if any(not ch.isprintable() for ch in template):
        return "the command contains a control character (one line, no tabs)"
    try:
        words = shlex.split(template)
    except ValueError as exc:
        return f"the command cannot be split into words ({exc}); check its quotes"
    if not words:
        return "the command is empty"
    for word in words:
        if word in _SHELL_OPERATORS or word.startswith(("|", ">", "<", "&", ";")):
            return (
                f'the command contains the shell operator "{word}", but it is run without a shell; '
                "put pipelines and redirections in a script and name the script"
            )
        if "$" in word or "`" in word:
            return (
                f'the command word "{word}" expects shell expansion, but the command is run without a '
                "shell; the command inherits the job's environment, so read variables in a script"
            )
        for name in _PLACEHOLDER_RE.findall(word):
            if name not in COMMAND_PLACEHOLDERS:
                known = ", ".join("{" + p + "}" for p in COMMAND_PLACEHOLDERS)
                return f'the command uses the unknown placeholder "{{{name}}}"; known: {known}'
        if "{" in _PLACEHOLDER_RE.sub("", word) or "}" in _PLACEHOLDER_RE.sub("", word):
            return f'the command word "{word}" has an unmatched "{{" or "}}"'
    if "{" in words[0]:
        return "the program (first word) of the command cannot be a placeholder"
    return None


def command_argv(template: str, values: dict[str, str]) -> list[str]:
    """The argv of a deploy command: `shlex.split` of the template only, then each placeholder
    replaced inside its word. A value is never split again nor seen by a shell, so a value with
    spaces or `;` stays one argument."""
    problem = command_template_problem(template)
    if problem is not None:
        raise ValueError(problem)
    return [_PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], word) for word in shlex.split(template)]


CommandTemplate = Annotated[
    str,
    _checked(command_template_problem),
    Field(
        description="A command run without a shell: split like a POSIX shell would (quotes allowed), "
        "then {image}, {release_id}, {environment} and {service} are replaced inside the words.",
    ),
]


# --- chat-ops policy values -------------------------------------------------------------------------

# A repository role a policy may require, strongest first (bot.forge.PERMISSIONS without "none": a
# policy that required no role at all would let anyone who can comment deploy).
PolicyRole = Literal["admin", "maintain", "write", "triage", "read"]
# Environments that need `maintain` (not `write`) to deploy when the config does not say.
PRODUCTION_NAMES = frozenset({"prod", "production"})

_TEAM_SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]*")
_TEAM_SLUG_MAX = 100
_LOGIN_RULE = "letters, digits and single hyphens, not at either end, at most 39 characters"


def deployer_problem(value: str) -> str | None:
    """`None` if `value` is a GitHub login (`alice`) or a team (`org/team-slug`), else why not."""
    if is_app_login(value):
        return f'deployer "{value}" is a bot; modbot ignores commands from bots, so it could never deploy'
    if value.count("/") > 1:
        return f'deployer "{value}" is neither a login ("alice") nor a team ("org/team-slug")'
    if "/" not in value:
        if is_signup_login(value):
            return None
        return f'deployer "{value}" is not a GitHub login ({_LOGIN_RULE})'
    org, slug = value.split("/")
    if not is_signup_login(org):
        return f'deployer "{value}": "{org}" is not a GitHub organization name ({_LOGIN_RULE})'
    if len(slug) > _TEAM_SLUG_MAX or _TEAM_SLUG_RE.fullmatch(slug) is None:
        return (
            f'deployer "{value}": "{slug}" is not a team slug (lowercase letters, digits and "-", as in '
            "the team's URL github.com/orgs/ORG/teams/SLUG)"
        )
    return None


Deployer = Annotated[
    str,
    _checked(deployer_problem),
    Field(
        json_schema_extra={"pattern": r"^[A-Za-z0-9](-?[A-Za-z0-9]){0,38}(/[a-z0-9][a-z0-9-]{0,99})?$"},
        description='A GitHub login ("alice") or a team ("org/team-slug").',
    ),
]

FREEZE_REASON_MAX = 200


def _freeze_reason_problem(value: str) -> str | None:
    if not value.strip():
        return "freeze_reason is blank; say why the environment is frozen, or remove the key"
    if any(not ch.isprintable() for ch in value):
        return "freeze_reason must be one line of text (no line breaks, tabs or control characters)"
    return None


FreezeReason = Annotated[
    str,
    Field(max_length=FREEZE_REASON_MAX),
    _checked(_freeze_reason_problem),
    Field(description="Why the environment is frozen, shown in refusals (one line, at most 200 characters)."),
]

WORKFLOW_FILE_RE = r"^[A-Za-z0-9._-]+\.ya?ml$"
WorkflowFile = Annotated[
    str,
    Field(
        pattern=WORKFLOW_FILE_RE,
        max_length=255,
        description="A workflow file name in .github/workflows/, e.g. modbot-build.yml.",
    ),
]


# --- the model ------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class BuildConfig(_Strict):
    package: CargoPackage = Field("rustok-server", description="The server package: cargo -p PACKAGE.")
    manifest: RelPath = Field("modules.toml", description="The module manifest.")
    cargo_toml: RelPath = Field(
        "apps/server/Cargo.toml", description="The server's Cargo.toml, whose [features] has mod-<slug>."
    )
    feature_prefix: str = Field(
        "mod-",
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_+.-]{0,31}$|^$",
        description="A module <slug> is compiled in by the feature <prefix><slug>.",
    )
    extra_features: list[CargoFeature] = Field(
        default_factory=list,
        description="Features always passed besides the modules', the embed flags and the package's "
        "carried-over default features.",
    )
    exclude_default_features: list[CargoFeature] = Field(
        default_factory=list,
        description="Non-module default features of the package (e.g. redis-cache) not to carry over. "
        "The build passes --no-default-features and then turns every default that is not a module "
        "feature or an embed flag back on, unless it is named here.",
    )
    toolchain: Toolchain = "1.95.0"
    workspace: RelPath = Field(".", description="The folder with the workspace Cargo.toml and Cargo.lock.")
    key_paths: list[RelPath] = Field(
        default_factory=lambda: ["."],
        description="Paths whose committed content (git tree ids at HEAD) is part of the build key, so a "
        "code change is never answered with an old image. Default: the whole repository. [] keeps "
        "only manifest_hash + Cargo.lock + toolchain + template version + cargo arguments (for "
        "repositories whose module code all comes from crates.io or git, pinned by Cargo.lock).",
    )


class ImageConfig(_Strict):
    registry: Registry = "ghcr.io"
    repository: ImageRepository = Field(description="e.g. rustok/rustok-server")
    dockerfile: RelPath = "Dockerfile"
    context: RelPath = "."

    @property
    def name(self) -> str:
        """registry/repository, the image without tag or digest."""
        return f"{self.registry}/{self.repository}"


class KubernetesBackend(_Strict):
    namespace: DnsLabel
    deployment: DnsSubdomain
    container: DnsLabel
    timeout: Duration = "300s"
    context: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._@:/-]{0,252}$",
        description="kubectl --context; default: the current context.",
    )


class ComposeBackend(_Strict):
    file: RelPath
    service: ServiceName
    project_name: ServiceName | None = Field(None, description="docker compose -p NAME")


SERVER_ARG_PLACEHOLDERS = ("port", "bind")


def _server_arg_problem(value: str) -> str | None:
    if not value or any(not ch.isprintable() for ch in value):
        return "a server argument must be one non-empty line"
    for name in _PLACEHOLDER_RE.findall(value):
        if name not in SERVER_ARG_PLACEHOLDERS:
            return f'unknown placeholder "{{{name}}}" in a server argument; known: {{port}}, {{bind}}'
    return None


ServerArg = Annotated[str, _checked(_server_arg_problem)]


def _workdir_problem(value: str) -> str | None:
    if not value.startswith("/") or any(not ch.isprintable() for ch in value):
        return "an absolute path on the host, one line"
    if ".." in value.split("/"):
        return 'an absolute path without ".." components'
    return None


Workdir = Annotated[str, _checked(_workdir_problem)]


class HostBackend(_Strict):
    """Single-host mode (bot.host): the release's binary runs on this machine, from
    releases/<id>/, under modbot's supervisor or a restart command of the operator's."""

    port: int = Field(ge=1, le=65535, description="The port the server listens on (env PORT).")
    bind: str = Field(
        "127.0.0.1",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9.:-]{0,252}$",
        description="The address the server binds (env HOST).",
    )
    args: list[ServerArg] = Field(
        default_factory=list,
        description="Arguments for the server binary; {port} and {bind} are replaced. RusToK-shaped "
        "servers read PORT and HOST from the environment, so none are needed.",
    )
    restart_command: CommandTemplate | None = Field(
        None,
        description="Run this (argv, no shell; e.g. `systemctl restart rustok@{environment}`) after "
        "switching releases/current instead of modbot's own supervisor.",
    )
    stop_timeout: Duration = Field("10s", description="SIGTERM, then SIGKILL after this long.")
    workdir: Workdir | None = Field(
        None,
        description="The server's working folder (where a RusToK server finds its config/); default: "
        "the release's folder.",
    )
    pass_env: list[EnvVarName] = Field(
        default_factory=list,
        description="Variables of modbot's environment the supervised server gets too (DATABASE_URL, ...): "
        "names only, so no secret is written in the repository. Nothing else of modbot's environment "
        "reaches the server.",
    )


Backend = Literal["kubernetes", "compose", "command", "host"]


class EnvironmentConfig(_Strict):
    name: EnvironmentName
    url: HttpUrl = Field(description="Base URL of the server, for `modbot pipeline smoke`.")
    backend_url: HttpUrl | None = Field(
        None,
        description="Headless: the server URL the UI is checked against by preflight (default: url).",
    )
    auto_deploy: bool = Field(False, description="A merge to the default branch deploys here.")
    health_token_env: EnvVarName | None = Field(
        SERVER_TOKEN_ENV,
        description="The env var (a GitHub secret of that name in the workflows) holding the bearer token "
        "for /health/modules: the value of the server's RUSTOK_OBSERVABILITY_BEARER_TOKEN.",
    )
    smoke_timeout: Duration = Field("120s", description="How long smoke retries before failing.")
    backend: Backend
    kubernetes: KubernetesBackend | None = None
    compose: ComposeBackend | None = None
    command: CommandTemplate | None = None
    host: HostBackend | None = None
    # the chat-ops policy (docs/pipeline.md#the-chat-ops-policy); the rendered workflows do not read it
    deploy_permission: PolicyRole | None = Field(
        None,
        description="The repository role needed to deploy, roll back or unlock this environment. "
        "Default: maintain for an environment named prod or production, write for any other.",
    )
    deployers: list[Deployer] = Field(
        default_factory=list,
        description="Logins and org/team-slug teams allowed to deploy, roll back or unlock this "
        "environment whatever their repository role.",
    )
    frozen: bool = Field(False, description="A frozen environment refuses /deploy; /rollback stays allowed.")
    freeze_reason: FreezeReason | None = None

    @field_validator("deployers")
    @classmethod
    def _unique_deployers(cls, deployers: list[str]) -> list[str]:
        # GitHub logins and organization names are case-insensitive
        _no_duplicates([deployer.lower() for deployer in deployers], "deployer")
        return deployers

    @model_validator(mode="after")
    def _one_backend(self) -> EnvironmentConfig:
        names = ("kubernetes", "compose", "command", "host")
        given = {name for name in names if getattr(self, name) is not None}
        if self.backend not in given:
            raise ValueError(f'backend is "{self.backend}" but there is no `{self.backend}` setting')
        others = sorted(given - {self.backend})
        if others:
            raise ValueError(f'backend is "{self.backend}" but `{"`, `".join(others)}` is set too; remove it')
        return self

    @property
    def deploy_tag(self) -> str:
        return f"deploy/{self.name}"

    @property
    def preflight_url(self) -> str:
        return self.backend_url or self.url

    @property
    def required_permission(self) -> PolicyRole:
        """The role needed to deploy, roll back or unlock: `deploy_permission`, else the default."""
        if self.deploy_permission is not None:
            return self.deploy_permission
        return "maintain" if self.name in PRODUCTION_NAMES else "write"


class UiService(_Strict):
    name: ServiceName
    repository: ImageRepository
    dockerfile: RelPath
    context: RelPath = "."
    deployment: DnsSubdomain | None = Field(None, description="kubernetes deployment (default: name)")
    container: DnsLabel | None = Field(None, description="kubernetes container (default: name)")
    service: ServiceName | None = Field(None, description="compose service (default: name)")


class HeadlessConfig(_Strict):
    ui: list[UiService] = Field(min_length=1, description="The UI services built and deployed apart.")

    @model_validator(mode="after")
    def _unique(self) -> HeadlessConfig:
        _no_duplicates([ui.name for ui in self.ui], "headless.ui name")
        return self


class WorkflowsConfig(_Strict):
    modbot_install: PinnedRequirement = Field(
        description="How workflows install modbot: pinned to a commit or an exact version."
    )
    default_branch: BranchName = "main"
    runs_on: RunnerLabel = "ubuntu-24.04"
    python_version: PythonVersion = "3.11"


class ChatopsConfig(_Strict):
    require_approval: bool = Field(
        True,
        description="/deploy from a pull request needs an approving review by someone other than its "
        "author (bots do not count).",
    )
    lock_timeout: Duration = Field("60m", description="An environment lock expires after this long.")
    validate_permission: PolicyRole = Field("triage", description="The role needed for /validate.")
    rebuild_permission: PolicyRole = Field("write", description="The role needed for /rebuild.")
    build_workflow: WorkflowFile = Field(
        "modbot-build.yml", description="The build workflow's file name, to find its runs."
    )
    deploy_workflow: WorkflowFile = Field(
        "modbot-deploy.yml", description="The deploy workflow's file name, to find its runs."
    )

    @model_validator(mode="after")
    def _two_workflows(self) -> ChatopsConfig:
        if self.build_workflow == self.deploy_workflow:
            raise ValueError(
                f'build_workflow and deploy_workflow are both "{self.build_workflow}"; they are two workflows'
            )
        return self

    @property
    def lock_timeout_seconds(self) -> int:
        return duration_seconds(self.lock_timeout)


class RepositoryPolicy(_Strict):
    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        title="modbot pipeline config (.github/modbot.toml)",
        json_schema_extra={"$comment": "Generated by `modbot pipeline schema`."},
    )

    build: BuildConfig = Field(default_factory=BuildConfig)
    image: ImageConfig
    environments: list[EnvironmentConfig] = Field(min_length=1)
    headless: HeadlessConfig | None = Field(
        None, description="Required when the manifest's deployment profile is headless, else absent."
    )
    workflows: WorkflowsConfig
    chatops: ChatopsConfig = Field(
        default_factory=ChatopsConfig, description="Chat-ops commands: approvals, locks, roles, workflows."
    )

    @model_validator(mode="after")
    def _unique(self) -> RepositoryPolicy:
        _no_duplicates([env.name for env in self.environments], "environment name")
        return self

    def environment(self, name: str) -> EnvironmentConfig:
        for env in self.environments:
            if env.name == name:
                return env
        known = ", ".join(env.name for env in self.environments)
        raise KeyError(f'environment "{name}" is not in the config (known: {known})')


def _no_duplicates(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f'{what} "{name}" appears more than once')
        seen.add(name)


# --- errors and loading ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    path: str  # TOML path, e.g. environments[0].kubernetes.namespace ("" for the whole file)
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class PolicyError(Exception):
    """The config cannot be used; `problems` lists every problem with its TOML path."""

    def __init__(self, source: str, problems: list[ConfigProblem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        count = f"{len(problems)} problem{'s' * (len(problems) != 1)}"
        super().__init__(f"{source}: invalid pipeline config ({count}):\n{lines}")


def _toml_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-after", "function-before", "literal")) or "[" in part:
            continue  # pydantic's internal validator names, not keys
        else:
            out += f".{part}" if out else part
    return out


def _message(error: Any) -> str:
    kind = error["type"]
    message: str = error["msg"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see `modbot pipeline schema`)"
    if kind == "missing":
        return "required key is missing"
    if kind == "string_pattern_mismatch":
        pattern = error.get("ctx", {}).get("pattern", "")
        return f"{error['input']!r} does not match {pattern}"
    if kind.endswith("_type") and "input" in error:
        return f"{message} (got {type(error['input']).__name__} {error['input']!r})"
    return message.removeprefix("Value error, ")


def problems_from(exc: ValidationError) -> list[ConfigProblem]:
    return [ConfigProblem(_toml_path(tuple(err["loc"])), _message(err)) for err in exc.errors()]


def parse_pipeline_config(text: str, *, source: str = DEFAULT_CONFIG_PATH) -> RepositoryPolicy:
    """TOML text -> RepositoryPolicy, or PolicyError with every problem."""
    try:
        data = tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        raise PolicyError(source, [ConfigProblem("", f"not valid TOML: {exc}")]) from None
    try:
        return RepositoryPolicy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(source, problems_from(exc)) from None


def load_pipeline_config(path: Path | str) -> RepositoryPolicy:
    """Read and check `path`. OSError if it cannot be read; PolicyError for anything in it."""
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) > MAX_CONFIG_BYTES:
        raise PolicyError(str(path), [ConfigProblem("", f"larger than {MAX_CONFIG_BYTES:,} bytes")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = ConfigProblem("", f"not UTF-8 ({exc.reason} at byte {exc.start})")
        raise PolicyError(str(path), [problem]) from None
    return parse_pipeline_config(text, source=str(path))


def repository_root(config_path: Path | str) -> Path:
    """The folder the config's paths are relative to: the parent of `.github`, else the config's folder."""
    folder = Path(config_path).resolve().parent
    return folder.parent if folder.name == ".github" else folder


def manifest_problems(config: RepositoryPolicy, manifest: Manifest) -> list[ConfigProblem]:
    """What the config lacks (or has too much of) for this manifest's deployment profile."""
    profile = manifest.deployment_profile
    if profile == "headless" and config.headless is None:
        return [
            ConfigProblem(
                "headless",
                "the manifest's deployment profile is headless (build.server does not embed both UIs), "
                "so the config needs [[headless.ui]] entries for the UI services",
            )
        ]
    if profile == "monolith" and config.headless is not None:
        return [
            ConfigProblem(
                "headless",
                "the manifest's deployment profile is monolith (the server embeds the UIs); remove "
                "[headless] or set build.server.embed_admin/embed_storefront = false in the manifest",
            )
        ]
    return []


# Keys only the chat-ops policy reads. The rendered workflows do not depend on them, so who may deploy
# can change without making the committed workflows stale (`workflow_render_inputs`).
ENVIRONMENT_POLICY_KEYS = frozenset({"deploy_permission", "deployers", "frozen", "freeze_reason"})


# Single-host settings: no workflow runs in that mode, so they are not workflow inputs either (and
# adding them left every existing config's inputs hash, hence its committed workflows, unchanged).
HOST_ONLY_KEYS = frozenset({"host"})


def workflow_render_inputs(config: RepositoryPolicy) -> dict[str, Any]:
    """The config as JSON without the chat-ops policy: what the workflow renderer depends on."""
    exclude: dict[str, Any] = {
        "chatops": True,
        "environments": {"__all__": set(ENVIRONMENT_POLICY_KEYS | HOST_ONLY_KEYS)},
    }
    return config.model_dump(mode="json", exclude=exclude)


def pipeline_config_json_schema() -> dict[str, Any]:
    return RepositoryPolicy.model_json_schema(mode="validation")
