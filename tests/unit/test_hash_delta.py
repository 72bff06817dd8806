"""manifest_hash ignores formatting and sees meaning; modules_delta says what changed and what is risky."""

from __future__ import annotations

import json

from bot.manifest import ValidationResult, compute_delta, validate_file, validate_text
from bot.manifest.model import Manifest
from bot.render import render_delta_markdown
from tests.corpus import HISTORY, version_number

BASE = """\
schema = 2
app = "rustok-server"

[modules]
outbox = { crate = "rustok-outbox", source = "path", path = "crates/rustok-outbox", required = true }
content = { crate = "rustok-content", source = "crates-io", version = "0.2", features = ["a", "b"] }
blog = { crate = "rustok-blog", source = "path", path = "crates/rustok-blog", depends_on = ["content"] }

[settings]
default_enabled = ["content"]
"""

REFORMATTED = """\
# the same manifest, written differently
app = 'rustok-server'
schema = 2

[settings]
default_enabled = [
  "content",
]

[modules.blog]
depends_on = [ "content" ]
path = "./crates/rustok-blog/"
source = "path"
crate = "rustok-blog"

[modules]
content = {version = "^0.2", crate = "rustok-content", source = "registry", features = ["b", "a"]}
outbox = { crate = "rustok-outbox", source = "path", path = "crates/rustok-outbox", required = true }
"""


def manifest(text: str) -> Manifest:
    result: ValidationResult = validate_text(text)
    assert result.valid, result.problems
    assert result.manifest is not None
    return result.manifest


def test_formatting_does_not_change_the_hash() -> None:
    assert validate_text(BASE).manifest_hash == validate_text(REFORMATTED).manifest_hash


def test_explicit_defaults_do_not_change_the_hash() -> None:
    explicit = BASE.replace(
        'depends_on = ["content"] }', 'depends_on = ["content"], required = false, features = [] }'
    )
    assert validate_text(explicit).manifest_hash == validate_text(BASE).manifest_hash


def test_every_change_of_meaning_changes_the_hash() -> None:
    base_hash = validate_text(BASE).manifest_hash
    variants = [
        BASE.replace('"0.2"', '"0.3"'),
        BASE.replace('["a", "b"]', '["a"]'),
        BASE.replace('app = "rustok-server"', 'app = "rustok-other"'),
        BASE.replace('default_enabled = ["content"]', 'default_enabled = ["content", "blog"]'),
        BASE.replace("required = true", "required = false"),
        BASE.replace("[modules]", '[build]\nprofile = "release"\n\n[modules]'),
        BASE.replace('path = "crates/rustok-blog"', 'path = "crates/rustok-blog2"'),
        BASE.replace('version = "0.2"', 'version = "0.2", catalog = "x"'),
    ]
    hashes = {validate_text(v).manifest_hash for v in variants}
    assert None not in hashes
    assert len(hashes) == len(variants)
    assert base_hash not in hashes


def test_history_hashes_change_exactly_when_meaning_does() -> None:
    # 4 -> 5 and 27 -> 28 only reword comments; every other step changes the manifest's meaning
    hashes = {version_number(p): validate_file(p).manifest_hash for p in HISTORY if version_number(p) != 19}
    same = [n for n in range(2, 49) if n in hashes and n - 1 in hashes and hashes[n] == hashes[n - 1]]
    assert same == [5, 28]


def test_diff_of_a_manifest_with_itself_is_empty() -> None:
    delta = compute_delta(manifest(BASE), manifest(REFORMATTED))
    assert delta.is_empty
    assert delta.summary == "no changes"
    assert not delta.added and not delta.removed and not delta.changed and not delta.risks


def test_delta_fields() -> None:
    head = (
        BASE.replace('"0.2", features = ["a", "b"]', '"0.1", features = ["b", "c"]')
        .replace(
            'blog = { crate = "rustok-blog", source = "path", path = "crates/rustok-blog", depends_on = ["content"] }\n',
            "",
        )
        .replace(
            "[settings]",
            'forum = { crate = "rustok-forum", source = "crates-io", version = "0.1" }\n\n[settings]',
        )
        .replace('["content"]', '["content", "forum"]')
    )
    delta = compute_delta(manifest(BASE), manifest(head))
    assert delta.summary == "+forum@0.1,-blog,~content@0.1"
    assert list(delta.added) == ["forum"]
    assert list(delta.removed) == ["blog"]
    changes = {c.field: c for c in delta.changed["content"]}
    assert changes["version"].direction == "down"
    assert (changes["version"].old, changes["version"].new) == ("0.2", "0.1")
    assert changes["features"].added == ("c",)
    assert changes["features"].removed == ("a",)
    assert delta.default_enabled_added == ("forum",)
    assert [r.kind for r in delta.risks] == ["version-downgrade"]
    data = json.loads(json.dumps(delta.to_json()))
    assert set(data) >= {
        "summary",
        "added",
        "removed",
        "changed",
        "default_enabled",
        "build",
        "risks",
        "base_hash",
        "head_hash",
    }
    assert data["added"][0]["slug"] == "forum"
    assert data["changed"][0]["slug"] == "content"


def test_risks() -> None:
    head = BASE.replace(
        'outbox = { crate = "rustok-outbox", source = "path", path = "crates/rustok-outbox", required = true }\n',
        "",
    ).replace(
        'source = "crates-io", version = "0.2"',
        'source = "git", git = "https://github.com/rustok/content.git", rev = "main"',
    )
    delta = compute_delta(manifest(BASE), manifest(head))
    kinds = {(r.kind, r.slug) for r in delta.risks}
    assert kinds == {("remove-required", "outbox"), ("git-source", "content")}
    source_change = next(c for c in delta.changed["content"] if c.field == "source")
    assert source_change.direction == "crates-io->git"


def test_removing_a_module_others_depend_on_is_a_risk() -> None:
    # The head is invalid (blog depends on a module that is gone), but its shape is fine, so the
    # PR comment can still show the delta with the risk next to the validation error.
    head_text = BASE.replace(
        'content = { crate = "rustok-content", source = "crates-io", version = "0.2", features = ["a", "b"] }\n',
        "",
    ).replace('default_enabled = ["content"]', "default_enabled = []")
    head = validate_text(head_text)
    assert not head.valid
    assert head.manifest is not None
    delta = compute_delta(manifest(BASE), head.manifest)
    assert [(r.kind, r.slug) for r in delta.risks] == [("remove-depended-on", "content")]
    assert "`blog`" in delta.risks[0].message


def test_real_history_step_delta() -> None:
    by_number = {version_number(p): p for p in HISTORY}
    before = validate_file(by_number[37]).manifest
    after = validate_file(by_number[38]).manifest
    assert before is not None and after is not None
    delta = compute_delta(before, after)
    assert delta.summary == "+events,+iggy_connector,-social_graph"
    markdown = render_delta_markdown(delta)
    assert "| ➕ | `events` | installed |" in markdown
    assert "| ➖ | `social_graph` | uninstalled |" in markdown


def test_markdown_escapes_cells() -> None:
    head = BASE.replace('features = ["a", "b"]', 'features = ["a", "b"], note = "x|<script>`"')
    markdown = render_delta_markdown(compute_delta(manifest(BASE), manifest(head)))
    assert "<script>" not in markdown
    assert "x\\|&lt;script&gt;\\`" in markdown
