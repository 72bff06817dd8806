"""The chat-ops command parser: table-driven cases for each rule of bot/app/chatops/parse.py, and property
tests against an independent model of which lines are command attempts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.app.chatops import (
    COMMANDS,
    Command,
    CommandName,
    CommandProblem,
    code_span,
    help_lines,
    parse_comment,
)

REL = "rel_2026_08_16_003"

# --- no command attempt at all --------------------------------------------------------------------

NOT_ATTEMPTS = {
    "empty": "",
    "blank lines": "\n\n  \r\n",
    "prose": "LGTM, thanks!",
    "path": "/etc/passwd is missing",
    "slash space": "/ foo",
    "double slash": "//x",
    "url": "http://x/deploy prod",
    "mid-line": "a /deploy prod",
    "inline code": "`/deploy prod`",
    "punctuation after the word": "/deploy: prod",
    "digit in the word": "/deploy2 prod",
    "word starts with a hyphen": "/-deploy prod",
    "underscore": "/de_ploy prod",
    "non-breaking space before": "\u00a0/deploy prod",
    # fenced code
    "backtick fence": "```\n/deploy prod\n```",
    "tilde fence": "~~~\n/deploy prod\n~~~",
    "info string": "```bash title\n/deploy prod\n```",
    "tilde fence info with backtick": "~~~ a`b\n/deploy prod\n~~~",
    "indented fence": "   ```\n/deploy prod\n   ```",
    "longer fence not closed by shorter": "`````\n````\n/deploy prod\n`````",
    "other fence char does not close": "~~~\n```\n/deploy prod\n```\n~~~",
    "nested fences": "````markdown\n```\n/deploy x\n```\n/deploy prod\n````",
    "closing line with text does not close": "```\ncode\n``` not closed\n/deploy prod",
    "unclosed fence": "Try this:\n```\n/deploy prod",
    "blank line inside fence": "```\n\n/deploy prod\n\n```",
    "command indented inside fence": "```\n  /deploy prod\n```",
    "list fence": "- ```\n  /deploy prod\n  ```",
    "ordered list fence": "1. ~~~\n   /deploy prod\n   ~~~",
    "nested list fence": "- - ```\n    /deploy prod\n    ```",
    "list fence with blank line": "* ```\n\n  /deploy prod\n  ```",
    "CRLF fence": "```\r\n/deploy prod\r\n```\r\n",
    "closing line indented 4 does not close": "```\n    ```\n/deploy prod",
    "list closing line indented 4 from the content does not close": "- ```\n      ```\n  /deploy prod",
    # With 5+ columns after the marker the item holds indented code, no fence: the `<!--` counts.
    "list marker with five spaces holds no fence": "-     ```\n      <!--\n/deploy prod",
    "CR fence": "```\r/deploy prod\r```",
    # indented code
    "four spaces": "    /deploy prod",
    "tab": "\t/deploy prod",
    "spaces and tab": "  \t/deploy prod",
    "after a paragraph": "Run:\n    /deploy prod",
    # block quotes
    "quote": "> /deploy prod",
    "quote without space": ">/deploy prod",
    "indented quote": "   > /deploy prod",
    "nested quote": "> > /deploy prod",
    "nested quote tight": ">> /deploy prod",
    "reply quote": "> @alice wrote:\n> /deploy prod\n\nI don't think we should yet.",
    "CRLF reply quote": "> /deploy prod\r\n\r\nnot yet",
    # HTML comments
    "one-line comment": "<!-- /deploy prod -->",
    "comment block": "<!--\n/deploy prod\n-->",
    "comment opened mid-line": "notes <!--\n/deploy prod\n-->",
    "comment opened after another": "<!-- a --> b <!--\n/deploy prod\n-->",
    "comment in a quote line": "> x <!--\n/deploy prod\n-->",
    "unclosed comment": "<!--\n/deploy prod",
    "comment with a fence inside": "<!--\n```\n-->\n```\n/deploy prod\n```",
    "comment closes and reopens": "<!--\nx --> y <!--\n/deploy prod\n-->",
    "CRLF comment": "<!--\r\n/deploy prod\r\n-->",
}


@pytest.mark.parametrize("body", NOT_ATTEMPTS.values(), ids=NOT_ATTEMPTS.keys())
def test_not_a_command_attempt(body: str) -> None:
    assert parse_comment(body) is None


# --- one well-formed command ----------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    name: CommandName
    environment: str | None = None
    release_id: str | None = None
    line: int = 1
    text: str | None = None  # None: the body itself


COMMAND_CASES: dict[str, tuple[str, Expected]] = {
    "deploy": ("/deploy prod", Expected("deploy", "prod")),
    "deploy a release": (f"/deploy prod {REL}", Expected("deploy", "prod", REL)),
    "release tag normalised": (
        f"/deploy staging release/{REL}",
        Expected("deploy", "staging", REL),
    ),
    "upper case": ("/DEPLOY prod", Expected("deploy", "prod")),
    "mixed case": ("/Rollback prod", Expected("rollback", "prod")),
    "three spaces": ("   /deploy prod   ", Expected("deploy", "prod", text="/deploy prod")),
    "tab between": ("/deploy\tprod", Expected("deploy", "prod")),
    "several spaces between": ("/deploy    prod  ", Expected("deploy", "prod", text="/deploy    prod")),
    "later line": (
        "Thanks!\n\n/deploy staging",
        Expected("deploy", "staging", line=3, text="/deploy staging"),
    ),
    "CRLF": ("Thanks!\r\n\r\n/deploy prod\r\n", Expected("deploy", "prod", line=3, text="/deploy prod")),
    "lone CR": ("hi\r/deploy prod", Expected("deploy", "prod", line=2, text="/deploy prod")),
    "rollback": ("/rollback prod", Expected("rollback", "prod")),
    "rollback to a release": (f"/rollback prod {REL}", Expected("rollback", "prod", REL)),
    "status": ("/status", Expected("status")),
    "status of one": ("/status dev-2", Expected("status", "dev-2")),
    "validate": ("/validate", Expected("validate")),
    "rebuild": ("/rebuild", Expected("rebuild")),
    "unlock": ("/unlock prod", Expected("unlock", "prod")),
    "help": ("/help", Expected("help")),
    "longest environment": ("/deploy a" + "-" * 30, Expected("deploy", "a" + "-" * 30)),
    "after a closed fence": (
        "```\n/deploy x\n```\n/deploy prod",
        Expected("deploy", "prod", line=4, text="/deploy prod"),
    ),
    "after a fence closed by a longer one": (
        "```\ncode\n`````\n/deploy prod",
        Expected("deploy", "prod", line=4, text="/deploy prod"),
    ),
    "after a fence closed with trailing blanks": (
        "~~~\nx\n  ~~~ \t\n/deploy prod",
        Expected("deploy", "prod", line=4, text="/deploy prod"),
    ),
    "backtick info string with a backtick is no fence": (
        "``` a`b\n/deploy prod",
        Expected("deploy", "prod", line=2, text="/deploy prod"),
    ),
    "two backticks are no fence": (
        "``\n/deploy prod",
        Expected("deploy", "prod", line=2, text="/deploy prod"),
    ),
    "indented code is no fence": (
        "    ```\n/deploy prod",
        Expected("deploy", "prod", line=2, text="/deploy prod"),
    ),
    "list marker with five spaces is no fence": (
        "-     ```\n/deploy prod",
        Expected("deploy", "prod", line=2, text="/deploy prod"),
    ),
    "closing line indented 4 does not close": (
        "```\n    ```\n```\n/deploy prod",
        Expected("deploy", "prod", line=4, text="/deploy prod"),
    ),
    "list fence ends with its item": (
        "- ```\n  code\n/deploy prod",
        Expected("deploy", "prod", line=3, text="/deploy prod"),
    ),
    "list fence closed": (
        "- ```\n  ```\n/deploy prod",
        Expected("deploy", "prod", line=3, text="/deploy prod"),
    ),
    "after a quote and a blank line": (
        "> /deploy staging\n\n/deploy prod",
        Expected("deploy", "prod", line=3, text="/deploy prod"),
    ),
    "right after a quote (no lazy continuation)": (
        "> Can you deploy?\n/deploy prod",
        Expected("deploy", "prod", line=2, text="/deploy prod"),
    ),
    "after a comment": (
        "<!-- hidden -->\n/deploy prod",
        Expected("deploy", "prod", line=2, text="/deploy prod"),
    ),
    "self-closing comment": ("<!-->\n/deploy prod", Expected("deploy", "prod", line=2, text="/deploy prod")),
    "after a comment block": (
        "<!--\n/deploy x\n-->\n/deploy prod",
        Expected("deploy", "prod", line=4, text="/deploy prod"),
    ),
    "comment on the command line": (
        "/deploy prod <!-- because the fix is urgent -->",
        Expected("deploy", "prod"),
    ),
    "comment opened on the command line": (
        "/deploy prod <!--\n/deploy staging\n-->",
        Expected("deploy", "prod", text="/deploy prod <!--"),
    ),
    "comment between arguments": (
        f"/deploy prod <!-- x --> {REL}",
        Expected("deploy", "prod", REL),
    ),
    "fence info string is literal": (
        "```<!--\n```\n/deploy prod",
        Expected("deploy", "prod", line=3, text="/deploy prod"),
    ),
    "quoted, fenced and commented commands around a real one": (
        "> /deploy x\n\n```\n/rollback x\n```\n<!-- /status -->\n    /help\n/deploy prod\n",
        Expected("deploy", "prod", line=8, text="/deploy prod"),
    ),
}


@pytest.mark.parametrize(("body", "expected"), COMMAND_CASES.values(), ids=COMMAND_CASES.keys())
def test_one_command(body: str, expected: Expected) -> None:
    assert parse_comment(body) == Command(
        name=expected.name,
        environment=expected.environment,
        release_id=expected.release_id,
        line=expected.line,
        text=body if expected.text is None else expected.text,
    )


# --- problems -------------------------------------------------------------------------------------

DEPLOY_USAGE = "Usage: `/deploy <environment> [<release_id>]`"
BAD_ENVIRONMENT = "is not an environment name"
BAD_RELEASE = "is not a release id"

PROBLEM_CASES: dict[str, tuple[str, str, int, CommandName | None, tuple[str, ...]]] = {
    # body: kind, line, suggestion, message fragments
    "typo": ("/depoly prod", "unknown", 1, "deploy", ("`/depoly`", "did you mean `/deploy`?", DEPLOY_USAGE)),
    "typo upper case": ("/DEPOLY prod", "unknown", 1, "deploy", ("`/DEPOLY`", "`/deploy`")),
    "typo status": (
        "/stauts",
        "unknown",
        1,
        "status",
        ("did you mean `/status`?", "`/status [<environment>]`"),
    ),
    "typo rollback": ("/rollbak prod", "unknown", 1, "rollback", ("did you mean `/rollback`?",)),
    "typo unlock": ("/unlok prod", "unknown", 1, "unlock", ("did you mean `/unlock`?",)),
    "typo help": ("/hlep", "unknown", 1, "help", ("did you mean `/help`?",)),
    "hyphenated": ("/deploy-prod", "unknown", 1, "deploy", ("`/deploy-prod`", "did you mean `/deploy`?")),
    "no close command": (
        "/frobnicate",
        "unknown",
        1,
        None,
        ("`/frobnicate`", "`/help`", "`/deploy`, `/rollback`"),
    ),
    "any slash word is unknown": ("Hi\n/tmp is full", "unknown", 2, None, ("`/tmp`", "`/help`")),
    "deploy without environment": (
        "/deploy",
        "usage",
        1,
        None,
        ("`/deploy` needs an environment", DEPLOY_USAGE),
    ),
    "rollback without environment": (
        "/rollback",
        "usage",
        1,
        None,
        ("`/rollback <environment> [<release_id>]`",),
    ),
    "unlock without environment": (
        "/unlock",
        "usage",
        1,
        None,
        ("needs an environment", "`/unlock <environment>`"),
    ),
    "capitalised environment": ("/deploy Prod", "usage", 1, None, ("`Prod`", BAD_ENVIRONMENT, DEPLOY_USAGE)),
    "path environment": ("/deploy ../x", "usage", 1, None, ("`../x`", BAD_ENVIRONMENT)),
    "shell environment": ("/deploy prod;rm -rf /", "usage", 1, None, ("`prod;rm`", BAD_ENVIRONMENT)),
    "environment too long": (
        "/deploy a" + "b" * 31,
        "usage",
        1,
        None,
        ("`a" + "b" * 31 + "`", BAD_ENVIRONMENT),
    ),
    "environment with a digit first": ("/status 1prod", "usage", 1, None, ("`1prod`", BAD_ENVIRONMENT)),
    "release first": (f"/deploy {REL}", "usage", 1, None, (f"`{REL}`", "the environment comes first")),
    "release tag first": (
        f"/rollback release/{REL} prod",
        "usage",
        1,
        None,
        ("the environment comes first",),
    ),
    "no such month": (
        "/deploy prod rel_2026_13_01_001",
        "usage",
        1,
        None,
        ("`rel_2026_13_01_001`", BAD_RELEASE),
    ),
    "no such day": ("/deploy prod rel_2026_02_30_001", "usage", 1, None, (BAD_RELEASE,)),
    "sequence zero": ("/rollback prod rel_2026_08_16_000", "usage", 1, None, (BAD_RELEASE,)),
    "short sequence": ("/deploy prod rel_2026_08_16_1", "usage", 1, None, (BAD_RELEASE,)),
    "a version": ("/deploy prod v1.2.0", "usage", 1, None, ("`v1.2.0`", BAD_RELEASE, DEPLOY_USAGE)),
    "bad release tag": ("/deploy prod release/x", "usage", 1, None, ("`release/x`", BAD_RELEASE)),
    "upper-case release": ("/deploy prod REL_2026_08_16_003", "usage", 1, None, (BAD_RELEASE,)),
    "too many for deploy": (
        f"/deploy prod {REL} now",
        "usage",
        1,
        None,
        ("at most 2 arguments", "`now` is one too many", DEPLOY_USAGE),
    ),
    "too many for status": ("/status prod staging", "usage", 1, None, ("at most 1 argument;", "`staging`")),
    "release for unlock": (f"/unlock prod {REL}", "usage", 1, None, ("at most 1 argument;", f"`{REL}`")),
    "argument for validate": ("/validate now", "usage", 1, None, ("`/validate` takes no arguments", "`now`")),
    "argument for rebuild": ("/rebuild please", "usage", 1, None, ("`/rebuild` takes no arguments",)),
    "argument for help": ("/help deploy", "usage", 1, None, ("`/help` takes no arguments", "Usage: `/help`")),
    "first bad argument is named": ("/deploy prod nope extra", "usage", 1, None, ("`nope`", BAD_RELEASE)),
    "two commands": ("/deploy prod\n/rollback prod", "several", 1, None, ("2 commands", "lines 1 and 2")),
    "same command twice": ("/deploy prod\n\n/deploy prod", "several", 1, None, ("lines 1 and 3",)),
    "unknown counts": ("/deploy prod\n/depoly prod", "several", 1, None, ("lines 1 and 2",)),
    "three across a fence": (
        "/help\n```\n/x\n```\n/status\r\n/validate",
        "several",
        1,
        None,
        ("3 commands", "lines 1, 5 and 6", "none of them ran"),
    ),
    "many": ("\n".join(["/status"] * 12), "several", 1, None, ("12 commands", "1, 2, 3", "10 and 2 more")),
}


@pytest.mark.parametrize(
    ("body", "kind", "line", "suggestion", "fragments"), PROBLEM_CASES.values(), ids=PROBLEM_CASES.keys()
)
def test_problem(
    body: str, kind: str, line: int, suggestion: CommandName | None, fragments: tuple[str, ...]
) -> None:
    problem = parse_comment(body)
    assert isinstance(problem, CommandProblem)
    assert (problem.kind, problem.line, problem.suggestion) == (kind, line, suggestion)
    for fragment in fragments:
        assert fragment in problem.message


HOSTILE_ARGUMENTS = {
    "backticks": ("/deploy `prod`", "`prod`"),
    "backticks inside": ("/deploy a`b``c", "`abc`"),
    "only backticks": ("/deploy ```", "(only backticks)"),
    "html": ("/deploy <img/src=x/onerror=alert(1)>", "`<img/src=x/onerror=alert(1)>`"),
    "mention": ("/deploy @everyone", "`@everyone`"),
    "link": ("/deploy [x](https://evil.example)", "`[x](https://evil.example)`"),
    "bidi override": ("/deploy prod\u202ex", "`prod\ufffdx`"),
    "long": ("/deploy " + "x" * 150, "`" + "x" * 100 + "…`"),
    "long word": ("/" + "q" * 500, "`/" + "q" * 99 + "…`"),
}


@pytest.mark.parametrize(("body", "quoted"), HOSTILE_ARGUMENTS.values(), ids=HOSTILE_ARGUMENTS.keys())
def test_untrusted_text_is_quoted_safely(body: str, quoted: str) -> None:
    problem = parse_comment(body)
    assert isinstance(problem, CommandProblem)
    assert quoted in problem.message
    assert "``" not in problem.message
    assert problem.message.count("`") % 2 == 0


def test_code_span() -> None:
    assert code_span("prod") == "`prod`"
    assert code_span("a`b") == "`ab`"
    assert code_span("a\tb\u00a0c") == "`a b c`"
    assert code_span("\x00\u200b") == "`\ufffd\ufffd`"
    assert code_span("x" * 101) == "`" + "x" * 100 + "…`"
    assert code_span("x" * 100) == "`" + "x" * 100 + "`"
    assert code_span("abcdef", limit=3) == "`abc…`"
    assert code_span("") == "(blank)"
    assert code_span("   ") == "(blank)"
    assert code_span("``") == "(only backticks)"


def test_registry_covers_every_name_in_help_order() -> None:
    assert tuple(COMMANDS) == get_args(CommandName)
    for name, spec in COMMANDS.items():
        assert spec.name == name
        assert spec.usage.startswith(f"/{name}")
        assert spec.summary
    assert COMMANDS["deploy"].usage == "/deploy <environment> [<release_id>]"
    assert COMMANDS["rollback"].usage == "/rollback <environment> [<release_id>]"
    assert COMMANDS["status"].usage == "/status [<environment>]"
    assert COMMANDS["unlock"].usage == "/unlock <environment>"
    assert [COMMANDS[name].usage for name in ("validate", "rebuild", "help")] == [
        "/validate",
        "/rebuild",
        "/help",
    ]


def test_help_lines_follow_the_registry() -> None:
    lines = help_lines()
    assert len(lines) == len(COMMANDS)
    for line, spec in zip(lines, COMMANDS.values(), strict=True):
        assert line.startswith(f"`{spec.usage}`")
        assert spec.summary in line


# --- size and time --------------------------------------------------------------------------------

MAX_BODY = 65_536
LARGE_BODIES = {
    "one long word": "/" + "a" * (MAX_BODY - 1),
    "many arguments": "/deploy " + "x " * ((MAX_BODY - 8) // 2),
    "comment openers": "<!--" * (MAX_BODY // 4),
    "comment openers and closers": "<!-- --> " * (MAX_BODY // 9),
    "backticks": "`" * MAX_BODY,
    "nested list markers": "- " * (MAX_BODY // 2 - 2) + "```",
    "fence lines": "```\n" * (MAX_BODY // 4),
    "list fence lines": "- ```\n" * (MAX_BODY // 6),
    "commands": "/status\n" * (MAX_BODY // 8),
    "line breaks": "\r\n" * (MAX_BODY // 2),
    "spaces then slash": " " * (MAX_BODY - 1) + "/",
}


# What the largest bodies parse to; how long it takes is bench/parser_bench.py's (growth whole/half ~2:
# linear), never a timed assertion here.
LARGE_BODY_KINDS = {
    "one long word": "unknown",
    "many arguments": "usage",
    "comment openers": None,
    "comment openers and closers": None,
    "backticks": None,
    "nested list markers": None,
    "fence lines": None,
    "list fence lines": None,
    "commands": "several",
    "line breaks": None,
    "spaces then slash": None,
}


@pytest.mark.parametrize("name", LARGE_BODIES.keys())
def test_largest_bodies_parse_to_their_answer(name: str) -> None:
    body = LARGE_BODIES[name]
    assert len(body) <= MAX_BODY
    result = parse_comment(body)
    kind = LARGE_BODY_KINDS[name]
    if kind is None:
        assert result is None
    else:
        assert isinstance(result, CommandProblem)
        assert result.kind == kind


# --- properties -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelAttempt:
    line: int
    word: str
    text: str


_MODEL_FENCE = re.compile(r"( {0,3})((?:(?:[-+*]|[0-9]{1,9}[.)]) {1,4})*)(`{3,}|~{3,})(.*)")
_MODEL_CLOSING = re.compile(r"( *)(`+|~+) *")
_MODEL_COMMENT = re.compile(r"<!(?=--).*?-->")
_MODEL_ATTEMPT = re.compile(r" {0,3}/([A-Za-z][A-Za-z-]*)(?:\s|$)")


def _model_comment_open_after(text: str) -> bool:
    """Whether an HTML comment is still open after `text` (that starts outside any comment)."""
    return "<!--" in _MODEL_COMMENT.split(text)[-1]


def model_attempts(body: str) -> list[ModelAttempt]:
    """An independent model of the documented rules: the lines that are command attempts. Tabs are
    expanded up front and each construct is one regex (the parser walks columns by hand instead)."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    attempts: list[ModelAttempt] = []
    fence: tuple[str, int, int] | None = None  # (char, length, content column)
    comment = False
    for number, raw in enumerate(lines, start=1):
        line = raw.expandtabs(4)
        if fence is not None:
            char, length, column = fence
            indent = len(line) - len(line.lstrip(" "))
            if line.strip(" ") and indent < column:
                fence = None  # the list item ended: this line is read on its own
            else:
                closing = _MODEL_CLOSING.fullmatch(line)
                if (
                    closing
                    and column <= len(closing.group(1)) <= column + 3
                    and closing.group(2)[0] == char
                    and len(closing.group(2)) >= length
                ):
                    fence = None
                continue
        if comment:
            if "-->" in line:
                comment = _model_comment_open_after(line.split("-->", 1)[1])
            continue
        opening = _MODEL_FENCE.fullmatch(line)
        if opening and not (opening.group(3)[0] == "`" and "`" in opening.group(4)):
            column = len(opening.group(1)) + len(opening.group(2)) if opening.group(2) else 0
            fence = (opening.group(3)[0], len(opening.group(3)), column)
            continue
        comment = _model_comment_open_after(line)
        attempt = _MODEL_ATTEMPT.match(line)
        if attempt:
            attempts.append(ModelAttempt(number, attempt.group(1), raw.strip()))
    return attempts


FRAGMENTS = [
    "```",
    "````",
    "~~~",
    "``` sh",
    "```a`b",
    "~~~ x`y",
    "- ```",
    "1. ~~~",
    "  - ```",
    "-\t```",
    "- - ```",
    "``",
    "`",
    "~",
    "    ",
    "\t",
    "  ",
    " ",
    ">",
    "> ",
    "<!--",
    "-->",
    "<!-->",
    "<!",
    "--",
    "-",
    "/deploy prod",
    "/deploy",
    "/rollback prod " + REL,
    "/status",
    "/help",
    "/depoly x",
    "/x",
    "/etc/passwd",
    "prod",
    "Prod",
    REL,
    "text",
    "\u00a0",
    "\u2028",
    "\x0b",
]
SEPARATORS = ["\n", "\n", "\r\n", "\r", "", " ", "\t"]

markdownish = st.lists(
    st.tuples(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), st.sampled_from(SEPARATORS)),
    max_size=30,
).map(lambda parts: "".join(fragment + separator for fragment, separator in parts))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), markdownish))
def test_any_text_parses_without_raising(body: str) -> None:
    result = parse_comment(body)
    assert result is None or isinstance(result, (Command, CommandProblem))


@settings(max_examples=300, deadline=None)
@given(markdownish)
def test_parser_agrees_with_the_model(body: str) -> None:
    expected = model_attempts(body)
    result = parse_comment(body)
    if not expected:
        assert result is None
    elif len(expected) > 1:
        assert isinstance(result, CommandProblem)
        assert (result.kind, result.line) == ("several", expected[0].line)
    else:
        assert result is not None
        assert result.line == expected[0].line
        if isinstance(result, Command):
            assert result.name == expected[0].word.lower()
            assert result.text == expected[0].text


@settings(max_examples=300, deadline=None)
@given(markdownish)
def test_a_command_is_a_visible_line_of_its_own(body: str) -> None:
    result = parse_comment(body)
    if not isinstance(result, Command):
        return
    lines = re.split(r"\r\n|\r|\n", body)
    line = lines[result.line - 1]
    assert line.strip() == result.text
    assert result.text.startswith("/")
    assert [attempt.line for attempt in model_attempts(body)] == [result.line]


# Balanced Markdown blocks: after each, no fence or comment is open and no line was an attempt.
_SAFE_TEXT = st.text(alphabet=st.characters(exclude_characters="`~<\r\n"), max_size=12)
_ANY_LINE = st.text(alphabet=st.characters(exclude_characters="\r\n"), max_size=12)
_FENCE_CHARS = st.tuples(st.sampled_from("`~"), st.integers(3, 5))


@st.composite
def balanced_fence(draw: st.DrawFn) -> str:
    char, length = draw(_FENCE_CHARS)
    marker = draw(st.sampled_from(["", " ", "   ", "- ", "1. "]))
    content = " " * len(marker) if marker.strip() else ""
    # The info string starts with a letter: a leading fence character would lengthen the fence.
    info = "a" + (draw(_SAFE_TEXT) if char == "`" else draw(_ANY_LINE))
    lines = [f"{content}x{text}" for text in draw(st.lists(_ANY_LINE, max_size=3))]
    closing = content + char * draw(st.integers(length, length + 2))
    return "\n".join([marker + char * length + info, *lines, closing])


balanced_blocks = st.one_of(
    _SAFE_TEXT.map(lambda text: "x" + text),  # a paragraph line that is no attempt
    st.just(""),
    _SAFE_TEXT.map(lambda text: "> " + text),
    _SAFE_TEXT.map(lambda text: ">" + text),
    balanced_fence(),
    st.text(max_size=30).filter(lambda text: "-->" not in text).map(lambda text: f"<!-- {text} -->"),
    _SAFE_TEXT.map(lambda text: f"x <!-- {text} -->"),
)
COMMAND_LINES = st.sampled_from(
    ["/deploy prod", f"/rollback prod {REL}", "/status", "/help", "/DEPLOY staging", "/unlock prod"]
)


@st.composite
def hidden_command(draw: st.DrawFn) -> str:
    command = draw(COMMAND_LINES)
    char, length = draw(_FENCE_CHARS)
    fence = char * length
    return draw(
        st.sampled_from(
            [
                f"{fence}\n{command}\n{fence}",
                f"{fence}\n{command}",  # never closed
                f"{fence}info\n\n{command}\n{char * (length + 1)}",
                f"- {fence}\n  {command}\n  {fence}",
                f"1. {fence}\n\n   {command}",
                f"    {command}",
                f"\t{command}",
                f"> {command}",
                f">{command}",
                f"  > > {command}",
                f"<!-- {command} -->",
                f"<!--\n{command}\n-->",
                f"notes <!--\n{command}\n-->",
                f"<!--\n{command}",
                f"x {command}",
                f"`{command}`",
                f"http://example.com{command}",
            ]
        )
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(balanced_blocks, max_size=6),
    hidden_command(),
    st.lists(balanced_blocks, max_size=6),
    st.sampled_from(["\n", "\r\n"]),
)
def test_commands_in_code_quotes_comments_or_mid_line_never_run(
    before: list[str], hidden: str, after: list[str], newline: str
) -> None:
    body = newline.join([*before, hidden, *after]).replace("\n", newline)
    assert parse_comment(body) is None
