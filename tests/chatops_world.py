"""A small world for the chat-ops tests: a FakeForge repository with a policy, releases, pull requests
and build runs, a real store, and helpers to post a command comment and to play the deploy workflow's
part of the Deployment contract (docs/workflows.md)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.app.commands.service import CommandRequest, CommandResult, execute
from bot.config import BotSettings
from bot.forge import Deployment, DeploymentStatus, PullRequest
from bot.pipeline.release import make_record
from bot.pipeline.version import TEMPLATE_VERSION
from bot.store import ReleaseInfo, Store
from bot.store.testing import FakeClock, temporary_store
from tests.fakes import FakeForge
from tests.github_conformance import validate_webhook, webhook_example

REPO = "acme/shop"
BOT = "modbot[bot]"
BUILD_WORKFLOW = ".github/workflows/modbot-build.yml"
DEPLOY_WORKFLOW = ".github/workflows/modbot-deploy.yml"
IMAGE_REPOSITORY = "ghcr.io/acme/shop"

POLICY = b"""
[image]
repository = "acme/shop"
[workflows]
modbot_install = "modbot==0.1.0"

[[environments]]
name = "staging"
url = "https://staging.example.com"
backend = "command"
command = "./deploy.sh {image}"

[[environments]]
name = "production"
url = "https://shop.example.com"
backend = "command"
command = "./deploy.sh {image}"

[chatops]
lock_timeout = "30m"
"""

MANIFEST = b'schema = 2\n[modules.forum]\ncrate = "rustok-forum"\nsource = "crates-io"\nversion = "0.1"\n'

_digests = itertools.count(1)


def settings() -> BotSettings:
    return BotSettings(github_token=SecretStr("test-token"), bot_login=BOT)


@dataclass
class World:
    forge: FakeForge
    store: Store
    clock: FakeClock
    releases: list[ReleaseInfo] = field(default_factory=list)

    # --- seeding ------------------------------------------------------------------------------------
    @classmethod
    def create(cls, store: Store, clock: FakeClock, *, policy: bytes | None = POLICY) -> World:
        forge = FakeForge(bot_login=BOT, clock=clock)
        files = {"modules.toml": MANIFEST}
        if policy is not None:
            files[".github/modbot.toml"] = policy
        forge.add_repo(REPO, files=files)
        return cls(forge, store, clock)

    def role(self, login: str, role: str) -> None:
        legacy = {"maintain": "write", "triage": "read"}.get(role, role)
        self.forge.set_permission(REPO, login, legacy, role)

    def release(
        self, *, commit_sha: str | None = None, cached: bool = True, manifest_hash: str | None = None
    ) -> ReleaseInfo:
        """A release of `commit_sha` (default: a new commit on main): its annotated tag on GitHub and,
        when `cached`, the store's copy. Its manifest_hash is made up unless given."""
        sha = commit_sha or self.forge.commit(REPO, "main", {"notes.txt": f"{len(self.releases)}".encode()})
        index = len(self.releases) + 1
        # ids in time order: 28 a month, from 2026-01-01
        month, day = 1 + (index - 1) // 28, (index - 1) % 28 + 1
        release_id = f"rel_2026_{month:02d}_{day:02d}_001"
        digest = f"sha256:{next(_digests):064x}"
        record = make_record(
            release_id=release_id,
            manifest_hash=manifest_hash or f"{index:064x}",
            modules=["forum"],
            image_repository=IMAGE_REPOSITORY,
            image_digest=digest,
            build_id=f"{index}-1",
            git_sha=sha,
            previous_release=self.releases[-1].release_id if self.releases else None,
            build_key=f"{index + 100:064x}",
            template_version=TEMPLATE_VERSION,
            created_at=datetime(2026, month, day, 12, 0, tzinfo=UTC),
        )
        self.forge.add_annotated_tag(REPO, record.tag, sha, record.to_message())
        info = ReleaseInfo.from_record(REPO, record)
        if cached:
            self.store.upsert_release(info)
        self.releases.append(info)
        return info

    def merged_pull(
        self,
        *,
        author: str = "erin",
        approvers: tuple[str, ...] = ("rachel",),
        fork: bool = False,
        released: bool = True,
        build: str | None = "success",
    ) -> tuple[PullRequest, ReleaseInfo | None]:
        """A PR merged into main (squash), approved by `approvers`, its merge commit built (`build`: the
        run's conclusion, "running", or None for no run) and released."""
        branch = f"feature-{len(self.forge.repos[REPO.lower()].pulls) + 1}"
        self.forge.commit(
            REPO, branch, {"modules.toml": MANIFEST + b"# " + branch.encode() + b"\n"}, author=author
        )
        pull = self.forge.add_pull(REPO, branch, author=author, head_repo=f"{author}/shop" if fork else "")
        for approver in approvers:
            self.forge.add_review(REPO, pull.number, approver, "APPROVED")
        merged = self.forge.merge_pull(REPO, pull.number)
        assert merged.merge_commit_sha is not None
        if build == "running":
            self.forge.add_workflow_run(
                REPO, head_sha=merged.merge_commit_sha, status="in_progress", conclusion=None
            )
        elif build is not None:
            self.forge.add_workflow_run(REPO, head_sha=merged.merge_commit_sha, conclusion=build)
        release = self.release(commit_sha=merged.merge_commit_sha) if released else None
        return merged, release

    def open_pull(self, *, author: str = "erin") -> PullRequest:
        branch = f"open-{len(self.forge.repos[REPO.lower()].pulls) + 1}"
        self.forge.commit(REPO, branch, {"modules.toml": MANIFEST + b"# open\n"}, author=author)
        return self.forge.add_pull(REPO, branch, author=author)

    def issue(self) -> int:
        """An issue (not a pull request) to comment on."""
        number = max([0, *self.forge.repos[REPO.lower()].pulls, *self.forge.repos[REPO.lower()].comments]) + 1
        self.forge.add_comment(REPO, number, "an issue", author="erin")
        return number

    # --- running commands ---------------------------------------------------------------------------
    def run(
        self,
        action: str,
        environment: str | None = None,
        release_id: str | None = None,
        *,
        actor: str = "alice",
        kind: str = "user",
        source: str = "comment",
        issue_number: int | None = None,
        reason: str | None = None,
    ) -> CommandResult:
        request = CommandRequest(
            repo=REPO,
            action=action,  # type: ignore[arg-type]
            environment=environment,
            release_id=release_id,
            actor=actor,
            actor_kind=kind,  # type: ignore[arg-type]
            source=source,  # type: ignore[arg-type]
            reason=reason,
            issue_number=issue_number,
        )
        return execute(request, forge=self.forge, store=self.store, settings=settings())

    def comment_payload(
        self,
        number: int,
        body: str,
        *,
        login: str = "alice",
        user_type: str = "User",
        action: str = "created",
    ) -> dict[str, Any]:
        """An issue_comment webhook (GitHub's example, adjusted and checked against its schema) for a
        comment that exists on the fake."""
        comment = self.forge.add_comment(REPO, number, body, author=login, author_type=user_type)
        payload = webhook_example("issue_comment", "created")
        payload["action"] = action
        payload["repository"].update(full_name=REPO, name="shop", default_branch="main")
        payload["repository"]["owner"]["login"] = "acme"
        payload["issue"]["number"] = number
        payload["comment"].update(id=comment.id, body=body, html_url=comment.html_url)
        for user in (payload["comment"]["user"], payload["sender"]):
            user.update(login=login, type=user_type)
        if action == "edited":
            payload["changes"] = {"body": {"from": "before"}}
        validate_webhook("issue_comment", payload)
        return payload

    # --- the deploy workflow's side of the Deployment contract ----------------------------------------
    def deployment(self, github_id: int) -> Deployment:
        return next(d.deployment for d in self.forge.deployments(REPO) if d.deployment.id == github_id)

    def post_status(
        self, github_id: int, state: str, description: str, *, log_url: str | None = None
    ) -> dict[str, Any]:
        """The workflow posts a status on the Deployment; returns the deployment_status webhook."""
        status = self.forge.create_deployment_status(
            REPO, github_id, state, description=description, log_url=log_url
        )
        return self.deployment_status_payload(self.deployment(github_id), status)

    def workflow_deployment(
        self, *, kind: str, release: ReleaseInfo, environment: str, **payload: Any
    ) -> Deployment:
        """A Deployment the workflow creates itself (an automatic rollback, or a tag moved by hand)."""
        body = {
            "modbot": 1,
            "kind": kind,
            "release_id": release.release_id,
            "manifest_hash": release.manifest_hash,
            "image": release.image,
            "deploy_tag": f"deploy/{environment}",
            "requested_by": "github-actions[bot]",
            "reason": "",
            "previous_release": None,
            "rollback_of": None,
            "trigger": "tag",
            "modbot_template_version": TEMPLATE_VERSION,
            **payload,
        }
        return self.forge.create_deployment(
            REPO,
            ref=release.commit_sha,
            environment=environment,
            description=f"modbot: {release.release_id}",
            payload=body,
        )

    def deployment_status_payload(self, deployment: Deployment, status: DeploymentStatus) -> dict[str, Any]:
        payload = webhook_example("deployment_status", "created")
        payload["repository"].update(full_name=REPO, name="shop", default_branch="main")
        payload["deployment"].update(
            id=deployment.id,
            sha=deployment.sha,
            ref=deployment.ref,
            environment=deployment.environment,
            original_environment=deployment.environment,
            task=deployment.task,
            description=deployment.description,
            payload=deployment.payload,
            created_at=_iso(deployment.created_at),
            updated_at=_iso(deployment.created_at),
        )
        payload["deployment_status"].update(
            id=status.id,
            state=status.state,
            description=status.description,
            environment=deployment.environment,
            target_url=status.log_url or "",
            created_at=_iso(status.created_at),
            updated_at=_iso(status.created_at),
        )
        if status.log_url:
            payload["deployment_status"]["log_url"] = status.log_url
        validate_webhook("deployment_status", payload)
        return payload

    def workflow_run_payload(
        self,
        *,
        path: str,
        head_sha: str,
        head_branch: str,
        action: str = "completed",
        conclusion: str | None = "failure",
    ) -> dict[str, Any]:
        run = self.forge.add_workflow_run(
            REPO,
            head_sha=head_sha,
            path=path,
            head_branch=head_branch,
            status="completed" if action == "completed" else "in_progress",
            conclusion=conclusion if action == "completed" else None,
        )
        payload = webhook_example("workflow_run", "completed")
        payload["action"] = action
        payload["repository"].update(full_name=REPO, name="shop", default_branch="main")
        payload["workflow_run"].update(
            id=run.id,
            path=path,
            head_sha=head_sha,
            head_branch=head_branch,
            status=run.status,
            conclusion=run.conclusion,
            html_url=run.html_url,
            created_at=_iso(run.created_at),
        )
        payload["workflow"]["path"] = path
        validate_webhook("workflow_run", payload)
        return payload

    def pull_closed_payload(self, pull: PullRequest) -> dict[str, Any]:
        payload = webhook_example("pull_request", "closed")
        payload["repository"].update(full_name=REPO, name="shop", default_branch="main")
        payload["pull_request"].update(
            number=pull.number, merged=pull.merged, merge_commit_sha=pull.merge_commit_sha, state="closed"
        )
        payload["number"] = pull.number
        validate_webhook("pull_request", payload)
        return payload

    def create_payload(self, tag: str) -> dict[str, Any]:
        payload = webhook_example("create")
        payload["repository"].update(full_name=REPO, name="shop", default_branch="main")
        payload.update(ref=tag, ref_type="tag")
        validate_webhook("create", payload)
        return payload

    def push_payload(self, tag: str, after: str, *, deleted: bool = False) -> dict[str, Any]:
        payload = webhook_example("push")
        payload["repository"].update(full_name=REPO, name="shop", default_branch="main")
        payload.update(ref=f"refs/tags/{tag}", after=after, deleted=deleted, created=not deleted)
        validate_webhook("push", payload)
        return payload

    def later(self, minutes: float = 1) -> None:
        self.clock.advance(minutes * 60)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tag_sha(forge: FakeForge, environment: str) -> str | None:
    """The commit `deploy/<environment>` points at (None: no such tag)."""
    return forge.repos[REPO.lower()].refs.get(f"tags/deploy/{environment}")


def audit_actions(store: Store) -> list[str]:
    """Every audit action, oldest first."""
    return [entry.action for entry in reversed(store.query_audit(limit=1000).entries)]


HOUR = timedelta(hours=1)


# --- fixtures the chat-ops test modules share (imported by name, as tests/conftest.py imports github_api) --
@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    with temporary_store("sqlite", directory=tmp_path, clock=clock) as store:
        yield store


@pytest.fixture
def world(store: Store, clock: FakeClock) -> World:
    """The world with alice as a maintainer (allowed to deploy to production)."""
    world = World.create(store, clock)
    world.role("alice", "maintain")
    return world
