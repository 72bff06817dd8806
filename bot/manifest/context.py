"""What every validation rule looks at: the typed manifest plus derived facts, computed once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from bot.manifest.model import Build, ModuleSpec, Settings
from bot.manifest.structure import TypedManifest


@dataclass(frozen=True)
class RuleContext:
    typed: TypedManifest
    manifest_dir: str = ""  # the manifest's folder relative to the repository root, POSIX

    @property
    def modules(self) -> dict[str, ModuleSpec]:
        return self.typed.modules

    @property
    def build(self) -> Build:
        return self.typed.build

    @property
    def settings(self) -> Settings:
        return self.typed.settings

    @cached_property
    def all_slugs(self) -> frozenset[str]:
        """Every slug in the file, including modules whose spec is malformed (so a dependency on
        a malformed module is not also reported as unknown)."""
        return frozenset(self.typed.slugs)

    @cached_property
    def required(self) -> frozenset[str]:
        return frozenset(slug for slug, spec in self.modules.items() if spec.required)

    @cached_property
    def dependents(self) -> dict[str, list[str]]:
        """slug -> the slugs that list it in depends_on, in file order."""
        result: dict[str, list[str]] = {}
        for slug, spec in self.modules.items():
            for dependency in spec.depends_on:
                result.setdefault(dependency, []).append(slug)
        return result
