"""`modbot serve` as a real process (issue #11): SIGTERM hands the job in flight back at once, and a bot
restarted after SIGKILL takes its killed run's job again within seconds, not after the lease.

A tiny local HTTP server stands in for GitHub and never answers in time, so the job stays in flight; the
store is a SQLite file both the test and the server open. (Unit tests of the same behaviour, on both
databases, are in test_worker_leases.py; `responses` cannot reach another process, hence the stand-in.)"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot.store import DeliveryInfo, DeliveryStatus, open_store
from bot.web.signature import sign
from tests.github_conformance import webhook_example
from tests.store_helpers import postgres_schema

SECRET = "lifecycle-secret"
REPO = "octo/modules"
# uvicorn re-raises the signal once it has shut down cleanly, so the exit status names SIGTERM
STOPPED_BY_SIGTERM = (0, -signal.SIGTERM)
LEASE = 120  # far longer than any wait below: whatever happens faster than it is not the lease expiring


class HangingGitHub:
    """Accepts every request and answers none until closed (a GitHub call that hangs)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.closing = threading.Event()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _hang(self) -> None:
                stand_in.requests.append(f"{self.command} {self.path}")
                stand_in.closing.wait(60)
                self.send_error(503)

            do_GET = do_POST = do_PATCH = do_PUT = _hang

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # type: ignore[method-assign] (the bot hung up)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def github() -> Iterator[HangingGitHub]:
    stand_in = HangingGitHub()
    yield stand_in
    stand_in.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    """One `modbot serve` process."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(self.port), "--workers", "1"],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        wait_for(self._healthy, what="the server to start")

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"modbot serve exited with {self.process.returncode}")
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:  # noqa: S310 (local)
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def deliver(self, delivery_id: str) -> int:
        payload = webhook_example("pull_request", "opened")
        payload["repository"]["full_name"] = REPO
        payload["repository"]["html_url"] = f"https://github.com/{REPO}"
        payload["installation"] = {"id": 42}
        body = json.dumps(payload).encode()
        request = urllib.request.Request(  # noqa: S310 (local)
            f"{self.url}/webhook",
            data=body,
            headers={
                "X-GitHub-Event": "pull_request",
                "X-GitHub-Delivery": delivery_id,
                "X-Hub-Signature-256": sign(SECRET, body),
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (local)
            return int(answer.status)

    def stop(self, signal_number: int) -> int:
        self.process.send_signal(signal_number)
        code = self.process.wait(timeout=60)
        self.log.close()
        return code


def wait_for(condition: Callable[[], bool], *, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'modbot.sqlite3'}"
        return
    with postgres_schema() as url:
        yield url.render_as_string(hide_password=False)


@pytest.fixture
def env(database_url: str, github: HangingGitHub) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MODBOT_")}
    return {
        **clean,
        "MODBOT_DATABASE_URL": database_url,
        "MODBOT_WEBHOOK_SECRET": SECRET,
        "MODBOT_GITHUB_TOKEN": "ghp_" + "x" * 36,
        "MODBOT_GITHUB_API_URL": github.url,
        "MODBOT_BOT_LOGIN": "modbot[bot]",
        "MODBOT_LEASE_SECONDS": str(LEASE),
        "MODBOT_HEARTBEAT_SECONDS": "5",
        "MODBOT_SHUTDOWN_GRACE_SECONDS": "0.5",
    }


def delivery(env: dict[str, str], delivery_id: str) -> DeliveryInfo:
    store = open_store(env["MODBOT_DATABASE_URL"])
    try:
        info = store.get_delivery(delivery_id)
    finally:
        store.engine.dispose()
    assert info is not None
    return info


def test_sigterm_hands_the_job_in_flight_back_at_once(
    env: dict[str, str], github: HangingGitHub, tmp_path: Path
) -> None:
    serve = Serve(env, tmp_path / "serve.log")
    assert serve.deliver("d-term") == 202
    wait_for(lambda: bool(github.requests), what="the job to call GitHub")  # in flight, and hanging
    running = delivery(env, "d-term")
    assert running.status is DeliveryStatus.RUNNING and running.lease_owner is not None
    assert serve.stop(signal.SIGTERM) in STOPPED_BY_SIGTERM
    handed_back = delivery(env, "d-term")
    # pending, due now, nobody's lease and the attempt not counted: the next bot takes it immediately,
    # not in LEASE seconds
    assert (handed_back.status, handed_back.lease_owner, handed_back.attempts) == (
        DeliveryStatus.PENDING,
        None,
        0,
    )
    assert b"Traceback" not in (tmp_path / "serve.log").read_bytes()


def test_a_bot_restarted_after_sigkill_takes_its_job_again_at_once(
    env: dict[str, str], github: HangingGitHub, tmp_path: Path
) -> None:
    first = Serve(env, tmp_path / "first.log")
    assert first.deliver("d-kill") == 202
    wait_for(lambda: bool(github.requests), what="the job to call GitHub")
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    killed = delivery(env, "d-kill")
    assert (
        killed.status is DeliveryStatus.RUNNING
        and killed.lease_owner == f"{socket.gethostname()}:{first.process.pid}:0"
    )
    second = Serve(env, tmp_path / "second.log")
    # taken again by the new process long before the killed run's lease of LEASE seconds ends
    mine = f"{socket.gethostname()}:{second.process.pid}:"
    wait_for(
        lambda: (delivery(env, "d-kill").lease_owner or "").startswith(mine), what="the job to be taken again"
    )
    again = delivery(env, "d-kill")
    assert again.status is DeliveryStatus.RUNNING and again.attempts == 2
    assert second.stop(signal.SIGTERM) in STOPPED_BY_SIGTERM
    assert delivery(env, "d-kill").status is DeliveryStatus.PENDING
