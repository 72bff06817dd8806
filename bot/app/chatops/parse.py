"""The chat-ops command parser: a comment body (GitHub Markdown) in, the one command it gives out. Pure.

`parse_comment(body)` returns a `Command`, a `CommandProblem` when the comment tries to give a command
but gets it wrong (the bot answers with the problem's message), or None when the comment does not talk
to the bot at all. It never raises and runs in time linear in the body (GitHub caps bodies at 65,536
characters; no regex here can backtrack more than once over a line).

Lines
- Lines end at `\\n`, `\\r\\n` or a lone `\\r` (as in CommonMark); line numbers are 1-based over that
  split. Indentation is counted in columns over spaces and tabs (a tab advances to the next multiple
  of 4); trailing whitespace is ignored.

Command attempts
- An attempt is a line that, after at most 3 columns of indentation, starts with `/` and a word
  `[A-Za-z][A-Za-z-]*` followed by whitespace or the end of the line. `/etc/passwd`, `/ foo`, `//x`,
  `/deploy:`, `http://x` and `a /deploy prod` are not attempts. The word is case-insensitive; the
  arguments are the rest of the line split on whitespace, with HTML comments cut out of it.
- Every attempt whose word is not a command is an "unknown" command, even `/tmp is full`: one rule
  that is easy to predict beats guessing which words were meant for the bot. The answer suggests the
  closest command (difflib, cutoff 0.6) or lists the commands and points to `/help`.
- One command per comment: two or more attempts, known or unknown, are a "several" problem naming
  their lines, and nothing runs.

Where nothing is an attempt (what GitHub does not show as a line of text of its own)
- Fenced code blocks: a line of 3+ backticks or tildes after at most 3 columns, optionally with an
  info string (which for a backtick fence may not contain a backtick), opens a fence; a line of the
  same character, at least as long, with at most 3 columns of indentation and nothing but spaces or
  tabs after it closes it; a fence never closed runs to the end of the body. A fence may also open
  right after list markers ("- ```", "1. ~~~", "- - ```"; 1-4 columns after each marker): it then
  belongs to the list item, its closing line is indented from the item's content column, and it ends
  with the item at the first non-blank line indented less than that column. Fences inside block
  quotes are not followed (quote lines are never commands, whatever they contain).
- Indented code: any line indented 4+ columns (no list context is tracked).
- Block quotes: a line whose first character after at most 3 columns is `>` (nested quotes too).
  Lazy continuation is not followed: a line without `>` right after a quote is read on its own.
- HTML comments: everything from `<!--` (outside a fence) to the next `-->` (searched from the
  comment's third character, so `<!-->` is complete), across lines. This also hides the few lines a
  renderer would show (a fence line inside a comment that starts mid-paragraph, a `<!--` inside an
  inline code span): when in doubt, nothing runs.

Arguments
- `/deploy <environment> [<release_id>]`, `/rollback <environment> [<release_id>]`,
  `/status [<environment>]`, `/unlock <environment>`; `/validate`, `/rebuild` and `/help` take none
  (the `COMMANDS` registry is the one place that says so).
- An environment name matches `ENVIRONMENT_NAME_PATTERN` of `bot.domain.ids`; a release id is one
  `bot.domain.ids.is_release_id` accepts, also written as its tag `release/<id>` (normalised to
  the id). A missing, malformed or extra argument is a "usage" problem that quotes the first bad
  argument (made safe by `code_span`) and shows the usage.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from bot.domain.ids import is_environment_name, is_release_id
from bot.pipeline.release import RELEASE_TAG_PREFIX

CommandName = Literal["deploy", "rollback", "status", "validate", "rebuild", "unlock", "help"]
ProblemKind = Literal["unknown", "usage", "several"]

MAX_QUOTED_CHARS = 100
"""How much of an untrusted argument a message echoes."""
SUGGESTION_CUTOFF = 0.6
_MAX_LINES_NAMED = 10
_MAX_SUGGESTION_WORD = 32  # no longer word can come within the cutoff of a command name


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command: what it is called, what arguments it takes, how `/help` describes it."""

    name: CommandName
    usage: str
    summary: str
    environment: Literal["required", "optional", "none"]
    release: Literal["optional", "none"]

    @property
    def max_arguments(self) -> int:
        return (self.environment != "none") + (self.release != "none")


@dataclass(frozen=True, slots=True)
class Command:
    """A well-formed command. `text` is its line as written (stripped): untrusted, quote it to echo it."""

    name: CommandName
    environment: str | None
    release_id: str | None
    line: int
    text: str


@dataclass(frozen=True, slots=True)
class CommandProblem:
    """A comment that tried to give a command and got it wrong; `message` is Markdown for the reply."""

    kind: ProblemKind
    message: str
    line: int
    suggestion: CommandName | None = None


def _spec(
    name: CommandName,
    summary: str,
    environment: Literal["required", "optional", "none"] = "none",
    release: Literal["optional", "none"] = "none",
) -> CommandSpec:
    usage = f"/{name}"
    if environment == "required":
        usage += " <environment>"
    elif environment == "optional":
        usage += " [<environment>]"
    if release == "optional":
        usage += " [<release_id>]"
    return CommandSpec(name, usage, summary, environment, release)


COMMANDS: Mapping[CommandName, CommandSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            _spec(
                "deploy",
                "Deploy this pull request's release, or the release named, to the environment.",
                environment="required",
                release="optional",
            ),
            _spec(
                "rollback",
                "Move the environment back to its previous successful release, or to the release named.",
                environment="required",
                release="optional",
            ),
            _spec(
                "status", "Show what runs where and which environments are locked.", environment="optional"
            ),
            _spec("validate", "Run the manifest check on this pull request again."),
            _spec("rebuild", "Run the build for this pull request's merge commit again."),
            _spec("unlock", "Release the environment's deploy lock.", environment="required"),
            _spec("help", "Show these commands."),
        )
    }
)
"""Every command, in `/help` order."""

_BY_WORD: Mapping[str, CommandSpec] = {name: spec for name, spec in COMMANDS.items()}  # any word looks up

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_COMMAND_WORD = re.compile(r"/([A-Za-z][A-Za-z-]*+)")
_ORDERED_LIST_MARKER = re.compile(r"[0-9]{1,9}[.)]")


def help_lines() -> list[str]:
    """One Markdown line per command, in `COMMANDS` order: its usage and what it does."""
    return [f"`{spec.usage}`: {spec.summary}" for spec in COMMANDS.values()]


def code_span(text: str, limit: int = MAX_QUOTED_CHARS) -> str:
    """`text` as a Markdown code span that is safe to echo: backticks removed (so the span cannot be
    closed early), whitespace made a plain space, other characters that do not print (controls,
    bidi overrides) made U+FFFD, cut to `limit` characters and marked `…` when cut."""
    kept = text.replace("`", "")
    cut = kept[:limit]
    shown = "".join(char if char.isprintable() else " " if char.isspace() else "\ufffd" for char in cut)
    if len(kept) > limit:
        shown += "…"
    if not shown.strip():
        return "(only backticks)" if text and not kept else "(blank)"
    return f"`{shown}`"


def parse_comment(body: str) -> Command | CommandProblem | None:
    """The one command `body` gives, what is wrong with it, or None if it gives none (module docstring)."""
    attempts = _attempts(body)
    if not attempts:
        return None
    if len(attempts) > 1:
        return _several(attempts)
    return _interpret(attempts[0])


# --- finding attempts -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Attempt:
    line: int
    word: str
    arguments: tuple[str, ...]
    text: str


@dataclass(frozen=True, slots=True)
class _Fence:
    char: str
    length: int
    content_column: int  # 0 for a fence at the top level, else its list item's content column


def _attempts(body: str) -> list[_Attempt]:
    attempts: list[_Attempt] = []
    fence: _Fence | None = None
    in_comment = False
    for number, line in enumerate(_LINE_BREAK.split(body), start=1):
        if fence is not None:
            where = _fence_line(line, fence)
            if where == "closes":
                fence = None
                continue
            if where == "inside":
                continue
            fence = None  # the list item and its fence ended before this line: read it as any other
        if in_comment:
            closing = line.find("-->")
            if closing < 0:
                continue
            # The line began inside the comment, so it can neither open a fence nor be a command.
            _, in_comment = _without_comments(line, closing + 3)
            continue
        fence = _fence_opening(line)
        if fence is not None:
            continue  # an info string is literal: a `<!--` in it opens nothing
        visible, in_comment = _without_comments(line, 0)
        word = _command_word(line)
        if word is not None:
            # `visible` starts with the same `/word`: a comment can only start after the whitespace
            # that ends the word.
            attempts.append(_Attempt(number, word, tuple(visible.split()[1:]), line.strip()))
    return attempts


def _skip_blanks(line: str, index: int, column: int) -> tuple[int, int]:
    """The index and column of the first character at or after `index` that is not a space or tab."""
    while index < len(line):
        char = line[index]
        if char == " ":
            column += 1
        elif char == "\t":
            column += 4 - column % 4
        else:
            break
        index += 1
    return index, column


def _command_word(line: str) -> str | None:
    index, column = _skip_blanks(line, 0, 0)
    if column > 3:
        return None
    match = _COMMAND_WORD.match(line, index)
    if match is None or (match.end() < len(line) and not line[match.end()].isspace()):
        return None
    return match.group(1)


def _list_marker_end(line: str, index: int) -> int | None:
    if line.startswith(("-", "+", "*"), index):
        return index + 1
    match = _ORDERED_LIST_MARKER.match(line, index)
    return None if match is None else match.end()


def _fence_opening(line: str) -> _Fence | None:
    index, column = _skip_blanks(line, 0, 0)
    if column > 3:
        return None
    content_column = 0
    while (marker_end := _list_marker_end(line, index)) is not None:
        marker_column = column + (marker_end - index)
        index, column = _skip_blanks(line, marker_end, marker_column)
        if not 1 <= column - marker_column <= 4:
            return None  # not a list item, or (5+ columns) one whose content is indented code
        content_column = column
    char = line[index : index + 1]
    if char not in ("`", "~"):
        return None
    run_end = _run_end(line, index, char)
    if run_end - index < 3 or (char == "`" and "`" in line[run_end:]):
        return None
    return _Fence(char, run_end - index, content_column)


def _fence_line(line: str, fence: _Fence) -> Literal["inside", "closes", "ends"]:
    """Where `line` stands to the open `fence`: inside it, its closing line, or after its list item."""
    index, column = _skip_blanks(line, 0, 0)
    if index == len(line):
        return "inside"  # a blank line never ends a list item's fence
    if column < fence.content_column:
        return "ends"
    if column - fence.content_column > 3:
        return "inside"
    run_end = _run_end(line, index, fence.char)
    if run_end - index >= fence.length and not line[run_end:].strip(" \t"):
        return "closes"
    return "inside"


def _run_end(line: str, index: int, char: str) -> int:
    while index < len(line) and line[index] == char:
        index += 1
    return index


def _without_comments(line: str, start: int) -> tuple[str, bool]:
    """The text of `line` from `start` with HTML comments cut out, and whether one is open at the end."""
    parts: list[str] = []
    position = start
    while True:
        opening = line.find("<!--", position)
        if opening < 0:
            parts.append(line[position:])
            return "".join(parts), False
        parts.append(line[position:opening])
        closing = line.find("-->", opening + 2)
        if closing < 0:
            return "".join(parts), True
        position = closing + 3


# --- reading one attempt --------------------------------------------------------------------------


def _interpret(attempt: _Attempt) -> Command | CommandProblem:
    spec = _BY_WORD.get(attempt.word.lower())
    if spec is None:
        return _unknown(attempt)
    arguments = list(attempt.arguments)
    environment: str | None = None
    release_id: str | None = None
    if spec.environment != "none":
        if arguments:
            environment = arguments.pop(0)
            if not is_environment_name(environment):
                return _usage(spec, attempt, _bad_environment(environment))
        elif spec.environment == "required":
            return _usage(spec, attempt, f"`/{spec.name}` needs an environment.")
    if spec.release != "none" and arguments:
        written = arguments.pop(0)
        release_id = written.removeprefix(RELEASE_TAG_PREFIX)
        if not is_release_id(release_id):
            return _usage(
                spec,
                attempt,
                f"{code_span(written)} is not a release id (`rel_YYYY_MM_DD_NNN`, such as "
                "`rel_2026_08_16_001`, or its tag `release/rel_2026_08_16_001`).",
            )
    if arguments:
        if spec.max_arguments == 0:
            what = f"`/{spec.name}` takes no arguments, but got {code_span(arguments[0])}."
        else:
            what = (
                f"`/{spec.name}` takes at most {spec.max_arguments} argument"
                f"{'s' if spec.max_arguments > 1 else ''}; {code_span(arguments[0])} is one too many."
            )
        return _usage(spec, attempt, what)
    return Command(spec.name, environment, release_id, attempt.line, attempt.text)


def _bad_environment(written: str) -> str:
    if is_release_id(written.removeprefix(RELEASE_TAG_PREFIX)):
        return f"{code_span(written)} is a release id, not an environment: the environment comes first."
    return (
        f"{code_span(written)} is not an environment name (lowercase letters, digits and `-`, "
        "starting with a letter, at most 31 characters)."
    )


def _usage(spec: CommandSpec, attempt: _Attempt, what: str) -> CommandProblem:
    return CommandProblem("usage", f"{what} Usage: `{spec.usage}`", attempt.line)


def _unknown(attempt: _Attempt) -> CommandProblem:
    written = code_span("/" + attempt.word)
    word = attempt.word.lower()[:_MAX_SUGGESTION_WORD]
    close = difflib.get_close_matches(word, list(COMMANDS), n=1, cutoff=SUGGESTION_CUTOFF)
    if close:
        spec = _BY_WORD[close[0]]
        return CommandProblem(
            "unknown",
            f"{written} is not a command: did you mean `/{spec.name}`? Usage: `{spec.usage}`",
            attempt.line,
            suggestion=spec.name,
        )
    names = ", ".join(f"`/{name}`" for name in COMMANDS)
    return CommandProblem(
        "unknown",
        f"{written} is not a command. The commands are {names}; comment `/help` to see how to use them.",
        attempt.line,
    )


def _several(attempts: Sequence[_Attempt]) -> CommandProblem:
    numbers = [str(attempt.line) for attempt in attempts[:_MAX_LINES_NAMED]]
    if len(attempts) > _MAX_LINES_NAMED:
        lines = f"{', '.join(numbers)} and {len(attempts) - _MAX_LINES_NAMED} more"
    else:
        lines = f"{', '.join(numbers[:-1])} and {numbers[-1]}"
    return CommandProblem(
        "several",
        f"This comment gives {len(attempts)} commands (lines {lines}), but the bot takes one command per "
        "comment, so none of them ran. Post each command in a comment of its own.",
        attempts[0].line,
    )
