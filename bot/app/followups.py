"""What happens after a command: GitHub's events about deploys, builds and releases, kept in the store
and shown in the command's reply.

- `deployment_status`: the deploy workflow reports each stage of a modbot Deployment (payload
  `modbot == 1`, docs/workflows.md#the-deployment-contract). The store's deployment follows it (one
  the workflow created itself, an automatic rollback or a tag moved by hand, is recorded from its
  payload); the stage comes from the description ("deploying …" → deploy, "smoke testing …" → smoke,
  success → done; a failure stays at the stage where it stopped); a final state releases the lock
  that deployment holds, and is audited (`deploy.succeeded` / `deploy.failed`, `rollback.*`; an
  automatic rollback is audited as `rollback.automatic` when it starts). The reply of the command
  that started it is edited in place (an automatic rollback shows in the reply of the deploy it
  undoes).
- `workflow_run`: a deploy workflow run (on a `deploy/<env>` tag) that ends while its Deployment has
  no final state (approval rejected, a failure before the deploy job) would hold the lock until it
  expires: the Deployment's latest status is read from GitHub and applied, else it is ended with
  `error` (a Deployment that ended already only frees a lock left behind). Build workflow runs move
  the admin API's builds of their commit on (running, failed, or released).
- `create` / `push` of a `release/<id>` tag: the release record is cached, and builds waiting on its
  commit are finished with it.
- `pull_request` closed: a build's PR merged (its merge commit is what the build workflow builds) or
  closed without merging (the build is cancelled).

Every handler is idempotent: GitHub may deliver an event twice and the worker may run a job twice.
"""

from __future__ import annotations

import contextlib
import logging
import posixpath
from datetime import datetime
from typing import Any, cast

from bot.app.chatops.progress import update_reply
from bot.app.contract import record_contract_deployment
from bot.app.policy import PolicyOnBranch, load_policy
from bot.app.ports.store import WholeStore
from bot.app.releases import (
    built_release,
    finish_builds,
    read_release_tag,
    read_tag_object,
    release_at_commit,
)
from bot.config import BotSettings
from bot.domain.ids import is_environment_name, is_git_sha, is_release_id
from bot.domain.records import (
    FINAL_DEPLOY_STATUSES,
    SYSTEM_ACTOR,
    BuildRecord,
    BuildStage,
    BuildStatus,
    DeploymentRecord,
    DeployStage,
    DeployStatus,
    FinalStateError,
    ReleaseInfo,
    environment_target,
)
from bot.forge import Forge, ForgeError, WorkflowRun
from bot.forge.events import (
    ChangeRequestEvent,
    DeploymentStatusEvent,
    RefCreatedEvent,
    RefPushedEvent,
    RunEvent,
)
from bot.pipeline.config import BuildConfig, ChatopsConfig
from bot.pipeline.contract import deploy_stage, read_contract, recorded_status, stored_url
from bot.pipeline.release import DEPLOY_TAG_PREFIX, RELEASE_TAG_PREFIX

__all__ = [
    "handle_create",
    "handle_deployment_status",
    "handle_pull_request_closed",
    "handle_push",
    "handle_workflow_run",
]

log = logging.getLogger(__name__)

_OUTCOME_WORD = {"success": "succeeded", "failure": "failed", "error": "failed", "inactive": "inactive"}


# --- deployment_status -----------------------------------------------------------------------------------


def handle_deployment_status(
    event: DeploymentStatusEvent,
    received_at: datetime,
    *,
    forge: Forge,
    store: WholeStore,
    settings: BotSettings,
) -> str:
    deployment, status = event.deployment, event.status
    contract = read_contract(deployment.payload, deployment.creator)
    if isinstance(contract, str):
        return f"ignored: {contract}"
    repo = event.repository.full_name
    store_status = recorded_status(status.state)
    if store_status is None:
        return f"ignored: unknown deployment state {status.state[:40]!r}"
    if not is_environment_name(deployment.environment) or not is_git_sha(deployment.sha):
        return "ignored: the Deployment's environment or commit is not one modbot deploys"
    before = store.deployment_by_github_id(repo, deployment.id)
    if before is None and store_status == "inactive":
        # GitHub retires an old successful Deployment when a newer one succeeds; modbot never saw
        # this one run, and `modbot releases sync` records history from GitHub
        return f"ignored: inactive Deployment {deployment.id} was never seen running"
    after = record_contract_deployment(
        store,
        repo,
        deployment,
        contract,
        status=store_status,
        stage=deploy_stage(status.state, status.description),
        logs_url=status.log_url,
    )
    return _after_change(forge, store, before, after, description=status.description)


def _after_change(
    forge: Forge,
    store: WholeStore,
    before: DeploymentRecord | None,
    after: DeploymentRecord,
    *,
    description: str,
) -> str:
    """What follows a deployment's change: the lock, the audit, the reply."""
    target = environment_target(after.repository, after.environment)
    word = "deploy" if after.kind == "deploy" else "rollback"
    if before is None and after.kind == "auto_rollback":
        store.append_audit(
            SYSTEM_ACTOR,
            "rollback.automatic",
            target,
            {**_details(after), "rollback_of": after.previous_release},
            description or None,
        )
    if after.finished and after.github_deployment_id is not None:
        store.release_lock(
            after.repository,
            after.environment,
            actor=SYSTEM_ACTOR,
            reason=f"{after.kind} of {after.release_id} ended: {after.status}",
            deployment_id=after.github_deployment_id,
        )
        if before is None or not before.finished:
            store.append_audit(
                SYSTEM_ACTOR,
                f"{word}.{_OUTCOME_WORD[after.status]}",
                target,
                _details(after),
                description or None,
            )
    if before is not None and after == before:
        return f"unchanged: {after.kind} {after.id} is {after.status} at {after.stage}"
    update_reply(forge, store, after)
    return f"{after.kind} {after.id} of {after.release_id}: {after.status} at {after.stage}"


def _details(record: DeploymentRecord) -> dict[str, Any]:
    return {
        "deployment": record.id,
        "github_deployment_id": record.github_deployment_id,
        "kind": record.kind,
        "release_id": record.release_id,
        "status": record.status,
        "stage": record.stage,
        "requested_by": record.requested_by,
        "logs_url": record.logs_url,
    }


# --- workflow_run ------------------------------------------------------------------------------------------


def _workflow_file(path: str) -> str:
    return posixpath.basename(path.split("@", 1)[0])


def _chatops(forge: Forge, repo: str, settings: BotSettings, default_branch: str | None) -> ChatopsConfig:
    """The policy's workflow names (the defaults when the policy cannot be read: finding runs must not
    depend on a policy that is being fixed)."""
    return _policy_parts(forge, repo, settings, default_branch)[0]


def _policy_parts(
    forge: Forge, repo: str, settings: BotSettings, default_branch: str | None
) -> tuple[ChatopsConfig, BuildConfig]:
    """The policy's chat-ops and build settings (the defaults when it cannot be read)."""
    policy: PolicyOnBranch = load_policy(
        forge, repo, path=settings.policy_path, default_branch=default_branch
    )
    if policy.config is None:
        return ChatopsConfig(), BuildConfig()
    return policy.config.chatops, policy.config.build


def handle_workflow_run(
    event: RunEvent, received_at: datetime, *, forge: Forge, store: WholeStore, settings: BotSettings
) -> str:
    action = event.action
    run = event.run
    repo = event.repository.full_name
    default_branch = event.repository.default_branch
    if run.head_branch is not None and run.head_branch.startswith(DEPLOY_TAG_PREFIX):
        if action != "completed":
            return f"ignored: deploy run {action}"
        environment = run.head_branch.removeprefix(DEPLOY_TAG_PREFIX)
        return _deploy_run_ended(
            forge, store, settings, run, repo=repo, environment=environment, default_branch=default_branch
        )
    waiting = [build for build in _builds_of(store, repo, run.head_sha) if not build.finished]
    if not waiting:
        return "ignored: no build waits on this commit"
    chatops, build = _policy_parts(forge, repo, settings, default_branch)
    if _workflow_file(run.path) != chatops.build_workflow:
        return f"ignored: {_workflow_file(run.path)} is not the build workflow"
    return _follow_build_run(forge, store, repo, waiting, run, manifest_path=build.manifest)


def _builds_of(store: WholeStore, repo: str, sha: str) -> list[BuildRecord]:
    return store.builds_for_merge_sha(repo, sha) if is_git_sha(sha) else []


def _deploy_run_ended(
    forge: Forge,
    store: WholeStore,
    settings: BotSettings,
    run: WorkflowRun,
    *,
    repo: str,
    environment: str,
    default_branch: str | None,
) -> str:
    if not is_environment_name(environment):
        return "ignored: not a deploy tag modbot moves"
    lock = store.get_lock(repo, environment)
    if lock is None or lock.deployment_id is None:
        return f"ignored: no deploy of {environment} is in flight"
    if _workflow_file(run.path) != _chatops(forge, repo, settings, default_branch).deploy_workflow:
        return f"ignored: {_workflow_file(run.path)} is not the deploy workflow"
    record = store.deployment_by_github_id(repo, lock.deployment_id)
    if record is None:
        return f"ignored: the lock's Deployment {lock.deployment_id} is unknown"
    if record.finished:
        # the record ended already (its outcome stands); only the lock was left behind
        store.release_lock(
            repo,
            environment,
            actor=SYSTEM_ACTOR,
            reason="its deployment ended",
            deployment_id=lock.deployment_id,
        )
        return f"released the lock of finished {record.kind} {record.id}"
    if record.commit_sha != run.head_sha or run.created_at < record.created_at:
        return "ignored: the run is not the one of the deploy in flight"
    latest = forge.list_deployment_statuses(repo, lock.deployment_id, limit=1)
    if latest and latest[0].state in FINAL_DEPLOY_STATUSES:
        # the workflow did report; its deployment_status event is late or was lost
        status = latest[0]
        after = _progress(
            store,
            record,
            recorded_status(status.state) or "error",
            deploy_stage(status.state, ""),
            status.log_url,
        )
        return _after_change(forge, store, record, after, description=status.description)
    ended = run.conclusion or "no conclusion"
    why = f"{record.release_id} failed: the deploy workflow run ended ({ended}) without a final status"
    try:
        forge.create_deployment_status(
            repo, lock.deployment_id, "error", description=why, log_url=run.html_url or None
        )
    except ForgeError as exc:
        log.warning("error status of deployment %s on %s not posted: %s", lock.deployment_id, repo, exc)
    after = _progress(store, record, "error", None, run.html_url or None)
    return _after_change(forge, store, record, after, description=why)


def _progress(
    store: WholeStore,
    record: DeploymentRecord,
    status: DeployStatus,
    stage: DeployStage | None,
    logs_url: str | None,
) -> DeploymentRecord:
    """Move a known deployment on, as a deployment_status event would."""
    return store.upsert_github_deployment(
        repository=record.repository,
        github_deployment_id=cast(int, record.github_deployment_id),
        environment=record.environment,
        release_id=record.release_id,
        commit_sha=record.commit_sha,
        kind=record.kind,
        requested_by=record.requested_by,
        reason=record.reason,
        status=status,
        created_at=record.created_at,
        stage=stage,
        previous_release=record.previous_release,
        manifest_hash=record.manifest_hash,
        logs_url=stored_url(logs_url),
    )


def _follow_build_run(
    forge: Forge,
    store: WholeStore,
    repo: str,
    builds: list[BuildRecord],
    run: WorkflowRun,
    *,
    manifest_path: str,
) -> str:
    """Move builds on with their merge commit's build run."""
    if run.status == "completed" and run.conclusion == "success":
        _update_builds(store, builds, status="running", stage="release", progress=80, run=run)
        info = built_release(forge, store, repo, run.head_sha, manifest_path=manifest_path)
        if info is None:
            return f"build run {run.id} succeeded; waiting for its release tag"
        finished = finish_builds(store, info, commit_sha=run.head_sha)
        how = "released" if info.commit_sha == run.head_sha else "reused"
        return f"build run {run.id} {how} {info.release_id}; {len(finished)} build(s) finished"
    if run.status == "completed":
        detail = f"the build run ended: {run.conclusion or 'no conclusion'} ({run.html_url})"
        _update_builds(store, builds, status="failed", stage="build", progress=None, run=run, detail=detail)
        return f"build run {run.id} {run.conclusion}: {len(builds)} build(s) failed"
    progress = 60 if run.status == "in_progress" else 40
    _update_builds(store, builds, status="running", stage="build", progress=progress, run=run)
    return f"build run {run.id} {run.status}: {len(builds)} build(s) running"


def _update_builds(
    store: WholeStore,
    builds: list[BuildRecord],
    *,
    status: BuildStatus,
    stage: BuildStage,
    progress: int | None,
    run: WorkflowRun,
    detail: str | None = None,
) -> None:
    for build in builds:
        if build.finished:
            continue
        changes: dict[str, Any] = {"status": status, "stage": stage, "run_id": run.id}
        if progress is not None:
            changes["progress"] = max(progress, build.progress)  # an old event never moves it back
        # GitHub's run page, or in single-host mode the console's run log (http on 127.0.0.1 is
        # usual there): any http(s) URL the store accepts
        if (logs_url := stored_url(run.html_url)) is not None:
            changes["logs_url"] = logs_url
        if detail is not None:
            changes["detail"] = detail
        try:
            store.update_build(build.build_id, **changes)
        except FinalStateError:
            continue  # finished meanwhile by another event: its outcome stands


# --- release tags: create and push ---------------------------------------------------------------------


def _release_tag(name: str) -> str | None:
    """`release/<id>` when `name` is a release tag's name, else None."""
    if name.startswith(RELEASE_TAG_PREFIX) and is_release_id(name.removeprefix(RELEASE_TAG_PREFIX)):
        return name
    return None


def handle_create(
    event: RefCreatedEvent, received_at: datetime, *, forge: Forge, store: WholeStore, settings: BotSettings
) -> str:
    if event.ref_type != "tag":
        return "ignored: not a tag"
    tag = _release_tag(event.ref)
    if tag is None:
        return "ignored: not a release tag"
    repo = event.repository.full_name
    ref = forge.get_ref(repo, f"tags/{tag}")
    if ref is None:
        return f"ignored: {tag} is gone"
    info = read_release_tag(forge, store, repo, ref)
    return _recorded(store, tag, info)


def handle_push(
    event: RefPushedEvent, received_at: datetime, *, forge: Forge, store: WholeStore, settings: BotSettings
) -> str:
    if not event.ref.startswith("refs/tags/"):
        return "ignored: not a tag push"
    tag = _release_tag(event.ref.removeprefix("refs/tags/"))
    if tag is None:
        return "ignored: not a release tag"
    if event.deleted:
        return f"ignored: {tag} was deleted (the release stays in the history)"
    repo = event.repository.full_name
    try:
        info = read_tag_object(forge, store, repo, tag, event.after)
    except ForgeError as exc:
        if not exc.not_found:
            raise
        return f"ignored: {tag} is not an annotated tag"
    return _recorded(store, tag, info)


def _recorded(store: WholeStore, tag: str, info: ReleaseInfo | None) -> str:
    if info is None:
        return f"ignored: {tag} is not a modbot release record"
    finished = finish_builds(store, info)
    return f"recorded {info.release_id}; {len(finished)} build(s) finished"


# --- pull_request closed ---------------------------------------------------------------------------------


def handle_pull_request_closed(
    event: ChangeRequestEvent,
    received_at: datetime,
    *,
    forge: Forge,
    store: WholeStore,
    settings: BotSettings,
) -> str:
    if event.action != "closed":
        return f"ignored: action {event.action!r}"
    repo = event.repository.full_name
    builds = [build for build in store.builds_for_pr(repo, event.number) if not build.finished]
    if not builds:
        return "ignored: no build waits on this pull request"
    merge_sha = event.merge_commit_sha
    if not event.merged or merge_sha is None or not is_git_sha(merge_sha):
        for build in builds:
            _cancel(store, build)
        return f"cancelled {len(builds)} build(s): the pull request was closed without merging"
    moved: list[BuildRecord] = []
    for build in builds:
        try:
            moved.append(store.update_build(build.build_id, merge_sha=merge_sha, stage="build", progress=25))
        except FinalStateError:
            continue
    # the build run (or even the release) may be ahead of this event: catch up with it
    info = release_at_commit(forge, store, repo, merge_sha, ask_github=False)
    if info is not None:
        finish_builds(store, info)
        return f"{len(moved)} build(s) of {merge_sha[:7]} released as {info.release_id}"
    chatops, build_config = _policy_parts(forge, repo, settings, event.repository.default_branch)
    try:
        runs = forge.list_workflow_runs(
            repo, head_sha=merge_sha, workflow=chatops.build_workflow, event="push", limit=1
        )
    except ForgeError as exc:
        if not exc.not_found:
            raise
        runs = []
    if runs:
        return _follow_build_run(forge, store, repo, moved, runs[0], manifest_path=build_config.manifest)
    return f"{len(moved)} build(s) wait for the build of {merge_sha[:7]}"


def _cancel(store: WholeStore, build: BuildRecord) -> None:
    with contextlib.suppress(FinalStateError):  # finished meanwhile: its outcome stands
        store.update_build(
            build.build_id, status="cancelled", detail="the pull request was closed without merging"
        )
