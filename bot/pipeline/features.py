"""The cargo arguments that build exactly a manifest's modules, and the check that they exist.

Pure: takes the typed manifest, the build config and the server's parsed `Cargo.toml`; returns the
plan (argv words, never one string) and every problem. No I/O here.

Rules (docs/pipeline.md):
- `--no-default-features`, so the package's `default` list (RusToK's lists 30 modules) never adds a
  module the manifest does not name.
- Every module, optional, required or `runtime = "extension"`, is passed as `<prefix><slug>` when the
  server has that feature. An optional or extension module without the feature is an error: the
  manifest could not decide whether it is compiled. A required module without one is fine when its
  crate is a non-optional dependency of the server (RusToK compiles its core modules that way);
  otherwise it is a warning (the crate may arrive through another crate).
- A module's `features = [...]` become `<dependency>/<feature>`.
- `build.server.embed_admin` / `embed_storefront` become the `embed-admin` / `embed-storefront`
  features: when true, or when unset in a monolith (a monolith embeds the UIs).
- The package's other default features (RusToK's `redis-cache`) are carried over, since
  `--no-default-features` would drop them silently: every `default` entry that is not a module
  feature (`<prefix>*`) nor an embed flag, unless `build.exclude_default_features` names it. A default
  that enables, directly or through other features, a module feature or embed flag the plan leaves out
  (RusToK's `ai-translation` enables `mod-translation`), or an optional crate only those turn on, is
  not carried, with a warning: the manifest decides what is compiled in.
- Profile: `release` (and unset: a pipeline builds for deployment) → `--release`; `debug`/`dev` →
  no flag; any other → `--profile NAME`. `build.target` → `--target TRIPLE`.
- `--locked`: the build uses `Cargo.lock` as committed (it is part of the build key).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.manifest.hashing import manifest_hash
from bot.manifest.model import Manifest
from bot.pipeline.config import BuildConfig

# The server's build script registers the modules of the manifest this names (RusToK's
# apps/server/build.rs; else the workspace's modules.toml). `modbot pipeline build` sets it.
MODULES_MANIFEST_ENV = "RUSTOK_MODULES_MANIFEST"
EMBED_FEATURES = (("embed_admin", "embed-admin"), ("embed_storefront", "embed-storefront"))


@dataclass(frozen=True, slots=True)
class CargoDependency:
    name: str  # the key in [dependencies] (what `dep/feature` and `dep:name` use)
    package: str  # the crate it resolves to (`package = "..."`, else the key)
    optional: bool


@dataclass(frozen=True, slots=True)
class CargoPackageInfo:
    """What the pipeline needs from the server's Cargo.toml."""

    name: str | None
    features: frozenset[str]
    dependencies: tuple[CargoDependency, ...]
    default_features: tuple[str, ...] = ()  # the `default` list, in order
    feature_table: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # [features] minus default

    def enabled_by(self, feature: str) -> frozenset[str]:
        """The package features `feature` turns on, itself included, following other features of
        the package (not `dep:` entries nor `dependency/feature`, which are another crate's)."""
        seen: set[str] = set()
        todo = [feature]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            todo += [item for item in self.feature_table.get(name, ()) if "/" not in item and ":" not in item]
        return frozenset(seen)

    def optional_dependencies_of(self, feature: str) -> frozenset[str]:
        """The optional dependencies `feature` compiles in: `dep:x` and `x/f` (not `x?/f`), the
        feature itself or entries of the features it turns on."""
        optional = {dep.name for dep in self.dependencies if dep.optional}
        items = [
            feature,
            *(item for name in self.enabled_by(feature) for item in self.feature_table.get(name, ())),
        ]
        found: set[str] = set()
        for item in items:
            if item.startswith("dep:"):
                dep = item.removeprefix("dep:")
            elif "/" in item:
                dep = item.split("/", 1)[0]
            else:
                continue
            if dep in optional:  # `x?/f` gives "x?": never counted
                found.add(dep)
        return frozenset(found)

    def dependency_for(self, crate: str) -> CargoDependency | None:
        normalized = crate.replace("_", "-")
        for dep in self.dependencies:
            if dep.package.replace("_", "-") == normalized:
                return dep
        return None


def cargo_package_info(data: Mapping[str, Any]) -> CargoPackageInfo:
    """The parsed (tomli) Cargo.toml of the server -> features and dependencies.

    Dependencies come from `[dependencies]` and `[target.<cfg>.dependencies]` (dev and build
    dependencies do not go into the binary)."""
    package = data.get("package")
    name = package.get("name") if isinstance(package, dict) else None
    features = data.get("features")
    table = features if isinstance(features, dict) else {}
    feature_names = frozenset(table)
    default = table.get("default")
    defaults = tuple(str(f) for f in default) if isinstance(default, list) else ()
    feature_table = {
        str(name): tuple(str(item) for item in items)
        for name, items in table.items()
        if name != "default" and isinstance(items, list)
    }
    tables: list[Any] = [data.get("dependencies")]
    targets = data.get("target")
    if isinstance(targets, dict):
        tables.extend(t.get("dependencies") for t in targets.values() if isinstance(t, dict))
    deps: list[CargoDependency] = []
    for table in tables:
        if not isinstance(table, dict):
            continue
        for key, value in table.items():
            if isinstance(value, dict):
                pkg = value.get("package", key)
                deps.append(
                    CargoDependency(
                        str(key), str(pkg) if isinstance(pkg, str) else key, value.get("optional") is True
                    )
                )
            else:
                deps.append(CargoDependency(str(key), str(key), False))
    return CargoPackageInfo(
        name if isinstance(name, str) else None, feature_names, tuple(deps), defaults, feature_table
    )


@dataclass(frozen=True, slots=True)
class FeaturePlan:
    package: str
    features: tuple[str, ...]  # the value of --features, in order
    profile: str  # the cargo profile: "release", "dev" or a custom name
    target: str | None
    modules: tuple[str, ...]  # every module slug of the manifest, sorted
    compiled_by_feature: tuple[str, ...]  # slugs compiled in through their own feature
    manifest_hash: str
    default_features: tuple[str, ...] = ()  # the package's non-module defaults, carried over
    excluded_defaults: tuple[str, ...] = ()  # ... that build.exclude_default_features leaves out
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def cargo_args(self) -> list[str]:
        """The arguments after `cargo build` (argv words; pass them as a list, never re-split)."""
        args = ["-p", self.package, "--locked", "--no-default-features"]
        if self.features:
            args += ["--features", ",".join(self.features)]
        if self.profile == "release":
            args.append("--release")
        elif self.profile != "dev":
            args += ["--profile", self.profile]
        if self.target:
            args += ["--target", self.target]
        return args

    @property
    def profile_dir(self) -> str:
        """The folder under target/[<triple>/] cargo writes this profile to."""
        return {"dev": "debug", "release": "release"}.get(self.profile, self.profile)


def cargo_profile(manifest_profile: str | None) -> str:
    if manifest_profile in (None, "release"):
        return "release"
    if manifest_profile in ("debug", "dev"):
        return "dev"
    return manifest_profile


def plan_features(manifest: Manifest, build: BuildConfig, cargo: CargoPackageInfo) -> FeaturePlan:
    errors: list[str] = []
    warnings: list[str] = []
    where = build.cargo_toml
    if cargo.name is not None and cargo.name != build.package:
        errors.append(f'{where} is the package "{cargo.name}", but build.package is "{build.package}"')
    module_features: list[str] = []
    crate_features: list[str] = []
    by_feature: list[str] = []
    for slug in sorted(manifest.modules):
        spec = manifest.modules[slug]
        feature = f"{build.feature_prefix}{slug}"
        dep = cargo.dependency_for(spec.crate)
        kind = "required" if spec.required else "extension" if spec.is_extension else "optional"
        if feature in cargo.features:
            module_features.append(feature)
            by_feature.append(slug)
            if dep is not None and not dep.optional:
                warnings.append(
                    f"module {slug}: its crate {spec.crate} is a non-optional dependency of "
                    f"{build.package}, so it is compiled in even when the manifest leaves it out; make it "
                    f"optional and enable it from {feature}"
                )
        elif spec.required and dep is not None and not dep.optional:
            pass  # a core module compiled in unconditionally, as RusToK does
        elif spec.required:
            warnings.append(
                f"required module {slug}: {where} has no feature {feature} and {spec.crate} is not a direct "
                f"dependency of {build.package}; it is compiled in only if another crate brings it"
            )
        else:
            hint = ""
            if dep is not None and not dep.optional:
                hint = (
                    f" (its crate {spec.crate} is a non-optional dependency, so today it is compiled in "
                    "whatever the manifest says)"
                )
            elif dep is None:
                hint = f" (and {spec.crate} is not a dependency of {build.package})"
            errors.append(
                f"{kind} module {slug}: {where} has no feature {feature} in [features]{hint}; add "
                f'{feature} = ["dep:{dep.name if dep else spec.crate}"] so the manifest decides whether '
                "it is compiled"
            )
        if spec.features:
            if dep is None:
                errors.append(
                    f"module {slug} asks for features {', '.join(spec.features)} of {spec.crate}, which is "
                    f"not a dependency of {build.package}"
                )
            else:
                crate_features += [f"{dep.name}/{name}" for name in spec.features]

    embed: list[str] = []
    server = manifest.build.server
    headless = manifest.deployment_profile == "headless"
    for attr, feature in EMBED_FEATURES:
        value = getattr(server, attr) if server is not None else None
        if value is True or (value is None and not headless):
            embed.append(feature)
    defaults = carried_defaults(
        cargo, build, kept={*module_features, *embed}, errors=errors, warnings=warnings
    )
    excluded = tuple(f for f in cargo.default_features if f in build.exclude_default_features)
    for feature in (*embed, *build.extra_features):
        base = feature.split("/", 1)[0] if "/" in feature else feature
        if "/" in feature:
            if not any(d.name == base.removesuffix("?") for d in cargo.dependencies):
                errors.append(f"feature {feature}: {base} is not a dependency of {build.package}")
        elif feature not in cargo.features:
            why = "build.server in the manifest asks for it" if feature in embed else "build.extra_features"
            errors.append(f"{where} has no feature {feature} ({why})")

    features = _unique([*module_features, *crate_features, *defaults, *embed, *build.extra_features])
    return FeaturePlan(
        package=build.package,
        features=tuple(features),
        profile=cargo_profile(manifest.build.profile),
        target=manifest.build.target,
        modules=tuple(sorted(manifest.modules)),
        compiled_by_feature=tuple(by_feature),
        manifest_hash=manifest_hash(manifest),
        default_features=tuple(defaults),
        excluded_defaults=excluded,
        errors=tuple(errors),
        warnings=tuple(warnings),
    )


def carried_defaults(
    cargo: CargoPackageInfo, build: BuildConfig, *, kept: set[str], errors: list[str], warnings: list[str]
) -> list[str]:
    """The package's `default` entries that `--no-default-features` would otherwise drop.

    `kept` is what the plan already turns on (module features and embed flags): a default that would
    turn on any other module feature or embed flag is left out, since the manifest decides those."""
    prefix = build.feature_prefix
    embed_flags = {flag for _, flag in EMBED_FEATURES}

    def decided_by_manifest(feature: str) -> bool:
        # with an empty prefix every feature could be a module's: then the manifest decides them all
        return feature.startswith(prefix) or feature in embed_flags

    candidates = [f for f in cargo.default_features if not decided_by_manifest(f)]
    # crates that module features or embed flags compile in, and those the plan compiles in anyway
    decided = [f for f in cargo.features if decided_by_manifest(f)]
    manifest_crates = frozenset().union(*(cargo.optional_dependencies_of(f) for f in decided))
    kept_crates = frozenset().union(*(cargo.optional_dependencies_of(f) for f in kept))
    for name in build.exclude_default_features:
        if name not in candidates:
            known = ", ".join(candidates) or "none"
            errors.append(
                f"build.exclude_default_features: {name} is not a non-module default feature of "
                f"{build.package} (those in {build.cargo_toml}: {known})"
            )
        elif name in build.extra_features:
            errors.append(f"{name} is in both build.extra_features and build.exclude_default_features")
    carried: list[str] = []
    for feature in candidates:
        if feature in build.exclude_default_features:
            continue
        if feature.startswith("dep:"):
            warnings.append(
                f"default feature {feature} of {build.package} is not carried over: --features cannot "
                "name dep: entries; give a feature that enables it in build.extra_features"
            )
            continue
        left_out = sorted(f for f in cargo.enabled_by(feature) if decided_by_manifest(f) and f not in kept)
        if left_out:
            warnings.append(
                f"default feature {feature} of {build.package} is not carried over: it enables "
                f"{', '.join(left_out)}, which the manifest leaves out"
            )
            continue
        crates = sorted((cargo.optional_dependencies_of(feature) & manifest_crates) - kept_crates)
        if crates:
            warnings.append(
                f"default feature {feature} of {build.package} is not carried over: it compiles in "
                f"{', '.join(crates)}, which only module features or embed flags the manifest leaves "
                "out turn on"
            )
            continue
        carried.append(feature)
    return carried


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
