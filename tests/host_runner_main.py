"""A runner in a process of its own, for the crash test: `python -m tests.host_runner_main DATA REPO
TARGET CHECKOUT COMMIT...` queues the commits and runs them until it is killed."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bot.host.layout import Layout
from bot.host.releases import Releases
from bot.host.reporting import FileRunReporter
from bot.host.runner import Runner, RunnerSettings


def main(argv: list[str]) -> None:
    data, repo, target, checkout, *commits = argv
    settings = RunnerSettings(
        data_dir=Path(data), repository=Path(repo), offline=True, cargo_target=Path(target),
        checkout=Path(checkout), grace=3.0,
    )  # fmt: skip
    releases = Releases(Layout(Path(data)), binary_name="rustok-server")
    with Runner(
        settings, reporter=FileRunReporter(Path(data) / "reports" / "runs"), releases=releases
    ) as runner:
        for commit in commits:
            runner.enqueue(commit, "main")
        while True:
            time.sleep(1)


if __name__ == "__main__":
    main(sys.argv[1:])
