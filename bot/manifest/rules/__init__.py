"""Validation rules: one module per concern, each with the same interface.

A rule module defines `check(ctx: RuleContext) -> Iterable[Problem]`. Rules are found by
listing this package, so adding a rule is adding one file.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from functools import cache

from bot.manifest.context import RuleContext
from bot.manifest.problems import Problem

Rule = Callable[[RuleContext], Iterable[Problem]]


@cache
def all_rules() -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        rules.append(module.check)
    return tuple(rules)


def run_rules(ctx: RuleContext) -> list[Problem]:
    problems: list[Problem] = []
    for rule in all_rules():
        problems.extend(rule(ctx))
    return problems
