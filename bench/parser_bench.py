"""Chat-ops command parser on the largest comments GitHub accepts (65,536 characters), shaped to find
quadratic work (fences, list markers, comment openers, backticks). Each body is parsed whole and as
its first half, in the same run: the growth ratio t(whole) / t(half) is about 2 for linear work and
about 4 for quadratic work, on any machine. The whole body is also timed against a linear baseline on
the same body (`str.splitlines` plus one regex scan per line).
Figures go to docs/performance.md by hand, with the machine noted.

    .venv/bin/python bench/parser_bench.py [--repeat N]
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app.chatops.parse import parse_comment  # noqa: E402
from tests.unit.test_command_parser import LARGE_BODIES  # noqa: E402

_WORD = re.compile(r" {0,3}/([A-Za-z][A-Za-z-]*)")


def baseline(body: str) -> None:
    for line in body.splitlines():
        _WORD.match(line)


def best_of(repeat: int, work: Callable[[str], object], body: str) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work(body)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.processor() or '?'}, Python {platform.python_version()}")
    print(f"{'body':30} {'parse ms':>9} {'half ms':>8} {'growth':>7} {'baseline ms':>12}")
    growths = []
    for name, body in LARGE_BODIES.items():
        parse = best_of(args.repeat, parse_comment, body)
        half = best_of(args.repeat, parse_comment, body[: len(body) // 2])
        base = best_of(args.repeat, baseline, body)
        growths.append(parse / half)
        print(f"{name:30} {parse * 1e3:9.2f} {half * 1e3:8.2f} {parse / half:7.2f} {base * 1e3:12.3f}")
    print(
        f"growth whole/half: median {statistics.median(growths):.2f}, max {max(growths):.2f} (linear ~2, quadratic ~4)"
    )


if __name__ == "__main__":
    main()
