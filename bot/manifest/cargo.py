"""Pure, dependency-free validators for the cargo grammar that `modules.toml` values must follow.

Every value checked here ends up in a cargo command line, a generated `Cargo.toml` or a GitHub
workflow step, so the rules are those of cargo itself (or stricter where cargo's rule would let a
dangerous value through).  Every `check_*` function returns `None` when the value is fine, or a
message a person can act on: what is wrong and what a valid value looks like.

Sources of the rules (read when writing this module):

* version requirements: the `semver` crate's `VersionReq::from_str` (`src/parse.rs`), which is what
  Cargo calls for a dependency's `version`;
* package names: cargo's `restricted_names::validate_package_name` plus the stricter crates.io rule
  (`MAX_NAME_LENGTH = 64`, ASCII, first character a letter) and its `reserved_crate_names` table;
* feature names: cargo's `restricted_names::validate_feature_name` and `FeatureValue::new`;
* profile names: cargo's `restricted_names::validate_profile_name` (RFC 2678);
* git revs: `git check-ref-format`.
"""

from __future__ import annotations

import functools
import posixpath
import re
from dataclasses import dataclass
from typing import NamedTuple, TypeAlias

__all__ = [
    "SHELL_UNSAFE",
    "Comparator",
    "Version",
    "VersionReq",
    "check_crate_name",
    "check_feature_name",
    "check_git_rev",
    "check_git_url",
    "check_profile_name",
    "check_relative_path",
    "check_target_triple",
    "check_version_req",
    "normalize_relative_path",
    "parse_version",
    "parse_version_req",
    "unsafe_word_problem",
]

# ---------------------------------------------------------------------------------------------------
# Shared helpers for messages
# ---------------------------------------------------------------------------------------------------

SHELL_UNSAFE: frozenset[str] = frozenset("$`;&|<>()'\"\\*?[]{}!#~\n")
"""Characters that mean something to a POSIX shell (or to GitHub's `${{ }}` expressions)."""

_MAX_SHOWN = 80
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}


def _quote(value: str) -> str:
    """`value` in double quotes, with anything invisible escaped, cut to a readable length."""
    shown = value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "…"
    out = ['"']
    for ch in shown:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        else:
            code = ord(ch)
            out.append(
                f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
            )
    out.append('"')
    return "".join(out)


def _char_name(ch: str) -> str:
    """A character as a person can read it, with what kind of character it is."""
    shown = _quote(ch)
    if ch == " ":
        return f"{shown} (a space)"
    if ch.isspace():
        return f"{shown} (whitespace)"
    if not ch.isprintable():
        return f"{shown} (a control or invisible character)"
    if ch in SHELL_UNSAFE:
        return f"{shown} (a shell metacharacter)"
    if not ch.isascii():
        return f"{shown} (a non-ASCII character)"
    return shown


def _not_str(value: object, what: str) -> str:
    return f"{what} must be a string, not {type(value).__name__}"


# ---------------------------------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------------------------------

_U64_MAX = 2**64 - 1
Identifier: TypeAlias = str | int


def _identifier_key(ident: Identifier) -> tuple[int, int, str]:
    """Semver precedence of one pre-release identifier: numbers numerically, below any text."""
    if isinstance(ident, int):
        return (0, ident, "")
    if ident.isascii() and ident.isdigit():
        return (0, int(ident), "")
    return (1, 0, ident)


class Version(NamedTuple):
    """A semver version `major.minor.patch[-pre]`; build metadata is not kept (it has no precedence).

    Ordering follows semver 2.0.0 §11 as the `semver` crate implements it: a pre-release sorts below
    its release, numeric identifiers compare numerically and below alphanumeric ones, which compare
    in ASCII order, and a longer identifier list wins when all shared identifiers are equal.
    """

    major: int
    minor: int
    patch: int
    pre: tuple[Identifier, ...] = ()

    def sort_key(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        """A plain tuple whose ordering is semver precedence."""
        if not self.pre:
            return (self.major, self.minor, self.patch, 1, ())
        return (self.major, self.minor, self.patch, 0, tuple(_identifier_key(i) for i in self.pre))

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            text += "-" + ".".join(str(i) for i in self.pre)
        return text

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.sort_key() < other.sort_key()

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.sort_key() <= other.sort_key()

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.sort_key() > other.sort_key()

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.sort_key() >= other.sort_key()


_OPS = ("=", ">", ">=", "<", "<=", "~", "^", "*")


@dataclass(frozen=True, slots=True)
class Comparator:
    """One comparator of a requirement, as semver's `Comparator`.

    `op` is `"*"` for the wildcard forms `1.*` / `1.2.*` (semver's `Op::Wildcard`); a bare version
    gets `"^"` (Cargo's default operator). `minor`/`patch` are `None` when the version is partial or a
    wildcard stands in their place; `pre` holds the pre-release identifiers (numbers as `int`).
    """

    op: str
    major: int
    minor: int | None = None
    patch: int | None = None
    pre: tuple[Identifier, ...] = ()

    def canonical(self) -> str:
        """The text semver's `Display` gives: explicit operator, no spaces, `.*` for wildcards."""
        if self.op == "*":
            if self.minor is None:
                return f"{self.major}.*"
            return f"{self.major}.{self.minor}.*"
        text = f"{self.op}{self.major}"
        if self.minor is not None:
            text += f".{self.minor}"
            if self.patch is not None:
                text += f".{self.patch}"
                if self.pre:
                    text += "-" + ".".join(str(i) for i in self.pre)
        return text

    def lower_bound(self) -> Version:
        """The smallest version this comparator admits (see `VersionReq.lower_bound`)."""
        if self.op in ("<", "<="):
            return Version(0, 0, 0)
        if self.op == ">":
            if self.patch is not None and self.minor is not None:
                if self.pre:  # `>1.2.3-alpha` admits 1.2.3-alpha.0 and nothing in between
                    return Version(self.major, self.minor, self.patch, (*self.pre, 0))
                return Version(self.major, self.minor, self.patch + 1)
            if self.minor is not None:
                return Version(self.major, self.minor + 1, 0)
            return Version(self.major + 1, 0, 0)
        return Version(self.major, self.minor or 0, self.patch or 0, self.pre)

    def __str__(self) -> str:
        return self.canonical()


@dataclass(frozen=True, slots=True)
class VersionReq:
    """A Cargo version requirement: comparators that must all match; none at all means `*`."""

    comparators: tuple[Comparator, ...] = ()

    def canonical(self) -> str:
        """A normal form for hashing and comparing: semver's `Display` text.

        Bare versions get the explicit caret (`0.1` → `^0.1`), spaces around operators are dropped,
        comparators are joined by `", "`, `x`/`X` wildcards become `*` (`1.x` → `1.*`), a wildcard
        under an explicit operator is dropped as semver does (`^1.*` → `^1`, `>=1.2.x` → `>=1.2`), build
        metadata is dropped, and a lone `*`/`x`/`X` is `*`. `parse_version_req(r.canonical())` gives back
        an equal requirement.
        """
        if not self.comparators:
            return "*"
        return ", ".join(c.canonical() for c in self.comparators)

    def lower_bound(self) -> Version:
        """The floor of the requirement: the smallest version all its comparators admit.

        Used to tell an upgrade from a downgrade when a requirement changes. Rules: `=`, `>=`, `^`, `~`
        and wildcards give their version with missing parts as 0 (`^0.3.1` → 0.3.1, `0.1` → 0.1.0,
        `~1` → 1.0.0, `1.*` → 1.0.0); `>` gives the next version Cargo could pick, i.e. the exclusive
        bound bumped at its last given part (`>1.2.3` → 1.2.4, `>1.2` → 1.3.0, `>1` → 2.0.0,
        `>1.2.3-alpha` → 1.2.3-alpha.0); `<`/`<=` bound nothing from below, so `*` and `<2` give 0.0.0. A
        pre-release in the requirement is kept in the floor (`=1.2.3-rc.1` → 1.2.3-rc.1) so that moving
        between pre-releases has a direction. Several comparators: the highest of their floors
        (`>=0.2, <0.4` → 0.2.0).
        """
        bounds = [c.lower_bound() for c in self.comparators if c.op not in ("<", "<=")]
        return max(bounds) if bounds else Version(0, 0, 0)

    def __str__(self) -> str:
        return self.canonical()


class _SemverError(Exception):
    """A parse failure, worded as the `semver` crate words it."""

    def __init__(self, reason: str, kind: str, pos: str = "", ch: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.pos = pos
        self.ch = ch


_MAJOR = "major version number"
_MINOR = "minor version number"
_PATCH = "patch version number"
_PRE = "pre-release identifier"
_BUILD = "build metadata"
_MAX_COMPARATORS = 32
_DIGITS = re.compile(r"[0-9]+")
_IDENT_SEGMENT = re.compile(r"[0-9A-Za-z-]*")
_WILDCARDS = "*xX"


def _qc(ch: str) -> str:
    """A char as semver's `QuotedChar` shows it (Rust's `{:?}` of a char)."""
    if ch == "'":
        return "'\\''"
    return "'" + _quote(ch)[1:-1].replace('\\"', '"') + "'"


def _unexpected(text: str, i: int, pos: str) -> _SemverError:
    if i < len(text):
        return _SemverError(
            f"unexpected character {_qc(text[i])} while parsing {pos}", "unexpected", pos, text[i]
        )
    return _SemverError(f"unexpected end of input while parsing {pos}", "end", pos)


def _numeric(text: str, i: int, pos: str) -> tuple[int, int]:
    """semver's `numeric_identifier`: ASCII digits, no leading zero, at most u64::MAX."""
    m = _DIGITS.match(text, i)
    if m is None:
        raise _unexpected(text, i, pos)
    digits = m.group()
    if len(digits) > 1 and digits[0] == "0":
        raise _SemverError(f"invalid leading zero in {pos}", "leading-zero", pos)
    if len(digits) > 20 or int(digits) > _U64_MAX:
        raise _SemverError(f"value of {pos} exceeds u64::MAX", "overflow", pos)
    return int(digits), m.end()


def _identifier(text: str, i: int, pos: str) -> tuple[tuple[Identifier, ...], int]:
    """semver's `identifier`: dot-separated `[0-9A-Za-z-]+` segments, none empty.

    In a pre-release a numeric segment may not have a leading zero; build metadata may.
    """
    parts: list[Identifier] = []
    while True:
        m = _IDENT_SEGMENT.match(text, i)
        segment = m.group() if m is not None else ""
        if not segment:
            raise _SemverError(f"empty identifier segment in {pos}", "empty-segment", pos)
        if segment.isdigit():
            if pos == _PRE and len(segment) > 1 and segment[0] == "0":
                raise _SemverError(f"invalid leading zero in {pos}", "leading-zero", pos)
            parts.append(int(segment) if pos == _PRE else segment)
        else:
            parts.append(segment)
        i += len(segment)
        if i < len(text) and text[i] == ".":
            i += 1
            continue
        return tuple(parts), i


def _skip_spaces(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] == " ":
        i += 1
    return i


def _op(text: str, i: int) -> tuple[str | None, int]:
    ch = text[i] if i < len(text) else ""
    if ch in (">", "<"):
        if text.startswith("=", i + 1):
            return ch + "=", i + 2
        return ch, i + 1
    if ch in ("=", "~", "^"):
        return ch, i + 1
    return None, i


def _comparator(text: str, i: int) -> tuple[Comparator, str, int]:
    """semver's `comparator`: returns the comparator, the last position parsed, and where it ended."""
    n = len(text)
    op, j = _op(text, i)
    default_op = op is None
    j = _skip_spaces(text, j)
    pos = _MAJOR
    major, j = _numeric(text, j, pos)
    minor: int | None = None
    patch: int | None = None
    wildcard = False
    if j < n and text[j] == ".":
        pos = _MINOR
        j += 1
        if j < n and text[j] in _WILDCARDS:
            wildcard = True
            if default_op:
                op = "*"
            j += 1
        else:
            minor, j = _numeric(text, j, pos)
    if j < n and text[j] == ".":
        pos = _PATCH
        j += 1
        if j < n and text[j] in _WILDCARDS:
            if default_op:
                op = "*"
            j += 1
        elif wildcard:
            raise _SemverError("unexpected character after wildcard in version req", "after-wildcard")
        else:
            patch, j = _numeric(text, j, pos)
    pre: tuple[Identifier, ...] = ()
    if patch is not None and j < n and text[j] == "-":
        pos = _PRE
        pre, j = _identifier(text, j + 1, pos)
    if patch is not None and j < n and text[j] == "+":
        pos = _BUILD
        _, j = _identifier(text, j + 1, pos)
    j = _skip_spaces(text, j)
    return Comparator(op or "^", major, minor, patch, pre), pos, j


def _wildcard_rest(text: str, i: int) -> str | None:
    """If a wildcard starts at `i`, what follows it (spaces skipped); else None."""
    if i < len(text) and text[i] in _WILDCARDS:
        return text[_skip_spaces(text, i + 1) :]
    return None


# The common case, one comparator without spaces, wildcards or pre-release; 19 digits stay below
# u64::MAX. Anything else takes the full parser.
_SIMPLE_REQ = re.compile(
    r"(>=|<=|[=><~^])?(0|[1-9][0-9]{0,18})(?:\.(0|[1-9][0-9]{0,18})(?:\.(0|[1-9][0-9]{0,18}))?)?"
)


def _parse_req(text: str) -> VersionReq:
    """A port of semver 1.x `VersionReq::from_str`, error for error."""
    m = _SIMPLE_REQ.fullmatch(text)
    if m is not None:
        op, major, minor, patch = m.groups()
        return VersionReq(
            (
                Comparator(
                    op or "^",
                    int(major),
                    None if minor is None else int(minor),
                    None if patch is None else int(patch),
                ),
            )
        )
    return _parse_req_full(text)


def _parse_req_full(text: str) -> VersionReq:
    n = len(text)
    i = _skip_spaces(text, 0)
    rest = _wildcard_rest(text, i)
    if rest is not None:
        if not rest:
            return VersionReq(())
        if rest.startswith(","):
            raise _SemverError(
                f"wildcard req ({text[i]}) must be the only comparator in the version req",
                "wildcard-not-alone",
                ch=text[i],
            )
        raise _SemverError("unexpected character after wildcard in version req", "after-wildcard")
    comparators: list[Comparator] = []
    while True:
        try:
            comparator, pos, j = _comparator(text, i)
        except _SemverError:
            rest = _wildcard_rest(text, i)
            if rest is not None and (not rest or rest.startswith(",")):
                raise _SemverError(
                    f"wildcard req ({text[i]}) must be the only comparator in the version req",
                    "wildcard-not-alone",
                    ch=text[i],
                ) from None
            raise
        comparators.append(comparator)
        if j >= n:
            return VersionReq(tuple(comparators))
        if text[j] != ",":
            raise _SemverError(
                f"expected comma after {pos}, found {_qc(text[j])}", "expected-comma", pos, text[j]
            )
        if len(comparators) == _MAX_COMPARATORS:
            raise _SemverError("excessive number of version comparators", "excessive")
        i = _skip_spaces(text, j + 1)


_VERSION_EXAMPLES = '"0.1", "^0.3.1", ">=0.2, <0.4", "~1", "=1.2.3" or "*"'
_NOT_VERSIONS = frozenset(
    {"latest", "newest", "any", "stable", "last", "head", "master", "main", "nightly", "current"}
)
_PEP440_SUFFIX = re.compile(
    r"\s*[=<>~^!]*\s*[0-9]+(?:\.[0-9]+)*[._]?(?:a|b|c|rc|alpha|beta|pre|dev|post)[0-9]*", re.I
)
_FOUR_NUMBERS = re.compile(r"[^0-9]*[0-9]+\.[0-9]+\.[0-9]+\.[0-9]")
_HYPHEN_RANGE = re.compile(r"[0-9*xX]\s+-\s*[0-9]")


def _req_hint(text: str, err: _SemverError) -> str:
    """The reason a requirement is wrong, with a hint for the usual mistakes."""
    stripped = text.strip()
    if not stripped:
        return "it is empty"
    if stripped.lower() in _NOT_VERSIONS:
        return 'it names no version; write "*" for any version, or pin one'
    if stripped[0] in "vV" and _ok_req(stripped[1:]):
        return f'drop the leading "{stripped[0]}": write {_quote(stripped[1:].strip())}'
    if stripped.startswith("~="):
        suggestion = "~" + stripped[2:].strip()
        if _ok_req(suggestion):
            return f'"~=" is Python (PEP 440) syntax; Cargo writes {_quote(suggestion)}'
        return '"~=" is Python (PEP 440) syntax; Cargo writes "~1.2"'
    if stripped.startswith("=="):
        suggestion = "=" + stripped.lstrip("=").strip()
        if _ok_req(suggestion):
            return f'"==" is not Cargo syntax; an exact version is written {_quote(suggestion)}'
        return '"==" is not Cargo syntax; an exact version is written "=1.2.3"'
    if "!=" in stripped:
        return 'Cargo has no "!=" operator; bound the range with "<" and ">=" instead, e.g. ">=0.2, <0.4"'
    if "||" in stripped:
        return 'Cargo has no "||" alternatives; all comma-separated comparators must match'
    if _FOUR_NUMBERS.match(stripped):
        return 'a version has at most three numbers (major.minor.patch), e.g. "1.2.3"'
    if _PEP440_SUFFIX.fullmatch(stripped):
        return (
            "Python-style pre/post-release markers are not semver; a pre-release takes a hyphen and a "
            'full version, e.g. "=1.0.0-alpha.1"'
        )
    if _HYPHEN_RANGE.search(stripped):
        return 'hyphen ranges are not supported; write the bounds as comparators, e.g. ">=1.2, <=2.0"'
    if err.kind == "expected-comma":
        if err.ch == "-" and err.pos in (_MAJOR, _MINOR):
            return 'a pre-release needs a full major.minor.patch version, e.g. "=1.2.0-alpha.1"'
        if err.ch in "<>=~^0123456789":
            return f'{err.reason}; separate comparators with a comma, e.g. ">=0.2, <0.4"'
    if err.ch.isspace() and err.ch != " ":
        return f"{err.reason}; only plain spaces may surround operators and commas"
    if err.kind == "wildcard-not-alone":
        return (
            f"{err.reason}; drop the other comparators or the wildcard "
            '(partial wildcards like "1.*" may be combined)'
        )
    if err.kind == "excessive":
        return f"{err.reason} (Cargo allows at most {_MAX_COMPARATORS})"
    return err.reason


def _ok_req(text: str) -> bool:
    try:
        _parse_req(text)
    except _SemverError:
        return False
    return True


@functools.lru_cache(maxsize=8192)
def parse_version_req(text: str) -> VersionReq:
    """Parse a Cargo version requirement exactly as semver's `VersionReq::parse` (used by Cargo) does.

    Grammar: comma-separated comparators (at most 32); each is an optional operator (`=`, `>`, `>=`,
    `<`, `<=`, `~`, `^`; none means `^`), optional spaces, then `major[.minor[.patch[-pre][+build]]]`,
    where `minor`/`patch` may be a wildcard `*`, `x` or `X` (a number may not follow a wildcard) and a
    pre-release or build needs all three numbers. Numbers are ASCII digits without leading zeros, at
    most u64::MAX. Only plain spaces are allowed, and only around operators and commas. A lone `*`
    (or `x`/`X`) means any version and must be the only comparator. So `latest`, `v1.2`, `==1.2`,
    `~=1.2`, `1.0.0a1`, `1.2.3.4`, `01.2`, `>=1 <2` and the empty string are all rejected.

    Raises `ValueError` with a message saying what is wrong and giving valid examples.
    """
    if not isinstance(text, str):
        raise ValueError(_not_str(text, "a version requirement"))
    try:
        return _parse_req(text)
    except _SemverError as err:
        hint = _req_hint(text, err)
        raise ValueError(
            f"{_quote(text)} is not a Cargo version requirement: {hint}; use e.g. {_VERSION_EXAMPLES}"
        ) from None


@functools.lru_cache(maxsize=8192)
def check_version_req(text: str) -> str | None:
    """`None` if Cargo accepts `text` as a version requirement, else why not (see `parse_version_req`)."""
    try:
        parse_version_req(text)
    except ValueError as err:
        return str(err)
    return None


def parse_version(text: str) -> Version:
    """Parse a full semver version (`1.2.3`, `1.2.3-rc.1`, `1.2.3+build`) as semver's `Version::parse`.

    No operator, no partial version, no spaces; build metadata is accepted and dropped.
    """
    if not isinstance(text, str):
        raise ValueError(_not_str(text, "a version"))
    try:
        if not text:
            raise _SemverError("empty string, expected a semver version", "empty")
        major, i = _numeric(text, 0, _MAJOR)
        minor, i = _numeric(text, _dot(text, i, _MAJOR), _MINOR)
        patch, i = _numeric(text, _dot(text, i, _MINOR), _PATCH)
        pre: tuple[Identifier, ...] = ()
        pos = _PATCH
        if text.startswith("-", i):
            pos = _PRE
            pre, i = _identifier(text, i + 1, pos)
        if text.startswith("+", i):
            pos = _BUILD
            _, i = _identifier(text, i + 1, pos)
        if i < len(text):
            raise _SemverError(f"unexpected character {_qc(text[i])} after {pos}", "after", pos, text[i])
    except _SemverError as err:
        raise ValueError(
            f'{_quote(text)} is not a semver version: {err.reason}; use e.g. "1.2.3" or "1.2.3-rc.1"'
        ) from None
    return Version(major, minor, patch, pre)


def _dot(text: str, i: int, pos: str) -> int:
    if text.startswith(".", i):
        return i + 1
    if i < len(text):
        raise _SemverError(f"unexpected character {_qc(text[i])} after {pos}", "after", pos, text[i])
    raise _SemverError(f"unexpected end of input while parsing {pos}", "end", pos)


# ---------------------------------------------------------------------------------------------------
# Crate (package) names
# ---------------------------------------------------------------------------------------------------

_CRATE_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_MAX_CRATE_NAME = 64
_CRATE_NAME_RULE = (
    'a crate name is 1-64 ASCII letters, digits, "-" or "_", starting with a letter, '
    'e.g. "rustok-blog" or "serde_json"'
)
# Names of the toolchain's own crates: `cargo new` refuses `test` ("conflicts with Rust's built-in test
# library") and warns for the others ("part of Rust's standard library"); a dependency so named would
# clash with the sysroot crate of the same name in `use` paths.
_SYSROOT_CRATES = frozenset({"std", "core", "alloc", "proc_macro", "test"})
# crates.io's `reserved_crate_names` table (compared as crates.io does: lowercase, `-` = `_`): nothing
# can be published under these names, though a path or git crate may use them.
_CRATES_IO_RESERVED = frozenset(
    {
        "alloc", "arena", "ast", "builtins", "collections", "compiler_builtins", "compiler_rt",
        "compiletest", "core", "coretest", "debug", "driver", "flate", "fmt_macros", "grammar",
        "graphviz", "macro", "macros", "proc_macro", "rbml", "rust_installer", "rustbook", "rustc",
        "rustc_back", "rustc_borrowck", "rustc_driver", "rustc_llvm", "rustc_resolve", "rustc_trans",
        "rustc_typeck", "rustdoc", "rustllvm", "rustuv", "serialize", "std", "syntax", "test", "unicode",
    }
)  # fmt: skip


def check_crate_name(name: str, *, crates_io: bool = False) -> str | None:
    """`None` if `name` is a package name cargo and crates.io accept for a dependency, else why not.

    Cargo's `validate_package_name` allows Unicode identifiers; crates.io is stricter and is what we
    follow: 1-64 characters, ASCII letters, digits, `-` and `_`, the first one a letter (so cargo's
    unstable namespaced `a::b` names are rejected too). The toolchain's own crate names `std`, `core`,
    `alloc`, `proc_macro`/`proc-macro` and `test` are always rejected (`cargo new` refuses or warns
    about them). With `crates_io=True` (a registry dependency) the rest of crates.io's reserved table
    (`rustc`, `macros`, `unicode`, ...) is rejected as well, since no such crate can be published; a
    path or git crate may legally use those names.

    Rust keywords are *not* rejected: cargo checks them only in `cargo new`/`cargo init`, not in
    `validate_package_name`, crates.io does not reserve them, and such a crate is usable through a raw
    identifier (`r#async`). Windows device names (`con`, `nul`, ...) are not rejected either: cargo
    only warns about them outside Windows.
    """
    if not isinstance(name, str):
        return _not_str(name, "a crate name")
    if len(name) <= _MAX_CRATE_NAME and _CRATE_NAME_RE.fullmatch(name):
        canon = name.lower().replace("-", "_")
        if canon in _SYSROOT_CRATES:
            return (
                f"crate name {_quote(name)} is the name of a crate of Rust's standard library; "
                'choose another name, e.g. "rustok-' + canon.replace("_", "-") + '"'
            )
        if crates_io and canon in _CRATES_IO_RESERVED:
            return f"crate name {_quote(name)} is reserved by crates.io, no such crate can be published there"
        return None
    if not name:
        return f"crate name is empty; {_CRATE_NAME_RULE}"
    if len(name) > _MAX_CRATE_NAME:
        return f"crate name {_quote(name)} is {len(name)} characters long, crates.io allows at most 64"
    first = name[0]
    if first.isascii() and first.isdigit():
        return f"crate name {_quote(name)} starts with a digit; {_CRATE_NAME_RULE}"
    if first in "-_":
        return f"crate name {_quote(name)} starts with {_quote(first)}; {_CRATE_NAME_RULE}"
    bad = next(ch for ch in name if not (ch.isascii() and (ch.isalnum() or ch in "-_")))
    return f"crate name {_quote(name)} contains {_char_name(bad)}; {_CRATE_NAME_RULE}"


# ---------------------------------------------------------------------------------------------------
# Feature names
# ---------------------------------------------------------------------------------------------------

_FEATURE_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_+.-]*")
_DEP_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_FEATURE_VALUE_RE = re.compile(
    r"(?:dep:[A-Za-z_][A-Za-z0-9_-]*"
    r"|(?:[A-Za-z_][A-Za-z0-9_-]*\??/)?[A-Za-z0-9_][A-Za-z0-9_+.-]*)"
)
_FEATURE_RULE = (
    'a feature name starts with a letter, digit or "_" and continues with letters, digits, "_", "-", '
    '"+" or "." (e.g. "serde", "mod-blog", "c++17")'
)
_FEATURE_FORMS = 'the qualified forms are "dep:CRATE", "CRATE/FEATURE" and "CRATE?/FEATURE"'


def _feature_part_problem(value: str, part: str) -> str | None:
    if not part:
        return f"feature {_quote(value)} has an empty feature name; {_FEATURE_RULE}"
    if _FEATURE_RE.fullmatch(part):
        return None
    first = part[0]
    if first in "-+.":
        what = f"feature {_quote(value)}" if part == value else f"feature {_quote(value)}: {_quote(part)}"
        return f"{what} may not start with {_char_name(first)}; {_FEATURE_RULE}"
    bad = next(ch for ch in part if not (ch.isascii() and (ch.isalnum() or ch in "_+.-")))
    extra = " (cargo allows some Unicode letters, this manifest only ASCII)" if bad.isalpha() else ""
    return f"feature {_quote(value)} contains {_char_name(bad)}{extra}; {_FEATURE_RULE}"


def _dep_part_problem(value: str, dep: str) -> str | None:
    if not dep:
        return f"feature {_quote(value)} has an empty dependency name; {_FEATURE_FORMS}"
    if _DEP_NAME_RE.fullmatch(dep):
        return None
    return (
        f"feature {_quote(value)}: {_quote(dep)} is not a dependency name (letters, digits, "
        f'"-" and "_", not starting with a digit or "-"); {_FEATURE_FORMS}'
    )


def check_feature_name(name: str, *, plain_only: bool = False) -> str | None:
    """`None` if `name` is a valid feature value, else why not.

    Forms (cargo's `FeatureValue::new`): `feature`, `dep:crate`, `crate/feature` and `crate?/feature`.
    A feature part follows cargo's `validate_feature_name`: first character a letter, digit or `_`,
    then letters, digits, `_`, `-`, `+`, `.`; a crate part follows cargo's name rule (letter or `_`
    first, then letters, digits, `-`, `_`). Cargo accepts Unicode XID letters; this manifest accepts
    ASCII only and says so. Whitespace, control characters, shell metacharacters and a leading `-`
    can never pass.

    Note: for an entry of a *dependency's* `features = [...]` list in a `Cargo.toml`, cargo rejects
    `/` ("is not allowed to contain slashes") and `dep:` ("is not allowed to use explicit `dep:`
    syntax"); pass `plain_only=True` to apply that rule. The qualified forms are valid in a
    `[features]` table and (except `dep:`) on `cargo build --features`.
    """
    if not isinstance(name, str):
        return _not_str(name, "a feature name")
    if _FEATURE_VALUE_RE.fullmatch(name):
        if plain_only and "/" in name:
            return (
                f"feature {_quote(name)} contains a slash; cargo does not allow a dependency's features "
                "to name features of its dependencies: enable a feature the crate itself re-exports"
            )
        if plain_only and name.startswith("dep:"):
            return (
                f"feature {_quote(name)} uses the `dep:` syntax, which cargo rejects in a dependency's "
                f"features; write the optional dependency's name, {_quote(name[4:])}"
            )
        return None
    if not name:
        return f"feature name is empty; {_FEATURE_RULE}"
    if name.startswith("dep:"):
        dep = name[4:]
        if "/" in dep:
            return f'feature {_quote(name)} mixes "dep:" and "/"; {_FEATURE_FORMS}'
        return _dep_part_problem(name, dep)
    if "/" in name:
        dep, _, feature = name.partition("/")
        if "/" in feature:
            return f"feature {_quote(name)} has more than one slash; {_FEATURE_FORMS}"
        problem = _dep_part_problem(name, dep.removesuffix("?"))
        return problem or _feature_part_problem(name, feature)
    if ":" in name:
        return f'feature {_quote(name)} contains ":" (only the "dep:" prefix may); {_FEATURE_FORMS}'
    return _feature_part_problem(name, name)


# ---------------------------------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------------------------------

_PROFILE_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
# cargo's `validate_profile_name`: reserved for possible future built-in profiles or commands.
_CARGO_RESERVED_PROFILES = frozenset(
    {
        "build", "build-override", "check", "clean", "config", "fetch", "fix", "install", "metadata",
        "package", "publish", "report", "root", "run", "rust", "rustc", "rustdoc", "target", "tmp",
        "uninstall",
    }
)  # fmt: skip
_PROFILE_RULE = (
    'use "dev", "release" or a custom profile defined in the workspace Cargo.toml (ASCII letters, '
    'digits, "-" and "_", not starting with "-")'
)


def check_profile_name(name: str) -> str | None:
    """`None` if `name` can be passed as `cargo build --profile NAME`, else why not.

    Built-in profiles `dev`, `release`, `test` and `bench` pass. `debug` is accepted as *this
    manifest's* alias for `dev` (cargo itself reserves `debug` and would reject it: callers must map it
    to `dev`); other spellings of it (`Debug`) are rejected because cargo reserves it in any case.
    Custom names follow cargo's `validate_profile_name` (RFC 2678), restricted to ASCII: letters,
    digits, `-` and `_`, and not starting with `-` (it would read as an option); cargo's reserved
    names (`build`, `check`, `run`, `target`, `build-override`, ..., anything starting with `cargo`,
    compared case-insensitively) are rejected, and so is `doc` (deprecated, has no effect). Whether a
    custom profile is actually defined is for the caller to check against the workspace.
    """
    if not isinstance(name, str):
        return _not_str(name, "a profile name")
    if not name:
        return f"profile name is empty; {_PROFILE_RULE}"
    if not _PROFILE_RE.fullmatch(name):
        if name[0] == "-":
            return (
                f'profile name {_quote(name)} starts with "-" and would be read as an option; {_PROFILE_RULE}'
            )
        bad = next(ch for ch in name if not (ch.isascii() and (ch.isalnum() or ch in "_-")))
        return f"profile name {_quote(name)} contains {_char_name(bad)}; {_PROFILE_RULE}"
    if name == "debug":
        return None
    lower = name.lower()
    if lower == "debug":
        return f'profile name {_quote(name)} is reserved by cargo; write "dev" (or "debug", our alias for it)'
    if lower == "doc":
        return f"profile {_quote(name)} is deprecated in cargo and has no effect; {_PROFILE_RULE}"
    if lower in _CARGO_RESERVED_PROFILES or lower.startswith("cargo"):
        return f"profile name {_quote(name)} is reserved by cargo; {_PROFILE_RULE}"
    return None


# ---------------------------------------------------------------------------------------------------
# Target triples
# ---------------------------------------------------------------------------------------------------

_TARGET_RE = re.compile(r"[a-z0-9_.]+(?:-[a-z0-9_.]+){1,4}")
_TARGET_ARCH_RE = re.compile(
    r"x86_64h?|i[3-6]86|aarch64(?:_be)?|arm64(?:_32|e|ec)?|arm(?:eb)?(?:v[4-9][a-z0-9.]*)?"
    r"|thumbv[4-9][a-z0-9.]*|riscv(?:32|64)[a-z0-9_]*|wasm(?:32|64)[a-z0-9]*"
    r"|mips(?:isa(?:32|64)r6)?(?:64)?(?:el)?|powerpc(?:64)?(?:le)?|s390x|sparc(?:64|v9)?"
    r"|loongarch(?:32|64)|m68k|avr|bpfe[bl]|csky|hexagon|msp430|nvptx64|amdgcn|xtensa"
)
_TARGET_EXAMPLES = '"x86_64-unknown-linux-gnu", "aarch64-apple-darwin" or "wasm32-unknown-unknown"'
_MAX_TARGET = 64


def check_target_triple(name: str) -> str | None:
    """`None` if `name` looks like a built-in rustc target triple, else why not.

    2-5 `-`-separated lowercase components of `[a-z0-9_.]` (e.g. `x86_64-unknown-linux-gnu`,
    `aarch64-apple-darwin`, `wasm32-unknown-unknown`, `x86_64-pc-windows-msvc`,
    `thumbv7em-none-eabihf`, `thumbv8m.main-none-eabi`), the first being a known architecture family
    (`x86_64`, `i686`, `aarch64`, `armv7`, `thumbv7em`, `riscv64gc`, `wasm32`, `powerpc64le`, ...).
    Whether rustc knows the exact triple is for `rustup target list` to say. A custom target given
    as a JSON specification path is out of scope and rejected.
    """
    if not isinstance(name, str):
        return _not_str(name, "a target triple")
    if len(name) <= _MAX_TARGET and _TARGET_RE.fullmatch(name) and ".." not in name and ".json" not in name:
        components = name.split("-")
        if any(c[0] == "." or c[-1] == "." for c in components):
            return (
                f'target {_quote(name)} has a component starting or ending with "."; '
                f"use e.g. {_TARGET_EXAMPLES}"
            )
        if not _TARGET_ARCH_RE.fullmatch(components[0]):
            return (
                f"target {_quote(name)} does not start with a known architecture ({_quote(components[0])}); "
                f"use e.g. {_TARGET_EXAMPLES}"
            )
        return None
    if not name:
        return f"target triple is empty; use e.g. {_TARGET_EXAMPLES}"
    if ".json" in name or "/" in name or "\\" in name:
        return (
            f"target {_quote(name)} looks like a path; custom target specification files are not "
            f"supported here, use a built-in target triple such as {_TARGET_EXAMPLES}"
        )
    if len(name) > _MAX_TARGET:
        return (
            f"target {_quote(name)} is {len(name)} characters long (at most {_MAX_TARGET}); "
            f"use e.g. {_TARGET_EXAMPLES}"
        )
    if name[0] == "-":
        return (
            f'target {_quote(name)} starts with "-" and would be read as an option; '
            f"use e.g. {_TARGET_EXAMPLES}"
        )
    if ".." in name:
        return f'target {_quote(name)} contains ".."; use e.g. {_TARGET_EXAMPLES}'
    bad = next((ch for ch in name if not (ch in "_.-" or (ch.isascii() and ch.isalnum()))), None)
    if bad is not None:
        return f"target {_quote(name)} contains {_char_name(bad)}; use e.g. {_TARGET_EXAMPLES}"
    if name.lower() != name:
        return f"target {_quote(name)} must be lowercase: {_quote(name.lower())}"
    count = name.count("-") + 1
    if "" in name.split("-"):
        return (
            f'target {_quote(name)} has an empty component ("--" or a trailing "-"); '
            f"use e.g. {_TARGET_EXAMPLES}"
        )
    return f"target {_quote(name)} has {count} component(s), a triple has 2 to 5; use e.g. {_TARGET_EXAMPLES}"


# ---------------------------------------------------------------------------------------------------
# Shell words
# ---------------------------------------------------------------------------------------------------

_SAFE_WORD_RE = re.compile(r"[A-Za-z0-9._,:/@%+=^][A-Za-z0-9._,:/@%+=^-]*")


def unsafe_word_problem(value: str) -> str | None:
    """`None` if `value` is safe as one command-line argument or shell word, else why not.

    The generic guard for anything that may reach a command line or a workflow `run:` step, quoted
    or not: it must be non-empty, must not start with `-` (it would be read as an option, as in
    `--upload-pack=...`), and must not contain whitespace, control or invisible characters (including
    DEL, U+2028/U+2029 and bidi controls) or shell metacharacters ``$ ` ; & | < > ( ) ' " \\ * ? [ ] { }
    ! # ~`` (see `SHELL_UNSAFE`). Other printable characters, non-ASCII letters included, pass.
    """
    if not isinstance(value, str):
        return _not_str(value, "the value")
    if _SAFE_WORD_RE.fullmatch(value):
        return None
    if not value:
        return "the value is empty; it must name something"
    if value[0] == "-":
        return f'{_quote(value)} starts with "-" and would be read as a command-line option'
    for ch in value:
        if ch in SHELL_UNSAFE or ch.isspace() or not ch.isprintable():
            return (
                f"{_quote(value)} contains {_char_name(ch)}, which is unsafe in a command line; use "
                "letters, digits and . _ - / + = : , @ %"
            )
    return None


# ---------------------------------------------------------------------------------------------------
# Git
# ---------------------------------------------------------------------------------------------------

_HOST_RE = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_IPV6_RE = re.compile(r"\[[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\]")
_URL_RE = re.compile(
    r"(?P<scheme>[^:/?#]+)://"
    r"(?:(?P<userinfo>[^@/?#]*)@)?"
    r"(?P<host>\[[^\]/?#]*\]|[^:/?#]*)"
    r"(?::(?P<port>[^/?#]*))?"
    r"(?P<path>/[^?#]*)?"
    r"(?:\?(?P<query>[^#]*))?"
    r"(?:#(?P<fragment>.*))?",
    re.DOTALL,
)
_URL_PATH_RE = re.compile(r"(?:[A-Za-z0-9._~/+@=-]|%[0-9A-Fa-f]{2})*")
_URL_QUERY_RE = re.compile(r"(?:[A-Za-z0-9._~/+=-]|%[0-9A-Fa-f]{2})*")
_SCP_RE = re.compile(r"(?:(?P<user>[^@/:]+)@)?(?P<host>[^@/:]+):(?P<path>.*)", re.DOTALL)
_SSH_USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_TRANSPORT_HELPER_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*::")
_GIT_URL_EXAMPLES = '"https://github.com/org/repo.git" or "ssh://git@github.com/org/repo.git"'
_MAX_URL = 2048


def _git_host_problem(url: str, host: str) -> str | None:
    if _HOST_RE.fullmatch(host) or _IPV6_RE.fullmatch(host):
        return None
    if not host:
        return f"git URL {_quote(url)} has no host; use e.g. {_GIT_URL_EXAMPLES}"
    return f"git URL {_quote(url)} has an invalid host {_quote(host)}; use e.g. {_GIT_URL_EXAMPLES}"


def _git_path_problem(url: str, path: str) -> str | None:
    if not path.strip("/"):
        return f"git URL {_quote(url)} names no repository path; use e.g. {_GIT_URL_EXAMPLES}"
    if path[0] == "-":
        return (
            f'git URL {_quote(url)} has a path starting with "-" (option injection); '
            f"use e.g. {_GIT_URL_EXAMPLES}"
        )
    if _URL_PATH_RE.fullmatch(path):
        return None
    bad = next((ch for ch in path if not (ch.isascii() and (ch.isalnum() or ch in "._~/+@=-"))), "%")
    return f"git URL {_quote(url)} has {_char_name(bad)} in its path; use e.g. {_GIT_URL_EXAMPLES}"


def _scp_problem(url: str, *, allow_scp_like: bool) -> str | None:
    m = _SCP_RE.fullmatch(url)
    if m is None:
        return None
    user, host, path = m.group("user"), m.group("host"), m.group("path")
    if not allow_scp_like:
        ssh = f"ssh://{user + '@' if user else ''}{host}/{path.lstrip('/')}"
        return (
            f"cargo does not understand the scp-like git address {_quote(url)} (cargo#1851); "
            f"write it as a URL: {_quote(ssh)}"
        )
    if user is not None and not _SSH_USER_RE.fullmatch(user):
        return (
            f"git address {_quote(url)} has an invalid user {_quote(user)}; "
            'use e.g. "git@github.com:org/repo.git"'
        )
    if len(host) < 2:
        return (
            f"git address {_quote(url)} looks like a Windows drive path; local repositories are not "
            f"allowed, use e.g. {_GIT_URL_EXAMPLES}"
        )
    return _git_host_problem(url, host) or _git_path_problem(url, path)


def _first_unprintable(text: str) -> str | None:
    return next((ch for ch in text if ch.isspace() or not ch.isprintable()), None)


def check_git_url(url: str, *, allow_scp_like: bool = True) -> str | None:
    """`None` if `url` is a safe remote git address, else why not.

    Accepted: `https://host[:port]/path`, `ssh://[user@]host[:port]/path`, `git://host[:port]/path`, and
    git's scp-like `[user@]host:path` (the user part is optional, as in git; the host must not look
    like a Windows drive letter). Rejected: `http://` (no transport integrity: a network attacker can
    swap the code), `file://` and local paths, any other scheme, git transport helpers (`ext::...`,
    `fd::...`, anything with `::`, which run arbitrary commands), credentials or a user name in
    `https`/`git` URLs (a secret does not belong in a manifest), a password in `ssh` URLs, values
    starting with `-` (option injection like `--upload-pack=...`), whitespace, control characters,
    and shell metacharacters anywhere, including query and fragment.

    Note: cargo itself cannot parse the scp-like form (rust-lang/cargo#1851); pass
    `allow_scp_like=False` when the value goes into a `Cargo.toml`, and the message will give the
    equivalent `ssh://` URL.
    """
    if not isinstance(url, str):
        return _not_str(url, "a git URL")
    if not url:
        return f"git URL is empty; use e.g. {_GIT_URL_EXAMPLES}"
    if len(url) > _MAX_URL:
        return f"git URL {_quote(url)} is {len(url)} characters long (at most {_MAX_URL})"
    if url[0] == "-":
        return (
            f'git URL {_quote(url)} starts with "-" and would be read as an option; '
            f"use e.g. {_GIT_URL_EXAMPLES}"
        )
    if _TRANSPORT_HELPER_RE.match(url) or ("::" in url and not _IPV6_RE.search(url)):
        return (
            f'git URL {_quote(url)} uses git\'s transport-helper syntax ("ext::", "fd::"), which can run '
            f"arbitrary commands; use e.g. {_GIT_URL_EXAMPLES}"
        )
    bad = None if url.isascii() and url.isprintable() and " " not in url else _first_unprintable(url)
    if bad is not None:
        return f"git URL {_quote(url)} contains {_char_name(bad)}; use e.g. {_GIT_URL_EXAMPLES}"
    m = _URL_RE.fullmatch(url) if "://" in url else None
    if m is None:
        if "://" not in url:
            problem = _scp_problem(url, allow_scp_like=allow_scp_like)
            if problem is not None or _SCP_RE.fullmatch(url):
                return problem
        return (
            f"{_quote(url)} is not a remote git URL (local paths are not allowed); "
            f"use e.g. {_GIT_URL_EXAMPLES}"
        )
    scheme = m.group("scheme")
    if scheme != scheme.lower() and scheme.lower() in ("https", "ssh", "git"):
        return f"git URL {_quote(url)}: write the scheme in lowercase, {_quote(scheme.lower() + '://')}"
    if scheme == "http":
        return (
            f"git URL {_quote(url)} uses plain http, which has no integrity protection (anyone on the path "
            f"can change the code); use {_quote('https://' + url[len('http://') :])}"
        )
    if scheme == "file":
        return (
            f"git URL {_quote(url)} points at a local repository; use a remote one, e.g. {_GIT_URL_EXAMPLES}"
        )
    if scheme not in ("https", "ssh", "git"):
        return (
            f"git URL {_quote(url)} has unsupported scheme {_quote(scheme)}; use https, ssh or git, "
            f"e.g. {_GIT_URL_EXAMPLES}"
        )
    userinfo = m.group("userinfo")
    if userinfo is not None:
        if ":" in userinfo:
            return (
                f"git URL {_quote(url)} contains credentials (user:password); never put a secret in the "
                f"manifest, configure a git credential helper or deploy key instead"
            )
        if scheme != "ssh":
            return (
                f"git URL {_quote(url)} contains a user name, which for {scheme} is often an access token; "
                f"drop {_quote(userinfo + '@')} and use a git credential helper"
            )
        if not _SSH_USER_RE.fullmatch(userinfo):
            return (
                f"git URL {_quote(url)} has an invalid user {_quote(userinfo)}; use e.g. {_GIT_URL_EXAMPLES}"
            )
    problem = _git_host_problem(url, m.group("host"))
    if problem:
        return problem
    port = m.group("port")
    if port is not None and not (port.isascii() and port.isdigit() and 0 < int(port) <= 65535):
        return f"git URL {_quote(url)} has an invalid port {_quote(port)}; use e.g. {_GIT_URL_EXAMPLES}"
    problem = _git_path_problem(url, m.group("path") or "")
    if problem:
        return problem
    for part in ("query", "fragment"):
        value = m.group(part)
        if value is not None and not _URL_QUERY_RE.fullmatch(value):
            bad = next((ch for ch in value if not (ch.isascii() and (ch.isalnum() or ch in "._~/+=-"))), "%")
            return f"git URL {_quote(url)} has {_char_name(bad)} in its {part}; use e.g. {_GIT_URL_EXAMPLES}"
    return None


_GIT_FORBIDDEN = frozenset(" ~^:?*[\\")  # forbidden by git check-ref-format itself
_GIT_SHA_RE = re.compile(r"[0-9a-f]{7,40}|[0-9a-f]{64}")
_GIT_REF_RE = re.compile(r"[A-Za-z0-9._/+=,@%-]+")
_GIT_REV_RULE = (
    'use a commit SHA (7-40 hex digits, or 64) or a tag/branch name such as "v1.2.3" or "release/2024-06"'
)
_MAX_REV = 255


def check_git_rev(rev: str) -> str | None:
    """`None` if `rev` is a commit SHA or a safe tag/branch name, else why not.

    A SHA is 7-40 lowercase hex digits (or 64 for SHA-256 repositories). A name follows
    `git check-ref-format --allow-onelevel` (no `..`, no `@{`, not `@`, no component starting with
    `.` or ending with `.lock`, no leading/trailing/double `/`, no trailing `.`, no space, control
    character or any of ``~ ^ : ? * [ \\``), and additionally may not start with `-` (option injection)
    nor contain shell metacharacters ``$ ; & | < > ( ) ' "`` or backtick: only ASCII letters, digits and
    ``. _ - / + = , @ %`` are allowed.
    """
    if not isinstance(rev, str):
        return _not_str(rev, "a git rev")
    if _GIT_SHA_RE.fullmatch(rev):
        return None
    if not rev:
        return f"git rev is empty; {_GIT_REV_RULE}"
    if len(rev) > _MAX_REV:
        return f"git rev {_quote(rev)} is {len(rev)} characters long (at most {_MAX_REV}); {_GIT_REV_RULE}"
    if rev[0] == "-":
        return f'git rev {_quote(rev)} starts with "-" and would be read as an option; {_GIT_REV_RULE}'
    if not _GIT_REF_RE.fullmatch(rev):
        bad = next(ch for ch in rev if not (ch.isascii() and (ch.isalnum() or ch in "._/+=,@%-")))
        why = " (git check-ref-format forbids it)" if bad in _GIT_FORBIDDEN or not bad.isprintable() else ""
        return f"git rev {_quote(rev)} contains {_char_name(bad)}{why}; {_GIT_REV_RULE}"
    problem: str | None = None
    if rev == "@":
        problem = 'is "@", which git does not allow as a ref name'
    elif rev[0] == "/" or rev[-1] == "/" or "//" in rev:
        problem = 'has a leading, trailing or doubled "/"'
    elif ".." in rev:
        problem = 'contains ".."'
    elif rev[-1] == ".":
        problem = 'ends with "."'
    else:
        for component in rev.split("/"):
            if component.startswith("."):
                problem = f'has a component starting with "." ({_quote(component)})'
                break
            if component.endswith(".lock"):
                problem = f'has a component ending with ".lock" ({_quote(component)})'
                break
    if problem is not None:
        return f"git rev {_quote(rev)} {problem} (see git check-ref-format); {_GIT_REV_RULE}"
    return None


# ---------------------------------------------------------------------------------------------------
# Relative paths
# ---------------------------------------------------------------------------------------------------

_SAFE_PATH_RE = re.compile(r"[A-Za-z0-9._+@=,][A-Za-z0-9._/+@=,-]*")
_DRIVE_RE = re.compile(r"[A-Za-z]:")
_PATH_RULE = 'use a relative POSIX path inside the repository, e.g. "crates/rustok-blog"'


def _path_syntax_problem(path: str, what: str) -> str | None:
    if _SAFE_PATH_RE.fullmatch(path) and not _DRIVE_RE.match(path):
        return None
    if not path:
        return f"{what} is empty; {_PATH_RULE}"
    if path[0] == "/":
        return f"{what} {_quote(path)} is absolute; {_PATH_RULE}"
    if path.startswith("\\\\") or _DRIVE_RE.match(path):
        return f"{what} {_quote(path)} is an absolute Windows path; {_PATH_RULE}"
    if "\\" in path:
        return f'{what} {_quote(path)} contains a backslash; separate folders with "/"; {_PATH_RULE}'
    if path[0] == "~" or "~" in path:
        return f'{what} {_quote(path)} contains "~" (home-folder expansion); {_PATH_RULE}'
    if path[0] == "-":
        return f'{what} {_quote(path)} starts with "-" and would be read as an option; {_PATH_RULE}'
    bad = next(ch for ch in path if not (ch.isascii() and (ch.isalnum() or ch in "._/+@=,-")))
    return f"{what} {_quote(path)} contains {_char_name(bad)}; {_PATH_RULE}"


def _escapes(normalized: str) -> bool:
    return normalized == ".." or normalized.startswith("../")


@functools.lru_cache(maxsize=256)
def _normalized_manifest_dir(manifest_dir: str) -> str:
    if manifest_dir in ("", "."):
        return ""
    problem = _path_syntax_problem(manifest_dir, "manifest_dir")
    if problem is not None:
        raise ValueError(problem)
    normalized = posixpath.normpath(manifest_dir)
    if _escapes(normalized):
        raise ValueError(f"manifest_dir {_quote(manifest_dir)} is outside the repository")
    return "" if normalized == "." else normalized


def check_relative_path(path: str, *, manifest_dir: str = "") -> str | None:
    """`None` if `path` is a relative POSIX path that stays inside the repository, else why not.

    `path` is relative to the manifest's folder `manifest_dir` (itself relative to the repository root,
    POSIX, `""` for the root, as in `Cargo.toml` path dependencies). Rejected: absolute paths (`/x`,
    `C:\\x`, `C:x`, `\\\\server\\x`), backslashes, `~` (home expansion), a leading `-`, whitespace,
    control characters, shell metacharacters, non-ASCII characters, and any path that, joined to
    `manifest_dir` and normalised lexically (as cargo does), climbs above the repository root.
    Allowed characters: ASCII letters, digits and ``. _ - / + @ = ,``.

    Raises `ValueError` if `manifest_dir` itself is not a folder inside the repository.
    """
    if not isinstance(path, str):
        return _not_str(path, "a path")
    base = _normalized_manifest_dir(manifest_dir)
    problem = _path_syntax_problem(path, "path")
    if problem is not None:
        return problem
    if _escapes(posixpath.normpath(posixpath.join(base, path))):
        where = "the repository" if not base else f"the repository (the manifest is in {_quote(base)})"
        return f"path {_quote(path)} points outside {where}; {_PATH_RULE}"
    return None


def normalize_relative_path(path: str, manifest_dir: str = "") -> str:
    """The normal form of a manifest path, for hashing and comparing.

    `posixpath.normpath` of `manifest_dir/path` (lexical, as cargo normalises paths): `./crates/x/`,
    `crates//x/.` and `crates/x` are equal, and the folder itself is `"."`. With the default
    `manifest_dir=""` this is the path relative to the manifest's own folder, so a manifest hashes the
    same wherever it lives; `"../x"` then stays `"../x"` (whether it escapes the repository is
    `check_relative_path`'s question, not this function's). Raises `ValueError` with
    `check_relative_path`'s message for a path that is not a relative POSIX path at all (absolute,
    backslashes, `~`, control or shell characters, ...).
    """
    if not isinstance(path, str):
        raise ValueError(_not_str(path, "a path"))
    problem = _path_syntax_problem(path, "path")
    if problem is not None:
        raise ValueError(problem)
    return posixpath.normpath(posixpath.join(_normalized_manifest_dir(manifest_dir), path))
