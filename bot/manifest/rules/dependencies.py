"""`depends_on`: known slugs, no self-dependency, no cycles, and required modules that stand alone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from bot.manifest.context import RuleContext
from bot.manifest.problems import Problem, error, join_path, warning


def check(ctx: RuleContext) -> Iterator[Problem]:
    modules = ctx.modules
    for slug, spec in modules.items():
        seen: set[str] = set()
        for index, dependency in enumerate(spec.depends_on):
            problem = _dependency_problem(ctx, slug, dependency, seen)
            if problem is not None:
                yield problem(join_path("modules", slug, "depends_on", index))
            seen.add(dependency)
    for cycle in find_cycles({slug: spec.depends_on for slug, spec in modules.items()}):
        yield error(
            "dependency-cycle",
            join_path("modules", cycle[0], "depends_on"),
            "dependency cycle: " + " → ".join([*cycle, cycle[0]]) + "; break it by removing one dependency",
        )


def _dependency_problem(
    ctx: RuleContext, slug: str, dependency: str, seen: set[str]
) -> Callable[[str], Problem] | None:
    """The problem with one `depends_on` entry, as a function of its path (built only when needed)."""
    modules = ctx.modules
    if dependency in seen:
        return partial(warning, "depends-on", message=f"`{dependency}` is listed twice; list it once")
    if dependency == slug:
        return partial(
            error, "depends-on", message=f"module `{slug}` depends on itself; remove it from depends_on"
        )
    if dependency not in ctx.all_slugs:
        return partial(
            error,
            "depends-on",
            message=f"module `{slug}` depends on `{dependency}`, which is not in [modules]; install it "
            "or remove the dependency",
        )
    if modules[slug].required and dependency in modules and not modules[dependency].required:
        return partial(
            error,
            "required-closure",
            message=f"required module `{slug}` depends on `{dependency}`, which is optional and could be "
            f"uninstalled; mark `{dependency}` required too",
        )
    return None


def find_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """One cycle per strongly connected component (Tarjan's algorithm, iterative so that a
    20,000-module chain cannot overflow the stack). Self-loops are reported elsewhere."""
    index_of: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root, root_successors in graph.items():
        if root in index_of:
            continue
        index_of[root] = low[root] = len(index_of)
        stack.append(root)
        on_stack.add(root)
        work: list[tuple[str, Iterator[str]]] = [(root, iter(root_successors))]
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ == node or succ not in graph:
                    continue
                if succ not in index_of:
                    index_of[succ] = low[succ] = len(index_of)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(graph[succ])))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index_of[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index_of[node]:
                    component: list[str] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(component)
    return [_cycle_in(set(component), graph) for component in components]


def _cycle_in(component: set[str], graph: dict[str, list[str]]) -> list[str]:
    """A simple cycle through the component's smallest slug, found by breadth-first search, so
    the report is short and the same every run."""
    start = min(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        next_frontier: list[str] = []
        for node in frontier:
            for succ in graph.get(node, ()):
                if succ == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return list(reversed(path))
                if succ in component and succ not in previous and succ != start:
                    previous[succ] = node
                    next_frontier.append(succ)
        frontier = next_frontier
    return sorted(component)  # unreachable for a real component
