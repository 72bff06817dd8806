"""Child processes of single-host mode: each in its own process group (so cargo's rustc children
stop with it), output streamed to a log file, stopped with SIGTERM then SIGKILL after a grace.

A process is identified by its pid *and* its start time (/proc/<pid>/stat), so a pid recorded
before a crash is never confused with an unrelated process that reused it.
"""

from __future__ import annotations

import contextlib
import enum
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

POLL = 0.1
KILL_WAIT = 5.0


@dataclass(frozen=True, slots=True)
class ProcessId:
    pid: int
    start_ticks: int

    def to_json(self) -> dict[str, int]:
        return {"pid": self.pid, "start_ticks": self.start_ticks}


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: fields restart after the last ')'
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])  # field 22 of stat(5), the 20th after the name
    except (IndexError, ValueError):
        return None


def identify(pid: int) -> ProcessId | None:
    ticks = start_ticks(pid)
    return None if ticks is None else ProcessId(pid, ticks)


def alive(process: ProcessId) -> bool:
    """The very process (not a pid reuse), and not a zombie."""
    if start_ticks(process.pid) != process.start_ticks:
        return False
    try:
        state = Path(f"/proc/{process.pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rfind(")") + 2 :].split()[:1] != ["Z"]


def stop_group(process: ProcessId, *, grace: float, reap: Callable[[], object] | None = None) -> None:
    """SIGTERM to the process group led by `process`, SIGKILL after `grace` seconds. `reap` (e.g.
    Popen.poll) is called while waiting, so our own child does not linger as a zombie."""
    if not alive(process):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if reap is not None:
            reap()
        if not alive(process):
            break
        time.sleep(POLL / 2)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # the leader may be gone while children remain
    # SIGKILL is delivered asynchronously: wait until it is gone, so its port is free for what comes next
    deadline = time.monotonic() + KILL_WAIT
    while time.monotonic() < deadline:
        if reap is not None:
            reap()
        if not alive(process):
            break
        time.sleep(POLL / 10)


class Outcome(enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


@dataclass(frozen=True, slots=True)
class Finished:
    outcome: Outcome
    exit_code: int | None


def run_logged(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: Path,
    deadline: float,
    cancelled: threading.Event,
    grace: float = 10.0,
    on_start: Callable[[ProcessId], None] = lambda _p: None,
) -> Finished:
    """Run argv (no shell), appending its stdout and stderr to `log` as it writes them. Stops it (and
    its group) when `cancelled` is set or the monotonic `deadline` passes."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        try:
            child = subprocess.Popen(  # noqa: S603 - an argv list, never a shell
                list(argv),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            out.write(f"modbot: cannot start {argv[0]}: {exc.strerror or exc}\n".encode())
            return Finished(Outcome.FAILURE, None)
        me = identify(child.pid)
        if me is not None:
            on_start(me)
        while True:
            try:
                code = child.wait(timeout=POLL)
            except subprocess.TimeoutExpired:
                stop = Outcome.CANCELLED if cancelled.is_set() else None
                if stop is None and time.monotonic() >= deadline:
                    stop = Outcome.TIMED_OUT
                if stop is None:
                    continue
                if me is not None:
                    stop_group(me, grace=grace, reap=child.poll)
                child.kill()
                child.wait()
                return Finished(stop, child.returncode)
            return Finished(Outcome.SUCCESS if code == 0 else Outcome.FAILURE, code)
