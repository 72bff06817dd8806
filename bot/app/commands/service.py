"""The chat-ops service: `execute` runs one command, whether it comes from a PR or issue comment, the
admin API or the CLI.

Every command goes the same way: read the policy from the default branch, find out who asks (their
role from GitHub, per call) and the facts the action depends on, ask `authorize` (the one place that
decides), audit the command and the decision, and then act:

- **deploy / rollback**: take the environment lock (this is what serialises two concurrent deploys:
  exactly one gets it, the other is refused with rule `locked`), create the GitHub Deployment with the
  payload of the Deployment contract (docs/workflows.md), post its `queued` status, record it in the
  store and attach it to the lock, and only then move `deploy/<env>` to the release's commit with the
  installation's (App) token, which starts the deploy workflow. If the tag cannot be moved, the
  Deployment gets an `error` status at once (so no later tag move adopts it), the lock is released
  and the answer quotes GitHub's error. The deployment_status and workflow_run handlers follow it
  from there (bot.app.followups).
- **unlock**: release the environment's lock, whoever holds it.
- **status**: what runs where, what is in flight, who holds which lock, what is frozen (the store and
  the policy; no other GitHub call).
- **validate**: review the PR's manifest again, through the pull_request handler's own path.
- **rebuild**: re-run the build workflow run of the PR's merge commit.
- **help**: the commands, and which of them this actor may run here.

Audit entries (actor = the login, `api:<token name>` or `cli:<os user>`): `command.<action>` for every
command with the deciding rule; `<action>.refused` for a refusal; `deploy.start` / `rollback.start`,
`deploy.failed` / `rollback.failed`, `validate.run`, `rebuild.start`; the store adds `lock.*` and
`deployment.*`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Literal

from bot.app.chatops.authorize import (
    ACTIONS,
    ENVIRONMENT_ACTIONS,
    Action,
    Actor,
    Decision,
    Facts,
    Rule,
    authorize,
    required_permission,
)
from bot.app.chatops.parse import COMMANDS, code_span
from bot.app.chatops.progress import START_ACTIONS
from bot.app.chatops.replies import (
    EnvironmentView,
    HelpEntry,
    command_text,
    render_deployment,
    render_failure,
    render_help,
    render_rebuild,
    render_refusal,
    render_status,
    render_unlock,
    render_validate,
)
from bot.app.commands.facts import (
    NO_FACTS,
    Gathered,
    gather_actor,
    gather_facts,
    get_pull_or_none,
)
from bot.app.policy import PolicyOnBranch, load_policy
from bot.app.ports.store import WholeStore
from bot.app.releases import release_at_commit
from bot.app.review.pull_request import review_pull_request
from bot.config import BotSettings
from bot.domain.ids import is_environment_name, is_release_id
from bot.domain.records import DeploymentRecord, EnvironmentLock, LockHeld, LockLost, environment_target
from bot.forge import Forge, ForgeError, Ref
from bot.pipeline.config import EnvironmentConfig
from bot.pipeline.contract import contract_payload

__all__ = [
    "RULES_BEFORE_FACTS",
    "CommandRequest",
    "CommandResult",
    "execute",
    "move_deploy_tag",
]

log = logging.getLogger(__name__)


# Rules `authorize` checks before it looks at any fact: when one of them refuses, no fact is needed.
RULES_BEFORE_FACTS: frozenset[Rule] = frozenset(
    {"bot_ignored", "policy_invalid", "no_policy", "unknown_environment", "permission", "frozen"}
)


@dataclass(frozen=True)
class CommandRequest:
    repo: str
    action: Action
    environment: str | None
    release_id: str | None  # named release (None: the PR's release / previous one)
    actor: str  # GitHub login, or "api:<token name>"
    actor_kind: Literal["user", "bot", "token"]
    source: Literal["comment", "api", "cli", "console"]
    reason: str | None = None
    issue_number: int | None = None  # the PR/issue the command was made on
    comment_id: int | None = None  # the command comment (reactions)
    default_branch: str | None = None  # from a webhook payload: saves asking GitHub for it


@dataclass(frozen=True)
class CommandResult:
    ok: bool
    action: Action
    decision: Decision  # why (allowed or which rule refused)
    message_markdown: str  # the reply, rendered from templates/comments/command_*.md.j2
    deployment: DeploymentRecord | None = None
    lock: EnvironmentLock | None = None
    data: Mapping[str, Any] = field(default_factory=dict)  # JSON-able facts for the API/CLI


def execute(
    request: CommandRequest, *, forge: Forge, store: WholeStore, settings: BotSettings
) -> CommandResult:
    """Run one command (see the module docstring). ValueError for a malformed request; ForgeError when
    GitHub cannot be asked what the decision needs (then nothing was done, and a retry is safe).
    Once the command is decided, GitHub failures become a failed result with GitHub's message."""
    _check_request(request)
    policy = load_policy(
        forge, request.repo, path=settings.policy_path, default_branch=request.default_branch
    )
    environment = policy.environment(request.environment)
    if request.action == "help":
        scope: Sequence[EnvironmentConfig] = policy.config.environments if policy.config else ()
    else:
        scope = (environment,) if environment is not None else ()
    actor = gather_actor(
        forge,
        request.repo,
        login=request.actor,
        kind=request.actor_kind,
        environments=scope,
        ask_role=request.action != "status",
    )
    decision, gathered = _decide(request, actor, policy, forge, store)
    _audit_command(store, request, decision)
    if not decision.allowed:
        return _refused(store, request, decision, lock=gathered.lock)
    if request.action == "help":
        return _help(request, actor, policy, decision)
    if request.action == "status":
        return _status(request, store, policy, decision)
    if request.action == "unlock":
        assert environment is not None
        return _unlock(request, store, environment, decision)
    if request.action == "validate":
        return _validate(request, forge, store, settings, decision)
    if request.action == "rebuild":
        return _rebuild(request, forge, store, decision, gathered)
    assert environment is not None
    return _deploy(
        request,
        decision,
        gathered,
        forge=forge,
        store=store,
        environment=environment,
        actor=actor,
        policy=policy,
    )


# --- deciding ------------------------------------------------------------------------------------------


# Operators: an admin-API token (api:<token name>) or the CLI run with the bot's own credentials
# (cli:<os user>, as `modbot propose` audits too).
TOKEN_ACTOR_PREFIXES = ("api:", "cli:")


def _check_request(request: CommandRequest) -> None:
    if request.action not in ACTIONS:
        raise ValueError(f"unknown command {request.action!r} (known: {', '.join(ACTIONS)})")
    if request.action in ENVIRONMENT_ACTIONS and request.environment is None:
        raise ValueError(f"{request.action} needs an environment")
    if request.environment is not None and not is_environment_name(request.environment):
        raise ValueError("not an environment name (lowercase letters, digits and '-', at most 31 characters)")
    if request.release_id is not None and not is_release_id(request.release_id):
        raise ValueError("not a release id (rel_YYYY_MM_DD_NNN)")
    if request.release_id is not None and request.action not in ("deploy", "rollback"):
        raise ValueError(f"{request.action} takes no release id")
    if not request.actor.strip():
        raise ValueError("a command needs an actor")
    if request.actor_kind == "token" and not request.actor.startswith(TOKEN_ACTOR_PREFIXES):
        raise ValueError("a token's actor is api:<token name> (admin API) or cli:<os user> (the CLI)")


def _decide(
    request: CommandRequest, actor: Actor, policy: PolicyOnBranch, forge: Forge, store: WholeStore
) -> tuple[Decision, Gathered]:
    """Ask `authorize`; gather the facts (GitHub calls) only when a rule that needs them is reached."""
    if request.action not in ("deploy", "rollback", "rebuild"):
        return _ask(request.action, actor, request.environment, policy, facts=None), Gathered(facts=None)
    early = _ask(request.action, actor, request.environment, policy)
    if not early.allowed and early.rule in RULES_BEFORE_FACTS:
        return early, Gathered(facts=None)
    gathered = gather_facts(
        forge,
        store,
        repo=request.repo,
        action=request.action,
        environment=request.environment,
        release_id=request.release_id,
        issue_number=request.issue_number,
        policy=policy,
    )
    return _ask(request.action, actor, request.environment, policy, facts=gathered.facts), gathered


# --- audit -------------------------------------------------------------------------------------------


def _target(request: CommandRequest) -> str:
    repo = request.repo.lower()
    if request.issue_number is not None:
        return f"{repo}#{request.issue_number}"
    if request.environment is not None:
        return environment_target(repo, request.environment)
    return repo


def _origin(request: CommandRequest) -> dict[str, Any]:
    return {
        "source": request.source,
        "environment": request.environment,
        "release_id": request.release_id,
        "issue_number": request.issue_number,
        "comment_id": request.comment_id,
    }


def _audit_command(store: WholeStore, request: CommandRequest, decision: Decision) -> None:
    store.append_audit(
        request.actor,
        f"command.{request.action}",
        _target(request),
        {**_origin(request), "rule": decision.rule, "allowed": decision.allowed},
        request.reason,
    )


def _audit(
    store: WholeStore, request: CommandRequest, action: str, target: str, details: Mapping[str, Any]
) -> None:
    store.append_audit(request.actor, action, target, {**_origin(request), **details}, request.reason)


# --- answers -----------------------------------------------------------------------------------------


def _command(request: CommandRequest) -> str:
    """The command as a code span (its parts have checked shapes; a comment's own text is never echoed)."""
    return code_span(command_text(request.action, request.environment, request.release_id))


def _decision_data(decision: Decision) -> dict[str, Any]:
    return {
        "rule": decision.rule,
        "message": decision.message,
        "next_step": decision.next_step,
        "warnings": list(decision.warnings),
    }


def _refused(
    store: WholeStore, request: CommandRequest, decision: Decision, *, lock: EnvironmentLock | None
) -> CommandResult:
    target = (
        _target(request)
        if request.environment is None
        else environment_target(request.repo.lower(), request.environment)
    )
    _audit(
        store, request, f"{request.action}.refused", target, {"rule": decision.rule, "why": decision.message}
    )
    shown_lock = lock if decision.rule == "locked" else None
    return CommandResult(
        ok=False,
        action=request.action,
        decision=decision,
        message_markdown=render_refusal(
            command=_command(request), decision=decision, lock=shown_lock, comment_id=request.comment_id
        ),
        lock=shown_lock,
        data=_decision_data(decision),
    )


def _failed(
    request: CommandRequest,
    decision: Decision,
    *,
    message: str,
    next_step: str,
    error: ForgeError | None = None,
    deployment: DeploymentRecord | None = None,
    data: Mapping[str, Any] | None = None,
) -> CommandResult:
    """The command was allowed but could not be carried out."""
    return CommandResult(
        ok=False,
        action=request.action,
        decision=decision,
        message_markdown=render_failure(
            command=_command(request),
            message=message,
            next_step=next_step,
            github_error=_github_error(error),
            comment_id=request.comment_id,
        ),
        deployment=deployment,
        data={
            **_decision_data(decision),
            "error": message,
            "github_error": _github_error(error),
            **(data or {}),
        },
    )


def _github_error(error: ForgeError | None) -> str | None:
    if error is None:
        return None
    status = f"HTTP {error.status}: " if error.status is not None else ""
    return f"{status}{error.message}"


# --- help and status -----------------------------------------------------------------------------------


def _help(request: CommandRequest, actor: Actor, policy: PolicyOnBranch, decision: Decision) -> CommandResult:
    entries: list[HelpEntry] = []
    for spec in COMMANDS.values():
        if spec.name in ("help", "status"):
            entries.append(HelpEntry(spec.usage, spec.summary, may_run=True))
            continue
        if spec.name in ("validate", "rebuild"):
            answer = _ask(spec.name, actor, None, policy)
            need = required_permission(spec.name, None, policy.config)
            may = answer.allowed or answer.rule not in RULES_BEFORE_FACTS
            entries.append(
                HelpEntry(spec.usage, spec.summary, may_run=may, note="" if may else f"needs {need}")
            )
            continue
        if policy.config is None:
            why = "the policy is invalid" if policy.error else "no environments (no policy)"
            entries.append(HelpEntry(spec.usage, spec.summary, may_run=False, note=why))
            continue
        per_environment: list[tuple[str, bool]] = []
        for env in policy.config.environments:
            answer = _ask(spec.name, actor, env.name, policy)
            may = answer.allowed or answer.rule not in RULES_BEFORE_FACTS
            label = f"{env.name} (frozen)" if answer.rule == "frozen" else env.name
            per_environment.append((label, may))
        entries.append(
            HelpEntry(spec.usage, spec.summary, may_run=None, per_environment=tuple(per_environment))
        )
    role = "token (counts as admin)" if actor.kind == "token" else actor.permission
    markdown = render_help(
        entries, actor=actor.login, role=role, policy_error=policy.error, comment_id=request.comment_id
    )
    data = {
        **_decision_data(decision),
        "commands": [
            {
                "usage": entry.usage,
                "summary": entry.summary,
                "may_run": entry.may_run,
                "environments": {name: ok for name, ok in entry.per_environment},
            }
            for entry in entries
        ],
    }
    return CommandResult(ok=True, action="help", decision=decision, message_markdown=markdown, data=data)


def _ask(
    action: Action,
    actor: Actor,
    environment: str | None,
    policy: PolicyOnBranch,
    *,
    facts: Facts | None = NO_FACTS,
) -> Decision:
    """What `authorize` says of `action` on `facts` (by default before any fact: enough to tell whether
    the actor may run it)."""
    return authorize(
        action,
        actor,
        environment=environment,
        facts=facts,
        policy=policy.config,
        policy_error=policy.error,
    )


def _status(
    request: CommandRequest, store: WholeStore, policy: PolicyOnBranch, decision: Decision
) -> CommandResult:
    states = {state.environment: state for state in store.environments(request.repo)}
    configured = {env.name: env for env in policy.config.environments} if policy.config else {}
    names = list(configured) + sorted(set(states) - set(configured))
    if request.environment is not None:
        names = [name for name in names if name == request.environment]
    views: list[EnvironmentView] = []
    for name in names:
        state = states.get(name)
        env = configured.get(name)
        latest = state.latest if state is not None else None
        views.append(
            EnvironmentView(
                name=name,
                current=state.current if state is not None else None,
                in_flight=latest if latest is not None and not latest.finished else None,
                lock=state.lock if state is not None else None,
                frozen=env.frozen if env is not None else False,
                freeze_reason=env.freeze_reason if env is not None else None,
                known_to_policy=env is not None or policy.config is None,
            )
        )
    markdown = render_status(
        views,
        repo=request.repo,
        asked=request.environment,
        policy_error=policy.error,
        comment_id=request.comment_id,
    )
    data = {**_decision_data(decision), "environments": [_view_data(view) for view in views]}
    return CommandResult(ok=True, action="status", decision=decision, message_markdown=markdown, data=data)


def _view_data(view: EnvironmentView) -> dict[str, Any]:
    return {
        "environment": view.name,
        "current_release": view.current.release_id if view.current else None,
        "in_flight": _record_data(view.in_flight) if view.in_flight else None,
        "lock": view.lock.to_json() if view.lock else None,
        "frozen": view.frozen,
        "freeze_reason": view.freeze_reason,
    }


def _record_data(record: DeploymentRecord) -> dict[str, Any]:
    return {
        "deployment_id": record.id,
        "github_deployment_id": record.github_deployment_id,
        "kind": record.kind,
        "environment": record.environment,
        "release_id": record.release_id,
        "commit_sha": record.commit_sha,
        "previous_release": record.previous_release,
        "status": record.status,
        "stage": record.stage,
        "requested_by": record.requested_by,
        "logs_url": record.logs_url,
    }


# --- unlock, validate, rebuild ----------------------------------------------------------------------------


def _unlock(
    request: CommandRequest, store: WholeStore, environment: EnvironmentConfig, decision: Decision
) -> CommandResult:
    released = store.release_lock(
        request.repo,
        environment.name,
        actor=request.actor,
        reason=request.reason or f"/unlock {environment.name}",
        force=True,
    )
    in_flight = None
    if released is not None and released.deployment_id is not None:
        record = store.deployment_by_github_id(request.repo, released.deployment_id)
        in_flight = record if record is not None and not record.finished else None
    markdown = render_unlock(
        environment=environment.name, released=released, in_flight=in_flight, comment_id=request.comment_id
    )
    data = {
        **_decision_data(decision),
        "environment": environment.name,
        "released": released.to_json() if released is not None else None,
    }
    return CommandResult(
        ok=True, action="unlock", decision=decision, message_markdown=markdown, lock=released, data=data
    )


def _validate(
    request: CommandRequest, forge: Forge, store: WholeStore, settings: BotSettings, decision: Decision
) -> CommandResult:
    if request.issue_number is None:
        return _failed(
            request,
            decision,
            message="/validate checks a pull request's manifest, and no pull request was named",
            next_step="comment /validate on the pull request",
        )
    number = request.issue_number
    conclusion: str | None = None
    headline: str | None = None
    try:
        pull = get_pull_or_none(forge, request.repo, number)
        if pull is None:
            outcome = "not_a_pull_request"
        elif pull.state != "open":
            outcome = "closed"
        else:
            review = review_pull_request(
                forge,
                store,
                settings,
                repo=request.repo,
                repo_html_url=pull.html_url.rsplit("/pull/", 1)[0],
                number=number,
                head_sha=pull.head_sha,
                base_sha=pull.base_sha,
                received_at=store.now(),
            )
            outcome, conclusion, headline = review.status, review.conclusion, review.headline
    except ForgeError as exc:
        # decided and audited: an answer, not an exception (a retried job would find the command
        # handled and not run it again)
        failure = {"outcome": "github_error", "error": str(exc)}
        _audit(store, request, "validate.run", _target(request), failure)
        return _failed(
            request,
            decision,
            message=f"GitHub did not answer what checking #{number} needs",
            next_step="run /validate again in a moment",
            error=exc,
        )
    _audit(store, request, "validate.run", _target(request), {"outcome": outcome, "conclusion": conclusion})
    markdown = render_validate(
        number=number,
        outcome=outcome,
        conclusion=conclusion,
        headline=headline,
        comment_id=request.comment_id,
    )
    data = {**_decision_data(decision), "outcome": outcome, "conclusion": conclusion, "headline": headline}
    # nothing to check on a PR that does not change the manifest, or whose newer push was checked
    done = outcome in ("reviewed", "not_touched", "superseded")
    return CommandResult(ok=done, action="validate", decision=decision, message_markdown=markdown, data=data)


def _rebuild(
    request: CommandRequest, forge: Forge, store: WholeStore, decision: Decision, gathered: Gathered
) -> CommandResult:
    pull, run = gathered.pull, gathered.build_run
    assert pull is not None  # authorize allows /rebuild on a merged PR only
    assert pull.merge_commit_sha is not None
    if run is None:
        return _failed(
            request,
            decision,
            message=f"there is no build run of PR #{pull.number}'s merge commit "
            f"{pull.merge_commit_sha[:7]} to run again",
            next_step="check that the build workflow runs on pushes to the default branch and that [chatops] "
            "build_workflow names it in .github/modbot.toml",
        )
    try:
        forge.rerun_workflow_run(request.repo, run.id)
    except ForgeError as exc:
        return _failed(
            request,
            decision,
            message=f"GitHub did not start the build run again ({run.html_url})",
            next_step="re-run it from the Actions tab, or try /rebuild again in a moment",
            error=exc,
        )
    release = release_at_commit(forge, store, request.repo, pull.merge_commit_sha, ask_github=False)
    _audit(
        store,
        request,
        "rebuild.start",
        _target(request),
        {"run_id": run.id, "run_attempt": run.run_attempt + 1, "merge_sha": pull.merge_commit_sha},
    )
    markdown = render_rebuild(
        number=pull.number,
        run_url=run.html_url,
        run_attempt=run.run_attempt,
        release_id=release.release_id if release is not None else None,
        comment_id=request.comment_id,
    )
    data = {**_decision_data(decision), "run_id": run.id, "run_url": run.html_url}
    return CommandResult(ok=True, action="rebuild", decision=decision, message_markdown=markdown, data=data)


# --- deploy and rollback ----------------------------------------------------------------------------------


def move_deploy_tag(forge: Forge, repo: str, tag: str, commit_sha: str) -> Ref:
    """Point the tag `tag` (e.g. `deploy/prod`) at `commit_sha`: created the first time, else moved
    (forced: a rollback moves it back)."""
    ref = f"tags/{tag}"
    if forge.get_ref(repo, ref) is None:
        try:
            return forge.create_ref(repo, f"refs/{ref}", commit_sha)
        except ForgeError as exc:
            # 422 is also GitHub's answer when the tag was created meanwhile (by a workflow or by
            # hand): then move it like any other; else the refusal stands
            if exc.status != 422 or forge.get_ref(repo, ref) is None:
                raise
    return forge.update_ref(repo, ref, commit_sha, force=True)


def _deploy(
    request: CommandRequest,
    decision: Decision,
    gathered: Gathered,
    *,
    forge: Forge,
    store: WholeStore,
    environment: EnvironmentConfig,
    actor: Actor,
    policy: PolicyOnBranch,
) -> CommandResult:
    assert policy.config is not None
    lock_ttl = timedelta(seconds=policy.config.chatops.lock_timeout_seconds)
    kind: Literal["deploy", "rollback"] = "rollback" if request.action == "rollback" else "deploy"
    env = environment.name
    target = environment_target(request.repo.lower(), env)
    release, facts = gathered.release, gathered.facts
    assert facts is not None  # gathered for a deploy or rollback
    if release is None:
        # a rollback to the previous release whose release tag is gone: nothing to deploy by digest
        missing = facts.release_id or "the previous release"
        _audit(store, request, f"{kind}.failed", target, {"why": "no_release_tag", "release_id": missing})
        return _failed(
            request,
            decision,
            message=f"{missing} ran on {env} before, but its release/{missing} tag is gone, so its image is "
            "unknown",
            next_step=f"name a release that still exists: /rollback {env} rel_YYYY_MM_DD_NNN",
        )
    try:
        lock = store.acquire_lock(
            request.repo,
            env,
            holder=request.actor,
            purpose=kind,
            ttl=lock_ttl,
            release_id=release.release_id,
            reason=request.reason,
        )
    except LockHeld as held:
        # another deploy got the lock after the facts were read: authorize says so with the holder
        locked_facts = replace(facts, lock_holder=held.lock.holder, lock_since=held.lock.acquired_at)
        refusal = _ask(request.action, actor, env, policy, facts=locked_facts)
        return _refused(store, request, refusal, lock=held.lock)
    previous = facts.current_release
    payload = contract_payload(
        kind=kind,
        release=release,
        environment=env,
        requested_by=request.actor,
        reason=request.reason,
        previous_release=previous,
        rollback_of=previous if kind == "rollback" else None,
    )
    try:
        github = forge.create_deployment(
            request.repo,
            ref=release.commit_sha,
            environment=env,
            description=f"modbot: {release.release_id}",
            payload=payload,
            task="deploy",
        )
    except ForgeError as exc:
        store.release_lock(
            request.repo, env, actor=request.actor, reason="the GitHub Deployment could not be created"
        )
        _audit(store, request, f"{kind}.failed", target, {"why": "create_deployment", "error": str(exc)})
        return _failed(
            request,
            decision,
            message=f"GitHub refused to create the Deployment of {release.release_id} to {env}; nothing was "
            "deployed",
            next_step="check that the App may write deployments on this repository, then run the command "
            "again",
            error=exc,
        )
    # The store knows the Deployment (and the lock names it) before GitHub can send any event about it:
    # the queued status below is the first, and the workflow starts only once the tag moves.
    try:
        record = store.record_deployment(
            repository=request.repo,
            environment=env,
            release_id=release.release_id,
            commit_sha=release.commit_sha,
            kind=kind,
            requested_by=request.actor,
            reason=request.reason,
            source=request.source,
            previous_release=previous,
            manifest_hash=release.manifest_hash,
            github_deployment_id=github.id,
            issue_number=request.issue_number,
        )
    except Exception:
        _end_on_github(
            forge, request.repo, github.id, f"{release.release_id} failed: modbot could not record it"
        )
        store.release_lock(
            request.repo, env, actor=request.actor, reason="the deployment could not be recorded"
        )
        raise
    try:
        store.attach_lock_deployment(
            request.repo, env, holder=lock.holder, acquired_at=lock.acquired_at, deployment_id=github.id
        )
        lock = replace(lock, deployment_id=github.id)
        try:
            forge.create_deployment_status(
                request.repo,
                github.id,
                "queued",
                description=f"queued {release.release_id} for {request.actor}",
                environment_url=environment.url,
            )
        except ForgeError as exc:
            # bookkeeping: a Deployment without a status is one the workflow picks up all the same
            log.warning("queued status of deployment %s on %s not posted: %s", github.id, request.repo, exc)
        tag = move_deploy_tag(forge, request.repo, environment.deploy_tag, release.commit_sha)
    except (ForgeError, LockLost) as exc:
        return _abandon(request, decision, record, exc, forge=forge, store=store, environment=environment)
    _audit(
        store,
        request,
        START_ACTIONS[kind],
        target,
        {
            "deployment": record.id,
            "github_deployment_id": github.id,
            "release_id": release.release_id,
            "previous_release": previous,
            "commit_sha": release.commit_sha,
            "tag": tag.ref,
            "warnings": list(decision.warnings),
        },
    )
    markdown = render_deployment(
        record, auto_rollback=None, warnings=decision.warnings, comment_id=request.comment_id
    )
    data = {**_decision_data(decision), **_record_data(record)}
    return CommandResult(
        ok=True,
        action=request.action,
        decision=decision,
        message_markdown=markdown,
        deployment=record,
        lock=lock,
        data=data,
    )


def _end_on_github(forge: Forge, repo: str, deployment_id: int, description: str) -> None:
    """Give a Deployment that will never run the final status `error` at once, so that no later move of
    the same tag adopts it (the Deployment contract). Bookkeeping: a failure is logged, not raised."""
    try:
        forge.create_deployment_status(repo, deployment_id, "error", description=description)
    except ForgeError as exc:
        log.warning("error status of deployment %s on %s not posted: %s", deployment_id, repo, exc)


def _abandon(
    request: CommandRequest,
    decision: Decision,
    record: DeploymentRecord,
    error: ForgeError | LockLost,
    *,
    forge: Forge,
    store: WholeStore,
    environment: EnvironmentConfig,
) -> CommandResult:
    """The tag could not be moved (or the lock was lost first): end the Deployment with `error` at once,
    so no later tag move adopts it, and free the environment."""
    env = environment.name
    assert record.github_deployment_id is not None
    why = (
        f"the tag {environment.deploy_tag} could not be moved"
        if isinstance(error, ForgeError)
        else "the environment lock was lost before the tag moved"
    )
    _end_on_github(forge, request.repo, record.github_deployment_id, f"{record.release_id} failed: {why}")
    ended = store.update_deployment(record.id, status="error", actor=request.actor)
    store.release_lock(
        request.repo, env, actor=request.actor, reason=why, deployment_id=record.github_deployment_id
    )
    _audit(
        store,
        request,
        f"{record.kind}.failed",
        environment_target(request.repo.lower(), env),
        {
            "deployment": record.id,
            "github_deployment_id": record.github_deployment_id,
            "why": why,
            "error": str(error),
        },
    )
    return _failed(
        request,
        decision,
        message=f"{why}, so nothing was deployed; the GitHub Deployment {record.github_deployment_id} was "
        f"marked as an error and {env} is unlocked",
        next_step="check that the App may write this repository's contents and that no tag ruleset stops it "
        f"from moving {environment.deploy_tag}, then run the command again",
        error=error if isinstance(error, ForgeError) else None,
        deployment=ended,
        data=_record_data(ended),
    )
