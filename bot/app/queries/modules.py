"""The Modules page's read model: the manifest's modules with their badges and dependents, the catalog,
and for every button whether the manifest core would accept it.

A verdict is never re-derived from the rules: each one runs the admin action's own plan
(`plan_change`: the real edit and validation) on the manifest text, and a refusal carries the
reasons `EditRefused` gave. That costs one edit per button, so a view is cached per (manifest text,
catalog) pair: the text changes only when the default branch does.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from bot.app.proposals import Action, Intent, ModuleChange, plan_change
from bot.manifest.catalog import Catalog, CatalogEntry, CatalogError, parse_catalog
from bot.manifest.edit import EditRefused
from bot.manifest.model import Manifest, ModuleSpec
from bot.manifest.validate import validate_text

__all__ = [
    "CatalogRow",
    "ModuleRow",
    "ModulesView",
    "Verdict",
    "location_of",
    "modules_view",
    "upgrade_fields",
    "verdict",
    "view_ready",
]

# plan_change writes the base commit into the PR body it plans; the verdict does not depend on it
_NO_COMMIT = "0" * 40
_VIEWS_CACHED = 8


@dataclass(frozen=True, slots=True)
class Verdict:
    """Would the manifest core accept this action now? ``reasons``: its words when it would not;
    ``summary``: the modules_delta summary line when it would."""

    action: Action
    allowed: bool
    reasons: tuple[str, ...] = ()
    summary: str = ""
    delta: Mapping[str, Any] | None = None  # the modules_delta as JSON, when allowed


@dataclass(frozen=True, slots=True)
class ModuleRow:
    slug: str
    crate: str
    source: str
    location: str  # version requirement, git URL@rev or path: where the crate comes from
    features: tuple[str, ...]
    required: bool
    enabled: bool  # in settings.default_enabled
    extension: bool  # runtime = "extension"
    depends_on: tuple[str, ...]
    dependents: tuple[str, ...]  # installed modules that depend on this one
    verdicts: Mapping[str, Verdict]  # uninstall, enable or disable, and with a catalog offer upgrade
    upgrade_to: CatalogEntry | None  # the catalog's spec, when it differs from the installed one


@dataclass(frozen=True, slots=True)
class CatalogRow:
    slug: str
    entry: CatalogEntry
    installed: bool
    install: Verdict | None  # None while the view is pending


@dataclass(frozen=True, slots=True)
class ModulesView:
    manifest_path: str
    valid: bool
    manifest_hash: str | None
    problems: tuple[str, ...]  # the manifest's errors (then no button is offered)
    modules: tuple[ModuleRow, ...]
    catalog: tuple[CatalogRow, ...]
    catalog_problems: tuple[str, ...]  # why the catalog could not be read, when it could not
    key: str  # names the inputs: `view_ready(key)` says whether their verdicts are computed
    pending: bool = False  # the verdicts are still being computed: no row has any yet


def modules_view(
    manifest_text: str, *, manifest_path: str, catalog_raw: bytes | None, wait_seconds: float | None = None
) -> ModulesView:
    """The page for ``manifest_text`` (the manifest on the default branch) and the catalog file's bytes
    (None: the repository has no catalog). Same inputs, same (immutable) view: the last few are kept.

    Planning every button of a large manifest takes seconds (one edit each), so it runs once per inputs
    on a background thread; ``wait_seconds`` (None: as long as it takes) bounds the wait for it, after
    which a `pending` view answers: the modules and the catalog without verdicts (cheap).
    """
    key = _key(manifest_text, manifest_path, catalog_raw)
    future = _VIEWS.computation(
        key, lambda: _view(manifest_text, manifest_path, catalog_raw, key, check=True)
    )
    try:
        return future.result(timeout=wait_seconds)
    except FutureTimeout:
        return _view(manifest_text, manifest_path, catalog_raw, key, check=False)


def view_ready(key: str) -> bool:
    """The verdicts of ``key``'s inputs are computed (or their computation failed: then the page asks
    again, which starts it anew)."""
    return _VIEWS.ready(key)


class _Computations:
    """The last `_VIEWS_CACHED` views' computations, one per inputs (asked twice, computed once), on one
    background thread: the page never plans two manifests at once on a shared CPU."""

    def __init__(self) -> None:
        self._futures: OrderedDict[str, Future[ModulesView]] = OrderedDict()
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modbot-modules-view")

    def computation(self, key: str, compute: Callable[[], ModulesView]) -> Future[ModulesView]:
        with self._lock:
            future = self._futures.get(key)
            if future is None or (future.done() and future.exception() is not None):
                future = self._executor.submit(compute)
                self._futures[key] = future
            self._futures.move_to_end(key)
            while len(self._futures) > _VIEWS_CACHED:
                self._futures.popitem(last=False)
            return future

    def ready(self, key: str) -> bool:
        with self._lock:
            future = self._futures.get(key)
        return future is None or future.done()


_VIEWS = _Computations()


def _key(text: str, manifest_path: str, catalog_raw: bytes | None) -> str:
    digest = hashlib.sha256()
    for part in (text.encode("utf-8"), manifest_path.encode("utf-8"), catalog_raw):
        digest.update(b"-" if part is None else b"+%d:" % len(part) + part)
    return digest.hexdigest()[:32]


def verdict(
    action: Action,
    slug: str,
    manifest_text: str,
    *,
    manifest_path: str,
    module: Mapping[str, Any] | None = None,
    enable: bool = False,
) -> Verdict:
    """Run the admin action's plan on the text: what `POST /admin/modules/{slug}/{action}` would do."""
    try:
        intent = Intent(
            action=action,
            slug=slug,
            module=ModuleChange.model_validate(dict(module or {})),
            enable=enable,
            requested_by="modbot console",
        )
        plan = plan_change(intent, manifest_text, manifest_path=manifest_path, base_sha=_NO_COMMIT)
    except EditRefused as refused:
        return Verdict(action, allowed=False, reasons=tuple(refused.reasons))
    if plan.text == manifest_text:
        return Verdict(
            action, allowed=False, reasons=(f"nothing to change: `{manifest_path}` already says this",)
        )
    return Verdict(action, allowed=True, summary=plan.delta.summary, delta=plan.delta.to_json())


def location_of(spec: ModuleSpec | CatalogEntry) -> str:
    if spec.source == "git":
        return f"{spec.git}@{spec.rev}" if spec.rev else str(spec.git)
    if spec.source == "path":
        return str(spec.path)
    return str(spec.version)


def _view(text: str, manifest_path: str, catalog_raw: bytes | None, key: str, *, check: bool) -> ModulesView:
    """``check``: plan every button (seconds for a large manifest); otherwise the pending view."""
    manifest_dir = manifest_path.rpartition("/")[0]
    catalog, catalog_problems = _catalog(catalog_raw, manifest_dir)
    validation = validate_text(text, manifest_dir=manifest_dir)
    manifest = validation.manifest
    if manifest is None or not validation.valid:
        errors = tuple(f"{p.path}: {p.message}" if p.path else p.message for p in validation.errors)
        rows = () if manifest is None else _rows(manifest, text, manifest_path, None, check=False)
        return ModulesView(manifest_path, False, None, errors, rows, (), catalog_problems, key)
    rows = _rows(manifest, text, manifest_path, catalog, check=check)
    offers = tuple(
        CatalogRow(
            slug,
            entry,
            installed=slug in manifest.modules,
            install=verdict("install", slug, text, manifest_path=manifest_path, module=entry.module_fields())
            if check
            else None,
        )
        for slug, entry in (catalog.entries.items() if catalog else ())
    )
    return ModulesView(
        manifest_path,
        True,
        validation.manifest_hash,
        (),
        rows,
        offers,
        catalog_problems,
        key,
        pending=not check,
    )


def _catalog(raw: bytes | None, manifest_dir: str) -> tuple[Catalog | None, tuple[str, ...]]:
    if raw is None:
        return None, ()
    try:
        return parse_catalog(raw, manifest_dir=manifest_dir), ()
    except CatalogError as error:
        return None, tuple(error.reasons)


def _rows(
    manifest: Manifest, text: str, manifest_path: str, catalog: Catalog | None, *, check: bool
) -> tuple[ModuleRow, ...]:
    dependents: dict[str, list[str]] = {slug: [] for slug in manifest.modules}
    for slug, spec in manifest.modules.items():
        for needed in spec.depends_on:
            dependents.setdefault(needed, []).append(slug)
    enabled = set(manifest.settings.default_enabled)
    rows = []
    for slug in sorted(manifest.modules):
        spec = manifest.modules[slug]
        offer = catalog.entries.get(slug) if catalog else None
        upgrade_to = offer if offer is not None and _differs(offer, spec) else None
        verdicts: dict[str, Verdict] = {}
        if check:
            # the page offers Disable for an enabled module and Enable for another: only that one is planned
            toggle: Action = "disable" if slug in enabled else "enable"
            actions: tuple[Action, ...] = ("uninstall", toggle)
            for action in actions:
                verdicts[action] = verdict(action, slug, text, manifest_path=manifest_path)
            if upgrade_to is not None:
                verdicts["upgrade"] = verdict(
                    "upgrade", slug, text, manifest_path=manifest_path, module=upgrade_fields(upgrade_to)
                )
        rows.append(
            ModuleRow(
                slug=slug,
                crate=spec.crate,
                source=spec.source,
                location=location_of(spec),
                features=tuple(spec.features),
                required=spec.required,
                enabled=slug in enabled,
                extension=spec.is_extension,
                depends_on=tuple(spec.depends_on),
                dependents=tuple(sorted(dependents.get(slug, ()))),
                verdicts=verdicts,
                upgrade_to=upgrade_to,
            )
        )
    return tuple(rows)


def _differs(offer: CatalogEntry, spec: ModuleSpec) -> bool:
    """The catalog offers another crate version, source or feature set than the installed one."""
    return any(getattr(offer, key) != getattr(spec, key) for key in _UPGRADE_KEYS) or set(
        offer.features
    ) != set(spec.features)


_UPGRADE_KEYS = ("crate", "source", "version", "git", "rev", "path")


def upgrade_fields(offer: CatalogEntry) -> dict[str, Any]:
    """What `upgrade` sets to make the module the catalog's: its location and features."""
    fields = offer.module_fields()
    return {key: fields.get(key) for key in (*_UPGRADE_KEYS, "features") if key in fields}
