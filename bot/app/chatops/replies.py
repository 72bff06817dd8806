"""The answers modbot gives to chat-ops commands, rendered from templates/comments/command_*.md.j2. Pure.

Every reply to a comment starts with a hidden marker naming the command comment it answers
(`reply_marker`), so a re-run job can tell that it answered already. Text that is not modbot's own
(reasons, policy text, GitHub's error messages, token names) goes through `markdown_plain`
(bot.domain.text), which defuses HTML and @-mentions; a command as someone wrote it is only ever
echoed through `code_span`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args
from urllib.parse import quote

from bot.app.chatops.authorize import Decision
from bot.app.chatops.parse import CommandProblem
from bot.domain.text import markdown_plain, truncate_markdown
from bot.forge import COMMENT_LIMIT
from bot.render import render
from bot.store import DeploymentRecord, DeployStage, EnvironmentLock

__all__ = [
    "STAGES",
    "EnvironmentView",
    "HelpEntry",
    "Step",
    "command_text",
    "link_target",
    "progress_steps",
    "render_deployment",
    "render_failure",
    "render_help",
    "render_problem",
    "render_rebuild",
    "render_refusal",
    "render_repeated",
    "render_status",
    "render_unlock",
    "render_validate",
    "reply_marker",
    "when",
]

REPLY_MARKER = "<!-- modbot:command-reply {comment_id} -->"
STAGES: tuple[DeployStage, ...] = get_args(DeployStage)  # in order: queued, deploy, smoke, done
_STAGE_NAMES = {"queued": "queued", "deploy": "deploy", "smoke": "smoke test", "done": "done"}


def reply_marker(comment_id: int) -> str:
    """The hidden line that ties a reply to the command comment it answers."""
    return REPLY_MARKER.format(comment_id=int(comment_id))


# RFC 3986's reserved and unreserved characters and `%`, less those that end or confuse a Markdown link
# destination (`(`, `)`) or are not URL characters at all (`<`, `>`, `[`, `]` outside a host, quotes, `\`)
_LINK_SAFE = ":/?#@!$&*+,;=%-._~"


def link_target(url: str) -> str:
    """A URL that is not modbot's own (a deployment status's log URL, which whoever may write
    deployments sets) made safe as a Markdown link destination: a `)` cannot end the link early and
    start Markdown of its own."""
    return quote(url, safe=_LINK_SAFE)


def when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def command_text(action: str, environment: str | None, release_id: str | None) -> str:
    """The command as modbot understood it, e.g. `/deploy production rel_2026_08_16_001` (every part
    has a checked shape, so it is safe to show)."""
    return " ".join(part for part in (f"/{action}", environment, release_id) if part)


def _finish(body: str) -> str:
    # without a marker (an API or CLI answer) the body would start with an empty line
    return truncate_markdown(
        body.lstrip("\n"), COMMENT_LIMIT, "See `/status` and the audit log for the rest."
    )


def _sentence(text: str) -> str:
    """`markdown_plain` text the template ends with a full stop (so it must not end with one)."""
    return markdown_plain(text).rstrip(". ")


def _marker(comment_id: int | None) -> str:
    return reply_marker(comment_id) if comment_id is not None else ""


# --- problems, refusals, failures ------------------------------------------------------------------------


def render_problem(problem: CommandProblem, *, comment_id: int | None) -> str:
    """The answer to a comment that tried to give a command and got it wrong (the parser's message is
    modbot's own text with untrusted parts already quoted)."""
    return _finish(render("comments/command_problem.md.j2", marker=_marker(comment_id), problem=problem))


def render_refusal(
    *, command: str, decision: Decision, lock: EnvironmentLock | None, comment_id: int | None
) -> str:
    """Which rule refused the command, why, and what to do next. `command` is a code span."""
    return _finish(
        render(
            "comments/command_refused.md.j2",
            marker=_marker(comment_id),
            command=command,
            rule=decision.rule,
            message=_sentence(decision.message),
            next_step=_sentence(decision.next_step),
            lock=lock,
            until=when(lock.expires_at) if lock is not None else None,
        )
    )


def render_failure(
    *, command: str, message: str, next_step: str, github_error: str | None, comment_id: int | None
) -> str:
    """The command was allowed but could not be carried out. `command` is a code span."""
    return _finish(
        render(
            "comments/command_failed.md.j2",
            marker=_marker(comment_id),
            command=command,
            message=_sentence(message),
            next_step=_sentence(next_step),
            github_error=markdown_plain(github_error) if github_error else None,
        )
    )


def render_repeated(*, command: str, rule: str, comment_id: int) -> str:
    """A re-run job found the command handled already, but no answer to it. `command` is a code span."""
    return _finish(
        render("comments/command_repeated.md.j2", marker=reply_marker(comment_id), command=command, rule=rule)
    )


# --- deploy and rollback progress ------------------------------------------------------------------------

StepState = Literal["done", "running", "failed", "waiting"]
_ICONS: dict[StepState, str] = {"done": "✅", "running": "⏳", "failed": "❌", "waiting": "⬜"}


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    state: StepState

    @property
    def icon(self) -> str:
        return _ICONS[self.state]


def progress_steps(record: DeploymentRecord) -> list[Step]:
    """The stages of a deployment (release → queued → deploy → smoke test → done) and where it is: the
    stage it has reached runs, or is where it failed once it finished without success."""
    reached = STAGES.index(record.stage)
    steps = [Step("release", "done")]
    for index, stage in enumerate(STAGES):
        state: StepState
        if record.status == "success" or index < reached:
            state = "done"
        elif index > reached:
            state = "waiting"
        else:
            state = "failed" if record.finished else "running"
        steps.append(Step(_STAGE_NAMES[stage], state))
    return steps


def _outcome(record: DeploymentRecord) -> Literal["running", "succeeded", "failed"]:
    if not record.finished:
        return "running"
    return "succeeded" if record.status == "success" else "failed"


def render_deployment(
    record: DeploymentRecord,
    *,
    auto_rollback: DeploymentRecord | None,
    warnings: Sequence[str],
    comment_id: int | None,
) -> str:
    """A deploy's or rollback's reply, as it stands now; the deployment_status handler renders it again
    at every step and edits the reply in place."""
    return _finish(
        render(
            "comments/command_deploy.md.j2",
            marker=_marker(comment_id),
            record=record,
            logs_url=link_target(record.logs_url) if record.logs_url else None,
            outcome=_outcome(record),
            steps=progress_steps(record),
            requested_by=markdown_plain(record.requested_by, 200),
            reason=markdown_plain(record.reason),
            warnings=[markdown_plain(warning) for warning in warnings],
            auto=auto_rollback,
            auto_outcome=_outcome(auto_rollback) if auto_rollback is not None else None,
            auto_steps=progress_steps(auto_rollback) if auto_rollback is not None else [],
        )
    )


# --- status, help, unlock, validate, rebuild ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnvironmentView:
    """One row of `/status`."""

    name: str
    current: DeploymentRecord | None
    in_flight: DeploymentRecord | None  # the newest deployment while it is not finished
    lock: EnvironmentLock | None
    frozen: bool
    freeze_reason: str | None
    known_to_policy: bool


def render_status(
    environments: Sequence[EnvironmentView],
    *,
    repo: str,
    asked: str | None,
    policy_error: str | None,
    comment_id: int | None,
) -> str:
    return _finish(
        render(
            "comments/command_status.md.j2",
            marker=_marker(comment_id),
            repo=repo,
            asked=asked,
            environments=environments,
            when=when,
            plain=markdown_plain,
            policy_error=markdown_plain(policy_error) if policy_error else None,
        )
    )


@dataclass(frozen=True, slots=True)
class HelpEntry:
    usage: str
    summary: str
    may_run: bool | None  # None: depends on the environment (see `per_environment`)
    note: str = ""  # why not, when not
    per_environment: tuple[tuple[str, bool], ...] = ()


def render_help(
    entries: Sequence[HelpEntry], *, actor: str, role: str, policy_error: str | None, comment_id: int | None
) -> str:
    return _finish(
        render(
            "comments/command_help.md.j2",
            marker=_marker(comment_id),
            entries=entries,
            actor=markdown_plain(actor, 200),
            role=role,
            policy_error=markdown_plain(policy_error) if policy_error else None,
        )
    )


def render_unlock(
    *,
    environment: str,
    released: EnvironmentLock | None,
    in_flight: DeploymentRecord | None,
    comment_id: int | None,
) -> str:
    return _finish(
        render(
            "comments/command_unlock.md.j2",
            marker=_marker(comment_id),
            environment=environment,
            lock=released,
            holder=markdown_plain(released.holder, 200) if released is not None else None,
            since=when(released.acquired_at) if released is not None else None,
            in_flight=in_flight,
        )
    )


def render_validate(
    *, number: int, outcome: str, conclusion: str | None, headline: str | None, comment_id: int | None
) -> str:
    return _finish(
        render(
            "comments/command_validate.md.j2",
            marker=_marker(comment_id),
            number=number,
            outcome=outcome,
            conclusion=conclusion,
            headline=markdown_plain(headline) if headline else None,
        )
    )


def render_rebuild(
    *, number: int, run_url: str, run_attempt: int, release_id: str | None, comment_id: int | None
) -> str:
    return _finish(
        render(
            "comments/command_rebuild.md.j2",
            marker=_marker(comment_id),
            number=number,
            run_url=run_url,
            run_attempt=run_attempt,
            release_id=release_id,
        )
    )
