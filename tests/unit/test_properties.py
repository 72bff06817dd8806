"""Property tests: reformatting never changes the hash, diff(a, a) is empty, an edit is exactly
what the delta reports, parse -> edit -> parse round-trips, random text never raises."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.manifest import compute_delta, validate_bytes, validate_text
from bot.manifest.edit import EditRefused, disable, enable, install, uninstall

SLUGS = st.from_regex(r"[a-z][a-z0-9]{0,6}(_[a-z0-9]{1,4})?", fullmatch=True)
VERSIONS = st.sampled_from(["0.1", "^0.3.1", ">=0.2, <0.4", "~1", "=1.2.3", "*", "1.2.*"])
FEATURES = st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), max_size=3, unique=True)


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, object]:
    slugs = draw(st.lists(SLUGS, min_size=1, max_size=8, unique=True))
    modules: dict[str, dict[str, object]] = {}
    for index, slug in enumerate(slugs):
        spec: dict[str, object] = {"crate": f"rustok-{slug.replace('_', '-')}"}
        kind = draw(st.sampled_from(["crates-io", "path", "git"]))
        spec["source"] = kind
        if kind == "crates-io":
            spec["version"] = draw(VERSIONS)
        elif kind == "path":
            spec["path"] = f"crates/{slug}"
        else:
            spec["git"] = f"https://github.com/rustok/{slug}.git"
            spec["rev"] = draw(st.sampled_from(["main", "v1.0.0", "0" * 40]))
        features = draw(FEATURES)
        if features:
            spec["features"] = features
        earlier = slugs[:index]
        if earlier:
            deps = draw(st.lists(st.sampled_from(earlier), max_size=2, unique=True))
            if deps:
                spec["depends_on"] = deps
        if draw(st.booleans()) and not spec.get("depends_on"):
            spec["required"] = True
        modules[slug] = spec
    enabled = [s for s in slugs if draw(st.booleans()) and not modules[s].get("required")]
    while True:  # drop modules whose dependencies are not on, until nothing changes
        closed = [
            s for s in enabled if all(d in enabled or modules[d].get("required") for d in _deps(modules[s]))
        ]
        if closed == enabled:
            break
        enabled = closed
    return {
        "modules": modules,
        "default_enabled": enabled,
        "profile": draw(st.sampled_from([None, "release", "dev"])),
    }


def _deps(spec: dict[str, object]) -> list[str]:
    deps = spec.get("depends_on", [])
    assert isinstance(deps, list)
    return [str(d) for d in deps]


def _value(value: object, quote: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v, quote) for v in value) + "]"
    return f"{quote}{value}{quote}"


def render(m: dict[str, object], *, style: int) -> str:
    """The same meaning in different TOML layouts: inline tables, standard tables, shuffled keys,
    literal strings, comments and blank lines."""
    quote = "'" if style % 2 else '"'
    lines = (
        ["# a comment", "", "schema = 2", f"app = {quote}rustok-server{quote}"]
        if style < 2
        else [f"app = {quote}rustok-server{quote}", "schema    =    2   # trailing comment"]
    )
    if m["profile"]:
        lines += ["", "[build]", f"profile = {quote}{m['profile']}{quote}"]
    modules: dict[str, dict[str, object]] = m["modules"]  # type: ignore[assignment]
    enabled: list[str] = m["default_enabled"]  # type: ignore[assignment]
    if style == 3:
        lines += ["", "[settings]", f"default_enabled = {_value(list(reversed(enabled)), quote)}"]
    if style in (0, 1, 3):
        lines += ["", "[modules]"]
        for slug, spec in reversed(list(modules.items())) if style == 1 else modules.items():
            keys = reversed(list(spec)) if style == 3 else spec
            body = ", ".join(f"{k} = {_value(spec[k], quote)}" for k in keys)
            lines.append(f"{slug} = {{ {body} }}")
    else:
        for slug, spec in modules.items():
            lines += [
                "",
                f"[modules.{slug}]",
                *(f"{k} = {_value(v, quote)}" for k, v in spec.items()),
                "  # indented comment",
            ]
    if style != 3:
        lines += [
            "",
            "[settings]",
            f"default_enabled = [\n  {', '.join(repr(s) if style % 2 else _value(s, quote) for s in enabled)}\n]",
        ]
    return "\n".join(lines) + "\n"


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(manifests())
def test_hash_is_invariant_under_reformatting(m: dict[str, object]) -> None:
    results = [validate_text(render(m, style=style)) for style in range(4)]
    assert all(r.valid for r in results), [r.problems for r in results]
    assert len({r.manifest_hash for r in results}) == 1
    base, other = results[0].manifest, results[2].manifest
    assert base is not None and other is not None
    assert compute_delta(base, other).is_empty


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(manifests(), SLUGS, VERSIONS, st.booleans())
def test_install_then_diff_reports_exactly_that_install(
    m: dict[str, object], slug: str, version: str, on: bool
) -> None:
    text = render(m, style=0)
    spec = {"crate": f"new-{slug.replace('_', '-')}", "source": "crates-io", "version": version}
    try:
        result = install(text, slug, spec, enable=on)
    except EditRefused:
        assert slug in m["modules"]  # type: ignore[operator]
        return
    delta = result.delta
    assert list(delta.added) == [slug]
    assert not delta.removed and not delta.changed
    assert delta.default_enabled_added == ((slug,) if on else ())
    assert delta.summary == f"+{slug}@{version}"
    # round trip: parse -> edit -> parse, and undo restores the text exactly
    again = validate_text(result.text)
    assert again.valid and again.manifest == result.validation.manifest
    # Undo restores the text; tomlkit may leave a (valid) trailing comma after the last element
    # of a multi-line default_enabled array, which is the only difference allowed.
    undone = uninstall(result.text, slug).text
    assert undone.replace(",\n]", "\n]") == text.replace(",\n]", "\n]")


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(manifests(), st.data())
def test_enable_disable_round_trip(m: dict[str, object], data: st.DataObject) -> None:
    text = render(m, style=2)
    modules: dict[str, dict[str, object]] = m["modules"]  # type: ignore[assignment]
    slug = data.draw(st.sampled_from(sorted(modules)))
    if slug in m["default_enabled"]:  # type: ignore[operator]
        try:
            result = disable(text, slug)
        except EditRefused:
            return  # another enabled module needs it
        assert result.delta.default_enabled_removed == (slug,)
    else:
        try:
            result = enable(text, slug)
        except EditRefused:
            return  # its dependencies are not enabled
        assert result.delta.default_enabled_added == (slug,)
    assert not result.delta.added and not result.delta.removed and not result.delta.changed


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(raw: bytes) -> None:
    result = validate_bytes(raw)
    assert result.valid in (True, False)
    for problem in result.problems:
        assert problem.rule and problem.message


TOML_ALPHABET = st.sampled_from(list("[]{}=,.\"'#\n abcmodulesschemaapp0123_-:\\tru"))


@settings(max_examples=300, deadline=None)
@given(st.lists(TOML_ALPHABET, max_size=200).map("".join))
def test_random_toml_like_text_never_raises(text: str) -> None:
    result = validate_text('schema = 2\napp = "x"\n' + text)
    assert isinstance(result.problems, tuple)


@settings(max_examples=100, deadline=None)
@given(manifests(), st.data())
def test_mutated_manifests_never_raise(m: dict[str, object], data: st.DataObject) -> None:
    text = render(m, style=0)
    position = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.text(max_size=10))
    result = validate_text(text[:position] + junk + text[position:])
    assert isinstance(result.valid, bool)
