"""Console page render times (issue #13): each page's p50/p95 with 1,000 releases, 10,000 audit entries
and 200 modules in the manifest, the server alone (the real app in-process through Starlette's
TestClient: routing, dependencies, the session, the store on SQLite, templates; no network, no browser).
Every page the menu names that answers is measured, so pages added later are measured too.

    .venv/bin/python bench/console_bench.py [--requests 200]

Target: p95 under 50 ms per page. Figures go to docs/performance.md with the machine."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from bot.store import ReleaseInfo
from bot.web.console.render import NAV
from tests.chatops_world import REPO, World
from tests.console_world import Console
from tests.store_helpers import FakeClock, temporary_store

RELEASES = 1000
AUDIT_ENTRIES = 10_000
MODULES = 200


def manifest(modules: int) -> bytes:
    lines = ["schema = 2"]
    for index in range(modules):
        lines += [
            f"[modules.m{index:03d}]",
            f'crate = "rustok-m{index:03d}"',
            'source = "crates-io"',
            'version = "0.1"',
        ]
        if index % 10 == 1:
            lines.append(f'depends_on = ["m{index - 1:03d}"]')
    return ("\n".join(lines) + "\n").encode()


def seed(world: World) -> None:
    store, clock = world.store, world.clock
    world.forge.commit(REPO, "main", {"modules.toml": manifest(MODULES)})
    for index in range(RELEASES):
        release = ReleaseInfo(
            repository=REPO,
            release_id=f"rel_2026_{1 + index // 280:02d}_{1 + index // 10 % 28:02d}_{index % 10 + 1:03d}",
            commit_sha=f"{index:040x}",
            manifest_hash=f"{index:064x}",
            modules=tuple(f"m{m:03d}" for m in range(MODULES)),
            image=f"ghcr.io/acme/shop@sha256:{index:064x}",
            build_key=f"{index + 7:064x}",
            build_id=f"{index}-1",
            previous_release=None,
            created_at=clock(),
        )
        store.upsert_release(release)
        environment = "staging" if index % 2 == 0 else "production"
        clock.advance(60)
        store.record_deployment(
            repository=REPO, environment=environment, release_id=release.release_id, commit_sha="a" * 40,
            kind="deploy", requested_by="alice", reason=None, source="comment", status="success",
        )  # fmt: skip
    for index in range(AUDIT_ENTRIES - audit_count(world)):  # the deployments audited themselves
        store.append_audit("bob" if index % 2 else "carol", "command.status", f"{REPO}:staging", {"n": index})


def audit_count(world: World) -> int:
    with world.store.engine.connect() as conn:
        count: int = conn.exec_driver_sql("SELECT count(*) FROM audit_log").scalar_one()
        return count


def oldest_audit_id(world: World) -> int:
    with world.store.engine.connect() as conn:
        oldest: int = conn.exec_driver_sql("SELECT min(id) FROM audit_log").scalar_one()
        return oldest


def measure(console: Console, path: str, requests: int) -> tuple[float, float, int]:
    client = console.client
    status = client.get(path).status_code  # warm: templates compiled, caches filled
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == status
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], status


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return (
        f"{model}, {os.cpu_count()} CPUs, Python {platform.python_version()}, load {os.getloadavg()[0]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as directory,
        temporary_store("sqlite", directory=Path(directory), clock=FakeClock()) as store,
    ):
        world = World.create(store, FakeClock())
        started = time.perf_counter()
        seed(world)
        console = Console.start(world)
        console.sign_in_github("alice", "maintain")
        print(
            f"seeded in {time.perf_counter() - started:.1f} s: {RELEASES} releases, {MODULES} modules, "
            f"{audit_count(world)} audit entries"
        )
        cursor = oldest_audit_id(world) + 60  # the last page but one of the whole history
        paths = [item.href for item in NAV] + [
            "/console/audit?outcome=refused",
            "/console/audit?actor=carol&environment=staging",
            f"/console/audit?cursor={cursor}",
            "/console/login",
        ]
        print(f"machine: {machine()}")
        print(f"{'page':<48} {'status':>6} {'p50 ms':>8} {'p95 ms':>8}")
        for path in paths:
            p50, p95, status = measure(console, path, args.requests)
            if status == 404:
                print(f"{path:<48} {status:>6} {'(no such page yet)':>17}")
                continue
            print(f"{path:<48} {status:>6} {p50:>8.1f} {p95:>8.1f}")


if __name__ == "__main__":
    main()
