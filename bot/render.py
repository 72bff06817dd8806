"""Every text modbot writes for people lives in templates/; this module renders them.

Values that come from a manifest (or a PR) are escaped for Markdown tables by the `cell`
filter, so a crafted value cannot break out of a table cell or inject HTML.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from bot.domain.text import markdown_cell
from bot.manifest.delta import ModulesDelta

_PACKAGE_DIR = Path(__file__).resolve().parent


def templates_dir() -> Path:
    """templates/ of the checkout, or the copy a wheel ships as bot/_templates."""
    for candidate in (_PACKAGE_DIR / "_templates", _PACKAGE_DIR.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("modbot's templates/ folder is missing from the installation")


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        undefined=jinja2.StrictUndefined,
        # Markdown and YAML, not HTML: escaping is explicit per context (the `cell` filter)
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cell"] = markdown_cell
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def render_delta_markdown(delta: ModulesDelta) -> str:
    return render("comments/modules_delta.md.j2", delta=delta).rstrip("\n")
