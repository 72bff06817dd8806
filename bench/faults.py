"""Issue #11's fault-injection table, at the issue's sizes: real `modbot serve` processes against the
stand-in GitHub that fails on purpose (tests/github_standin.py; the harness and the scenarios are
tests/fault_injection.py, the same code tests/e2e/test_faults.py runs small). Figures: docs/reliability.md.

    python bench/faults.py [--only after_write_failures,kill9_during_drain,...] [--backend sqlite|postgresql]
        [--json results.json]
    python bench/faults.py --tables before.json=main after.json=merged   # a table per scenario, side by side

Per scenario: deliveries acknowledged (202), handled (done), failed (given up), lost (acknowledged,
not finished when the queue should have drained), PRs with more than one sticky comment (and the extra
comments), SHAs with more than one `modbot/manifest` status (and the extra statuses), and the seconds
until the queue drained (from the last restart where there is one; docs/reliability.md defines each).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from store_bench import describe_machine  # noqa: E402

from tests import fault_injection as fi  # noqa: E402
from tests.store_helpers import postgres_schema  # noqa: E402

Scenario = Callable[[Path, str | None], fi.Tally]
FAST_FORWARD = True  # kill -9 runs: end a dead bot's leases at once (--real-leases: leave them to the bot)

SCENARIOS: dict[str, tuple[str, Scenario]] = {
    "after_write_failures": (
        "30 % of GitHub writes answer 502 after doing the write (100 PRs)",
        lambda d, db: fi.after_write_failures(d, prs=100, rate=0.3, database_url=db),
    ),
    "after_write_failures_app": (
        "the same in App mode: the verdict is a check run (100 PRs)",
        lambda d, db: fi.after_write_failures(d, prs=100, rate=0.3, app=True, database_url=db),
    ),
    "kill9_during_drain": (
        "kill -9 at random moments during the drain, 10 kills (100 PRs)",
        lambda d, db: fi.kill9_during_drain(
            d, prs=100, kills=10, at_writes=False, fast_forward=FAST_FORWARD, database_url=db
        ),
    ),
    "kill9_at_writes": (
        "kill -9 while GitHub answers a write it has done, 10 kills (20 PRs)",
        lambda d, db: fi.kill9_during_drain(
            d, prs=20, kills=10, at_writes=True, fast_forward=FAST_FORWARD, database_url=db
        ),
    ),
    "hang_past_timeout": (
        "20 % of comment creations hang past the 15 s client timeout after doing it (20 PRs)",
        lambda d, db: fi.hang_past_timeout(d, prs=20, rate=0.2, seed=6, workers=4, database_url=db),
    ),
    "lease_outlived": (
        "a job outlives its lease (GitHub rate-limits it, 10 s), 2 bots on PostgreSQL (10 PRs)",
        lambda d, db: fi.lease_outlived(d, db or "", prs=10),
    ),
    "lease_outlived_stalled": (
        "the same, the first bot frozen (SIGSTOP) until the other took the job over (10 PRs)",
        lambda d, db: fi.lease_outlived(d, db or "", prs=10, stall=True),
    ),
    "malformed_payloads": (
        "payloads missing pull_request.head.sha / repository.html_url",
        lambda d, db: fi.malformed_payloads(d, wait_seconds=120, database_url=db),
    ),
    "sigterm_in_flight": (
        "SIGTERM with a job in flight, then a restart (5 PRs)",
        lambda d, db: fi.sigterm_in_flight(d, prs=5, resume_timeout=180, database_url=db),
    ),
}


@contextlib.contextmanager
def database(backend: str, needs_postgres: bool) -> Iterator[str | None]:
    if backend == "postgresql" or needs_postgres:
        with postgres_schema() as url:
            yield url.render_as_string(hide_password=False)
    else:
        yield None  # a SQLite file in the scenario's directory


def row(name: str, tally: fi.Tally) -> str:
    drain = "—" if tally.drain_seconds is None else f"{tally.drain_seconds:.1f} s"
    return (
        f"| {name} | {tally.acknowledged} | {tally.handled} | {tally.failed} | {tally.lost} | "
        f"{tally.duplicate_comment_prs} ({tally.extra_comments}) | "
        f"{tally.duplicate_status_shas} ({tally.extra_statuses}) | {drain} |"
    )


ROWS = (
    ("acknowledged", "acknowledged"),
    ("handled", "handled"),
    ("failed", "failed (given up)"),
    ("lost", "lost"),
    ("duplicate_comment_prs", "PRs with 2+ sticky comments"),
    ("extra_comments", "extra comments"),
    ("duplicate_status_shas", "SHAs with 2+ statuses / check runs"),
    ("extra_statuses", "extra statuses / check runs"),
    ("drain_seconds", "drain"),
)


def _cell(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f} s"
    return str(value)


def tables(sources: list[str]) -> str:
    """A markdown table per scenario, one column per saved run (`FILE.json=label`)."""
    runs = []
    for source in sources:
        path, _, label = source.partition("=")
        runs.append((label or Path(path).stem, json.loads(Path(path).read_text(encoding="utf-8"))))
    names = [name for name in SCENARIOS if any(name in data for _, data in runs)]
    out = []
    for name in names:
        present = [(label, data[name]) for label, data in runs if name in data]
        out.append(f"### `{name}`: {SCENARIOS[name][0]}\n")
        out.append("| | " + " | ".join(label for label, _ in present) + " |")
        out.append("| --- |" + " ---: |" * len(present))
        for key, title in ROWS:
            out.append(f"| {title} | " + " | ".join(_cell(tally[key]) for _, tally in present) + " |")
        for label, tally in present:
            notes = {k: v for k, v in tally["notes"].items() if k != "reviewed_prs"}
            out.append(
                f"\n{label}: faults injected {json.dumps(tally['faults'])}; {json.dumps(notes, default=str)}"
            )
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenario names")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--json", type=Path, help="also write the tallies here")
    parser.add_argument(
        "--real-leases",
        action="store_true",
        help="kill -9 runs: leave a dead bot's leases to the bots instead of ending them at once",
    )
    parser.add_argument("--tables", nargs="+", metavar="FILE.json[=label]", help="print saved runs and exit")
    args = parser.parse_args(argv)
    global FAST_FORWARD  # noqa: PLW0603 (one switch read by the scenario table)
    FAST_FORWARD = not args.real_leases
    if args.tables:
        print(tables(args.tables))
        return 0
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {sorted(SCENARIOS)}")
    print(f"machine: {describe_machine()}; store: {args.backend}", flush=True)
    results: dict[str, dict[str, object]] = {}
    lines = [
        "| scenario | acknowledged | handled | failed | lost | PRs with 2+ comments (extra) "
        "| SHAs with 2+ statuses (extra) | drain |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    with tempfile.TemporaryDirectory(prefix="modbot-faults-") as tmp:
        for name in names:
            title, scenario = SCENARIOS[name]
            started = time.monotonic()
            with database(args.backend, name.startswith("lease_outlived")) as url:
                tally = scenario(Path(tmp) / name, url)
            seconds = time.monotonic() - started
            print(f"\n## {name}: {title} ({seconds:.0f} s)\n{tally.summary()}", flush=True)
            if tally.conformance_failures:
                print("stand-in conformance failures:", *tally.conformance_failures, sep="\n  ")
            results[name] = {"title": title, "seconds": seconds, **tally.__dict__}
            lines.append(row(name, tally))
    print("\n" + "\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
