"""issue_comment events: chat-ops commands (`/deploy production`, `/status` …) in issue and PR comments.

Only a new comment (`created`) can run a command: an edit or a deletion never runs anything, so a
command cannot be re-run or changed after the fact by editing its comment. Comments from bots,
modbot's own included, are ignored without a word. A comment that gives no command is ignored; one
that tries and gets it wrong is answered with what is wrong (and a 😕 reaction). A command is
acknowledged at once with 👀, run through the chat-ops service (`bot.app.commands.service.execute`, the path
the admin API and the CLI take too), and answered in a new comment of its own, which a deploy's
progress later edits in place; then 🚀 when it did what was asked, 😕 when it did not. Reactions only
acknowledge: one GitHub refuses is logged, and the command goes on.

The worker may run a job twice (at-least-once). A command comment must not run twice: the service's
`command.<name>` audit entry (written once the command is decided, right before it acts) names the
comment, and each reply starts with a marker naming it too. A job that finds the entry does nothing
again; if it also finds no reply (the first run stopped in between), it says so instead of guessing; if
it finds the reply (written, but GitHub's answer was lost), it links it to the deploy the first run
started, so progress edits it. An answer given without an entry (GitHub refused a lookup) is looked up
by its marker before it is written.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.app.chatops.parse import Command, CommandProblem, code_span, parse_comment
from bot.app.chatops.progress import START_ACTIONS, update_reply
from bot.app.chatops.replies import render_failure, render_problem, render_repeated, reply_marker
from bot.app.commands.service import CommandRequest, CommandResult, execute
from bot.config import BotSettings
from bot.domain.ids import is_app_login
from bot.forge import Forge, ForgeError
from bot.forge.events import CommentEvent
from bot.store import AuditEntry, Store, environment_target

__all__ = ["handle_issue_comment", "handled_entry"]

log = logging.getLogger(__name__)

_AUDIT_PAGES = 10
_PROBLEM_ACTION = "command.invalid"


def handle_issue_comment(
    event: CommentEvent, received_at: datetime, *, forge: Forge, store: Store, settings: BotSettings
) -> str:
    if event.action != "created":
        return f"ignored: action {event.action!r} (only a new comment runs a command)"
    login = event.author
    if _from_a_bot(login, event.author_is_bot, forge):
        return "ignored: a comment by a bot"
    parsed = parse_comment(event.body)
    if parsed is None:
        return "ignored: no command"
    repo = event.repository.full_name
    number = event.issue_number
    comment_id = event.comment_id
    if isinstance(parsed, CommandProblem):
        return _answer_problem(
            forge, store, parsed, repo=repo, number=number, comment_id=comment_id, login=login
        )
    return _run_command(
        forge,
        store,
        settings,
        repo=repo,
        number=number,
        comment_id=comment_id,
        login=login,
        command=parsed,
        default_branch=event.repository.default_branch,
    )


def _from_a_bot(login: str, is_bot: bool, forge: Forge) -> bool:
    if is_bot or not login or is_app_login(login):
        return True
    # a token-mode bot is a user account: its own comments carry its login
    return login.lower() == forge.bot_login.lower()


def handled_entry(
    store: Store,
    repo: str,
    number: int,
    comment_id: int,
    action: str,
    *,
    actor: str,
    target: str | None = None,
) -> AuditEntry | None:
    """The audit entry `action` (e.g. `command.deploy`) that `actor` (the commenter) was audited with
    for the command comment `comment_id` on issue or PR `number` (under `target`, by default the issue
    or PR), if any. Newest first, and bounded: a retry comes soon after the first run."""
    target = target or f"{repo.lower()}#{number}"
    cursor: int | None = None
    for _ in range(_AUDIT_PAGES):
        page = store.query_audit(actor=actor, action=action, target=target, limit=100, cursor=cursor)
        for entry in page.entries:
            if entry.details is not None and entry.details.get("comment_id") == comment_id:
                return entry
        if page.next_cursor is None:
            return None
        cursor = page.next_cursor
    return None


def _answer_problem(
    forge: Forge,
    store: Store,
    problem: CommandProblem,
    *,
    repo: str,
    number: int,
    comment_id: int,
    login: str,
) -> str:
    if handled_entry(store, repo, number, comment_id, _PROBLEM_ACTION, actor=login) is not None:
        if forge.find_comment(repo, number, reply_marker(comment_id)) is not None:
            return "ignored: answered already"
    else:
        store.append_audit(
            login,
            _PROBLEM_ACTION,
            f"{repo.lower()}#{number}",
            {"kind": problem.kind, "line": problem.line, "comment_id": comment_id, "source": "comment"},
        )
    _react(forge, repo, comment_id, "confused")
    forge.create_comment(repo, number, render_problem(problem, comment_id=comment_id))
    return f"answered: {problem.kind} command"


def _run_command(
    forge: Forge,
    store: Store,
    settings: BotSettings,
    *,
    repo: str,
    number: int,
    comment_id: int,
    login: str,
    command: Command,
    default_branch: str | None,
) -> str:
    earlier = handled_entry(store, repo, number, comment_id, f"command.{command.name}", actor=login)
    if earlier is not None:
        reply = forge.find_comment(repo, number, reply_marker(comment_id))
        if reply is not None:
            _keep_found_reply(forge, store, command, repo, number, comment_id, login, reply.id)
            return f"ignored: /{command.name} from comment {comment_id} was handled already"
        rule = str((earlier.details or {}).get("rule", "unknown"))
        forge.create_comment(
            repo, number, render_repeated(command=code_span(command.text), rule=rule, comment_id=comment_id)
        )
        return f"answered: /{command.name} from comment {comment_id} was handled already, unanswered"
    _react(forge, repo, comment_id, "eyes")
    request = CommandRequest(
        repo=repo,
        action=command.name,
        environment=command.environment,
        release_id=command.release_id,
        actor=login,
        actor_kind="user",
        source="comment",
        issue_number=number,
        comment_id=comment_id,
        default_branch=default_branch,
    )
    try:
        result = execute(request, forge=forge, store=store, settings=settings)
    except ForgeError as exc:
        if _worth_retrying(exc):
            raise  # the worker tries again later; nothing was done
        return _answer_github_refusal(forge, command, exc, repo=repo, number=number, comment_id=comment_id)
    reply = forge.create_comment(repo, number, result.message_markdown)
    _keep_reply(forge, store, result, reply.id)
    _react(forge, repo, comment_id, "rocket" if result.ok else "confused")
    if result.ok:
        return f"/{command.name}: done"
    if not result.decision.allowed:
        return f"/{command.name}: refused ({result.decision.rule})"
    return f"/{command.name}: failed"


def _keep_found_reply(  # noqa: PLR0917 - the comment's coordinates
    forge: Forge,
    store: Store,
    command: Command,
    repo: str,
    number: int,
    comment_id: int,
    login: str,
    reply_id: int,
) -> None:
    """A run that stopped right after its reply was written (GitHub's answer lost, a crash) left the
    deploy it started without its reply: link them now, so its progress is shown there."""
    start = START_ACTIONS.get(command.name)
    if start is None or command.environment is None:
        return
    target = environment_target(repo.lower(), command.environment)
    entry = handled_entry(store, repo, number, comment_id, start, actor=login, target=target)
    deployment = (entry.details or {}).get("deployment") if entry is not None else None
    record = store.get_deployment(deployment) if isinstance(deployment, int) else None
    if record is None or record.reply_comment_id is not None:
        return
    update_reply(forge, store, store.update_deployment(record.id, reply_comment_id=reply_id))
    _react(forge, repo, comment_id, "rocket")


def _keep_reply(forge: Forge, store: Store, result: CommandResult, reply_id: int) -> None:
    """Remember the reply of a deploy or rollback so its progress edits it; a status that arrived
    before the reply existed is shown at once."""
    if result.deployment is None:
        return
    record = store.update_deployment(result.deployment.id, reply_comment_id=reply_id)
    if (record.status, record.stage, record.logs_url) != (
        result.deployment.status,
        result.deployment.stage,
        result.deployment.logs_url,
    ):
        update_reply(forge, store, record)


def _react(forge: Forge, repo: str, comment_id: int, content: str) -> None:
    """A reaction only acknowledges: GitHub refusing one (the App may lack the permission, the comment
    may be gone) must neither stop the command nor fail a job whose retry would find it done."""
    try:
        forge.add_reaction(repo, comment_id, content)
    except ForgeError as exc:
        log.warning("reaction %s on comment %s of %s not added: %s", content, comment_id, repo, exc)


def _worth_retrying(error: ForgeError) -> bool:
    """GitHub was unreachable, overloaded or rate-limited: asking again later can work."""
    return error.status is None or error.status >= 500 or error.status == 429 or error.retry_after is not None


def _answer_github_refusal(
    forge: Forge, command: Command, error: ForgeError, *, repo: str, number: int, comment_id: int
) -> str:
    log.warning("/%s on %s#%s: GitHub refused a lookup: %s", command.name, repo, number, error)
    if forge.find_comment(repo, number, reply_marker(comment_id)) is not None:
        return f"/{command.name}: GitHub refused ({error.status}); answered already"  # a retried job
    status = f"HTTP {error.status}: " if error.status is not None else ""
    body = render_failure(
        command=code_span(command.text),
        message="GitHub refused to tell modbot what it needs to decide, so nothing was done",
        next_step="check the App's permissions on this repository (see modbot's docs/github-app.md), then "
        "comment the command again",
        github_error=f"{status}{error.message}",
        comment_id=comment_id,
    )
    forge.create_comment(repo, number, body)
    _react(forge, repo, comment_id, "confused")
    return f"/{command.name}: GitHub refused ({error.status})"
