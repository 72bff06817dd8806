"""What the local forge costs for one review and one merge, on real git and a real SQLite store.

Each round proposes a change to RusToK's own modules.toml (a bot commit on a new branch and a change
request), then times what a review does through the forge: the change request, modules.toml at base
and at head, the sticky-comment lookup and its creation, a check run and a commit status; then the
merge (a real merge commit, the base having moved meanwhile). Events go to the store's delivery queue,
as in single-host mode. Also timed: one bare ``git`` subprocess, the floor of every git operation.

    python bench/local_forge_bench.py [--rounds 30] [--manifest PATH]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.forge import Annotation
from bot.forge.local import LocalForge
from bot.store import LocalForgeStore, open_store
from bot.store.bench import describe_machine

REPO = "acme/site"
MANIFEST = Path("/work/shared/fixtures/rustok-head/modules.toml")
FALLBACK = Path(__file__).resolve().parent.parent / "examples" / "rustok-mini" / "modules.toml"
MARKER = "<!-- modbot:sticky -->"


def timed(samples: dict[str, list[float]], name: str, call: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = call()
    samples.setdefault(name, []).append((time.perf_counter() - start) * 1000)
    return result


def one_round(forge: LocalForge, n: int, manifest: bytes, samples: dict[str, list[float]]) -> None:
    base = forge.branch_head(REPO, "main")
    branch = f"modbot/install-m{n}"
    forge.create_branch(REPO, branch, base)
    changed = manifest + f"\n# round {n}\n".encode()
    timed(
        samples,
        "commit_file",
        lambda: forge.commit_file(
            REPO, branch, "modules.toml", changed, message=f"install m{n}", parent_sha=base
        ),
    )
    pull = timed(
        samples,
        "open change request",
        lambda: forge.create_pull(REPO, head=branch, base="main", title=f"Install m{n}", body="why"),
    )
    start = time.perf_counter()
    pull = timed(samples, "get_pull", lambda: forge.get_pull(REPO, pull.number))
    timed(samples, "get_file base", lambda: forge.get_file(REPO, "modules.toml", pull.base_sha))
    timed(samples, "get_file head", lambda: forge.get_file(REPO, "modules.toml", pull.head_sha))
    timed(samples, "find_comment", lambda: forge.find_comment(REPO, pull.number, MARKER))
    timed(samples, "create_comment", lambda: forge.create_comment(REPO, pull.number, f"{MARKER}\nok"))
    note = [Annotation("modules.toml", 1, 1, "notice", "checked")]
    timed(
        samples,
        "create_check_run",
        lambda: forge.create_check_run(
            REPO,
            pull.head_sha,
            "modbot/manifest",
            conclusion="success",
            title="t",
            summary="s",
            annotations=note,
        ),
    )
    timed(
        samples,
        "set_commit_status",
        lambda: forge.set_commit_status(
            REPO, pull.head_sha, "success", context="modbot/manifest", description="valid"
        ),
    )
    samples.setdefault("review (all of the above)", []).append((time.perf_counter() - start) * 1000)
    # the base moves on before the merge, so it is a real merge commit, not a fast-forward
    main = forge.branch_head(REPO, "main")
    forge.commit_file(REPO, "main", f"notes/{n}.txt", b"x\n", message="meanwhile", parent_sha=main)
    timed(samples, "merge", lambda: forge.merge_pull(REPO, pull.number, by="alice"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--manifest", type=Path, default=MANIFEST if MANIFEST.exists() else FALLBACK)
    args = parser.parse_args(argv)
    manifest = args.manifest.read_bytes()
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="local-forge-bench-") as tmp:
        store = open_store(f"sqlite:///{tmp}/modbot.sqlite3")
        forge = LocalForge(
            Path(tmp) / "repos",
            LocalForgeStore(store.engine),
            {"alice": "write"}.get,  # type: ignore[arg-type]
        )
        git = forge.create_repository(REPO)
        me = forge.identity("alice")
        tree = git.tree_with_files(None, {"modules.toml": manifest})
        first = git.commit_tree(tree, [], "first\n", author=me, committer=me)
        git.update_ref("refs/heads/main", first, None)
        for _ in range(args.rounds):
            timed(
                samples,
                "bare git subprocess",
                lambda: subprocess.run(["git", "--version"], capture_output=True, check=True),
            )
        for n in range(args.rounds):
            one_round(forge, n, manifest, samples)
        queued = store.queue_depth()
        store.dispose()
    print(f"machine: {describe_machine()}")
    print(
        f"manifest: {args.manifest} ({len(manifest)} bytes); rounds: {args.rounds}; events queued: {queued}"
    )
    print(f"{'operation':<28} {'best ms':>8} {'median ms':>10} {'max ms':>8}")
    for name, values in samples.items():
        print(f"{name:<28} {min(values):>8.1f} {statistics.median(values):>10.1f} {max(values):>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
