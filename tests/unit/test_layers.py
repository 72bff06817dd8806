"""The layer check of `make lint` (import-linter, pyproject.toml) bites: on a copy of the package, an
upward import (the forge's interface importing a use case; a use case importing the SQL store or the
GitHub forge) breaks the named contract, and the unchanged copy keeps every contract."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(tmp_path: Path, module: str | None = None, line: str = "") -> str:
    copy = tmp_path / "copy"
    if not copy.exists():
        shutil.copytree(ROOT / "bot", copy / "bot", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    if module is not None:
        path = copy / (module.replace(".", "/") + ".py")
        path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=copy, capture_output=True, text=True, check=False, timeout=120
    )
    return done.stdout + done.stderr


def test_the_unchanged_package_keeps_every_contract(tmp_path: Path) -> None:
    out = lint(tmp_path)
    assert "BROKEN" not in out and out.count("KEPT") >= 4, out


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("bot.forge.values", "import bot.app.policy", "modbot layers"),
        ("bot.manifest.model", "import bot.pipeline.config", "modbot layers"),
        ("bot.app.chatops.parse", "import bot.app.commands.service", "modbot use cases"),
        ("bot.app.review.report", "import bot.forge.github.limits", "use cases know no forge implementation"),
        ("bot.app.policy", "import bot.store.engine", "use cases reach the store through its protocols"),
    ],
)
def test_an_upward_import_breaks_its_contract(tmp_path: Path, module: str, line: str, contract: str) -> None:
    out = lint(tmp_path, module, line)
    assert f"{contract} BROKEN" in out, out
