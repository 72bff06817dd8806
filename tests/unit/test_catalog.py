"""The module catalog (bot/manifest/catalog.py): strict parsing, each entry checked by the manifest's own
module rules, clear errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.manifest.catalog import MAX_CATALOG_BYTES, CatalogError, parse_catalog

MINI = Path(__file__).resolve().parents[2] / "examples" / "rustok-mini"


def _reasons(raw: bytes) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(raw)
    return caught.value.reasons


def test_entries_keep_file_order_and_give_the_module_table() -> None:
    catalog = parse_catalog(
        b'schema = 1\n[modules.wiki]\ncrate = "rustok-wiki"\nsource = "registry"\nversion = "0.3"\n'
        b'depends_on = ["content"]\ndescription = "Wiki"\n'
        b'[modules.forum]\ncrate = "rustok-forum"\nsource = "git"\n'
        b'git = "https://github.com/rustok/forum.git"\nrev = "v0.2.0"\nfeatures = ["search"]\n'
    )
    assert list(catalog.entries) == ["wiki", "forum"]
    # "registry" is RusToK's word for crates.io, as in modules.toml; the description is not a module key
    assert catalog.entries["wiki"].module_fields() == {
        "crate": "rustok-wiki",
        "source": "crates-io",
        "version": "0.3",
        "depends_on": ["content"],
    }
    assert catalog.entries["forum"].module_fields()["features"] == ["search"]
    assert len(catalog.digest) == 64


def test_the_example_repository_has_a_valid_catalog() -> None:
    raw = (MINI / ".github" / "modbot-catalog.toml").read_bytes()
    catalog = parse_catalog(raw)
    assert "forum" in catalog.entries
    # its path entries point at crates that exist in the example workspace
    for entry in catalog.entries.values():
        if entry.source == "path":
            assert (MINI / str(entry.path) / "Cargo.toml").is_file(), entry.path


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"schema = 1\n[modules.x\n", "not valid TOML"),
        (b"\xff\xfe", "not UTF-8"),
        (b'[modules.a]\ncrate = "a"\nsource = "path"\npath = "a"\n', "schema: Field required"),
        (b"schema = 2\n", "schema: Input should be 1"),
        (
            b'schema = 1\n[modules.a]\ncrate = "a"\nsource = "path"\npath = "a"\ncolour = "red"\n',
            "unknown key",
        ),
        (b'schema = 1\n[modules.a]\ncrate = "a"\nsource = "svn"\n', "modules.a.source"),
        (
            b'schema = 1\n[modules.a]\ncrate = "a"\nsource = "path"\npath = "a"\nrequired = "yes"\n',
            "unknown key",
        ),
    ],
)
def test_a_malformed_file_is_refused_with_where(raw: bytes, expected: str) -> None:
    assert any(expected in reason for reason in _reasons(raw)), _reasons(raw)


def test_entries_go_through_the_manifest_module_rules() -> None:
    reasons = _reasons(
        b'schema = 1\n[modules.Forum]\ncrate = "rustok-forum"\nsource = "path"\npath = "f"\n'
        b'[modules.bad_crate]\ncrate = "no spaces"\nsource = "path"\npath = "b"\n'
        b'[modules.no_version]\ncrate = "rustok-x"\nsource = "crates-io"\n'
        b'[modules.bad_git]\ncrate = "rustok-y"\nsource = "git"\ngit = "ftp://x/y"\n'
        b'[modules.escape]\ncrate = "rustok-z"\nsource = "path"\npath = "../../etc"\n'
    )
    joined = "\n".join(reasons)
    assert "modules.Forum: slug 'Forum' is not valid" in joined
    assert "modules.bad_crate.crate:" in joined
    assert (
        "modules.no_version.version: module `no_version` has source = 'crates-io' and needs `version`"
        in joined
    )
    assert "modules.bad_git.git:" in joined
    assert "modules.escape.path:" in joined
    assert len(reasons) == 5


def test_a_huge_file_is_refused_before_parsing() -> None:
    assert "at most" in _reasons(b"#" * (MAX_CATALOG_BYTES + 1))[0]
