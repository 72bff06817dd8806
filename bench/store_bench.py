"""Latency of the store calls on the webhook's and the worker's paths.

    python bench/store_bench.py [--calls 3000] [--threads 1,4] [--postgres-url URL] [--no-postgres]

``record_delivery`` is what the webhook waits for before answering 202: it is timed per call
(p50/p90/p99/max) with a real ``pull_request.synchronize`` payload (from the
``@octokit/webhooks-examples`` npm package when installed, else a synthetic one of the same size),
on a SQLite file (synchronous=FULL, the default, and NORMAL) and on PostgreSQL (a scratch schema,
dropped afterwards). Also timed: a redelivery (duplicate), and claim_next + complete per job.
With several threads, the calls run concurrently as the webhook's thread pool would run them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.store_helpers (the scratch PostgreSQL schema)

from bot.store.engine import make_engine  # noqa: E402
from bot.store.migrate import upgrade_to_head  # noqa: E402
from bot.store.store import Store  # noqa: E402
from tests.store_helpers import postgres_schema, postgres_test_url  # noqa: E402

EXAMPLES = Path("node_modules/@octokit/webhooks-examples/api.github.com/index.json")


def load_payload() -> tuple[dict[str, Any], str]:
    if EXAMPLES.is_file():
        for event in json.loads(EXAMPLES.read_text(encoding="utf-8")):
            if event["name"] == "pull_request":
                for example in event["examples"]:
                    if example.get("action") == "synchronize":
                        return example, "@octokit/webhooks-examples pull_request.synchronize"
    filler = {f"field_{n}": "x" * 200 for n in range(110)}
    return {"action": "synchronize", "number": 1, "pull_request": filler}, "synthetic"


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] / 1e6

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": ordered[-1] / 1e6}


def timed_calls(calls: int, threads: int, call: Callable[[int], None]) -> tuple[list[int], float]:
    """Run call(0..calls-1) split over ``threads``; per-call latencies (ns) and wall time (s)."""
    samples: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def run(offset: int) -> None:
        mine: list[int] = []
        barrier.wait()
        for n in range(offset, calls, threads):
            start = time.perf_counter_ns()
            call(n)
            mine.append(time.perf_counter_ns() - start)
        with lock:
            samples.extend(mine)

    workers = [threading.Thread(target=run, args=(offset,)) for offset in range(threads)]
    wall = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return samples, time.perf_counter() - wall


def bench_store(store: Store, payload: dict[str, Any], calls: int, threads: int) -> dict[str, Any]:
    run = f"{time.time_ns()}-{threads}"
    repo = "octo-org/octo-repo"
    for n in range(100):  # warm-up: connections, prepared statements, page cache
        store.record_delivery(f"warm-{run}-{n}", "pull_request", "synchronize", repo, 1, payload)

    def record(n: int) -> None:
        store.record_delivery(f"{run}-{n}", "pull_request", "synchronize", repo, 1, payload)

    samples, wall = timed_calls(calls, threads, record)
    result: dict[str, Any] = {"record": percentiles(samples), "record_per_s": calls / wall}

    def duplicate(n: int) -> None:
        store.record_delivery(f"{run}-{n}", "pull_request", "synchronize", repo, 1, payload)

    samples, _ = timed_calls(min(calls, 1000), threads, duplicate)
    result["duplicate"] = percentiles(samples)

    def claim_complete(n: int) -> None:
        job = store.claim_next(f"bench-{threading.get_ident()}", 60)
        if job is not None:
            store.complete(job)

    samples, wall = timed_calls(min(calls, 1000), threads, claim_complete)
    result["claim_complete"] = percentiles(samples)
    result["jobs_per_s"] = min(calls, 1000) / wall
    return result


def describe_machine() -> str:
    cpus = os.cpu_count()
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{platform.machine()}, {cpus} CPUs ({model}), {system}, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--threads", default="1,4", help="comma-separated thread counts")
    parser.add_argument(
        "--postgres-url", default=None, help="default: MODBOT_TEST_POSTGRES_URL or local test db"
    )
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    thread_counts = [int(n) for n in args.threads.split(",")]
    payload, source = load_payload()
    print(f"machine: {describe_machine()}")
    print(f"payload: {source}, {len(json.dumps(payload))} bytes of JSON; {args.calls} calls per run")
    rows: list[tuple[str, int, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory() as directory:
        for synchronous in ("FULL", "NORMAL"):
            engine = make_engine(
                f"sqlite:///{directory}/bench-{synchronous}.sqlite3", sqlite_synchronous=synchronous
            )
            upgrade_to_head(engine)
            store = Store(engine)
            for threads in thread_counts:
                rows.append(
                    (
                        f"SQLite WAL, synchronous={synchronous}",
                        threads,
                        bench_store(store, payload, args.calls, threads),
                    )
                )
            engine.dispose()
    if not args.no_postgres:
        base = postgres_test_url() if args.postgres_url is None else make_engine(args.postgres_url).url
        with postgres_schema(base) as url:
            engine = make_engine(url)
            upgrade_to_head(engine)
            with engine.connect() as conn:
                version = conn.exec_driver_sql("SHOW server_version").scalar()
            store = Store(engine)
            for threads in thread_counts:
                rows.append(
                    (
                        f"PostgreSQL {version} (local)",
                        threads,
                        bench_store(store, payload, args.calls, threads),
                    )
                )
            engine.dispose()
    print()
    print(
        "| database | threads | record p50 | p90 | p99 | max | records/s "
        "| redelivery p50 / p99 | claim+complete p50 / p99 | jobs/s |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, threads, r in rows:
        rec, dup, job = r["record"], r["duplicate"], r["claim_complete"]
        print(
            f"| {name} | {threads} | {rec['p50']:.2f} ms | {rec['p90']:.2f} ms | {rec['p99']:.2f} ms "
            f"| {rec['max']:.1f} ms "
            f"| {r['record_per_s']:,.0f} | {dup['p50']:.2f} / {dup['p99']:.2f} ms "
            f"| {job['p50']:.2f} / {job['p99']:.2f} ms | {r['jobs_per_s']:,.0f} |"
        )
    print(f"\nmedian of p50s: {statistics.median(r['record']['p50'] for _, _, r in rows):.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
