"""Manifest core benchmark: validate + hash + diff on generated manifests of 50, 5,000 and
20,000 modules (in-process), and `modbot validate` wall time on a 50-module file including
interpreter start-up. Figures go to docs/performance.md by hand, with the machine noted.

    .venv/bin/python bench/manifest_bench.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.manifest import compute_delta, validate_bytes  # noqa: E402


def generate(count: int, *, bump: bool = False) -> bytes:
    """A RusToK-shaped manifest: mixed sources, features, dependency chains, default_enabled."""
    lines = [
        "# generated",
        "schema = 2",
        'app = "rustok-server"',
        "",
        "[build]",
        'profile = "release"',
        "",
        "[modules]",
    ]
    enabled = []
    for i in range(count):
        deps = f', depends_on = ["m{i - 1}"]' if i % 3 and i else ""
        if i % 3 == 0:
            version = "0.3" if bump and i % 100 == 0 else "0.2"
            spec = f'source = "crates-io", version = "{version}", features = ["graphql", "server"]'
        elif i % 3 == 1:
            spec = f'source = "path", path = "crates/rustok-m{i}"'
        else:
            spec = f'source = "git", git = "https://github.com/rustok/m{i}.git", rev = "v1.{i}.0"'
        lines.append(f'm{i} = {{ crate = "rustok-m{i}", {spec}{deps} }}')
        if i % 10 == 0 and not deps:
            enabled.append(f'"m{i}"')
    if bump:  # the head installs one module in place of the last one, so the count stays the same
        lines[-1] = f'extra{count} = {{ crate = "rustok-extra", source = "path", path = "crates/extra" }}'
    lines += ["", "[settings]", f"default_enabled = [{', '.join(enabled)}]", ""]
    return "\n".join(lines).encode()


def in_process(count: int, repeat: int) -> tuple[float, float, float, float]:
    base_raw, head_raw = generate(count), generate(count, bump=True)
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        base = validate_bytes(base_raw)
        head = validate_bytes(head_raw)
        assert base.valid and head.valid, (base.problems[:3], head.problems[:3])
        assert base.manifest_hash and head.manifest_hash
        assert base.manifest is not None and head.manifest is not None
        delta = compute_delta(base.manifest, head.manifest)
        assert delta.added and delta.removed and delta.changed
        timings.append(time.perf_counter() - start)
    one = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = validate_bytes(base_raw)
        assert result.manifest_hash
        one.append(time.perf_counter() - start)
    return min(timings), statistics.median(timings), min(one), statistics.median(one)


def cli_wall(repeat: int) -> tuple[float, float]:
    modbot = Path(sys.executable).parent / "modbot"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "modules.toml"
        path.write_bytes(generate(50))
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run([str(modbot), "validate", str(path)], check=True, capture_output=True)
            runs.append(time.perf_counter() - start)
    return min(runs), statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}"
    )
    print(
        "scenario: validate base + validate head + hash both + diff (two manifests), and validate+hash alone"
    )
    print(f"{'modules':>8} {'pair best':>10} {'pair median':>12} {'one best':>9} {'one median':>11}")
    results = {}
    for count in (50, 5_000, 20_000):
        best, median, one_best, one_median = in_process(count, args.repeat)
        results[count] = median
        print(
            f"{count:>8} {best * 1000:>8.1f}ms {median * 1000:>10.1f}ms {one_best * 1000:>7.1f}ms {one_median * 1000:>9.1f}ms"
        )
    print(f"20,000 / 5,000 ratio (median pair): {results[20_000] / results[5_000]:.2f}x (linear would be 4x)")
    best, median = cli_wall(max(args.repeat, 10))
    print(
        f"`modbot validate` 50 modules, wall incl. start-up: best {best * 1000:.0f}ms, median {median * 1000:.0f}ms"
    )


if __name__ == "__main__":
    main()
