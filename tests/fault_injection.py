"""The fault-injection harness: real `modbot serve` processes against the stand-in GitHub
(tests/github_standin.py), driven like GitHub drives them, and counted like an outside tester would.

One `World` per scenario: a stand-in GitHub holding N manifest PRs (RusToK's real modules.toml
history at base and head), a store (a SQLite file, or a fresh PostgreSQL schema), `modbot serve`
subprocesses on free ports (token mode, verdicts as commit statuses; or App mode, verdicts as check
runs and installation tokens from the stand-in), signed deliveries built from
@octokit/webhooks-examples `pull_request.opened` payloads with the repository, PR number and SHAs
rewritten. The scenario functions at the bottom are the rows of issue #11's table; tests/e2e/test_faults.py
runs them small, bench/faults.py large (figures in docs/reliability.md).

What a scenario counts (`Tally`): deliveries acknowledged (202), handled (done in the store), failed
(given up), lost (acknowledged but not finished when the queue should have drained), PRs with more
than one sticky comment and the extra comments, SHAs with more than one `modbot/manifest` status (or
check run) and the extra ones, and the seconds until the queue drained (docs/reliability.md).

Leases: a killed worker's lease has to run out before anyone takes its job again. Where a scenario
needs that to happen without waiting out the lease (kill -9 during the drain; a job outliving its
lease), `expire_leases` moves the lease's end into the past in the store, exactly what time passing
would do. Worker timings go to the bots as settings (`bot_env`): `MODBOT_LEASE_SECONDS` and
`MODBOT_HEARTBEAT_SECONDS` for a short lease, `MODBOT_RETRY_BASE_SECONDS` for quick retries in the
test-sized runs; a bot that predates those settings ignores them (unknown variables are not read).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import update

from bot.store import Store, open_store
from bot.store.models import DeliveryRow, DeliveryStatus
from bot.web.signature import sign
from tests.corpus import HISTORY, version_number
from tests.github_conformance import validate_webhook, webhook_example
from tests.github_standin import WRITE_OPERATIONS, FaultRule, Pull, Request, StandInGitHub

ROOT = Path(__file__).resolve().parent.parent
REPO = "rustok/rustok"
SECRET = "fault-injection-secret"
TOKEN = "ghp_" + "f" * 36
BOT_LOGIN = "modbot[bot]"
CONTEXT = "modbot/manifest"
MARKER = "<!-- modbot:manifest-review -->"


def _history(number: int) -> bytes:
    return next(p for p in HISTORY if version_number(p) == number).read_bytes()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the bot ----------------------------------------------------------------------------------------
class Bot:
    """One `modbot serve` process (python -m bot serve), its output kept in a log file."""

    def __init__(self, world: World, *, workers: int = 1, name: str = "bot") -> None:
        self.world = world
        self.workers = workers
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = world.directory / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> Bot:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODBOT_")}
        env.update(
            {
                "MODBOT_WEBHOOK_SECRET": SECRET,
                "MODBOT_GITHUB_API_URL": self.world.github.url,
                "MODBOT_DATABASE_URL": self.world.database_url,
                "MODBOT_BOT_LOGIN": BOT_LOGIN,
                "PYTHONUNBUFFERED": "1",
                **self.world.bot_env,
            }
        )
        log = self.log_path.open("ab")
        log.write(f"--- start {time.strftime('%H:%M:%S')}\n".encode())
        log.flush()
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(self.port), "--workers", str(self.workers)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self._wait_healthy()
        return self

    def _wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.output()[-3000:]}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer /healthz within {timeout:.0f} s")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """kill -9: no shutdown of any kind."""
        if self.running():
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def pause(self) -> None:
        """SIGSTOP: the process is frozen, threads and all (a stall, not a crash)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def terminate(self, timeout: float = 60.0) -> float:
        """SIGTERM (what systemd, Docker and Kubernetes send), then wait; the seconds it took to exit."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        return time.monotonic() - started

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def send(self, event: str, payload: dict[str, Any], delivery_id: str) -> int:
        body = json.dumps(payload).encode()
        headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery_id,
            "X-Hub-Signature-256": sign(SECRET, body),
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/fault-injection",
        }
        try:
            return httpx.post(f"{self.url}/webhook", content=body, headers=headers, timeout=30).status_code
        except httpx.HTTPError:
            return 0


# --- the world --------------------------------------------------------------------------------------
@dataclass
class Tally:
    """What a scenario did, as an outside tester counts it."""

    prs: int = 0
    acknowledged: int = 0
    handled: int = 0
    failed: int = 0
    lost: int = 0
    duplicate_comment_prs: int = 0
    extra_comments: int = 0
    duplicate_status_shas: int = 0
    extra_statuses: int = 0
    drain_seconds: float | None = None  # from the last (re)start until the queue drained
    faults: dict[str, int] = field(default_factory=dict)
    conformance_failures: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        return json.dumps(
            {k: v for k, v in self.__dict__.items() if k != "conformance_failures"}, default=str
        )


class World:
    """A stand-in GitHub, a store and the bots of one scenario."""

    def __init__(
        self,
        directory: Path,
        *,
        prs: int,
        rules: Sequence[FaultRule] = (),
        seed: int = 0,
        database_url: str | None = None,
        app: bool = False,
        bot_env: Mapping[str, str] | None = None,
    ) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url or f"sqlite:///{directory / 'modbot.sqlite3'}"
        self.github = StandInGitHub(rules=rules, seed=seed, bot_login=BOT_LOGIN).start()
        self.bot_env: dict[str, str] = {"MODBOT_GITHUB_TOKEN": TOKEN}
        if app:  # App mode: installation tokens from the stand-in, verdicts as check runs
            self.bot_env = {
                "MODBOT_GITHUB_APP_ID": str(self.github.app_id),
                "MODBOT_GITHUB_PRIVATE_KEY": _private_key(),
            }
        self.bot_env.update(bot_env or {})
        base, head = _history(37), _history(38)
        self.base_sha = _sha("base")
        self.github.add_commit(REPO, self.base_sha, {"modules.toml": base, "README.md": b"x"})
        self.pulls: list[Pull] = []
        for number in range(1, prs + 1):
            head_sha = _sha(f"head-{number}")
            self.github.add_commit(REPO, head_sha, {"modules.toml": head, "README.md": b"x"})
            pull = Pull(REPO, number, self.base_sha, head_sha, ["modules.toml"], head_ref=f"change-{number}")
            self.github.add_pull(pull)
            self.pulls.append(pull)
        self.bots: list[Bot] = []
        self.acknowledged: list[str] = []
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.database_url)
        return self._store

    def bot(self, *, workers: int = 1) -> Bot:
        bot = Bot(self, workers=workers, name=f"bot{len(self.bots) + 1}")
        self.bots.append(bot)
        return bot

    def close(self) -> None:
        for bot in self.bots:
            bot.kill()
        self.github.stop()
        if self._store is not None:
            self._store.engine.dispose()

    # --- deliveries ---------------------------------------------------------------------------------
    def payload(self, pull: Pull, *, action: str = "opened") -> dict[str, Any]:
        payload = webhook_example("pull_request", action)
        payload["action"] = action
        repository = payload["repository"]
        repository["full_name"] = REPO
        owner, name = REPO.split("/")
        repository["name"], repository["owner"]["login"] = name, owner
        repository["html_url"] = f"https://github.com/{REPO}"
        pr = payload["pull_request"]
        pr["number"] = payload["number"] = pull.number
        pr["state"] = "open"
        pr["head"]["sha"], pr["head"]["ref"] = pull.head_sha, pull.head_ref
        pr["base"]["sha"], pr["base"]["ref"] = pull.base_sha, pull.base_ref
        payload["installation"] = {"id": 42, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI="}
        validate_webhook("pull_request", payload)
        return payload

    def deliver(self, bot: Bot, payload: dict[str, Any], *, event: str = "pull_request") -> str:
        delivery_id = str(uuid.uuid4())
        if bot.send(event, payload, delivery_id) == 202:
            self.acknowledged.append(delivery_id)
        return delivery_id

    def deliver_all(self, bot: Bot) -> None:
        for pull in self.pulls:
            self.deliver(bot, self.payload(pull))

    # --- the store ----------------------------------------------------------------------------------
    def unfinished(self) -> list[str]:
        out = []
        for delivery_id in self.acknowledged:
            info = self.store.get_delivery(delivery_id)
            if info is None or info.status in (DeliveryStatus.PENDING, DeliveryStatus.RUNNING):
                out.append(delivery_id)
        return out

    def wait_drained(self, timeout: float) -> float | None:
        """Seconds until every acknowledged delivery finished (done, failed or ignored); None if some
        had not within `timeout`."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if not self.unfinished():
                return time.monotonic() - started
            time.sleep(0.1)
        return None

    def expire_leases(self, delivery_ids: Sequence[str] | None = None) -> int:
        """End the running leases (of these deliveries) now, as if their time had run out."""
        statement = (
            update(DeliveryRow)
            .where(DeliveryRow.status == DeliveryStatus.RUNNING.value)
            .values(lease_until=self.store.now() - timedelta(seconds=1))
        )
        if delivery_ids is not None:
            statement = statement.where(DeliveryRow.delivery_id.in_(list(delivery_ids)))
        with self.store.engine.begin() as conn:
            return int(conn.execute(statement).rowcount)

    # --- counting -----------------------------------------------------------------------------------
    def tally(self, drain_seconds: float | None) -> Tally:
        tally = Tally(prs=len(self.pulls), acknowledged=len(self.acknowledged), drain_seconds=drain_seconds)
        for delivery_id in self.acknowledged:
            info = self.store.get_delivery(delivery_id)
            if info is None or info.status in (DeliveryStatus.PENDING, DeliveryStatus.RUNNING):
                tally.lost += 1
            elif info.status == DeliveryStatus.FAILED:
                tally.failed += 1
            else:
                tally.handled += 1
        for pull in self.pulls:
            sticky = [c for c in self.github.comments(REPO, pull.number) if MARKER in c["body"]]
            if len(sticky) > 1:
                tally.duplicate_comment_prs += 1
                tally.extra_comments += len(sticky) - 1
            verdicts = [s for s in self.github.statuses(REPO, pull.head_sha) if s["context"] == CONTEXT]
            verdicts += [r for r in self.github.check_runs(REPO, pull.head_sha) if r["name"] == CONTEXT]
            if len(verdicts) > 1:
                tally.duplicate_status_shas += 1
                tally.extra_statuses += len(verdicts) - 1
        tally.faults = {str(k): v for k, v in self.github.faults().items()}
        tally.conformance_failures = [*self.github.conformance_failures, *self.github.unhandled]
        return tally

    def reviewed(self) -> int:
        """PRs with a sticky comment and a verdict: what GitHub shows."""
        return sum(
            1
            for pull in self.pulls
            if any(MARKER in c["body"] for c in self.github.comments(REPO, pull.number))
            and (
                any(s["context"] == CONTEXT for s in self.github.statuses(REPO, pull.head_sha))
                or any(r["name"] == CONTEXT for r in self.github.check_runs(REPO, pull.head_sha))
            )
        )


def _private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _sha(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 (a fake commit id)


@contextlib.contextmanager
def world(directory: Path, **kwargs: Any) -> Iterator[World]:
    opened = World(directory, **kwargs)
    try:
        yield opened
    finally:
        opened.close()


def tracebacks(text: str) -> int:
    return text.count("Traceback (most recent call last)")


# --- the scenarios: issue #11's table -----------------------------------------------------------------
def after_write_failures(
    directory: Path,
    *,
    prs: int = 10,
    rate: float = 0.3,
    seed: int = 11,
    workers: int = 2,
    database_url: str | None = None,
    app: bool = False,
    bot_env: Mapping[str, str] | None = None,
) -> Tally:
    """30 % of GitHub writes answer 502 after doing the write (`app`: in App mode, where the verdict
    is a check run)."""
    rules = [FaultRule("after", WRITE_OPERATIONS, rate=rate)]
    with world(
        directory, prs=prs, rules=rules, seed=seed, database_url=database_url, app=app, bot_env=bot_env
    ) as w:
        bot = w.bot(workers=workers).start()
        w.deliver_all(bot)
        drained = w.wait_drained(timeout=120 + prs)
        tally = w.tally(drained)
        tally.notes["reviewed_prs"] = w.reviewed()
        tally.notes["tracebacks"] = tracebacks(bot.output())
        return tally


def kill9_during_drain(
    directory: Path,
    *,
    prs: int = 4,
    kills: int = 2,
    seed: int = 9,
    at_writes: bool = True,
    fast_forward: bool = True,
    database_url: str | None = None,
    bot_env: Mapping[str, str] | None = None,
) -> Tally:
    """kill -9 during the drain, `kills` times; each time a bot is restarted on the same store.

    ``at_writes``: each kill lands while GitHub holds the answer to a write it has done (the worst
    moment: GitHub has the comment or status, the bot has not recorded it), a different write each
    time; otherwise after a random 0.2-2 s of draining. ``fast_forward``: end the dead bot's leases
    at once (`expire_leases`) instead of leaving them to the bots."""
    rng = random.Random(seed)  # noqa: S311 (when to kill, not a secret)
    # PR n's write is held for the n-th kill: the odd ones a comment creation, the even ones a status
    by_sha = {_sha(f"head-{n}"): n for n in range(1, kills + 1)}
    rules = []
    if at_writes:

        def kill_here(request: Request) -> bool:
            if request.operation_id == "issues/create-comment":
                number = int(request.params["issue_number"])
                return number <= kills and number % 2 == 1
            number = by_sha.get(request.params.get("sha", ""), 0)
            return number % 2 == 0 and number > 0

        rules.append(
            FaultRule(
                "hang",
                frozenset({"issues/create-comment", "repos/create-commit-status"}),
                first=1,
                seconds=60,
                where=kill_here,
            )
        )
    with world(directory, prs=prs, rules=rules, seed=seed, database_url=database_url, bot_env=bot_env) as w:
        bot = w.bot(workers=1).start()
        w.deliver_all(bot)
        restarts = 0
        for kill in range(kills):
            if at_writes:
                if not w.github.wait_for_hold(kill + 1, timeout=60):
                    break
            else:
                time.sleep(rng.uniform(0.2, 2.0))
            bot.kill()
            restarts += 1
            if at_writes:
                # the held answer goes nowhere: the bot is dead; arm the next kill's hold
                w.github.release_holds()
                time.sleep(0.05)
                w.github.rearm_holds()
            if fast_forward:
                w.expire_leases()  # the dead bot's leases have run out (see the module docstring)
            bot = w.bot(workers=1).start()
        w.github.release_holds()
        drained = w.wait_drained(timeout=120 + prs)
        tally = w.tally(drained)
        tally.notes["kills"] = restarts
        tally.notes["reviewed_prs"] = w.reviewed()
        return tally


def hang_past_timeout(
    directory: Path,
    *,
    prs: int = 3,
    rate: float = 1.0,
    client_timeout: float = 15.0,
    workers: int | None = None,
    seed: int = 5,
    database_url: str | None = None,
    bot_env: Mapping[str, str] | None = None,
) -> Tally:
    """A GitHub call that hangs past the client's timeout after doing its work: the first comment
    creation of every PR (or of `rate` of them). The bots' timeout is set to `client_timeout`
    (MODBOT_GITHUB_TIMEOUT_SECONDS) and the hang lasts 2 s longer, so the scenario holds whatever the
    default timeout is."""
    hang_seconds = client_timeout + 2.0
    rules = [
        FaultRule("hang", frozenset({"issues/create-comment"}), rate=rate, first=1, seconds=hang_seconds)
    ]
    env = {**(bot_env or {}), "MODBOT_GITHUB_TIMEOUT_SECONDS": str(client_timeout)}
    with world(directory, prs=prs, rules=rules, seed=seed, database_url=database_url, bot_env=env) as w:
        bot = w.bot(workers=workers or prs).start()
        ids = [w.deliver(bot, w.payload(pull)) for pull in w.pulls]
        drained = w.wait_drained(timeout=hang_seconds + 120)
        tally = w.tally(drained)
        tally.notes["reviewed_prs"] = w.reviewed()
        # a job whose call timed out is tried again: proof the client gave up before the hang ended
        tally.notes["retried_jobs"] = sum(1 for delivery in ids if _attempts(w, delivery) >= 2)
        return tally


def lease_outlived(
    directory: Path,
    database_url: str,
    *,
    prs: int = 2,
    wait_seconds: int = 10,
    stall: bool = False,
    bot_env: Mapping[str, str] | None = None,
) -> Tally:
    """A job that outlives its lease, 2 workers (2 bot processes on one PostgreSQL queue): GitHub
    rate-limits the first PR's comment (429, `Retry-After: wait_seconds`), so its bot sleeps in the
    GitHub client; meanwhile the job's lease runs out (`expire_leases`), the other bot may take the
    job and finish it; then the first bot wakes up.

    A bot that renews its lease while it waits keeps the job (the other bot never takes it). With
    `stall`, the first bot is also frozen (SIGSTOP, as a long GC pause, a paused VM or swapping would)
    until the other bot has taken the job, so it cannot renew: it must notice it lost the lease and
    write nothing more."""
    rules = [
        FaultRule(
            "rate_limit",
            frozenset({"issues/create-comment"}),
            first=1,
            status=429,
            seconds=wait_seconds,
            where=lambda r: r.params.get("issue_number") == "1",
        )
    ]
    short_lease = {**(bot_env or {}), "MODBOT_LEASE_SECONDS": "4", "MODBOT_HEARTBEAT_SECONDS": "1"}
    with world(directory, prs=prs, rules=rules, database_url=database_url, bot_env=short_lease) as w:
        bots = (w.bot(workers=1).start(), w.bot(workers=1).start())
        ids = [w.deliver(bots[0], w.payload(pull)) for pull in w.pulls]
        limited = w.github.wait_for_fault("rate_limit", 1, timeout=60)
        frozen = _holder(w, ids[0], bots) if stall else None
        if frozen is not None:
            frozen.pause()
        w.expire_leases([ids[0]])
        taken_by_other = _wait_for(lambda: _attempts(w, ids[0]) >= 2, timeout=30)
        if frozen is not None:
            frozen.resume()  # it wakes up still waiting for GitHub, its lease gone
        drained = w.wait_drained(timeout=60)
        time.sleep(wait_seconds + 2)  # the first bot wakes up and does whatever it still does
        tally = w.tally(drained)
        tally.notes.update(
            rate_limited=limited,
            stalled=frozen is not None,
            taken_by_other=taken_by_other,
            reviewed_prs=w.reviewed(),
        )
        return tally


def _holder(w: World, delivery_id: str, bots: Sequence[Bot]) -> Bot:
    """The bot whose worker holds the delivery's lease (worker ids are host:pid:n)."""
    info = w.store.get_delivery(delivery_id)
    owner = (info.lease_owner or "") if info is not None else ""
    return next((bot for bot in bots if f":{bot.pid}:" in owner), bots[0])


def _attempts(w: World, delivery_id: str) -> int:
    info = w.store.get_delivery(delivery_id)
    return 0 if info is None else info.attempts


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


MALFORMED = {
    "pull_request.head.sha": lambda p: p["pull_request"]["head"].pop("sha"),
    "repository.html_url": lambda p: p["repository"].pop("html_url"),
}


def malformed_payloads(
    directory: Path,
    *,
    wait_seconds: float = 8.0,
    database_url: str | None = None,
    bot_env: Mapping[str, str] | None = None,
) -> Tally:
    """Payloads missing pull_request.head.sha or repository.html_url: each must be one permanent
    failure that names the field, at once, without a traceback."""
    with world(directory, prs=len(MALFORMED), database_url=database_url, bot_env=bot_env) as w:
        bot = w.bot(workers=1).start()
        ids: dict[str, str] = {}
        for (field_name, remove), pull in zip(MALFORMED.items(), w.pulls, strict=True):
            payload = w.payload(pull)
            remove(payload)
            ids[field_name] = w.deliver(bot, payload)
        # a permanent failure ends at once; one taken as temporary is retried until it gives up
        started = time.monotonic()
        finished = _wait_for(lambda: not w.unfinished(), timeout=wait_seconds)
        gave_up = time.monotonic() - started if finished else None
        time.sleep(3)  # a retry would come within 2.5-5 s (the worker's first backoff)
        tally = w.tally(gave_up)
        for field_name, delivery_id in ids.items():
            info = w.store.get_delivery(delivery_id)
            tally.notes[field_name] = (
                None
                if info is None
                else {"status": str(info.status), "attempts": info.attempts, "error": info.last_error}
            )
        tally.notes["tracebacks"] = tracebacks(bot.output())
        tally.notes["github_writes"] = sum(
            1 for entry in w.github.log if entry.request.operation_id in WRITE_OPERATIONS
        )
        return tally


def sigterm_in_flight(
    directory: Path,
    *,
    prs: int = 1,
    resume_timeout: float = 150.0,
    database_url: str | None = None,
    bot_env: Mapping[str, str] | None = None,
) -> Tally:
    """SIGTERM while a job is in flight (GitHub holds its read of the head manifest): the job must be
    handed back at once, and a restarted bot must resume it in seconds, not after the lease."""
    first_head = _sha("head-1")
    rules = [
        FaultRule(
            "hold",
            frozenset({"repos/get-content"}),
            first=1,
            seconds=300,
            where=lambda r: r.query.get("ref") == [first_head],
        )
    ]
    with world(directory, prs=prs, rules=rules, database_url=database_url, bot_env=bot_env) as w:
        bot = w.bot(workers=1).start()
        [delivery_id] = [w.deliver(bot, w.payload(pull)) for pull in w.pulls[:1]]
        for pull in w.pulls[1:]:
            w.deliver(bot, w.payload(pull))
        held = w.github.wait_for_hold(1, timeout=60)
        exit_seconds = bot.terminate(timeout=60)
        info = w.store.get_delivery(delivery_id)
        after_shutdown = None
        if info is not None:
            lease_left = (
                None if info.lease_until is None else (info.lease_until - w.store.now()).total_seconds()
            )
            after_shutdown = {"status": str(info.status), "lease_left_seconds": lease_left}
        w.github.release_holds()
        restarted = w.bot(workers=1).start()
        drained = w.wait_drained(timeout=resume_timeout)
        tally = w.tally(drained)
        tally.notes.update(
            held=held,
            exit_seconds=round(exit_seconds, 2),
            after_shutdown=after_shutdown,
            reviewed_prs=w.reviewed(),
        )
        _ = restarted
        return tally
