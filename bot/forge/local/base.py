"""What every part of `LocalForge` shares: where the repositories are, the records, who is who, how a
call is counted and fenced, and how an event goes out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.domain.forge_records import Announcement
from bot.domain.ids import is_login
from bot.forge.arguments import validate_repo
from bot.forge.calls import check_write_fence, record_call
from bot.forge.events import ForgeEvent, RefCreatedEvent, RefPushedEvent, Repository
from bot.forge.local.events import announcement
from bot.forge.local.git import ZERO_SHA, GitError, GitRepository, Identity
from bot.forge.local.records import LocalRecords
from bot.forge.ports import Capability, CapabilityDeclined
from bot.forge.values import ForgeError, Permission

__all__ = [
    "DEFAULT_EMAIL_DOMAIN",
    "LocalForgeBase",
    "LocalForgeError",
    "RoleOf",
    "git_failure",
    "repository_path",
    "web_url_of",
]

RoleOf = Callable[[str], Permission | None]
DEFAULT_EMAIL_DOMAIN = "users.modbot.local"
DEFAULT_WEB_URL = "http://127.0.0.1:8000"
WEB_URL_FILE = "web-url"  # under the forge's root: where `modbot local serve` shows the forge


def web_url_of(root: Path) -> str:
    """The forge's web address as the running modbot wrote it (events name it, and comments link to
    it, whichever process makes them: `modbot local propose` as much as the server)."""
    try:
        return (root / WEB_URL_FILE).read_text(encoding="utf-8").strip() or DEFAULT_WEB_URL
    except OSError:
        return DEFAULT_WEB_URL


def repository_path(root: Path, repo: str) -> Path:
    """Where ``owner/name`` lives under the forge's root: ``<root>/<owner>/<name>.git`` (lower-cased,
    as repository names are case-insensitive)."""
    owner, name = validate_repo(repo).lower().split("/")
    return root / owner / f"{name}.git"


class LocalForgeError(ForgeError):
    """A local forge operation refused or failed. ``status`` keeps GitHub's meaning (404 no such thing,
    409 it moved meanwhile, 422 refused by the rules) so callers handle both forges alike; the text
    names the local forge, not GitHub."""

    def __init__(self, operation: str, status: int | None, message: str) -> None:
        super().__init__(operation, status, message)
        Exception.__init__(self, f"local forge {operation} failed: {message}")


class LocalForgeBase:
    """Repositories live under ``root`` as ``<owner>/<name>.git`` (bare)."""

    def __init__(
        self,
        root: Path,
        records: LocalRecords,
        role_of: RoleOf,
        *,
        bot_login: str = "modbot",
        web_url: str = DEFAULT_WEB_URL,
        email_domain: str = DEFAULT_EMAIL_DOMAIN,
        runs: bool = True,
    ) -> None:
        if not is_login(bot_login):
            raise ValueError(f"not a login for the bot: {bot_login!r}")
        self.root = root
        self.records = records
        self.role_of = role_of
        self._bot_login = bot_login
        self.web_url = web_url.rstrip("/")
        self.email_domain = email_domain
        self.operations = 0  # forge calls made (what a GitHub forge would count as API requests)
        everything = frozenset(Capability)
        self._capabilities = everything if runs else everything - {Capability.WORKFLOW_RUNS}

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self._capabilities

    def _offered(self, capability: Capability, operation: str) -> None:
        """Refuse an operation of a capability this forge declines, before anything else."""
        if capability not in self._capabilities:
            raise CapabilityDeclined(capability, operation, "local")

    @property
    def bot_login(self) -> str:
        return self._bot_login

    # --- repositories --------------------------------------------------------------------------
    def repository_path(self, repo: str) -> Path:
        return repository_path(self.root, repo)

    def create_repository(self, repo: str, *, default_branch: str = "main") -> GitRepository:
        """A new bare repository (or the existing one) for ``owner/name``."""
        return GitRepository.init_bare(self.repository_path(repo), default_branch=default_branch)

    def repository(self, repo: str) -> GitRepository:
        """The git repository of ``owner/name`` (LocalForgeError 404 when there is none)."""
        return self._git("repository", repo)

    def _git(self, operation: str, repo: str) -> GitRepository:
        git = GitRepository(self.repository_path(repo))
        if not git.exists():
            raise LocalForgeError(operation, 404, f"Not Found (no repository {repo})")
        return git

    # --- identities ----------------------------------------------------------------------------
    def identity(self, login: str) -> Identity:
        """The git identity of a local account (``login@<email domain>``)."""
        return Identity(login, f"{login}@{self.email_domain}")

    def login_of(self, email: str) -> str | None:
        """The local account a commit's e-mail names, if any. Never the bot: anyone who pushes can
        type any identity, so modbot's own commits are known from the records, not from their e-mail."""
        local, _, domain = email.rpartition("@")
        if (
            domain.lower() != self.email_domain
            or not is_login(local)
            or local.lower() == self._bot_login.lower()
        ):
            return None
        return local

    # --- calls, the write fence, events --------------------------------------------------------
    def _call(self, operation: str, *, write: bool = False) -> None:
        """Once per forge method, after its arguments were checked: counted, and fenced if it writes."""
        if write:
            check_write_fence(operation)
        record_call(operation)
        self.operations += 1

    def _announce(self, *events: ForgeEvent) -> list[Announcement]:
        return [announcement(event) for event in events]

    def _repository(self, repo: str) -> Repository:
        return Repository(full_name=repo.lower(), web_url=self._url(repo))

    def _ref_moved(
        self, repo: str, ref: str, before: str | None, after: str, delivery_id: str | None = None
    ) -> list[Announcement]:
        """What GitHub says when a ref moves: ``ref_created`` for a new branch or tag (as its ``create``
        event) and ``ref_pushed`` for every move (its ``push``)."""
        where = self._repository(repo)
        said = []
        if before is None or before == ZERO_SHA:
            kind = "tag" if ref.startswith("refs/tags/") else "branch"
            short = ref.removeprefix("refs/tags/" if kind == "tag" else "refs/heads/")
            created = RefCreatedEvent(where, short, kind)
            said.append(announcement(created, f"{delivery_id}-created" if delivery_id else None))
        deleted = after == ZERO_SHA
        said.append(announcement(RefPushedEvent(where, ref, after, deleted), delivery_id))
        return said

    def _emit_ref(
        self, repo: str, ref: str, before: str | None, after: str, delivery_id: str | None = None
    ) -> None:
        """Announce a move git made (there is no record to share a transaction with)."""
        self.records.announce(self._ref_moved(repo, ref, before, after, delivery_id))

    def _url(self, repo: str, *parts: object) -> str:
        return "/".join([self.web_url, "repos", repo.lower(), *(str(p) for p in parts)])


def git_failure(operation: str, exc: GitError) -> LocalForgeError:
    """A git failure as the forge's error (status None: no answer we can use)."""
    return LocalForgeError(operation, None, exc.message or str(exc))
