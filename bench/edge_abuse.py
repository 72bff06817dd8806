"""Valid deliveries while the HTTP edge is abused, against the same deliveries without abuse (same run).

Processes on 127.0.0.1: a real ``modbot serve --workers 0`` (SQLite store in a temp dir; the edge limits
of bot/web/edge.py at their defaults), the client of bench/webhook_load.py (real 24.7 KB signed
``pull_request.synchronize`` deliveries, open loop at ``--rate``), and during the second phase an abuser
process running issue #11's abuse all the time:

- a 64 MB header;
- 25 slowloris connections (a header byte per second each, reopened when the server closes one);
- 8 unsigned 24 MB bodies at once;
the header and the bodies every 2 s (``--mode burst``, the default) or each again as soon as the server
has refused the last one (``--mode flood``: a far harsher test, thousands of refusals per second).

Phases: "bare" (no abuse), "abused", then "bare" again (so drift of the machine shows). Printed per phase:
p50/p90/p99/max of the valid deliveries, responses, the server's RSS and peak RSS (VmHWM), and the
ratio of the abused p99 to the bare ones; every valid delivery id is looked up in the store after.

    python bench/edge_abuse.py [--mode burst|flood] [--rate 200] [--requests 3000] [--concurrency 50]
        [--warmup 200]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import webhook_load  # noqa: E402
from store_bench import describe_machine  # noqa: E402

TARGET_P99_MS = 50.0
MiB = 1024 * 1024


# -- the abuser (a child process) -------------------------------------------------------------------


def abuse(port: int, mode: str) -> int:
    stop = threading.Event()
    # "burst": issue #11's abuse (one 64 MB header, 8 unsigned 24 MB bodies at once) every 2 s;
    # "flood": each of them again the moment the last one ended
    pause = 2.0 if mode == "burst" else 0.0
    bursts = threading.Barrier(9) if mode == "burst" else None

    def next_round() -> None:
        if bursts is not None:
            with contextlib.suppress(threading.BrokenBarrierError):
                bursts.wait(timeout=60)
        stop.wait(pause)

    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def count(what: str) -> None:
        with lock:
            counts[what] += 1

    def connect() -> socket.socket:
        return socket.create_connection(("127.0.0.1", port), timeout=30)

    def huge_header() -> None:
        chunk = b"a" * 65536
        while not stop.is_set():
            next_round()
            sent = 0
            with contextlib.suppress(OSError), connect() as sock:
                sock.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-Padding: ")
                while sent < 64 * MiB and not stop.is_set():
                    sock.sendall(chunk)
                    sent += len(chunk)
            count("64 MB header: cut off" if sent < 64 * MiB else "64 MB header: all sent")

    def slowloris() -> None:
        sockets: list[socket.socket | None] = [None] * 25
        while not stop.is_set():
            for index in range(len(sockets)):
                sock = sockets[index]
                try:
                    if sock is None:
                        sock = sockets[index] = connect()
                        sock.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                        count("slowloris: opened")
                    sock.sendall(b"a")
                except OSError:
                    if sock is not None:
                        sock.close()
                    sockets[index] = None
                    count("slowloris: closed by the server")
            stop.wait(1.0)

    def unsigned_body() -> None:
        size = 24 * MiB
        chunk = b" " * 65536
        while not stop.is_set():
            next_round()
            head = (
                f"POST /webhook HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: pull_request\r\n"
                f"X-GitHub-Delivery: {uuid.uuid4()}\r\nX-Hub-Signature-256: sha256={'0' * 64}\r\n"
                f"Content-Length: {size}\r\n\r\n"
            ).encode()
            status = "closed"
            with contextlib.suppress(OSError), connect() as sock:
                sock.sendall(head)
                with contextlib.suppress(OSError):
                    for _ in range(size // len(chunk)):
                        sock.sendall(chunk)
                answer = sock.recv(64)
                status = answer[9:12].decode() if answer.startswith(b"HTTP/1.1 ") else "closed"
            count(f"24 MB unsigned body: {status}")

    threads = [threading.Thread(target=huge_header), threading.Thread(target=slowloris)]
    threads += [threading.Thread(target=unsigned_body) for _ in range(8)]
    for thread in threads:
        thread.daemon = True
        thread.start()

    def finish(*_: Any) -> None:
        stop.set()
        if bursts is not None:
            bursts.abort()

    signal.signal(signal.SIGTERM, finish)
    while not stop.is_set():
        stop.wait(0.2)
    with lock:
        print(json.dumps(dict(counts)), flush=True)
    return 0


@contextlib.contextmanager
def abuser(port: int, mode: str) -> Iterator[dict[str, int]]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--abuse", str(port), "--mode", mode],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    counts: dict[str, int] = {}
    try:
        time.sleep(2.0)  # let the abuse reach its steady state (slowloris connections open, bodies flowing)
        yield counts
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=60)
        if out.strip():
            counts.update(json.loads(out.strip().splitlines()[-1]))


# -- the server -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def modbot_serve(directory: str) -> Iterator[tuple[str, subprocess.Popen[bytes], str]]:
    port = _free_port()
    database = f"sqlite:///{directory}/modbot.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODBOT_")}
    env.update(
        MODBOT_WEBHOOK_SECRET=webhook_load.SECRET,
        MODBOT_GITHUB_TOKEN="bench-token-never-used",  # noqa: S106 - no worker runs, nothing calls GitHub
        MODBOT_DATABASE_URL=database,
        MODBOT_BOT_LOGIN="modbot[bot]",
        MODBOT_LOG_LEVEL="warning",  # no access log: the bench measures the edge, not stderr
    )
    log_path = Path(directory) / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(port), "--workers", "0"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        webhook_load._wait_healthy(url)
        yield url, process, database
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def memory_kib(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            values[name] = int(rest.split()[0])
    return values


def reset_peak(pid: int) -> None:
    with contextlib.suppress(OSError):  # Linux ≥ 4.0: writing 5 resets VmHWM to the current RSS
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=200.0, help="valid deliveries per second (open loop)")
    parser.add_argument("--requests", type=int, default=3000, help="timed valid deliveries per phase")
    parser.add_argument("--concurrency", type=int, default=50, help="connections of the valid client")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument(
        "--mode",
        choices=("burst", "flood"),
        default="burst",
        help="burst: issue #11's abuse (a 64 MB header, 8 unsigned 24 MB bodies) every 2 s; flood: "
        "each again at once, as fast as the server lets go of it. Both: 25 slowloris connections throughout",
    )
    parser.add_argument("--abuse", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.abuse:
        return abuse(args.abuse, args.mode)

    print(f"machine: {describe_machine()}, load average {os.getloadavg()[0]:.2f}")
    print(
        f"modbot serve --workers 0 (SQLite), valid deliveries open loop at {args.rate:g}/s "
        f"(≤ {args.concurrency} in flight), {args.requests} per phase after {args.warmup} warm-up; "
        f"abuse mode {args.mode}"
    )
    run = uuid.uuid4().hex[:8]
    rows: list[tuple[str, dict[str, Any], dict[str, int]]] = []
    abuse_counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="modbot-edge-bench-") as directory:
        with modbot_serve(directory) as (url, process, database):
            start_rss = memory_kib(process.pid)["VmRSS"]
            client_args = argparse.Namespace(
                requests=args.requests, concurrency=args.concurrency, warmup=args.warmup, rate=args.rate
            )
            prefixes = []
            for phase in ("bare", "abused", "bare again"):
                prefix = f"edge-{run}-{phase.replace(' ', '-')}"
                prefixes.append(prefix)
                reset_peak(process.pid)
                if phase == "abused":
                    with abuser(int(url.rsplit(":", 1)[1]), args.mode) as abuse_counts:
                        result = webhook_load.run_client(url, client_args, prefix)
                else:
                    result = webhook_load.run_client(url, client_args, prefix)
                rows.append((phase, result, memory_kib(process.pid)))
        found, expected, _ = webhook_load.verify_stored(database, prefixes, client_args)

    print(f"server RSS after start-up: {start_rss / 1024:.0f} MiB\n")
    print("| phase | p50 | p90 | p99 | max | deliveries/s | responses | RSS after | peak RSS in phase |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
    for phase, result, memory in rows:
        lat = result["latency_ms"]
        outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(result["outcomes"].items()))
        print(
            f"| {phase} | {lat['p50']:.1f} ms | {lat['p90']:.1f} ms | {lat['p99']:.1f} ms | {lat['max']:.1f} ms "
            f"| {result['per_s']:,.0f} | {outcomes} | {memory['VmRSS'] / 1024:.0f} MiB "
            f"| {memory['VmHWM'] / 1024:.0f} MiB |"
        )
    print(f"\nabuse during the abused phase: {json.dumps(abuse_counts, sort_keys=True)}")
    abused = rows[1][1]["latency_ms"]["p99"]
    bare = max(rows[0][1]["latency_ms"]["p99"], rows[2][1]["latency_ms"]["p99"])
    print(
        f"valid p99 abused {abused:.1f} ms vs bare {bare:.1f} ms ({abused / bare:.2f}×); target < "
        f"{TARGET_P99_MS:.0f} ms abused: {'met' if abused < TARGET_P99_MS else 'MISSED'}; "
        f"stored {found} of {expected} valid deliveries ({expected - found} lost)"
    )
    return 0 if found == expected else 1


if __name__ == "__main__":
    raise SystemExit(main())
