"""What keeping leases costs: `heartbeat` (one fenced UPDATE of the job's row) on SQLite and PostgreSQL.

Each running job renews its lease every MODBOT_HEARTBEAT_SECONDS (5 s by default), so a bot with W busy
workers adds W / 5 small write transactions per second. This times them: ``--jobs`` jobs are claimed,
then renewed ``--calls`` times in all (round robin), single-threaded and from 4 threads at once; and
the webhook's ``record_delivery`` is timed alone and while 4 threads renew leases back to back (a
worst case far above 4 workers' real rate of 0.8 renewals a second).

    python bench/heartbeat_bench.py [--calls 2000] [--jobs 8] [--no-postgres]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.store_helpers; bench/ itself is on the path as the script's folder

from store_bench import describe_machine, load_payload, percentiles, timed_calls  # noqa: E402

from bot.store.engine import make_engine  # noqa: E402
from bot.store.migrate import upgrade_to_head  # noqa: E402
from bot.store.store import Store  # noqa: E402
from tests.store_helpers import postgres_schema, postgres_test_url  # noqa: E402

REPO = "octo-org/octo-repo"


def bench(store: Store, payload: dict[str, Any], calls: int, jobs: int) -> dict[str, Any]:
    for n in range(jobs):
        store.record_delivery(f"job-{n}", "pull_request", "synchronize", REPO, 1, payload)
    held = [store.claim_next(f"bench:1:{n}", 60) for n in range(jobs)]
    leases = [job for job in held if job is not None]
    result: dict[str, Any] = {}
    for threads in (1, 4):
        samples, wall = timed_calls(calls, threads, lambda n: store.heartbeat(leases[n % len(leases)]))
        result[f"heartbeat_{threads}"] = percentiles(samples)
        result[f"heartbeats_per_s_{threads}"] = calls / wall

    def record(n: int) -> None:
        store.record_delivery(f"rec-{n}", "pull_request", "synchronize", REPO, 1, payload)

    samples, _ = timed_calls(calls // 2, 1, record)
    result["record_alone"] = percentiles(samples)
    stop = threading.Event()

    def renew_forever(offset: int) -> None:
        n = offset
        while not stop.is_set():
            store.heartbeat(leases[n % len(leases)])
            n += 1

    renewers = [threading.Thread(target=renew_forever, args=(n,)) for n in range(4)]
    for thread in renewers:
        thread.start()
    try:
        samples, _ = timed_calls(calls // 2, 1, lambda n: record(calls + n))
    finally:
        stop.set()
        for thread in renewers:
            thread.join()
    result["record_under_renewals"] = percentiles(samples)
    return result


def stores(no_postgres: bool) -> Iterator[tuple[str, Store]]:
    with tempfile.TemporaryDirectory() as directory:
        engine = make_engine(f"sqlite:///{directory}/heartbeat.sqlite3")
        upgrade_to_head(engine)
        yield "SQLite WAL, synchronous=FULL", Store(engine)
        engine.dispose()
    if no_postgres:
        return
    with postgres_schema(postgres_test_url()) as url:
        engine = make_engine(url)
        upgrade_to_head(engine)
        with engine.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar()
        yield f"PostgreSQL {version} (local)", Store(engine)
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    payload, _ = load_payload()
    print(f"machine: {describe_machine()}")
    print(
        "\n| database | heartbeat p50 / p99, 1 thread | 4 threads | heartbeats/s (4 threads) "
        "| record_delivery p50 / p99 alone | while 4 threads renew |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, store in stores(args.no_postgres):
        r = bench(store, payload, args.calls, args.jobs)
        one, four, alone, busy = (
            r["heartbeat_1"],
            r["heartbeat_4"],
            r["record_alone"],
            r["record_under_renewals"],
        )
        print(
            f"| {name} | {one['p50']:.2f} / {one['p99']:.2f} ms | {four['p50']:.2f} / {four['p99']:.2f} ms "
            f"| {r['heartbeats_per_s_4']:,.0f} | {alone['p50']:.2f} / {alone['p99']:.2f} ms "
            f"| {busy['p50']:.2f} / {busy['p99']:.2f} ms |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
