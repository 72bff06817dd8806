"""Format-preserving edits: only the lines that must change do, and invalid results are refused."""

from __future__ import annotations

import difflib

import pytest

from bot.manifest import validate_text
from bot.manifest.edit import EditRefused, disable, enable, install, uninstall, upgrade
from tests.corpus import LATEST, read

REAL = read(LATEST)


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


def test_install_adds_one_line_in_rustok_layout() -> None:
    result = install(
        REAL,
        "forum_plus",
        {
            "crate": "rustok-forum-plus",
            "source": "crates-io",
            "version": "0.1",
            "features": ["search"],
            "depends_on": ["forum"],
        },
    )
    removed, added = changed_lines(REAL, result.text)
    assert removed == []
    assert added == [
        'forum_plus = { crate = "rustok-forum-plus", source = "crates-io", version = "0.1", features = ["search"], '
        'depends_on = ["forum"] }'
    ]
    lines = result.text.splitlines()
    assert lines.index(added[0]) < lines.index("[settings]")  # [modules] stays before [settings]
    assert result.delta.summary == "+forum_plus@0.1"


def test_install_and_enable_touches_default_enabled_only_otherwise() -> None:
    result = install(
        REAL, "seo2", {"crate": "rustok-seo2", "source": "path", "path": "crates/rustok-seo2"}, enable=True
    )
    removed, added = changed_lines(REAL, result.text)
    assert len(removed) == 1 and removed[0].startswith("default_enabled")
    assert len(added) == 2
    assert added[1] == removed[0][:-1] + ', "seo2"]'
    assert result.delta.default_enabled_added == ("seo2",)


def test_uninstall_removes_the_line_and_the_default_enabled_entry() -> None:
    result = uninstall(REAL, "navigation")
    removed, added = changed_lines(REAL, result.text)
    assert removed[0].startswith("navigation = {")
    assert removed[1].startswith("default_enabled") and added[0].startswith("default_enabled")
    assert '"navigation"' not in added[0]
    assert result.delta.summary == "-navigation"


def test_uninstall_refuses_required_and_depended_on_modules() -> None:
    with pytest.raises(EditRefused) as required:
        uninstall(REAL, "outbox")
    reasons = " ".join(required.value.reasons)
    assert "required" in reasons
    assert "`events`" in reasons and "`rbac`" in reasons  # the dependents are named
    with pytest.raises(EditRefused) as depended:
        uninstall(REAL, "taxonomy")
    assert "`product`" in depended.value.reasons[0]


def test_upgrade_changes_only_that_value() -> None:
    text = REAL.replace(
        'seo = { crate = "rustok-seo", source = "path", path = "crates/rustok-seo", depends_on = ["content"] }',
        'seo = { crate = "rustok-seo", source = "crates-io", version = "0.1", depends_on = ["content"] }  # pinned',
    )
    result = upgrade(text, "seo", {"version": "0.2"})
    removed, added = changed_lines(text, result.text)
    assert added == [removed[0].replace('"0.1"', '"0.2"')]
    assert added[0].endswith("# pinned")
    assert result.delta.summary == "~seo@0.2"


def test_upgrade_switching_source_drops_the_old_location() -> None:
    result = upgrade(
        REAL, "seo", {"source": "git", "git": "https://github.com/rustok/seo.git", "rev": "v2.0.0"}
    )
    manifest = result.validation.manifest
    assert manifest is not None
    assert manifest.modules["seo"].path is None
    assert [r.kind for r in result.delta.risks] == ["git-source"]


def test_enable_and_disable() -> None:
    enabled = enable(REAL, "seo")
    assert enabled.delta.default_enabled_added == ("seo",)
    disabled = disable(enabled.text, "seo")
    assert disabled.text == REAL


def test_edits_refuse_invalid_results() -> None:
    with pytest.raises(EditRefused) as closure:
        enable(REAL, "blog")  # blog needs comments, which is not enabled
    assert "comments" in closure.value.reasons[0]
    with pytest.raises(EditRefused):
        enable(REAL, "ai")  # extensions are never toggled per tenant
    with pytest.raises(EditRefused):
        install(REAL, "x", {"crate": "rustok-x", "source": "crates-io", "version": "latest"})
    with pytest.raises(EditRefused):
        install(REAL, "forum", {"crate": "rustok-forum", "source": "path", "path": "crates/rustok-forum"})
    with pytest.raises(EditRefused):
        upgrade(REAL, "seo", {"rev": "$(id)"})


def test_edit_refuses_an_invalid_base() -> None:
    broken = REAL.replace('app = "rustok-server"', 'app = ""')
    with pytest.raises(EditRefused) as refused:
        enable(broken, "seo")
    assert "not valid now" in refused.value.reasons[0]


def test_edit_result_is_valid_and_round_trips() -> None:
    result = install(REAL, "zed", {"crate": "zed-mod", "source": "crates-io", "version": ">=0.2, <0.4"})
    again = validate_text(result.text)
    assert again.valid and again.manifest_hash == result.validation.manifest_hash
    assert uninstall(result.text, "zed").text == REAL
