"""Render time of the console's Modules, Builds and Releases pages at scale, server alone (the real app in
process through Starlette's TestClient: routing, session, store, forge fake, Jinja2; no network).

The store holds 1,000 releases, 1,000 builds and 10,000 audit entries; the manifest has 200 modules
(RusToK's newest manifest plus 150 made-up crates, a third of them depending on another) and the catalog
50 entries. Each page is fetched ``--rounds`` times; p50/p95/max in milliseconds. The Modules page's
button verdicts (one real edit each) are planned once per manifest text in the background: its first
view, which answers without them, and the time until they are all planned are reported apart.

    python bench/console_pages_bench.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient

from bench.store_bench import describe_machine
from bot.app.queries.modules import view_ready
from bot.store import ReleaseInfo, Store
from bot.web.console.modules_page import PAGE_WAIT_SECONDS
from tests.chatops_world import REPO, World
from tests.console_pages import console_client, sign_in
from tests.store_helpers import FakeClock, temporary_store

HISTORY = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "rustok-history"
TARGET_MS = 50.0


def manifest_200() -> str:
    base = sorted(HISTORY.glob("*.toml"))[-1].read_text()
    lines = []
    for i in range(150):
        deps = f', depends_on = ["content", "ext{i - 1}"]' if i % 3 == 1 else ""
        lines.append(
            f'ext{i} = {{ crate = "rustok-ext{i}", source = "crates-io", version = "0.{i % 9 + 1}"{deps} }}'
        )
    text = base.replace("\n[settings]", "\n" + "\n".join(lines) + "\n\n[settings]", 1)
    assert text.count('crate = "') == 200
    return text


def catalog_50() -> str:
    entries = [
        f'[modules.cat{i}]\ncrate = "rustok-cat{i}"\nsource = "crates-io"\nversion = "1.{i}"\n'
        f'description = "Catalog module {i}"\n' + ('depends_on = ["content"]\n' if i % 2 else "")
        for i in range(50)
    ]
    return "schema = 1\n\n" + "\n".join(entries)


def seed(world: World, store: Store) -> str:
    world.forge.commit(
        REPO,
        "main",
        {"modules.toml": manifest_200().encode(), ".github/modbot-catalog.toml": catalog_50().encode()},
    )
    start = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    modules = sorted(f"ext{i}" for i in range(150))
    for n in range(1000):
        day = start + timedelta(days=n // 3)
        store.upsert_release(
            ReleaseInfo(
                repository=REPO,
                release_id=f"rel_{day:%Y_%m_%d}_{n % 3 + 1:03d}",
                commit_sha=f"{n:040x}",
                manifest_hash=f"{n:064x}",
                modules=tuple(modules[: 100 + n % 50]),
                image=f"ghcr.io/acme/shop@sha256:{n:064x}",
                build_key=f"{n:064x}",
                build_id=None,
                previous_release=None,
                created_at=day + timedelta(minutes=n % 3),
            )
        )
    build_id = ""
    for n in range(1000):
        build_id = store.create_build(
            repository=REPO,
            requested_by=f"admin{n % 7}",
            reason=f"bench build {n}",
            manifest_ref=None,
            manifest_hash=None,
            modules_delta={"summary": f"+m{n}"},
            pr_number=n + 1,
        ).build_id
        world.later(0.1)
    for n in range(10_000 - 1000):
        store.append_audit("bench", "bench.entry", REPO, {"n": n})
    return build_id


def timed(client: TestClient, path: str, rounds: int) -> dict[str, float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        answer = client.get(path)
        samples.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    samples.sort()

    def at(q: float) -> float:
        return samples[min(len(samples) - 1, round(q * (len(samples) - 1)))]

    return {"p50": at(0.5), "p95": at(0.95), "max": samples[-1]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)
    print(describe_machine())
    with (
        tempfile.TemporaryDirectory() as directory,
        temporary_store("sqlite", directory=Path(directory), clock=FakeClock()) as store,
    ):
        world = World.create(store, FakeClock())
        world.role("alice", "maintain")
        build_id = seed(world, store)
        client = console_client(world)
        sign_in(client, "alice")
        start = time.perf_counter()
        first = client.get("/console/modules")
        answered = time.perf_counter() - start
        assert first.status_code == 200 and "still checking" in first.text
        key = first.text.split("/console/modules/events?key=", 1)[1].split('"', 1)[0]
        while not view_ready(key):
            time.sleep(0.05)
        planned = time.perf_counter() - start
        print(
            f"/console/modules first view: answered in {answered * 1000:.0f} ms without verdicts "
            f"(waits {PAGE_WAIT_SECONDS:.0f} s for them); every button planned after {planned:.1f} s"
        )
        oldest = store.releases(REPO, limit=1000)[-30].release_id
        paths = [
            "/console/modules",
            "/console/builds",
            "/console/builds?status=queued",
            f"/console/builds/{build_id}",
            "/console/releases",
            f"/console/releases?before={oldest}",
        ]
        worst = 0.0
        for path in paths:
            figures = timed(client, path, args.rounds)
            worst = max(worst, figures["p95"])
            print(
                f"{path:<50} p50 {figures['p50']:6.1f} ms  p95 {figures['p95']:6.1f} ms  max {figures['max']:6.1f} ms"
            )
        print(
            f"worst p95 {worst:.1f} ms (target < {TARGET_MS:.0f} ms): {'met' if worst < TARGET_MS else 'NOT met'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
