"""`GitHubForge`: the `Forge` over GitHub's REST API, one method per operation, each a request (or a few)
through the request loop of `bot/forge/github/client.py`, whose docstring says how requests are made,
retried and redacted and why PyGithub's typed objects are not used; and `GitHubForgeProvider`, one
forge per installation (App mode) or one for a token.
"""

from __future__ import annotations

import base64
import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from github import Auth

from bot.config import DEFAULT_API_URL, DEFAULT_GITHUB_TIMEOUT_SECONDS
from bot.forge import (
    Annotation,
    Capability,
    CheckRun,
    Comment,
    CommitInfo,
    CommitStatus,
    Deployment,
    DeploymentStatus,
    ForgeError,
    Permission,
    PullRequest,
    Ref,
    Review,
    TagObject,
    WorkflowRun,
    check_limit,
    normalize_ref,
    validate_login,
    validate_org,
    validate_path,
    validate_tag_prefix,
    validate_team_slug,
    validate_workflow,
)
from bot.forge.github.auth import InstallationAuth, github_client
from bot.forge.github.client import (
    PER_PAGE,
    ForgeStats,
    GitHubClient,
    RetryPolicy,
    error_message,
    unanswered,
)
from bot.forge.github.conversions import (
    annotation_batches,
    blob_bytes,
    check_output,
    check_run_from_json,
    comment_from_json,
    commit_info_from_json,
    deployment_from_json,
    deployment_request,
    deployment_status_from_json,
    deployment_status_request,
    permission_from,
    pull_from_json,
    ref_from_json,
    review_from_json,
    tag_object_from_json,
    url_from_json,
    workflow_run_from_json,
)
from bot.forge.github.limits import (
    COMMIT_STATES,
    MAX_PULL_FILES,
    REACTIONS,
    check_comment_body,
    check_run_fields,
    status_description,
    validate_environment,
)

if TYPE_CHECKING:
    from bot.config import BotSettings

log = logging.getLogger("bot.forge.github")


_APP_CAPABILITIES = frozenset(Capability)
_TOKEN_CAPABILITIES = _APP_CAPABILITIES - {Capability.CHECK_RUNS}


# --- the forge --------------------------------------------------------------------------------------
class GitHubForge(GitHubClient):
    """`bot.forge.Forge` over one authenticated GitHub client (one installation, or a token)."""

    @property
    def capabilities(self) -> frozenset[Capability]:
        """Every capability, but check runs only in App mode: GitHub creates them for Apps alone."""
        return _APP_CAPABILITIES if self.app_mode else _TOKEN_CAPABILITIES

    @classmethod
    def with_token(
        cls,
        token: str,
        *,
        base_url: str = DEFAULT_API_URL,
        timeout: float = DEFAULT_GITHUB_TIMEOUT_SECONDS,
        **kwargs: Any,
    ) -> GitHubForge:
        """A forge authenticated with a personal access / fine-grained token (token mode)."""
        return cls(github_client(Auth.Token(token), base_url, timeout), **kwargs)

    # --- reading ------------------------------------------------------------------------------------
    def get_file(self, repo: str, path: str, ref: str) -> bytes | None:
        base = self._repo(repo)
        validate_path(path)
        result = self.request(
            "get_file", "GET", f"{base}/contents/{quote(path)}", params={"ref": ref}, not_found=True
        )
        if result is None:
            return None
        data = result[1]
        if isinstance(data, list):
            raise ForgeError("get_file", None, f"{path} at {ref} is a directory, not a file")
        kind = data.get("type")
        if kind != "file":
            raise ForgeError("get_file", None, f"{path} at {ref} is a {kind}, not a file")
        content, encoding = data.get("content") or "", data.get("encoding")
        if encoding == "base64" and (content or not data.get("size")):
            return base64.b64decode(content)
        # 1-100 MB: the contents API leaves "content" empty (encoding "none"); the blob API has it.
        blob = self._get("get_file", f"{base}/git/blobs/{quote(str(data['sha']), safe='')}")
        return blob_bytes(blob)

    def get_pull(self, repo: str, number: int) -> PullRequest:
        data = self._get("get_pull", f"{self._repo(repo)}/pulls/{int(number)}")
        return pull_from_json(repo, data)

    def pull_touches(self, repo: str, number: int, path: str) -> bool:
        validate_path(path)
        seen = 0
        for page in self._pages("pull_touches", f"{self._repo(repo)}/pulls/{int(number)}/files"):
            for entry in page:
                if path in (entry.get("filename"), entry.get("previous_filename")):
                    return True
            seen += len(page)
        return seen >= MAX_PULL_FILES  # GitHub lists no more: we cannot know, so we say yes (and validate)

    def default_branch(self, repo: str) -> str:
        return str(self._get("default_branch", self._repo(repo))["default_branch"])

    def branch_head(self, repo: str, branch: str) -> str:
        ref = normalize_ref(f"heads/{branch}")
        return str(self._get("branch_head", f"{self._repo(repo)}/git/ref/{quote(ref)}")["object"]["sha"])

    def get_permission(self, repo: str, username: str) -> Permission:
        result = self.request(
            "get_permission",
            "GET",
            f"{self._repo(repo)}/collaborators/{quote(username, safe='')}/permission",
            not_found=True,
        )
        if result is None:
            return "none"
        data = result[1]
        return permission_from(data.get("permission"), data.get("role_name"))

    # --- comments -----------------------------------------------------------------------------------
    def find_comment(self, repo: str, number: int, marker: str) -> Comment | None:
        if not marker:
            raise ValueError("an empty marker would match every comment")
        me = self.bot_login.lower()
        for page in self._pages("find_comment", f"{self._repo(repo)}/issues/{int(number)}/comments"):
            for data in page:
                comment = comment_from_json(data)
                if comment.author.lower() == me and marker in comment.body:
                    return comment
        return None

    def create_comment(self, repo: str, number: int, body: str) -> Comment:
        check_comment_body(body)
        url = f"{self._repo(repo)}/issues/{int(number)}/comments"
        return comment_from_json(self._send("create_comment", "POST", url, {"body": body}))

    def update_comment(self, repo: str, comment_id: int, body: str) -> Comment:
        check_comment_body(body)
        url = f"{self._repo(repo)}/issues/comments/{int(comment_id)}"
        return comment_from_json(self._send("update_comment", "PATCH", url, {"body": body}))

    def add_reaction(self, repo: str, comment_id: int, content: str) -> None:
        if content not in REACTIONS:
            raise ValueError(f"reaction must be one of {sorted(REACTIONS)}, not {content!r}")
        url = f"{self._repo(repo)}/issues/comments/{int(comment_id)}/reactions"
        self._send("add_reaction", "POST", url, {"content": content}, idempotent=True)  # same one twice: 200

    # --- checks and statuses ------------------------------------------------------------------------
    def create_check_run(
        self,
        repo: str,
        head_sha: str,
        name: str,
        *,
        status: str = "completed",
        conclusion: str | None = None,
        title: str = "",
        summary: str = "",
        text: str | None = None,
        annotations: Sequence[Annotation] = (),
        details_url: str | None = None,
        external_id: str | None = None,
    ) -> CheckRun:
        check_run_fields(status, conclusion)
        batches = annotation_batches(annotations)
        body: dict[str, Any] = {"name": name, "head_sha": head_sha, "status": status}
        if conclusion is not None:
            body["conclusion"] = conclusion
        if details_url is not None:
            body["details_url"] = details_url
        if external_id is not None:
            body["external_id"] = external_id
        output = check_output(title, summary, text, batches[0])
        if output is not None:
            body["output"] = output
        run = check_run_from_json(
            self._send("create_check_run", "POST", f"{self._repo(repo)}/check-runs", body)
        )
        return self._more_annotations(repo, run, title, summary, batches[1:])

    def update_check_run(
        self,
        repo: str,
        check_run_id: int,
        *,
        status: str | None = None,
        conclusion: str | None = None,
        title: str = "",
        summary: str = "",
        text: str | None = None,
        annotations: Sequence[Annotation] = (),
    ) -> CheckRun:
        check_run_fields(status, conclusion)
        batches = annotation_batches(annotations)
        body: dict[str, Any] = {}
        if status is not None:
            body["status"] = status
        if conclusion is not None:
            body["conclusion"] = conclusion
        output = check_output(title, summary, text, batches[0])
        if output is not None:
            body["output"] = output
        url = f"{self._repo(repo)}/check-runs/{int(check_run_id)}"
        run = check_run_from_json(self._send("update_check_run", "PATCH", url, body))
        return self._more_annotations(repo, run, title, summary, batches[1:])

    def _more_annotations(
        self, repo: str, run: CheckRun, title: str, summary: str, batches: Sequence[Sequence[Annotation]]
    ) -> CheckRun:
        url = f"{self._repo(repo)}/check-runs/{run.id}"
        for batch in batches:  # GitHub appends each request's annotations to the run's
            output = check_output(title, summary, None, batch)
            run = check_run_from_json(self._send("update_check_run", "PATCH", url, {"output": output}))
        return run

    def find_check_run(self, repo: str, head_sha: str, name: str) -> CheckRun | None:
        url = f"{self._repo(repo)}/commits/{quote(head_sha, safe='')}/check-runs"
        app = self.bot_login.lower().removesuffix("[bot]")  # an App's runs carry its slug
        ours: list[CheckRun] = []
        for page in self._pages("find_check_run", url, {"check_name": name, "filter": "all"}):
            for data in page.get("check_runs") or []:
                slug = (data.get("app") or {}).get("slug")
                if data.get("name") == name and isinstance(slug, str) and slug.lower() == app:
                    ours.append(check_run_from_json(data))
        return max(ours, key=lambda run: run.id, default=None)

    def latest_commit_status(self, repo: str, sha: str, context: str) -> CommitStatus | None:
        url = f"{self._repo(repo)}/commits/{quote(sha, safe='')}/status"
        combined = self._get("latest_commit_status", url, {"per_page": PER_PAGE})
        for data in combined.get("statuses") or []:  # the latest status of each context
            if data.get("context") == context:
                return CommitStatus(
                    state=str(data.get("state")),
                    context=context,
                    description=str(data.get("description") or ""),
                    target_url=url_from_json(data.get("target_url")),
                )
        return None

    def set_commit_status(
        self,
        repo: str,
        sha: str,
        state: str,
        *,
        context: str,
        description: str,
        target_url: str | None = None,
    ) -> None:
        if state not in COMMIT_STATES:
            raise ValueError(f"commit status state must be one of {sorted(COMMIT_STATES)}, not {state!r}")
        body: dict[str, Any] = {
            "state": state,
            "context": context,
            "description": status_description(description),
        }
        if target_url is not None:
            body["target_url"] = target_url
        url = f"{self._repo(repo)}/statuses/{quote(sha, safe='')}"
        try:
            self._send("set_commit_status", "POST", url, body, idempotent=False)
            return
        except ForgeError as exc:
            if not unanswered(exc):
                raise
        # GitHub may have set it before its answer was lost: each POST adds a status, so read it back
        # and ask again (with the usual retries) only when it is not there
        wanted = CommitStatus(state, context, body["description"], target_url)
        if self.latest_commit_status(repo, sha, context) == wanted:
            return
        self._send("set_commit_status", "POST", url, body, idempotent=True)

    # --- branches, commits, pull requests -----------------------------------------------------------
    def create_branch(self, repo: str, branch: str, from_sha: str) -> None:
        self._create_ref("create_branch", repo, f"heads/{branch}", from_sha)

    def update_branch_ref(self, repo: str, branch: str, sha: str, *, force: bool = False) -> None:
        self._update_ref("update_branch_ref", repo, f"heads/{branch}", sha, force)

    def commit_file(
        self,
        repo: str,
        branch: str,
        path: str,
        content: bytes,
        *,
        message: str,
        parent_sha: str,
        force: bool = False,
    ) -> str:
        base = self._repo(repo)
        validate_path(path)
        normalize_ref(f"heads/{branch}")
        # Git data API, not the contents API: the commit gets exactly these bytes (base64 blob), exactly
        # this parent, and the branch moves once, at the end, to a commit that is already complete.
        parent = self._get("commit_file", f"{base}/git/commits/{quote(parent_sha, safe='')}")
        blob = self._send(
            "commit_file",
            "POST",
            f"{base}/git/blobs",
            {"content": base64.b64encode(content).decode("ascii"), "encoding": "base64"},
            idempotent=True,  # content-addressed
        )
        tree = self._send(
            "commit_file",
            "POST",
            f"{base}/git/trees",
            {
                "base_tree": parent["tree"]["sha"],
                "tree": [{"path": path, "mode": "100644", "type": "blob", "sha": blob["sha"]}],
            },
            idempotent=True,
        )
        commit = self._send(
            "commit_file",
            "POST",
            f"{base}/git/commits",
            {"message": message, "tree": tree["sha"], "parents": [parent_sha]},
            idempotent=True,  # a retry at worst leaves an unreferenced twin commit
        )
        sha = str(commit["sha"])
        self._update_ref("commit_file", repo, f"heads/{branch}", sha, force)
        return sha

    def find_open_pull_by_branch(self, repo: str, head_branch: str) -> PullRequest | None:
        normalize_ref(f"heads/{head_branch}")
        owner = repo.split("/", 1)[0]
        data = self._get(
            "find_open_pull_by_branch",
            f"{self._repo(repo)}/pulls",
            {"state": "open", "head": f"{owner}:{head_branch}", "per_page": 1},
        )
        return pull_from_json(repo, data[0]) if data else None

    def create_pull(
        self, repo: str, *, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> PullRequest:
        check_comment_body(body)
        payload = {"title": title, "head": head, "base": base, "body": body, "draft": draft}
        return pull_from_json(repo, self._send("create_pull", "POST", f"{self._repo(repo)}/pulls", payload))

    def update_pull(
        self, repo: str, number: int, *, title: str | None = None, body: str | None = None
    ) -> PullRequest:
        payload: dict[str, Any] = {}
        if title is not None:
            payload["title"] = title
        if body is not None:
            payload["body"] = check_comment_body(body)
        url = f"{self._repo(repo)}/pulls/{int(number)}"
        return pull_from_json(repo, self._send("update_pull", "PATCH", url, payload))

    def branch_commits_authors(self, repo: str, base: str, head: str) -> list[CommitInfo]:
        url = f"{self._repo(repo)}/compare/{quote(base)}...{quote(head)}"
        commits: list[CommitInfo] = []
        for page in self._pages("branch_commits_authors", url):
            commits.extend(commit_info_from_json(c) for c in page.get("commits") or [])
        return commits

    # --- refs ---------------------------------------------------------------------------------------
    def get_ref(self, repo: str, ref: str) -> Ref | None:
        short = normalize_ref(ref)
        result = self.request("get_ref", "GET", f"{self._repo(repo)}/git/ref/{quote(short)}", not_found=True)
        return ref_from_json(result[1]) if result is not None else None

    def create_ref(self, repo: str, ref: str, sha: str) -> Ref:
        return self._create_ref("create_ref", repo, ref, sha)

    def update_ref(self, repo: str, ref: str, sha: str, *, force: bool = False) -> Ref:
        return self._update_ref("update_ref", repo, ref, sha, force)

    def _create_ref(self, operation: str, repo: str, ref: str, sha: str) -> Ref:
        short = normalize_ref(ref)
        body = {"ref": f"refs/{short}", "sha": sha}
        return ref_from_json(self._send(operation, "POST", f"{self._repo(repo)}/git/refs", body))

    def _update_ref(self, operation: str, repo: str, ref: str, sha: str, force: bool) -> Ref:
        short = normalize_ref(ref)
        url = f"{self._repo(repo)}/git/refs/{quote(short)}"
        return ref_from_json(self._send(operation, "PATCH", url, {"sha": sha, "force": force}))

    def list_tags(self, repo: str, prefix: str) -> list[Ref]:
        validate_tag_prefix(prefix)
        url = f"{self._repo(repo)}/git/matching-refs/{quote(f'tags/{prefix}')}"
        wanted = f"refs/tags/{prefix}"
        tags: list[Ref] = []
        # GitHub documents no page size here: ask for none, follow whatever Link it sends.
        for page in self._pages("list_tags", url, per_page=None):
            tags.extend(ref_from_json(item) for item in page if str(item.get("ref", "")).startswith(wanted))
        return tags

    def get_tag_object(self, repo: str, sha: str) -> TagObject:
        url = f"{self._repo(repo)}/git/tags/{quote(sha, safe='')}"
        return tag_object_from_json(self._get("get_tag_object", url))

    # --- reviews and teams --------------------------------------------------------------------------
    def list_reviews(self, repo: str, number: int) -> list[Review]:
        url = f"{self._repo(repo)}/pulls/{int(number)}/reviews"
        return [review_from_json(item) for page in self._pages("list_reviews", url) for item in page]

    def is_team_member(self, org: str, team_slug: str, username: str) -> bool:
        url = (
            f"/orgs/{quote(validate_org(org), safe='')}/teams/{quote(validate_team_slug(team_slug), safe='')}"
            f"/memberships/{quote(validate_login(username), safe='')}"
        )
        result = self.request("is_team_member", "GET", url, not_found=True)
        return result is not None and result[1].get("state") == "active"

    # --- deployments --------------------------------------------------------------------------------
    def create_deployment(
        self,
        repo: str,
        *,
        ref: str,
        environment: str,
        description: str,
        payload: Mapping[str, Any],
        task: str = "deploy",
        production_environment: bool | None = None,
    ) -> Deployment:
        body = deployment_request(
            ref=ref,
            environment=environment,
            description=description,
            payload=payload,
            task=task,
            production_environment=production_environment,
        )
        data = self._send("create_deployment", "POST", f"{self._repo(repo)}/deployments", body)
        if not isinstance(data, dict) or "id" not in data:  # 202: GitHub merged instead (auto_merge is off)
            raise ForgeError("create_deployment", 202, error_message(data))
        return deployment_from_json(data)

    def create_deployment_status(
        self,
        repo: str,
        deployment_id: int,
        state: str,
        *,
        description: str,
        log_url: str | None = None,
        environment_url: str | None = None,
        auto_inactive: bool = True,
    ) -> DeploymentStatus:
        body = deployment_status_request(state, description, log_url, environment_url, auto_inactive)
        url = f"{self._repo(repo)}/deployments/{int(deployment_id)}/statuses"
        # A repeated status says the same thing again: retried after a 5xx (a handler that must not repeat
        # one reads the latest first, as the workflow_run handler does).
        return deployment_status_from_json(
            self._send("create_deployment_status", "POST", url, body, idempotent=True)
        )

    def list_deployments(
        self,
        repo: str,
        *,
        environment: str | None = None,
        sha: str | None = None,
        ref: str | None = None,
        task: str | None = None,
        limit: int = 100,
    ) -> list[Deployment]:
        check_limit(limit)
        if environment is not None:
            validate_environment(environment)
        filters = {"environment": environment, "sha": sha, "ref": ref, "task": task}
        params = {name: value for name, value in filters.items() if value is not None}
        url = f"{self._repo(repo)}/deployments"
        return [
            deployment_from_json(item) for item in self._items("list_deployments", url, params, limit=limit)
        ]

    def list_deployment_statuses(
        self, repo: str, deployment_id: int, *, limit: int = 100
    ) -> list[DeploymentStatus]:
        check_limit(limit)
        url = f"{self._repo(repo)}/deployments/{int(deployment_id)}/statuses"
        items = self._items("list_deployment_statuses", url, None, limit=limit)
        return [deployment_status_from_json(item) for item in items]

    # --- GitHub Actions -----------------------------------------------------------------------------
    def list_workflow_runs(
        self,
        repo: str,
        *,
        head_sha: str | None = None,
        workflow: str | int | None = None,
        event: str | None = None,
        limit: int = 30,
    ) -> list[WorkflowRun]:
        check_limit(limit)
        base = self._repo(repo)
        if workflow is not None:
            url = f"{base}/actions/workflows/{quote(validate_workflow(workflow), safe='')}/runs"
        else:
            url = f"{base}/actions/runs"
        filters = {"head_sha": head_sha, "event": event}
        params = {name: value for name, value in filters.items() if value is not None}
        items = self._items("list_workflow_runs", url, params, limit=limit, key="workflow_runs")
        return [workflow_run_from_json(item) for item in items]

    def get_workflow_run(self, repo: str, run_id: int) -> WorkflowRun:
        url = f"{self._repo(repo)}/actions/runs/{int(run_id)}"
        return workflow_run_from_json(self._get("get_workflow_run", url))

    def rerun_workflow_run(self, repo: str, run_id: int) -> None:
        url = f"{self._repo(repo)}/actions/runs/{int(run_id)}/rerun"
        self._send("rerun_workflow_run", "POST", url, None)


# --- the provider: one forge per installation ------------------------------------------------------------
class GitHubForgeProvider:
    """Hands out `GitHubForge` clients: per installation in App mode (a small LRU cache, each client
    keeping and refreshing its installation token), the same one in token mode."""

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_API_URL,
        token: str | None = None,
        app_id: int | None = None,
        private_key: str | None = None,
        bot_login: str | None = None,
        retry: RetryPolicy | None = None,
        stats: ForgeStats | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        timeout: float = DEFAULT_GITHUB_TIMEOUT_SECONDS,
        allowed_repositories: frozenset[str] | None = None,
        cache_size: int = 64,
        token_refresh_margin: float = 300.0,
    ) -> None:
        if (token is None) == (app_id is None or private_key is None):
            raise ValueError("give either a token, or an App id and its private key")
        self.base_url = base_url.rstrip("/")
        self.stats = stats or ForgeStats()
        self._retry = retry or RetryPolicy()
        self._sleep, self._clock, self._rand = sleep, clock, rand
        self._timeout = timeout
        self._allowed = allowed_repositories
        self._cache_size = cache_size
        self._margin = token_refresh_margin
        self._lock = threading.Lock()
        self._forges: OrderedDict[int, GitHubForge] = OrderedDict()
        self._bot_login = bot_login
        self._app_auth: Auth.AppAuth | None = None
        self._token_forge: GitHubForge | None = None
        if token is not None:
            self._token_forge = self._forge(Auth.Token(token), app_mode=False)
        else:
            assert app_id is not None
            assert private_key is not None
            self._app_auth = Auth.AppAuth(app_id, private_key)

    @classmethod
    def from_settings(cls, settings: BotSettings, **kwargs: Any) -> GitHubForgeProvider:
        mode = settings.auth_mode  # raises SettingsError when credentials are missing
        common: dict[str, Any] = {
            "base_url": settings.github_api_url,
            "bot_login": settings.bot_login,
            "allowed_repositories": settings.repositories,
            "retry": RetryPolicy.from_settings(settings),
            "timeout": settings.github_timeout_seconds,
            **kwargs,
        }
        if mode == "token":
            assert settings.github_token is not None
            return cls(token=settings.github_token.get_secret_value(), **common)
        assert settings.github_app_id is not None
        assert settings.github_private_key is not None
        return cls(
            app_id=settings.github_app_id,
            private_key=settings.github_private_key.get_secret_value(),
            **common,
        )

    @property
    def app_mode(self) -> bool:
        return self._app_auth is not None

    def _forge(self, auth: Auth.Auth, *, app_mode: bool) -> GitHubForge:
        return GitHubForge(
            github_client(auth, self.base_url, self._timeout),
            bot_login=self._resolve_bot_login,
            retry=self._retry,
            stats=self.stats,
            sleep=self._sleep,
            clock=self._clock,
            rand=self._rand,
            allowed_repositories=self._allowed,
            app_mode=app_mode,
        )

    def for_installation(self, installation_id: int | None) -> GitHubForge:
        if self._token_forge is not None:
            return self._token_forge
        if installation_id is None:
            raise ForgeError("for_installation", None, "App mode needs the webhook's installation id")
        assert self._app_auth is not None
        with self._lock:
            forge = self._forges.get(installation_id)
            if forge is not None:
                self._forges.move_to_end(installation_id)
                return forge
            auth = InstallationAuth(
                self._app_auth,
                int(installation_id),
                stats=self.stats,
                clock=self._clock,
                refresh_margin=self._margin,
            )
            forge = self._forges[installation_id] = self._forge(auth, app_mode=True)
            while len(self._forges) > self._cache_size:
                _, evicted = self._forges.popitem(last=False)
                evicted.close()
            return forge

    def _resolve_bot_login(self) -> str:
        """MODBOT_BOT_LOGIN, else asked once: the App's slug + ``[bot]`` (GET /app with the App's JWT),
        or the token's user (GET /user)."""
        with self._lock:
            if self._bot_login is not None:
                return self._bot_login
        if self._app_auth is not None:
            app = GitHubForge(
                github_client(self._app_auth, self.base_url, self._timeout),
                bot_login="",
                retry=self._retry,
                stats=self.stats,
                sleep=self._sleep,
                clock=self._clock,
                rand=self._rand,
            )
            try:
                login = f"{app._get('get_app', '/app')['slug']}[bot]"
            finally:
                app.close()
        else:
            assert self._token_forge is not None
            login = str(self._token_forge._get("get_user", "/user")["login"])
        with self._lock:
            self._bot_login = login
        return login

    def close(self) -> None:
        with self._lock:
            forges = list(self._forges.values())
            self._forges.clear()
        for forge in forges:
            forge.close()
        if self._token_forge is not None:
            self._token_forge.close()
