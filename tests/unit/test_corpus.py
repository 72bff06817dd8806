"""Every version of RusToK's real modules.toml gets the verdict it deserves, for the right reason."""

from __future__ import annotations

import pytest

from bot.manifest import validate_file, validate_text
from tests.corpus import HISTORY, SEED_EXAMPLE, read, version_number

# Version 19 enabled `product` by default after product gained depends_on = ["taxonomy"], while
# taxonomy was neither enabled nor required: a new tenant would get product without taxonomy.
# RusToK fixed it in version 20 by enabling taxonomy. Versions 2 and 3 list the then-required
# `content` in default_enabled: redundant, a warning only.
INVALID = {19: [("default-enabled-closure", "settings.default_enabled[3]", "product", "taxonomy")]}
WARNINGS = {2: [("default-enabled", "settings.default_enabled[0]", "content")]}
WARNINGS[3] = WARNINGS[2]


def test_the_corpus_is_complete() -> None:
    assert len(HISTORY) == 48
    assert [version_number(p) for p in HISTORY] == list(range(1, 49))


@pytest.mark.parametrize("path", HISTORY, ids=lambda p: p.name[:2])
def test_history_version_verdict(path) -> None:  # type: ignore[no-untyped-def]
    number = version_number(path)
    result = validate_file(path)
    errors = [(p.rule, p.path) for p in result.errors]
    warnings = [(p.rule, p.path) for p in result.problems if not p.is_error]
    if number in INVALID:
        assert not result.valid
        assert result.manifest_hash is None
        expected = INVALID[number]
        assert errors == [(rule, path_) for rule, path_, *_ in expected]
        for problem, (_, _, *words) in zip(result.errors, expected, strict=True):
            assert all(word in problem.message for word in words)
            assert problem.line is not None
            assert read(path).splitlines()[problem.line - 1].startswith("default_enabled")
    else:
        assert errors == []
        assert result.valid
        assert result.manifest_hash is not None and len(result.manifest_hash) == 64
    assert warnings == [(rule, path_) for rule, path_, *_ in WARNINGS.get(number, [])]


def test_schema_versions_in_history() -> None:
    schemas = {version_number(p): validate_file(p).manifest.schema_version for p in HISTORY}  # type: ignore[union-attr]
    assert {n for n, s in schemas.items() if s == 1} == {1, 2, 3, 4, 5}
    assert all(s == 2 for n, s in schemas.items() if n >= 6)


def test_every_history_hash_is_distinct_where_meaning_changed() -> None:
    # consecutive versions that differ only in comments/whitespace hash the same, others differ
    hashes = [validate_file(p).manifest_hash for p in HISTORY if version_number(p) not in INVALID]
    assert len(set(hashes)) >= len(hashes) - 6


def test_seed_example_at_repository_root_escapes_the_repository() -> None:
    # The seed's example points `path` sources at ../modules: fine when the manifest lives in a
    # subfolder, an escape from the repository when it sits at the root.
    text = read(SEED_EXAMPLE)
    at_root = validate_text(text)
    assert [(p.rule, p.path) for p in at_root.errors] == [
        ("path", "modules.blog.path"),
        ("path", "modules.pages.path"),
    ]
    in_subfolder = validate_text(text, manifest_dir="server")
    assert in_subfolder.valid, in_subfolder.problems
    manifest = in_subfolder.manifest
    assert manifest is not None
    assert manifest.deployment_profile == "monolith"
    assert manifest.modules["commerce"].source == "git"
    assert manifest.modules["forum"].features == ["comments"]
