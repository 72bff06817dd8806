"""apply_module_set: the manifest's module set becomes exactly the requested one, format-preserving, with
the same refusals as the single edits."""

from __future__ import annotations

import difflib
import tomllib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.manifest import validate_text
from bot.manifest.edit import EditRefused, apply_module_set, uninstall
from bot.manifest.hashing import canonical_module
from bot.manifest.model import ModuleSpec
from tests.corpus import LATEST, MINI_MANIFEST, read

REAL = read(LATEST)
MINI = read(MINI_MANIFEST)


def modules_of(text: str) -> dict[str, dict[str, Any]]:
    return dict(tomllib.loads(text)["modules"])


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


def test_the_same_set_changes_nothing() -> None:
    result = apply_module_set(REAL, modules_of(REAL))
    assert result.text == REAL and result.delta.is_empty


def test_the_same_meaning_in_another_spelling_changes_nothing() -> None:
    wanted = modules_of(MINI)
    wanted["pages"] = {**wanted["pages"], "features": [], "required": False}  # the defaults, spelled out
    result = apply_module_set(MINI, wanted)
    assert result.text == MINI


def test_install_uninstall_and_change_at_once_touch_only_their_lines() -> None:
    wanted = modules_of(MINI)
    del wanted["blog"]
    wanted["pages"] = {"crate": "rustok-pages", "source": "path", "path": "crates/rustok-pages"}
    wanted["zeta"] = {"crate": "rustok-zeta", "source": "crates-io", "version": "0.2"}
    wanted["alpha"] = {"crate": "rustok-alpha", "source": "crates-io", "version": "1"}
    result = apply_module_set(MINI, wanted)
    removed, added = changed_lines(MINI, result.text)
    assert removed == [
        'pages = { crate = "rustok-pages", source = "path", path = "crates/rustok-pages", depends_on = ["content"] }',
        'blog = { crate = "rustok-blog", source = "path", path = "crates/rustok-blog", depends_on = ["content"] }',
        'default_enabled = ["content", "pages", "blog"]',
    ]
    assert added == [
        'pages = { crate = "rustok-pages", source = "path", path = "crates/rustok-pages" }',
        'alpha = { crate = "rustok-alpha", source = "crates-io", version = "1" }',  # new ones sorted by slug
        'zeta = { crate = "rustok-zeta", source = "crates-io", version = "0.2" }',
        'default_enabled = ["content", "pages"]',
    ]
    assert result.delta.summary == "+alpha@1,+zeta@0.2,-blog,~pages"
    assert sorted(modules_of(result.text)) == sorted(wanted)


def test_a_changed_inline_module_keeps_its_trailing_comment() -> None:
    text = MINI.replace(
        'content = { crate = "rustok-content", source = "path", path = "crates/rustok-content" }',
        'content = { crate = "rustok-content", source = "path", path = "crates/rustok-content" }  # core content',
    )
    wanted = modules_of(text)
    wanted["content"] = {**wanted["content"], "features": ["search"]}
    result = apply_module_set(text, wanted)
    _, added = changed_lines(text, result.text)
    assert added == [
        'content = { crate = "rustok-content", source = "path", path = "crates/rustok-content", '
        'features = ["search"] }  # core content'
    ]


def test_a_module_in_a_standard_table_is_edited_key_by_key() -> None:
    text = (
        MINI.replace(
            'blog = { crate = "rustok-blog", source = "path", path = "crates/rustok-blog", depends_on = ["content"] }\n',
            "",
        )
        + '\n[modules.blog]\ncrate = "rustok-blog"  # the blog\nsource = "path"\npath = "crates/rustok-blog"\n'
        'depends_on = ["content"]\n'
    )
    wanted = modules_of(text)
    wanted["blog"] = {"crate": "rustok-blog", "source": "path", "path": "crates/rustok-blog2"}
    result = apply_module_set(text, wanted)
    removed, added = changed_lines(text, result.text)
    assert removed == ['path = "crates/rustok-blog"', 'depends_on = ["content"]']
    assert added == ['path = "crates/rustok-blog2"']
    assert 'crate = "rustok-blog"  # the blog' in result.text


def test_required_modules_and_kept_dependents_refuse_with_every_reason() -> None:
    wanted = modules_of(MINI)
    del wanted["outbox"], wanted["content"]
    with pytest.raises(EditRefused) as refused:
        apply_module_set(MINI, wanted)
    assert refused.value.reasons == [
        "`outbox` is a required module and cannot be uninstalled",
        "`blog`, `pages` depend on `content`; keep `content` or remove them too",
    ]


def test_uninstall_refuses_with_the_same_reasons_and_its_own_advice() -> None:
    with pytest.raises(EditRefused) as refused:
        uninstall(MINI, "content")
    assert refused.value.reasons == ["`pages`, `blog` depend on `content`; uninstall them first"]
    with pytest.raises(EditRefused) as refused:
        uninstall(MINI, "outbox")
    assert refused.value.reasons == ["`outbox` is a required module and cannot be uninstalled"]


def test_removing_a_module_with_its_dependents_is_allowed() -> None:
    wanted = modules_of(MINI)
    for slug in ("content", "pages", "blog"):
        del wanted[slug]
    result = apply_module_set(MINI, wanted)
    assert sorted(modules_of(result.text)) == ["outbox"]
    assert tomllib.loads(result.text)["settings"]["default_enabled"] == []


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({"crate": 1, "source": "path", "path": "x"}, "`modules.bad.crate`: Input should be a valid string"),
        ({"source": "path", "path": "x"}, "`modules.bad.crate`: Field required"),
        ({"crate": "x", "source": "svn"}, "`modules.bad.source`"),
        ({"crate": "x", "source": "path", "path": None}, "TOML has no null"),
        ({"crate": "x", "source": "path", "path": "crates/x", "required": "yes"}, "`modules.bad.required`"),
        ("not a table", "must be a table"),
    ],
)
def test_a_spec_the_model_rejects_is_refused(spec: Any, needle: str) -> None:
    with pytest.raises(EditRefused) as refused:
        apply_module_set(MINI, {**modules_of(MINI), "bad": spec})
    assert any(needle in reason for reason in refused.value.reasons), refused.value.reasons


def test_a_result_the_validator_rejects_is_refused() -> None:
    wanted = {**modules_of(MINI), "Bad-Slug": {"crate": "x", "source": "path", "path": "crates/x"}}
    with pytest.raises(EditRefused) as refused:
        apply_module_set(MINI, wanted)
    assert "would make the manifest invalid" in refused.value.reasons[0]
    wanted = {**modules_of(MINI), "forum": {"crate": "rustok-forum", "source": "crates-io"}}  # no version
    with pytest.raises(EditRefused) as refused:
        apply_module_set(MINI, wanted)
    assert "`forum` has source = 'crates-io' and needs `version`" in refused.value.reasons[0]


def test_an_invalid_manifest_is_not_edited() -> None:
    with pytest.raises(EditRefused) as refused:
        apply_module_set(MINI.replace("schema = 2", 'schema = "two"'), modules_of(MINI))
    assert "not valid now" in refused.value.reasons[0]


# --- property: any dependency-closed subset of RusToK's modules -------------------------------------------
REAL_MODULES = modules_of(REAL)
REAL_SPECS = {slug: ModuleSpec.model_validate(spec) for slug, spec in REAL_MODULES.items()}


def closed(chosen: set[str]) -> set[str]:
    """``chosen`` plus the required modules plus everything they depend on."""
    result = set(chosen) | {slug for slug, spec in REAL_SPECS.items() if spec.required}
    while True:
        more = {dep for slug in result for dep in REAL_SPECS[slug].depends_on} - result
        if not more:
            return result
        result |= more


@settings(max_examples=25, deadline=None)
@given(
    keep=st.sets(st.sampled_from(sorted(REAL_MODULES))),
    new=st.lists(st.from_regex(r"[a-z]{3,8}", fullmatch=True), max_size=3, unique=True),
)
def test_any_closed_subset_becomes_exactly_that_set(keep: set[str], new: list[str]) -> None:
    wanted: dict[str, dict[str, Any]] = {slug: REAL_MODULES[slug] for slug in sorted(closed(keep))}
    for slug in new:
        if slug not in REAL_MODULES:
            wanted[f"new_{slug}"] = {"crate": f"rustok-{slug}", "source": "crates-io", "version": "0.1"}
    result = apply_module_set(REAL, wanted)
    after = validate_text(result.text)
    assert after.valid and after.manifest is not None
    assert {s: canonical_module(m) for s, m in after.manifest.modules.items()} == {
        s: canonical_module(ModuleSpec.model_validate(spec)) for s, spec in wanted.items()
    }
    # every kept module's line is untouched
    kept_lines = [line for line in REAL.splitlines() if line.split(" = ", 1)[0] in wanted]
    assert all(line in result.text.splitlines() for line in kept_lines)
    assert set(after.manifest.settings.default_enabled) <= set(wanted)
