"""Format-preserving edits of modules.toml (tomlkit): install, uninstall, upgrade, enable, disable, and
apply_module_set (make the module set exactly a requested one: the builds API).

Each edit is a pure function text -> text that changes only the lines it must, then validates
the result and refuses to return an invalid manifest. Read-only paths never import this module
(tomlkit is ~10x slower than the read parser).
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import tomlkit
import tomlkit.exceptions
from pydantic import ValidationError
from tomlkit.container import OutOfOrderTableProxy
from tomlkit.items import Array, InlineTable, Table
from tomlkit.toml_document import TOMLDocument

from bot.manifest.delta import ModulesDelta, compute_delta
from bot.manifest.hashing import canonical_module
from bot.manifest.model import ModuleSpec
from bot.manifest.problems import Problem
from bot.manifest.validate import ValidationResult, validate_text

# The order RusToK writes a module's keys in.
MODULE_KEY_ORDER = (
    "crate",
    "source",
    "version",
    "git",
    "rev",
    "path",
    "features",
    "required",
    "depends_on",
    "runtime",
)
_LOCATION_KEYS = ("version", "git", "rev", "path")


class EditRefused(Exception):
    """The edit was not made; `reasons` say why in words a person can act on."""

    def __init__(self, reasons: list[str], problems: tuple[Problem, ...] = ()) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons
        self.problems = problems


@dataclass(frozen=True, slots=True)
class EditResult:
    text: str
    validation: ValidationResult
    delta: ModulesDelta


def install(
    text: str, slug: str, spec: dict[str, Any], *, enable: bool = False, manifest_dir: str = ""
) -> EditResult:
    base = _valid_base(text, manifest_dir)
    doc = _load(text)
    modules = _modules_table(doc, create=True)
    if slug in modules:
        raise EditRefused([f"`{slug}` is already installed; use upgrade to change it"])
    modules[slug] = inline_module(spec)
    if enable:
        _new_enabled_array(doc).append(slug)
    return _finish(base, doc, manifest_dir)


def uninstall(text: str, slug: str, *, manifest_dir: str = "") -> EditResult:
    base = _valid_base(text, manifest_dir)
    manifest = base.manifest
    assert manifest is not None  # _valid_base guarantees it
    if slug not in manifest.modules:
        raise EditRefused([f"`{slug}` is not installed"])
    dependents = [s for s, spec in manifest.modules.items() if slug in spec.depends_on]
    reasons = _removal_refusals(slug, manifest.modules[slug], dependents, "uninstall them first")
    if reasons:
        raise EditRefused(reasons)
    doc = _load(text)
    _remove_module(doc, slug)
    return _finish(base, doc, manifest_dir)


def upgrade(text: str, slug: str, changes: dict[str, Any], *, manifest_dir: str = "") -> EditResult:
    """Set the given fields (version, rev, git, path, source, features...); a value of None
    removes the key. Switching source drops the location keys the new source does not use."""
    base = _valid_base(text, manifest_dir)
    doc = _load(text)
    modules = _modules_table(doc)
    if slug not in modules:
        raise EditRefused([f"`{slug}` is not installed; use install"])
    if not changes:
        raise EditRefused(["nothing to change: give a version, rev, features or another field"])
    entry = modules[slug]
    _set_fields(entry, changes)
    if "source" in changes:
        keep = {"crates-io": {"version"}, "registry": {"version"}, "git": {"git", "rev"}, "path": {"path"}}
        for key in _LOCATION_KEYS:
            if key in entry and key not in keep.get(str(changes["source"]), set()) and key not in changes:
                del entry[key]
    return _finish(base, doc, manifest_dir)


def enable(text: str, slug: str, *, manifest_dir: str = "") -> EditResult:
    base = _valid_base(text, manifest_dir)
    manifest = base.manifest
    assert manifest is not None
    if slug not in manifest.modules:
        raise EditRefused([f"`{slug}` is not installed; install it first"])
    if slug in manifest.settings.default_enabled:
        raise EditRefused([f"`{slug}` is already enabled by default"])
    doc = _load(text)
    _new_enabled_array(doc).append(slug)
    return _finish(base, doc, manifest_dir)


def disable(text: str, slug: str, *, manifest_dir: str = "") -> EditResult:
    base = _valid_base(text, manifest_dir)
    manifest = base.manifest
    assert manifest is not None
    if slug not in manifest.settings.default_enabled:
        raise EditRefused([f"`{slug}` is not enabled by default"])
    doc = _load(text)
    enabled = _enabled_array(doc)
    assert enabled is not None
    _remove_all(enabled, slug)
    return _finish(base, doc, manifest_dir)


def apply_module_set(
    text: str, modules: Mapping[str, Mapping[str, Any]], *, manifest_dir: str = ""
) -> EditResult:
    """Make ``[modules]`` exactly ``modules`` (slug -> the module table as in modules.toml).

    Built from the same steps as the single edits: a missing module is installed (appended to
    ``[modules]``, new slugs in sorted order), a module left out is uninstalled (and leaves
    ``default_enabled``), a module whose spec differs in meaning gets exactly the requested keys (keys
    the request leaves out are removed); a module whose spec means the same is not touched, so its line
    stays byte for byte. Refused, with every reason at once, like ``uninstall``: removing a required
    module, or one a kept module depends on; a spec the manifest model rejects; a result the validator
    rejects. The result may equal the input (``delta.is_empty``): the caller decides what that means.
    """
    base = _valid_base(text, manifest_dir)
    manifest = base.manifest
    assert manifest is not None  # _valid_base guarantees it
    wanted, reasons = _checked_specs(modules)
    removed = [slug for slug in manifest.modules if slug not in wanted]
    for slug in removed:
        dependents = sorted(s for s, spec in wanted.items() if slug in spec.depends_on)
        reasons += _removal_refusals(
            slug, manifest.modules[slug], dependents, f"keep `{slug}` or remove them too"
        )
    if reasons:
        raise EditRefused(reasons)
    doc = _load(text)
    table = _modules_table(doc, create=True)
    for slug in removed:
        _remove_module(doc, slug)
    for slug, spec in wanted.items():
        if slug not in manifest.modules:
            continue
        if canonical_module(manifest.modules[slug]) == canonical_module(spec):
            continue  # same meaning: leave its formatting alone
        entry = table[slug]
        requested = dict(modules[slug])
        if isinstance(entry, InlineTable):
            # one line, rewritten in the usual key order; its indent and trailing comment stay
            table[slug] = _with_trivia(inline_module(requested), entry)
            continue
        absent: dict[str, Any] = {key: None for key in list(entry) if key not in requested}
        changed = {key: value for key, value in requested.items() if _plain(entry.get(key)) != value}
        _set_fields(entry, {**absent, **changed})
    for slug in sorted(set(wanted) - set(manifest.modules)):
        table[slug] = inline_module(dict(modules[slug]))
    return _finish(base, doc, manifest_dir)


def _removal_refusals(slug: str, spec: ModuleSpec, dependents: list[str], advice: str) -> list[str]:
    """Why ``slug`` cannot be removed: it is required, or ``dependents`` (the modules staying) need it."""
    reasons = []
    if spec.required:
        reasons.append(f"`{slug}` is a required module and cannot be uninstalled")
    if dependents:
        names = ", ".join(f"`{d}`" for d in dependents)
        reasons.append(f"{names} depend{'s' if len(dependents) == 1 else ''} on `{slug}`; {advice}")
    return reasons


def _checked_specs(modules: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, ModuleSpec], list[str]]:
    """Each requested spec through the manifest model (strict, as when the file is read), and each value
    checked to be writable as TOML; reasons name the module and the key."""
    wanted: dict[str, ModuleSpec] = {}
    reasons: list[str] = []
    if not isinstance(modules, Mapping):
        return wanted, ["`modules` must be a table of slug -> module spec"]
    for slug, spec in modules.items():
        if not isinstance(spec, Mapping):
            reasons.append(f"`modules.{slug}` must be a table (the module spec), not {type(spec).__name__}")
            continue
        problems = [f"`modules.{slug}.{key}`: {problem}" for key, problem in _unwritable(spec)]
        if problems:
            reasons.extend(problems)
            continue
        try:
            wanted[slug] = ModuleSpec.model_validate(dict(spec))
        except ValidationError as error:
            for item in error.errors(include_input=False):
                where = ".".join(str(part) for part in ("modules", slug, *item["loc"]))
                reasons.append(f"`{where}`: {item['msg']}")
    return wanted, reasons


def _unwritable(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems = []
    for key, value in spec.items():
        if not isinstance(key, str) or not key:
            problems.append((str(key), "a key must be a non-empty string"))
            continue
        if value is None:
            problems.append((key, "TOML has no null: leave the key out"))
            continue
        try:
            _item(value)
        except (TypeError, ValueError, tomlkit.exceptions.TOMLKitError) as error:
            problems.append((key, f"cannot be written as TOML ({error})"))
    return problems


def _with_trivia(table: InlineTable, like: InlineTable) -> InlineTable:
    for name in ("indent", "comment_ws", "comment", "trail"):
        setattr(table.trivia, name, getattr(like.trivia, name))
    return table


def _plain(value: Any) -> Any:
    """A tomlkit value as plain Python (None for a missing key), for comparing with a request."""
    return value.unwrap() if hasattr(value, "unwrap") else value


def inline_module(spec: dict[str, Any]) -> InlineTable:
    """A module spec as RusToK writes it: one inline table, keys in the usual order, `{ a = 1 }`."""
    keys = [k for k in MODULE_KEY_ORDER if k in spec] + [k for k in spec if k not in MODULE_KEY_ORDER]
    body = ", ".join(f"{_key(k)} = {_item(spec[k]).as_string()}" for k in keys if spec[k] is not None)
    table = tomlkit.parse(f"x = {{ {body} }}")["x"]
    assert isinstance(table, InlineTable)
    table.trivia.trail = "\n"  # end the line like its neighbours, before any blank line
    return table


def _key(name: str) -> str:
    return tomlkit.key(name).as_string()


def _item(value: Any) -> Any:
    item = tomlkit.item(value)
    if isinstance(item, Array):
        item.multiline(False)
    return item


@lru_cache(maxsize=4)
def _valid_base(text: str, manifest_dir: str) -> ValidationResult:
    """The manifest before the edit, validated once per text (a `ValidationResult` is immutable)."""
    result = validate_text(text, manifest_dir=manifest_dir)
    if not result.valid:
        raise EditRefused(
            [
                "the manifest is not valid now; fix it before editing: "
                + "; ".join(p.message for p in result.errors)
            ],
            result.errors,
        )
    return result


def _load(text: str) -> TOMLDocument:
    """A fresh, editable document of ``text``. tomlkit's parse is most of an edit's time (60 ms for 200
    modules); planning many edits of one text (the console's buttons) parses it once and unpickles a
    copy for each (3x faster than parsing; the copy prints back byte for byte)."""
    document = pickle.loads(_parsed(text))  # noqa: S301 - bytes this process pickled itself, never read in
    assert isinstance(document, TOMLDocument)
    return document


@lru_cache(maxsize=4)
def _parsed(text: str) -> bytes:
    try:
        document = tomlkit.parse(text)
    except tomlkit.exceptions.TOMLKitError as exc:  # the fast parser accepted it; tomlkit may be stricter
        raise EditRefused([f"the manifest cannot be edited safely: {exc}"]) from exc
    return pickle.dumps(document, protocol=pickle.HIGHEST_PROTOCOL)  # our own object, never read from outside


def _modules_table(doc: TOMLDocument, *, create: bool = False) -> Table | InlineTable | OutOfOrderTableProxy:
    if "modules" not in doc and create:
        doc.add("modules", tomlkit.table())
    table = doc["modules"]
    # a proxy when [modules.x] sub-tables come after another table: it edits them in place all the same
    assert isinstance(table, Table | InlineTable | OutOfOrderTableProxy)
    return table


def _new_enabled_array(doc: TOMLDocument) -> Array:
    array = _enabled_array(doc, create=True)
    assert array is not None  # created when missing
    return array


def _enabled_array(doc: TOMLDocument, *, create: bool = False) -> Array | None:
    if "settings" not in doc:
        if not create:
            return None
        doc.add(tomlkit.nl())
        doc.add("settings", tomlkit.table())
    settings = doc["settings"]
    assert isinstance(settings, Table | InlineTable)
    if "default_enabled" not in settings:
        if not create:
            return None
        settings["default_enabled"] = tomlkit.array()
    array = settings["default_enabled"]
    assert isinstance(array, Array)
    return array


def _remove_module(doc: TOMLDocument, slug: str) -> None:
    del _modules_table(doc)[slug]
    enabled = _enabled_array(doc)
    if enabled is not None:
        _remove_all(enabled, slug)


def _set_fields(entry: Any, changes: Mapping[str, Any]) -> None:
    """Set each key to its value; None removes the key."""
    for key, value in changes.items():
        if value is None:
            if key in entry:
                del entry[key]
        else:
            entry[key] = _item(value)


def _remove_all(array: Array, value: str) -> None:
    for index in reversed(range(len(array))):
        if array[index] == value:
            del array[index]


def _finish(base: ValidationResult, doc: TOMLDocument, manifest_dir: str) -> EditResult:
    text = tomlkit.dumps(doc)
    result = validate_text(text, manifest_dir=manifest_dir)
    if not result.valid or result.manifest is None:
        raise EditRefused(
            ["the edit would make the manifest invalid: " + "; ".join(p.message for p in result.errors)],
            result.errors,
        )
    assert base.manifest is not None
    return EditResult(text, result, compute_delta(base.manifest, result.manifest))
