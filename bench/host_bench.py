"""Single-host mode on examples/rustok-mini: the local runner's incremental build vs a bare incremental
`cargo build` of the same workspace, the runner's own overhead, and rollback time.

1. A repository made from examples/rustok-mini (environments on the host backend), a data folder, the
   runner and the deployer (tests/host_world.py); a first, clean build through the runner (not timed).
2. Each round: a one-line change to crates/rustok-blog committed, the runner builds it (checkout, plan,
   features, build, stage, release tag, releases/<id>, promote); then the same kind of change made in the
   runner's own checkout and a bare `cargo build` with the same arguments, target folder and environment.
   Both are incremental builds of the same workspace at the same path: the ratio is runner / bare.
   "Overhead" is the run's wall time minus cargo's own "Finished in" figure: what modbot adds.
3. Install forum, build, deploy to staging: the time from the commit to "deployed to staging", split
   into cargo's part and modbot's.
4. Rollback (switch `current` + restart + smoke test) of staging, alternating with a deploy forward.

    python bench/host_bench.py [--rounds 5] [--rollbacks 5] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.rebuild_bench import machine  # noqa: E402
from bot.host.runs import Run  # noqa: E402
from tests.host_world import World, make_world, modbot  # noqa: E402

FINISHED = re.compile(r"Finished .* in (?:(\d+)m )?([\d.]+)s")
BLOG = Path("crates") / "rustok-blog" / "src" / "lib.rs"


def seconds_between(start: str | None, end: str | None) -> float:
    if start is None or end is None:
        return float("nan")
    parse = dt.datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


def cargo_finished(text: str) -> float:
    match = FINISHED.search(text)
    return (int(match.group(1) or 0) * 60 + float(match.group(2))) if match else float("nan")


def runner_build(world: World, runner: object) -> tuple[Run, float]:
    start = time.perf_counter()
    run = world.build(runner)  # type: ignore[arg-type]
    wall = time.perf_counter() - start
    if run.conclusion != "success":
        sys.exit(f"run {run.id} failed:\n{world.log(run)[-3000:]}")
    return run, wall


def step_seconds(run: Run) -> dict[str, float]:
    return {s.key: round(seconds_between(s.started_at, s.completed_at), 3) for s in run.steps}


def bare_build(world: World, run: Run, n: int) -> tuple[float, float]:
    """The runner's last build again by hand, in its checkout, after the same kind of change."""
    source = world.checkout / BLOG
    source.write_text(source.read_text() + f"// bare round {n}\n")
    args = json.loads(run.outputs["cargo_args"])
    env = {
        **os.environ,
        "CARGO_TARGET_DIR": str(world.cargo_target.resolve()),
        "RUSTOK_MANIFEST_HASH": run.outputs["manifest_hash"],
        "RUSTOK_MODULES_MANIFEST": str((world.checkout / "modules.toml").resolve()),
        "RUSTOK_RELEASE_ID": str(run.release_id),
        "CARGO_TERM_COLOR": "never",
    }
    start = time.perf_counter()
    done = subprocess.run(
        ["cargo", "build", *args, "--offline"], cwd=world.checkout, env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"bare cargo build failed:\n{done.stderr[-3000:]}")
    return wall, cargo_finished(done.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rollbacks", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if shutil.which("cargo") is None:
        sys.exit("cargo is not installed")
    with tempfile.TemporaryDirectory(prefix="host-bench-") as tmp:
        base = Path(tmp)
        world = make_world(base, base / "target", base / "checkout")
        try:
            summary = measure(world, args.rounds, args.rollbacks, quiet=args.json)
        finally:
            world.close()
    summary["machine"] = machine()
    if args.json:
        print(json.dumps(summary, indent=2))
    return 0


def measure(world: World, rounds: int, rollbacks: int, *, quiet: bool) -> dict[str, object]:
    def say(*parts: object, flush: bool = False) -> None:
        if not quiet:
            print(*parts, flush=flush)

    builds: list[dict[str, object]] = []
    with world.runner() as runner:
        runner_build(world, runner)  # the clean build: not timed
        for n in range(rounds):
            source = world.repo / BLOG
            source.write_text(source.read_text() + f"// runner round {n}\n")
            world.commit(f"bench round {n}")
            run, wall = runner_build(world, runner)
            build_log = (world.data / "runs" / run.id / "logs" / "04-build.log").read_text()
            cargo = cargo_finished(build_log)
            steps = step_seconds(run)
            bare_wall, bare_cargo = bare_build(world, run, n)
            row = {
                "run_s": round(wall, 3), "build_step_s": steps["build"], "cargo_s": cargo,
                "overhead_s": round(wall - cargo, 3), "bare_s": round(bare_wall, 3), "bare_cargo_s": bare_cargo,
                "ratio_build_step": round(steps["build"] / bare_wall, 2), "ratio_run": round(wall / bare_wall, 2),
                "steps": steps,
            }  # fmt: skip
            builds.append(row)
            say(
                f"round {n + 1}: run {wall:5.2f}s (build step {steps['build']:.2f}s, cargo {cargo:.2f}s, "
                f"overhead {wall - cargo:.2f}s)  bare cargo {bare_wall:.2f}s ({bare_cargo:.2f}s)  "
                f"ratio step/bare {row['ratio_build_step']:.2f}x, run/bare {row['ratio_run']:.2f}x  {steps}",
                flush=True,
            )
        # install forum -> build -> deployed to staging
        deployer = world.deployer(keep=50)
        previous = str(builds and runner.store.all()[-1].release_id)
        if not deployer.deploy("staging", previous).ok:
            sys.exit("the first deploy to staging failed")
        start = time.perf_counter()
        installed = modbot(
            world.repo, "install", "forum", "--crate", "rustok-forum", "--source", "path", "--path",
            "crates/rustok-forum", "--depends-on", "content", "--enable", "--manifest", "modules.toml",
        )  # fmt: skip
        if installed.returncode != 0:
            sys.exit(installed.stdout + installed.stderr)
        world.commit("install forum")
        run, _ = runner_build(world, runner)
        deployed = deployer.deploy("staging", str(run.release_id))
        install_wall = time.perf_counter() - start
        if not deployed.ok:
            sys.exit(f"deploying forum failed: {deployed.problems}")
        install_cargo = cargo_finished((world.data / "runs" / run.id / "logs" / "04-build.log").read_text())
        install = {"total_s": round(install_wall, 3), "cargo_s": install_cargo,
                   "modbot_s": round(install_wall - install_cargo, 3), "steps": step_seconds(run)}  # fmt: skip
        say(f"install forum -> deployed to staging: {install}", flush=True)
    times = []
    newer, older = str(run.release_id), previous
    for _ in range(rollbacks):
        start = time.perf_counter()
        back = deployer.rollback("staging", older)
        times.append(time.perf_counter() - start)
        if not back.ok or world.modules("staging")["release_id"] != older:
            sys.exit(f"rollback failed: {back.problems}")
        if not deployer.deploy("staging", newer).ok:
            sys.exit("deploying forward again failed")
    say(f"rollback (switch + restart + smoke): {[round(t, 3) for t in times]}", flush=True)

    def median(key: str) -> float:
        return round(statistics.median(float(b[key]) for b in builds), 3)  # type: ignore[arg-type]

    summary: dict[str, object] = {
        "builds": builds,
        "median_run_s": median("run_s"), "median_build_step_s": median("build_step_s"),
        "median_cargo_s": median("cargo_s"), "median_overhead_s": median("overhead_s"),
        "median_bare_s": median("bare_s"), "median_ratio_build_step": median("ratio_build_step"),
        "median_ratio_run": median("ratio_run"), "install_to_staging": install,
        "rollback_s": [round(t, 3) for t in times], "rollback_median_s": round(statistics.median(times), 3),
        "rollback_max_s": round(max(times), 3),
    }  # fmt: skip
    say(json.dumps({k: v for k, v in summary.items() if k.startswith(("median", "rollback"))}), flush=True)
    return summary


if __name__ == "__main__":
    sys.exit(main())
