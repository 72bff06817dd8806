"""Single-host mode as `make run` runs it: from pressing Install (or Uninstall) on the console's Modules
page to "deployed to staging", for incremental builds, split into cargo's time, the person's (approving
and merging with `modbot local review|merge`, two CLI processes) and modbot's own; and rollback time.

A real `modbot local serve` on a fresh data folder seeded from examples/rustok-mini (tests/single_host_world.py);
a first install (seo) warms the cargo target folder (not timed). Then each round alternates Install forum /
Uninstall forum through the console over HTTP. Before each round a one-line change to crates/rustok-blog is
merged and deployed (not timed): otherwise Uninstall gives back an earlier manifest, whose build key the
plan step finds released already, and modbot rightly builds nothing.

  whole    = Install pressed → staging runs the new release (polled every 20 ms)
  person   = the review and merge commands' wall time (what a person does, not modbot)
  cargo    = cargo's own "Finished … in" of the run's build step
  modbot   = whole − person − cargo: the console, the review, the event queue, the runner's other steps
             (five `python -m bot` start-ups among them), the release, the deploy with its smoke test

Rollbacks: `/rollback staging` and a `/deploy staging` forward, alternating; the deployer's own time
(deploy.log: "deploying" → "deployed", i.e. switch + restart + smoke) and the comment → success status time.

    python bench/single_host_bench.py [--rounds 4] [--rollbacks 4] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.rebuild_bench import machine  # noqa: E402
from tests.e2e.test_single_host_e2e import built, review_comment  # noqa: E402
from tests.single_host_world import REPO, Console, Served, wait_for  # noqa: E402

FINISHED = re.compile(r"Finished .* in (?:(\d+)m )?([\d.]+)s")
STAMP = re.compile(r"^(\S+) \[(\w+)\] (.*)$")


def cargo_seconds(world: Served, commit: str) -> float:
    for record in (world.data / "host" / "runs").glob("*/run.json"):
        run = json.loads(record.read_text())
        if run["commit"] == commit:
            log = record.parent / next(s["log"] for s in run["steps"] if s["key"] == "build")
            found = FINISHED.search(log.read_text())
            return (int(found.group(1) or 0) * 60 + float(found.group(2))) if found else float("nan")
    return float("nan")


def steps(world: Served, commit: str) -> dict[str, float]:
    for record in (world.data / "host" / "runs").glob("*/run.json"):
        run = json.loads(record.read_text())
        if run["commit"] == commit:
            return {s["key"]: _between(s["started_at"], s["completed_at"]) for s in run["steps"]}
    return {}


def _between(start: str | None, end: str | None) -> float:
    if not start or not end:
        return float("nan")
    parse = dt.datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


def person(world: Served, number: int) -> tuple[str, float]:
    start = time.perf_counter()
    world.ok("local", "review", REPO, str(number), "--approve", "--as", "admin")
    out = world.ok("local", "merge", REPO, str(number), "--as", "admin", "--format", "json")
    return json.loads(out)["merge_commit_sha"], time.perf_counter() - start


def code_change(world: Served, work: Path, index: int) -> int:
    """A one-line change to crates/rustok-blog, pushed, proposed by alice, merged, deployed to staging."""
    if not work.exists():
        world.git(work.parent, "clone", "--quiet", str(world.bare), str(work))
    world.git(work, "fetch", "--quiet", "origin")
    branch = f"alice/bench-{index}"
    world.git(work, "checkout", "--quiet", "-B", branch, "origin/main")
    lib = work / "crates" / "rustok-blog" / "src" / "lib.rs"
    lib.write_text(lib.read_text() + f"// bench round {index}\n")
    world.git(work, "commit", "--quiet", "-am", f"bench round {index}")
    world.git(work, "push", "--quiet", "origin", branch)
    out = world.ok("local", "propose", REPO, branch, "--title", branch, "--as", "alice", "--format", "json")
    number = int(json.loads(out)["number"])
    commit, _ = person(world, number)
    release = built(world, commit)
    wait_for("staging", lambda: world.release_on("staging") == release)
    return number


def one_round(world: Served, console: Console, number: int, action: str) -> dict[str, Any]:
    before = world.release_on("staging")
    start = time.perf_counter()
    fields = {"catalog": "true", "enable": "true"} if action == "install" else {}
    console.change(action, "forum", fields)
    review_comment(world, number)
    reviewed = time.perf_counter() - start
    commit, human = person(world, number)
    release = built(world, commit)
    wait_for("staging to run it", lambda: world.release_on("staging") == release, every=0.02)
    whole = time.perf_counter() - start
    assert release != before
    cargo = cargo_seconds(world, commit)
    return {
        "action": action,
        "release": release,
        "whole": whole,
        "until_review": reviewed,
        "person": human,
        "cargo": cargo,
        "modbot": whole - human - cargo,
        "steps": steps(world, commit),
    }


def deploy_log_seconds(world: Served, release: str) -> float:
    lines = (world.data / "host" / "environments" / "staging" / "deploy.log").read_text().splitlines()
    start = end = None
    for line in lines:
        found = STAMP.match(line)
        if not found:
            continue
        stamp, state, text = found.groups()
        if state == "in_progress" and text.startswith(f"deploying {release}"):
            start, end = stamp, None
        elif state == "success" and text.startswith(f"deployed {release}") and start:
            end = stamp
    return _between(start, end)


def rollbacks(world: Served, count: int) -> list[dict[str, Any]]:
    done = []
    envs = world.data / "host" / "environments" / "staging"
    newest = str(world.release_on("staging"))
    for index in range(count):
        if index % 2 == 0:  # back to the previous release
            words, target = "/rollback staging", Path(os.readlink(envs / "previous")).name
        else:  # and forward again
            words, target = f"/deploy staging {newest}", newest
        start = time.perf_counter()
        world.ok("local", "comment", REPO, "1", words, "--as", "admin")
        posted = time.perf_counter()
        wait_for("staging to switch", lambda t=target: world.release_on("staging") == t, every=0.02)
        switched = time.perf_counter()
        wait_for("the lock to go", lambda: world.store.get_lock(REPO, "staging") is None, every=0.02)
        comment = world.comments(1)[-1] if world.comments(1)[-1].author == "admin" else None
        comment = comment or next(c for c in reversed(world.comments(1)) if c.author == "admin")
        final = world.deployments("staging")[0][1][0]
        done.append(
            {
                "command": words,
                "deployer": deploy_log_seconds(world, target),
                "after_comment": (final.created_at - comment.created_at).total_seconds(),
                "switched_after_cli": switched - posted,
                "person": posted - start,
            }
        )
        print(json.dumps(done[-1]), file=sys.stderr, flush=True)
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--rollbacks", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modbot-single-host-bench-") as tmp:
        world = Served(Path(tmp) / "data", Path(tmp) / "target")
        world.start()
        try:
            console = Console(world, "admin", str(world.password))
            console.install("seo")  # warm-up: the first, full build
            review_comment(world, 1)
            commit, _ = person(world, 1)
            first = built(world, commit)
            wait_for("staging", lambda: world.release_on("staging") == first, deadline=900)
            world.releases_seen = [first]  # type: ignore[attr-defined]
            world.ok(
                "users", "add", "alice", "--role", "write", "--password-stdin", stdin="alice-password-1\n"
            )
            rounds = []
            for index in range(args.rounds):
                number = code_change(world, Path(tmp) / "work", index) + 1
                result = one_round(world, console, number, "install" if index % 2 == 0 else "uninstall")
                rounds.append(result)
                print(json.dumps(result), file=sys.stderr, flush=True)
                world.releases_seen.append(result["release"])  # type: ignore[attr-defined]
            backs = rollbacks(world, args.rollbacks)
        finally:
            world.close()
    report = {"machine": machine(), "rounds": rounds, "rollbacks": backs}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(json.dumps(report["machine"]))
    print("| round | action | whole | until the review | person | cargo | modbot |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for number, r in enumerate(rounds, 1):
        print(
            f"| {number} | {r['action']} forum | {r['whole']:.2f} s | {r['until_review']:.2f} s | "
            f"{r['person']:.2f} s | {r['cargo']:.2f} s | **{r['modbot']:.2f} s** |"
        )
    print(f"median modbot {statistics.median(r['modbot'] for r in rounds):.2f} s")
    for r in rounds:
        print(r["action"], {k: round(v, 3) for k, v in r["steps"].items()})
    print(
        "| rollback | command | deployer (switch + restart + smoke) | comment recorded → success status recorded |"
    )
    print("| ---: | --- | ---: | ---: |")
    for number, b in enumerate(backs, 1):
        print(f"| {number} | `{b['command']}` | {b['deployer']:.3f} s | {b['after_comment']:.2f} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
