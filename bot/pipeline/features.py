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
    feature_names = frozenset(features) if isinstance(features, dict) else frozenset()
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
    return CargoPackageInfo(name if isinstance(name, str) else None, feature_names, tuple(deps))


@dataclass(frozen=True, slots=True)
class FeaturePlan:
    package: str
    features: tuple[str, ...]  # the value of --features, in order
    profile: str  # the cargo profile: "release", "dev" or a custom name
    target: str | None
    modules: tuple[str, ...]  # every module slug of the manifest, sorted
    compiled_by_feature: tuple[str, ...]  # slugs compiled in through their own feature
    manifest_hash: str
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
    for feature in (*embed, *build.extra_features):
        base = feature.split("/", 1)[0] if "/" in feature else feature
        if "/" in feature:
            if not any(d.name == base.removesuffix("?") for d in cargo.dependencies):
                errors.append(f"feature {feature}: {base} is not a dependency of {build.package}")
        elif feature not in cargo.features:
            why = "build.server in the manifest asks for it" if feature in embed else "build.extra_features"
            errors.append(f"{where} has no feature {feature} ({why})")

    features = _unique([*module_features, *crate_features, *embed, *build.extra_features])
    return FeaturePlan(
        package=build.package,
        features=tuple(features),
        profile=cargo_profile(manifest.build.profile),
        target=manifest.build.target,
        modules=tuple(sorted(manifest.modules)),
        compiled_by_feature=tuple(by_feature),
        manifest_hash=manifest_hash(manifest),
        errors=tuple(errors),
        warnings=tuple(warnings),
    )


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
