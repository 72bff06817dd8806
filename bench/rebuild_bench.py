"""Clean build vs incremental rebuild of examples/rustok-mini after installing one module.

What the cached build workflow does: `modbot pipeline build` (cargo with exactly the manifest's
features, `--release`, the manifest_hash baked in) into a target dir that is kept between runs. Each
run here:

1. copies the workspace to a temp folder with a fresh, empty target dir;
2. clean: `modbot pipeline build --offline` for examples/rustok-mini/modules.toml;
3. `modbot install <module>` (forum, then seo on the next run, alternating);
4. incremental: `modbot pipeline build --offline` again, same target dir.

Both times are wall-clock for the whole command as a workflow step runs it (Python start-up
included); cargo's own "Finished ... in" figure is reported too. Usage:

    python bench/rebuild_bench.py [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "examples" / "rustok-mini"
MODULES = {
    "forum": [
        "--crate",
        "rustok-forum",
        "--source",
        "path",
        "--path",
        "crates/rustok-forum",
        "--depends-on",
        "content",
    ],
    "seo": [
        "--crate",
        "rustok-seo",
        "--source",
        "path",
        "--path",
        "crates/rustok-seo",
        "--depends-on",
        "content",
    ],
}
FINISHED = re.compile(r"Finished .* in (?:(\d+)m )?([\d.]+)s")


def modbot(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def timed_build(workspace: Path, target: Path, env: dict[str, str]) -> tuple[float, float]:
    start = time.perf_counter()
    done = modbot("pipeline", "build", "--offline", "--target-dir", str(target), cwd=workspace, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"build failed:\n{done.stderr[-3000:]}")
    match = FINISHED.search(done.stderr)
    cargo = (int(match.group(1) or 0) * 60 + float(match.group(2))) if match else float("nan")
    return wall, cargo


def machine() -> dict[str, object]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "rustc": rustc,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if shutil.which("cargo") is None:
        sys.exit("cargo is not installed")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    env.pop("CARGO_TARGET_DIR", None)
    runs: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="rebuild-bench-") as tmp:
        for n in range(args.runs):
            module = list(MODULES)[n % len(MODULES)]
            workspace = Path(tmp) / f"run{n}" / "rustok-mini"
            shutil.copytree(MINI, workspace, ignore=shutil.ignore_patterns("target"))
            target = workspace.parent / "target"
            clean_wall, clean_cargo = timed_build(workspace, target, env)
            installed = modbot(
                "install", module, *MODULES[module], "--manifest", "modules.toml", cwd=workspace, env=env
            )
            if installed.returncode != 0:
                sys.exit(f"install failed: {installed.stdout}{installed.stderr}")
            inc_wall, inc_cargo = timed_build(workspace, target, env)
            run = {
                "module": module,
                "clean_s": round(clean_wall, 3),
                "incremental_s": round(inc_wall, 3),
                "clean_cargo_s": clean_cargo,
                "incremental_cargo_s": inc_cargo,
                "ratio": round(clean_wall / inc_wall, 2),
            }
            runs.append(run)
            if not args.json:
                print(
                    f"run {n + 1}: +{module:<5} clean {clean_wall:6.2f}s (cargo {clean_cargo:.2f}s)  "
                    f"incremental {inc_wall:5.2f}s (cargo {inc_cargo:.2f}s)  ratio {run['ratio']:.1f}x",
                    flush=True,
                )
            shutil.rmtree(workspace.parent)
    clean = [float(r["clean_s"]) for r in runs]  # type: ignore[arg-type]
    inc = [float(r["incremental_s"]) for r in runs]  # type: ignore[arg-type]
    summary = {
        "machine": machine(),
        "runs": runs,
        "clean_median_s": round(statistics.median(clean), 3),
        "clean_best_s": round(min(clean), 3),
        "incremental_median_s": round(statistics.median(inc), 3),
        "incremental_best_s": round(min(inc), 3),
        "ratio_of_medians": round(statistics.median(clean) / statistics.median(inc), 2),
        "ratio_of_bests": round(min(clean) / min(inc), 2),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"\nclean median {summary['clean_median_s']}s (best {summary['clean_best_s']}s), incremental median "
            f"{summary['incremental_median_s']}s (best {summary['incremental_best_s']}s): "
            f"{summary['ratio_of_medians']}x (bests {summary['ratio_of_bests']}x); target >= 3x"
        )
        print(json.dumps(summary["machine"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
