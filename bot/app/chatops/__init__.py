"""Chat-ops: commands such as `/deploy prod` in issue and pull-request comments.

`parse` turns a comment body into the one command it gives (pure); the rules are in its docstring.
"""

from bot.app.chatops.parse import (
    COMMANDS,
    Command,
    CommandName,
    CommandProblem,
    CommandSpec,
    ProblemKind,
    code_span,
    help_lines,
    parse_comment,
)

__all__ = [
    "COMMANDS",
    "Command",
    "CommandName",
    "CommandProblem",
    "CommandSpec",
    "ProblemKind",
    "code_span",
    "help_lines",
    "parse_comment",
]
