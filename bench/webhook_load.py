"""Webhook acknowledgement under load: the real app vs a bare FastAPI endpoint, same run, same machine.

Three kinds of process, all on 127.0.0.1:

- the modbot server: ``create_app(Runtime(settings, store, forges), workers=0)`` under uvicorn — the
  real webhook path (size limit, X-Hub-Signature-256 check, JSON parse, a durable group-committed
  write, 202); no worker threads, so nothing calls GitHub (the forge is a FakeForge);
- the bare server: a FastAPI app whose POST /webhook reads the body and answers 202, nothing else;
- the client: a minimal HTTP/1.1 client on asyncio streams (uvloop when installed), ``--concurrency``
  keep-alive connections, each sending one delivery after another (a closed loop) after ``--warmup``
  untimed deliveries; per-request time from writing the request to reading the whole answer.

Each delivery is a real ``pull_request.synchronize`` payload from ``@octokit/webhooks-examples``
(≈25 KB of JSON), signed like GitHub signs it, with a unique X-GitHub-Delivery. After the run every
delivery id is looked up in the store: zero deliveries may be lost. The store is a SQLite file in a temp
dir, or with ``--database-url`` a PostgreSQL database (in a fresh schema, dropped at the end).

    python bench/webhook_load.py [--requests 2000] [--concurrency 100] [--warmup 200] [--rounds 1]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--profile DIR]
        [--loop auto|asyncio|uvloop] [--http auto|h11|httptools]

``--profile DIR`` runs the modbot server under cProfile (every thread: the event loop and the writer
thread that group-commits the deliveries) and prints where its time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import itertools
import json
import os
import pstats
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

from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402
from store_bench import describe_machine, percentiles  # noqa: E402

from bot.web.signature import sign  # noqa: E402

SECRET = "bench-webhook-secret"  # noqa: S105 - signs and checks the bench's own deliveries only
REPO = "octo-org/octo-repo"
TARGET_P99_MS = 50.0
TARGET_RATIO = 2.0


# -- the servers (child processes) ------------------------------------------------------------------


def bare_app() -> Any:
    app = FastAPI()

    @app.post("/webhook", status_code=202)
    async def webhook(request: Request) -> JSONResponse:
        await request.body()  # the body has to come off the socket anyway; nothing else is done
        return JSONResponse({"status": "new"}, status_code=202)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return app


class _OneForge:
    def __init__(self, forge: Any) -> None:
        self.forge = forge

    def for_installation(self, installation_id: int | None) -> Any:
        return self.forge


def modbot_app(database_url: str, sqlite_synchronous: str | None) -> Any:
    from bot.config import load_settings  # noqa: PLC0415
    from bot.runtime import Runtime  # noqa: PLC0415
    from bot.store import open_store  # noqa: PLC0415
    from bot.web.app import create_app  # noqa: PLC0415
    from tests.fakes import FakeForge  # noqa: PLC0415

    settings = load_settings(
        {
            "MODBOT_WEBHOOK_SECRET": SECRET,
            "MODBOT_GITHUB_TOKEN": "bench-token-never-used",
            "MODBOT_DATABASE_URL": database_url,
            "MODBOT_BOT_LOGIN": "modbot[bot]",
        }
    )
    url = settings.database_url.get_secret_value()
    if sqlite_synchronous and url.startswith("sqlite"):  # an experiment: the bot itself always uses FULL
        from bot.store import Store, make_engine, upgrade_to_head  # noqa: PLC0415

        engine = make_engine(url, sqlite_synchronous=sqlite_synchronous)
        upgrade_to_head(engine)
        store = Store(engine)
    else:
        store = open_store(url)
    return create_app(Runtime(settings, store, _OneForge(FakeForge())), workers=0)


class _ThreadProfiles:
    """cProfile for every thread of the process: the event loop and the delivery writer."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self.lock = threading.Lock()

    def _start_in_thread(self, *_: Any) -> None:
        profile = cProfile.Profile()
        with self.lock:
            self.profiles.append(profile)
        profile.enable()  # replaces this bootstrap hook in this thread

    def start(self) -> None:
        threading.setprofile(self._start_in_thread)
        self._start_in_thread()

    def dump(self, path: str) -> None:
        threading.setprofile(None)  # type: ignore[arg-type]
        stats: pstats.Stats | None = None
        with self.lock:
            for profile in self.profiles:
                profile.disable()
                profile.create_stats()
                if not profile.stats:  # type: ignore[attr-defined]
                    continue
                if stats is None:
                    stats = pstats.Stats(profile)
                else:
                    stats.add(profile)
        if stats is not None:
            stats.dump_stats(path)


def serve(kind: str, args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415

    app = modbot_app(args.database_url, args.sqlite_synchronous) if kind == "modbot" else bare_app()
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when the listening
    # socket says TCP (with proto 0, every keep-alive response waits ~40 ms for a delayed ACK)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    http: Any = args.http
    if kind == "modbot" and args.http in {"auto", "httptools"}:
        from bot.web.app import DEFAULT_LIMITS  # noqa: PLC0415
        from bot.web.edge import guarded_protocol  # noqa: PLC0415

        http = guarded_protocol(DEFAULT_LIMITS)  # the edge's limits, as `modbot serve` runs it
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        loop=args.loop,
        http=http,
        backlog=2048,
        timeout_keep_alive=60,
    )
    server = uvicorn.Server(config)
    if kind == "modbot":
        from bot.web.app import freeze_startup_objects  # noqa: PLC0415

        freeze_startup_objects()  # as `modbot serve` does
    print(json.dumps({"port": sock.getsockname()[1]}), flush=True)
    profiles = _ThreadProfiles() if args.profile_out else None
    if profiles is not None:
        profiles.start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the SIGINT it stopped on
        pass
    finally:
        if profiles is not None:
            profiles.dump(args.profile_out)
    return 0


@contextlib.contextmanager
def server_process(kind: str, args: argparse.Namespace, profile_out: str | None = None) -> Iterator[str]:
    command = [sys.executable, __file__, "--serve", kind, "--loop", args.loop, "--http", args.http]
    if kind == "modbot":
        command += ["--database-url", args.store_url]
        if args.sqlite_synchronous:
            command += ["--sqlite-synchronous", args.sqlite_synchronous]
    if profile_out:
        command += ["--profile-out", profile_out]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {kind} server did not start (exit code {process.wait()})")
        url = f"http://127.0.0.1:{json.loads(line)['port']}"
        _wait_healthy(url)
        yield url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown (and the profile dump)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(url: str) -> None:
    import httpx  # noqa: PLC0415

    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url}/healthz did not answer within 30 s")
        time.sleep(0.1)


# -- the client (a child process) -------------------------------------------------------------------


def delivery_body() -> bytes:
    from tests.github_conformance import webhook_example  # noqa: PLC0415

    payload = webhook_example("pull_request", "synchronize")
    payload["repository"]["full_name"] = REPO
    payload["installation"] = {"id": 42, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI="}
    return json.dumps(payload).encode()


class _Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough HTTP to POST a delivery and read the
    answer. A hand-written client because the load generator must cost little CPU on a 2-core machine
    where it competes with the server: httpx spent more CPU per request than the bare server did."""

    def __init__(self, host: str, port: int, prefix: bytes, body: bytes) -> None:
        self.host, self.port = host, port
        self.prefix, self.body = prefix, body
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()

    async def post(self, delivery_id: str) -> tuple[int, bytes]:
        if self.writer is None or self.reader is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(self.prefix + f"X-GitHub-Delivery: {delivery_id}\r\n\r\n".encode() + self.body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        answer = await self.reader.readexactly(length) if length else b""
        return status, answer

    async def post_counted(self, delivery_id: str, outcomes: Counter[str]) -> bool:
        try:
            status, answer = await self.post(delivery_id)
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            outcomes[f"error {type(error).__name__}"] += 1
            await self.close()
            self.writer = self.reader = None  # reconnect for the next delivery
            return False
        label = json.loads(answer).get("status") if status == 202 else None
        outcomes[f"{status} {label}"] += 1
        return True


def _connections(url: str, body: bytes, count: int) -> list[_Connection]:
    host, _, port = url.removeprefix("http://").partition(":")
    signature = sign(SECRET, body)  # same body each time: signed once, outside the timed section
    prefix = (
        f"POST /webhook HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"User-Agent: GitHub-Hookshot/bench\r\nX-GitHub-Event: pull_request\r\nX-GitHub-Hook-ID: 1\r\n"
        f"X-Hub-Signature-256: {signature}\r\nContent-Length: {len(body)}\r\n"
    ).encode()
    return [_Connection(host, int(port), prefix, body) for _ in range(count)]


async def _send_all(connections: list[_Connection], ids: list[str]) -> tuple[list[int], Counter[str]]:
    """Every connection sends one delivery after another until all are sent (a closed loop)."""
    latencies: list[int] = []
    outcomes: Counter[str] = Counter()
    next_index = itertools.count()

    async def sender(connection: _Connection) -> None:
        while (n := next(next_index)) < len(ids):
            started = time.perf_counter_ns()
            if await connection.post_counted(ids[n], outcomes):
                latencies.append(time.perf_counter_ns() - started)

    await asyncio.gather(*(sender(connection) for connection in connections))
    return latencies, outcomes


async def _send_at_rate(
    connections: list[_Connection], ids: list[str], rate: float
) -> tuple[list[int], Counter[str]]:
    """Open loop: delivery n is due at n / rate seconds; it waits for a free connection if none is
    (at most len(connections) in flight); its latency counts from when it was due (no coordinated
    omission)."""
    latencies: list[int] = []
    outcomes: Counter[str] = Counter()
    free: asyncio.Queue[_Connection] = asyncio.Queue()
    for connection in connections:
        free.put_nowait(connection)

    async def send(connection: _Connection, n: int, due: int) -> None:
        try:
            ok = await connection.post_counted(ids[n], outcomes)
        finally:
            free.put_nowait(connection)
        if ok:
            latencies.append(time.perf_counter_ns() - due)

    tasks = []
    start = time.perf_counter_ns()
    for n in range(len(ids)):
        due = start + int(n * 1e9 / rate)
        delay = (due - time.perf_counter_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        connection = await free.get()
        tasks.append(asyncio.create_task(send(connection, n, due)))
    await asyncio.gather(*tasks)
    return latencies, outcomes


async def _load(args: argparse.Namespace, body: bytes) -> dict[str, Any]:
    warm = [f"{args.id_prefix}-warm-{n}" for n in range(args.warmup)]
    timed = [f"{args.id_prefix}-{n}" for n in range(args.requests)]
    # One connection per concurrent sender, as GitHub's senders are. The warm-up opens them; the timed
    # deliveries reuse them.
    connections = _connections(args.url, body, args.concurrency)
    try:
        await _send_all(connections, warm)
        started, cpu = time.perf_counter(), time.process_time()
        if args.rate:
            latencies, outcomes = await _send_at_rate(connections, timed, args.rate)
        else:
            latencies, outcomes = await _send_all(connections, timed)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        for connection in connections:
            await connection.close()
    return {
        "latency_ms": percentiles(latencies),
        "per_s": args.requests / wall,
        "wall_s": wall,
        "client_cpu": cpu / wall,
        "outcomes": dict(outcomes),
        "body_bytes": len(body),
    }


def client(args: argparse.Namespace) -> int:
    try:
        import uvloop  # noqa: PLC0415 - the client's own CPU cost matters on 2 cores

        result = uvloop.run(_load(args, delivery_body()))
    except ImportError:
        result = asyncio.run(_load(args, delivery_body()))
    print(json.dumps(result))
    return 0


def run_client(url: str, args: argparse.Namespace, id_prefix: str) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--client",
        url,
        "--id-prefix",
        id_prefix,
        "--requests",
        str(args.requests),
        "--concurrency",
        str(args.concurrency),
        "--warmup",
        str(args.warmup),
    ]
    if args.rate:
        command += ["--rate", str(args.rate)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the client failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def server_ack_metrics(url: str) -> dict[str, float]:
    """The app's own modbot_webhook_ack_seconds histogram: handler time, without the HTTP layer."""
    import httpx  # noqa: PLC0415

    text = httpx.get(f"{url}/metrics", timeout=10).text
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("modbot_webhook_ack_seconds_"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


# -- the whole run ----------------------------------------------------------------------------------


@contextlib.contextmanager
def store_url(args: argparse.Namespace) -> Iterator[str]:
    if args.database_url:
        from sqlalchemy.engine import make_url  # noqa: PLC0415

        from bot.store.engine import normalize_url  # noqa: PLC0415
        from tests.store_helpers import postgres_schema  # noqa: PLC0415

        with postgres_schema(normalize_url(make_url(args.database_url))) as url:
            yield url.render_as_string(hide_password=False)
        return
    with tempfile.TemporaryDirectory(prefix="modbot-webhook-bench-") as directory:
        yield f"sqlite:///{directory}/modbot.sqlite3"


def verify_stored(url: str, prefixes: list[str], args: argparse.Namespace) -> tuple[int, int, int]:
    """(measured deliveries found, expected, rows in the store)."""
    from bot.store import open_store  # noqa: PLC0415

    store = open_store(url, migrate=False)
    try:
        expected = [f"{prefix}-{n}" for prefix in prefixes for n in range(args.requests)]
        found = sum(store.get_delivery(delivery_id) is not None for delivery_id in expected)
        rows = sum(store.delivery_counts().values())
    finally:
        store.dispose()
    return found, len(expected), rows


def fmt_row(name: str, r: dict[str, Any]) -> str:
    lat = r["latency_ms"]
    outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(r["outcomes"].items()))
    return (
        f"| {name} | {lat['p50']:.1f} ms | {lat['p90']:.1f} ms | {lat['p99']:.1f} ms | {lat['max']:.1f} ms "
        f"| {r['per_s']:,.0f} | {r['client_cpu']:.0%} | {outcomes} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="timed deliveries per server and round")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=200, help="untimed deliveries first")
    parser.add_argument("--rounds", type=int, default=1, help="bare then modbot, this many times")
    parser.add_argument("--database-url", default=None, help="PostgreSQL (a fresh schema); default SQLite")
    parser.add_argument("--profile", default=None, metavar="DIR", help="cProfile the modbot server")
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="open loop: start this many deliveries per second (at most --concurrency in flight); "
        "latency counts from the scheduled start. Default: closed loop, --concurrency always in flight",
    )
    parser.add_argument(
        "--sqlite-synchronous",
        choices=["FULL", "NORMAL"],
        default=None,
        help="experiment: the SQLite store's PRAGMA synchronous (the bot uses FULL)",
    )
    parser.add_argument("--loop", default="auto", choices=["auto", "asyncio", "uvloop"])
    parser.add_argument("--http", default="auto", choices=["auto", "h11", "httptools"])
    # internal: the child processes
    parser.add_argument("--serve", choices=["modbot", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--id-prefix", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.serve, args)
    if args.client:
        args.url = args.client
        return client(args)

    import uvicorn  # noqa: PLC0415

    print(f"machine: {describe_machine()}, load average {os.getloadavg()[0]:.2f}")
    mode = (
        f"open loop at {args.rate:g}/s, at most {args.concurrency} in flight"
        if args.rate
        else f"closed loop, {args.concurrency} concurrent"
    )
    print(
        f"uvicorn {uvicorn.__version__} (loop={args.loop}, http={args.http}); {args.requests} deliveries "
        f"per server and round, {mode}, after {args.warmup} warm-up deliveries"
    )
    rows: list[tuple[str, dict[str, Any]]] = []
    profile_out = None
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
        profile_out = str(Path(args.profile) / "modbot-server.prof")
    run = uuid.uuid4().hex[:8]
    with store_url(args) as url:
        args.store_url = url
        backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        if args.sqlite_synchronous and backend == "SQLite":
            backend += f" synchronous={args.sqlite_synchronous}"
        prefixes: list[str] = []
        with server_process("bare", args) as bare, server_process("modbot", args, profile_out) as modbot:
            for round_ in range(1, args.rounds + 1):
                rows.append((f"bare FastAPI, round {round_}", run_client(bare, args, f"bare-{run}-{round_}")))
                prefix = f"bench-{run}-{round_}"
                prefixes.append(prefix)
                rows.append((f"modbot ({backend}), round {round_}", run_client(modbot, args, prefix)))
            ack = server_ack_metrics(modbot)
        found, expected, stored = verify_stored(url, prefixes, args)

    body = rows[0][1]["body_bytes"]
    print(f"payload: pull_request.synchronize from @octokit/webhooks-examples, {body:,} bytes\n")
    print("| server | p50 | p90 | p99 | max | deliveries/s | client CPU | responses |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, result in rows:
        print(fmt_row(name, result))
    count = ack.get("modbot_webhook_ack_seconds_count", 0.0)
    if count:
        mean = ack["modbot_webhook_ack_seconds_sum"] / count * 1000
        within = ack.get('modbot_webhook_ack_seconds_bucket{le="0.005"}', 0.0) / count
        print(
            f"\nmodbot's own ack histogram (handler only, warm-up included): {count:,.0f} deliveries, "
            f"mean {mean:.2f} ms, {within:.1%} within 5 ms"
        )
    warmups = args.warmup * args.rounds
    lost = expected - found
    print(
        f"stored: {found:,} of {expected:,} measured deliveries found by id ({lost} lost); "
        f"{stored:,} rows in the store ({expected:,} + {warmups:,} warm-up expected)"
    )
    bare_p99 = max(r["latency_ms"]["p99"] for n, r in rows if n.startswith("bare"))
    modbot_p99 = max(r["latency_ms"]["p99"] for n, r in rows if n.startswith("modbot"))
    print(
        f"target: modbot p99 {modbot_p99:.1f} ms (< {TARGET_P99_MS:.0f} ms: "
        f"{'met' if modbot_p99 < TARGET_P99_MS else 'MISSED'}); "
        f"{modbot_p99 / bare_p99:.2f}× the bare p99 (≤ {TARGET_RATIO:.0f}×: "
        f"{'met' if modbot_p99 <= TARGET_RATIO * bare_p99 else 'MISSED'}); "
        f"lost {lost} ({'met' if lost == 0 and stored == expected + warmups else 'MISSED'})"
    )
    if profile_out and Path(profile_out).is_file():
        print(f"\nprofile of the modbot server ({profile_out}), top functions by own time:")
        pstats.Stats(profile_out).sort_stats("tottime").print_stats(25)
        pstats.Stats(profile_out).sort_stats("cumulative").print_stats(30)
    ok = lost == 0 and stored == expected + warmups
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
