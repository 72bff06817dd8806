"""The module catalog: a file in the managed repository (default `.github/modbot-catalog.toml`) listing
modules an admin may install from the console, each with the spec it would get in modules.toml.

Parsed strictly (pydantic, extra keys refused) and every entry checked with the manifest's own module
rules (`check_spec`: crate name, version requirement, git URL and rev, path), so the console never offers
an install the manifest core would refuse for the entry's own sake. docs/catalog.md documents the format.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

import tomli
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.manifest.edit import MODULE_KEY_ORDER
from bot.manifest.model import ModuleSpec, Source
from bot.manifest.rules.modules import check_spec, slug_problem

__all__ = ["CATALOG_PATH", "MAX_CATALOG_BYTES", "Catalog", "CatalogEntry", "CatalogError", "parse_catalog"]

CATALOG_PATH = ".github/modbot-catalog.toml"
MAX_CATALOG_BYTES = 1_000_000
MAX_ENTRIES = 2_000


class CatalogEntry(BaseModel):
    """One installable module: its modules.toml spec plus what the console shows of it."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    crate: str = Field(min_length=1, max_length=64)
    source: Source
    version: str | None = Field(None, max_length=200)
    git: str | None = Field(None, max_length=2000)
    rev: str | None = Field(None, max_length=200)
    path: str | None = Field(None, max_length=1000)
    features: list[str] = Field(default_factory=list, max_length=500)
    depends_on: list[str] = Field(default_factory=list, max_length=500)
    runtime: Literal["extension"] | None = None
    description: str = Field("", max_length=500)

    def module_fields(self) -> dict[str, Any]:
        """The module table `install` writes (only the keys that say something)."""
        data = self.model_dump(exclude={"description"})
        return {key: data[key] for key in MODULE_KEY_ORDER if data.get(key) not in (None, [])}


class _CatalogFile(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True)

    schema_version: Literal[1] = Field(alias="schema")
    modules: dict[str, CatalogEntry] = Field(default_factory=dict, max_length=MAX_ENTRIES)


@dataclass(frozen=True, slots=True)
class Catalog:
    entries: dict[str, CatalogEntry]  # slug -> entry, in file order
    digest: str  # sha256 of the file: what a cached verdict over it is keyed on


class CatalogError(ValueError):
    """The catalog file is not usable; ``reasons`` say where and why, one line each."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def parse_catalog(raw: bytes, *, manifest_dir: str = "") -> Catalog:
    """The catalog in ``raw`` (the file's bytes), or `CatalogError` with every problem found."""
    if len(raw) > MAX_CATALOG_BYTES:
        raise CatalogError([f"the catalog is {len(raw)} bytes; at most {MAX_CATALOG_BYTES}"])
    try:
        data = tomli.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise CatalogError(["the catalog is not UTF-8 text"]) from None
    except tomli.TOMLDecodeError as error:
        raise CatalogError([f"the catalog is not valid TOML: {error}"]) from None
    try:
        parsed = _CatalogFile.model_validate(data)
    except ValidationError as error:
        raise CatalogError([_describe(e) for e in error.errors()]) from None
    reasons: list[str] = []
    for slug, entry in parsed.modules.items():
        problem = slug_problem(slug)
        if problem:
            reasons.append(f"modules.{slug}: {problem}")
            continue
        spec = ModuleSpec.model_validate(entry.module_fields())
        reasons.extend(f"{p.path}: {p.message}" for p in check_spec(slug, spec, manifest_dir) if p.is_error)
    if reasons:
        raise CatalogError(reasons)
    return Catalog(dict(parsed.modules), hashlib.sha256(raw).hexdigest())


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(the file)"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key (see docs/catalog.md for the keys a catalog entry takes)"
    return f"{where}: {error['msg']}"
