"""bot/domain: the shared vocabulary is pure (imports nothing of modbot above it) and its rules hold."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.domain.ids import (
    is_app_login,
    is_environment_name,
    is_git_sha,
    is_login,
    is_release_id,
    is_repo_path,
    is_signup_login,
    validate_repo,
)

DOMAIN = Path(__file__).resolve().parents[2] / "bot" / "domain"


@pytest.mark.parametrize("module", sorted(DOMAIN.glob("*.py")), ids=lambda p: p.name)
def test_the_domain_imports_nothing_of_modbot_but_itself(module: Path) -> None:
    imported: list[str] = []
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.append(node.module)
    upward = [name for name in imported if name.startswith("bot") and not name.startswith("bot.domain")]
    assert upward == [], f"{module.name} imports {upward}"


def test_the_shared_rules() -> None:
    assert is_release_id("rel_2026_08_16_003") and not is_release_id("rel_2026_02_30_001")
    assert not is_release_id("rel_2026_08_16_000") and not is_release_id("release/rel_2026_08_16_003")
    assert (
        is_environment_name("prod") and not is_environment_name("Prod") and not is_environment_name("a" * 32)
    )
    assert (
        is_git_sha("a" * 40)
        and is_git_sha("b" * 64)
        and not is_git_sha("abc1234")
        and not is_git_sha("A" * 40)
    )
    assert is_login("modbot[bot]") and is_login("alice") and not is_login("-alice") and not is_login("a" * 40)
    assert is_signup_login("alice-b") and not is_signup_login("octo-") and not is_signup_login("a--b")
    assert is_app_login("modbot[bot]") and not is_app_login("modbot")
    assert is_repo_path("modules.toml") and is_repo_path(".github/modbot.toml")
    for bad in ("", "/etc/passwd", "a/../b", "a//b", "a\\b", "./x"):
        assert not is_repo_path(bad), bad
    assert validate_repo("rustok/rustok") == "rustok/rustok"
    with pytest.raises(ValueError, match="owner/name"):
        validate_repo("rustok/..")
