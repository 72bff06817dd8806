"""Single-host mode end to end (issue #14): a real `modbot local serve` process seeded from
examples/rustok-mini, the console over real HTTP, real git pushes, real cargo builds (offline, one
shared target folder), the staging and production servers supervised on their own ports.

The loop: Install from the console → the validation comment (the same text the GitHub path posts) →
approve and merge as local accounts → the runner builds and releases → staging serves the module →
`/deploy production` → `/rollback production`; a release whose smoke test fails rolled back by itself
(and the forge told of the deploy tag moving back); two `/deploy production` at once; an invalid
manifest refused; modbot killed mid-build, restarted, the run failed cleanly and the loop going on;
Ctrl-C stops every server modbot started."""

from __future__ import annotations

import json
import shutil
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app.review.pull_request import COMMANDS
from bot.app.review.report import MARKER, render_comment, review_manifest
from bot.domain.forge_records import CommentRecord
from tests.single_host_world import REPO, Console, Served, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cargo_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("cargo") is None:
        pytest.skip("cargo is not installed")
    return tmp_path_factory.mktemp("single-host-cargo") / "target"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, cargo_target: Path) -> Iterator[Served]:
    world = Served(tmp_path_factory.mktemp("single-host") / "data", cargo_target)
    said = world.start()
    assert "sign in as admin with the password" in said
    assert "staging: nothing deployed yet" in said
    world.ok("users", "add", "alice", "--role", "write", "--password-stdin", stdin="alice-password-1\n")
    yield world
    world.close()


def reply_to(served: Served, number: int, text: str, *, after: int) -> CommentRecord:
    """modbot's reply to the command comment `after` on change request `number`, once it is final."""

    def final() -> CommentRecord | None:
        marker = f"<!-- modbot:command-reply {after} -->"
        for comment in served.comments(number):
            if comment.author == "modbot" and marker in comment.body and text in comment.body:
                return comment
        return None

    return wait_for(f"modbot's reply to comment {after} saying {text!r}", final)


def command(served: Served, number: int, text: str, login: str = "admin") -> int:
    out = served.ok("local", "comment", REPO, str(number), text, "--as", login, "--format", "json")
    return int(json.loads(out)["comment"])


def merge(served: Served, number: int) -> str:
    served.ok("local", "review", REPO, str(number), "--approve", "--as", "admin")
    out = served.ok("local", "merge", REPO, str(number), "--as", "admin", "--format", "json")
    sha: str = json.loads(out)["merge_commit_sha"]
    return sha


def built(served: Served, commit: str) -> str:
    """The release the runner made of `commit` (its forge run completed successfully)."""
    run = wait_for(
        f"the build of {commit[:7]}",
        lambda: next((r for r in served.runs() if r.head_sha == commit and r.status == "completed"), None),
    )
    assert run.conclusion == "success", served.log()[-3000:]
    tags = served.git(served.bare, "tag", "--points-at", commit, "--list", "release/*").split()
    assert len(tags) == 1, tags
    return tags[0].removeprefix("release/")


def review_comment(served: Served, number: int) -> CommentRecord:
    return wait_for(
        f"the validation comment on #{number}",
        lambda: next((c for c in served.comments(number) if MARKER in c.body), None),
    )


def expected_review(served: Served, number: int, comment: CommentRecord) -> str:
    """What the review use case renders for this change request, the GitHub path's function and
    template: the comment must be exactly it."""
    pull = served.records.get_change_request(REPO, number)
    assert pull is not None
    head = served.git(served.bare, "rev-parse", f"refs/heads/{pull.head_ref}")
    base = served.git(served.bare, "merge-base", "refs/heads/main", head)
    show = lambda sha: served.git(served.bare, "show", f"{sha}:modules.toml").encode() + b"\n"  # noqa: E731
    review = review_manifest(
        show(base), show(head), manifest_path="modules.toml", base_sha=base, head_sha=head
    )
    return render_comment(review, repo_html_url=f"{served.url}/repos/{REPO}", commands=COMMANDS)


def test_install_review_merge_build_deploy_and_roll_back(served: Served) -> None:
    console = Console(served, "admin", str(served.password))
    # a first release without forum: seo from the Modules page, built, on staging, then production
    page = console.install("seo")
    assert "opened pull request #1" in page
    assert "✅ modbot: `modules.toml` is valid" in review_comment(served, 1).body
    first = built(served, merge(served, 1))
    wait_for("staging to run the first release", lambda: served.release_on("staging") == first)
    assert "seo" in (served.served_modules("staging") or [])
    reply_to(
        served, 1, f"Deployed `{first}` to **production**", after=command(served, 1, "/deploy production")
    )
    assert served.release_on("production") == first

    # Install forum → the validation comment, the review use case's own text
    page = console.install("forum")
    assert "opened pull request #2" in page
    comment = review_comment(served, 2)
    assert comment.author == "modbot"
    assert comment.body == expected_review(served, 2, comment)
    second = built(served, merge(served, 2))
    assert served.git(served.bare, "cat-file", "-t", f"refs/tags/release/{second}") == "tag"  # annotated
    wait_for("staging to serve forum", lambda: "forum" in (served.served_modules("staging") or []))
    assert served.release_on("staging") == second
    assert "forum" not in (served.served_modules("production") or [])

    reply_to(
        served, 2, f"Deployed `{second}` to **production**", after=command(served, 2, "/deploy production")
    )
    assert "forum" in (served.served_modules("production") or [])
    assert served.tag("deploy/production") == served.tag(f"release/{second}")

    reply_to(served, 2, "production", after=command(served, 2, "/rollback production"))
    wait_for("production to run the first release again", lambda: served.release_on("production") == first)
    assert "forum" not in (served.served_modules("production") or [])
    assert served.tag("deploy/production") == served.tag(f"release/{first}")
    # no build ran for the rollback: the forge's runs are the two merges'
    assert len(served.runs()) == 2
    console.close()


def test_two_deploys_of_production_at_once_one_wins(served: Served) -> None:
    before = len(served.deployments("production"))
    # both comments written back to back through the forge (two CLI processes would start seconds
    # apart on a loaded machine, and the first deploy could be over before the second command arrives)
    forge = served.forge()
    ids = [forge.add_comment(REPO, 2, "/deploy production", by="admin").id for _ in range(2)]
    first, second = sorted(ids)
    for after in (first, second):
        reply_to(served, 2, "production", after=after)

    def settled() -> list[str] | None:
        texts = [reply_to(served, 2, "production", after=after).body for after in (first, second)]
        return texts if any("✅ Deployed" in t for t in texts) else None

    texts = wait_for("the winner's deploy to end", settled)
    won = [t for t in texts if "✅ Deployed" in t]
    refused = [t for t in texts if "✅ Deployed" not in t]
    assert len(won) == 1 and len(refused) == 1, texts
    assert "/unlock production" in refused[0], refused[0]  # told why: the environment is held
    assert len(served.deployments("production")) == before + 1  # the refused one created none


def _quiet(served: Served, environment: str) -> bool:
    latest = served.deployments(environment)[0][1]
    return bool(latest) and latest[0].state in ("success", "failure", "error")


def _push_branch(served: Served, branch: str, edit: dict[str, str], tmp: Path) -> None:
    work = tmp / branch.replace("/", "-")
    served.git(tmp, "clone", "--quiet", str(served.bare), str(work))
    served.git(work, "checkout", "--quiet", "-b", branch)
    for path, (old, new) in ((p, e.split("\0")) for p, e in edit.items()):
        target = work / path
        text = target.read_text()
        assert old in text, f"{old!r} not in {path}"
        target.write_text(text.replace(old, new, 1))
    served.git(work, "commit", "--quiet", "-am", f"{branch}")
    served.git(work, "push", "--quiet", "origin", branch)


def test_an_invalid_manifest_is_refused_with_the_review_comment(served: Served, tmp_path: Path) -> None:
    _push_branch(served, "alice/broken", {"modules.toml": "[settings]\0[settings]\nbroken = ["}, tmp_path)
    out = served.ok(
        "local", "propose", REPO, "alice/broken", "--title", "broken", "--as", "alice", "--format", "json"
    )
    number = int(json.loads(out)["number"])
    comment = review_comment(served, number)
    assert "❌" in comment.body
    assert comment.body == expected_review(served, number, comment)


def test_a_release_failing_its_smoke_test_is_rolled_back_by_itself(served: Served, tmp_path: Path) -> None:
    good = served.release_on("staging")
    assert good is not None
    exit_at_once = "fn main() -> ExitCode {\0fn main() -> ExitCode {\n    std::process::exit(3);"
    _push_branch(served, "alice/exit", {"apps/server/src/main.rs": exit_at_once}, tmp_path)
    out = served.ok(
        "local", "propose", REPO, "alice/exit", "--title", "exit", "--as", "alice", "--format", "json"
    )
    bad = built(served, merge(served, int(json.loads(out)["number"])))

    def rolled_back() -> str | None:
        for deployment, statuses in served.deployments("staging"):
            if deployment.payload.get("release_id") == bad and statuses and statuses[0].state == "failure":
                return statuses[0].description
        return None

    said = wait_for(f"the deploy of {bad} to fail", rolled_back)
    assert f"{bad} failed: smoke test; rolled back to {good}" in said
    assert served.release_on("staging") == good
    assert served.served_modules("staging") is not None  # the good release serves again
    # deploy/staging moved back through the forge, which announced it (and it deployed nothing more)
    assert served.tag("deploy/staging") == served.tag(f"release/{good}")
    commit = served.tag(f"release/{good}")
    heard = f"deploy/staging moved to {commit[:12]}: ignored: staging runs {good}, which deploy/staging names"
    wait_for("modbot to hear of the tag moving back", lambda: heard in served.log())


def test_ctrl_c_stops_modbot_and_every_server(served: Served) -> None:
    assert served.served_modules("staging") is not None
    assert served.stop(signal.SIGINT) == 0
    for environment, port in served.ports.items():
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"{environment} still listens"
    said = served.start()  # resumes: both environments up again, no new password
    assert "sign in as admin with the password" not in said
    assert "staging: rel_" in said and "production: rel_" in said
    assert served.served_modules("production") is not None


def test_a_crash_mid_build_fails_the_run_cleanly_and_the_loop_goes_on(
    tmp_path: Path, cargo_target: Path
) -> None:
    world = Served(tmp_path / "data", cargo_target)
    try:
        world.start()
        console = Console(world, "admin", str(world.password))
        console.install("forum")
        review_comment(world, 1)
        commit = merge(world, 1)
        wait_for("the build step to start", lambda: _step_started(world, "build"))
        assert world.stop(signal.SIGKILL) == -signal.SIGKILL  # a crash
        world.start()
        run = wait_for(
            "the interrupted run to be failed",
            lambda: next((r for r in world.runs() if r.head_sha == commit and r.status == "completed"), None),
        )
        assert run.conclusion == "failure"
        (record,) = (world.data / "host" / "runs").glob("*/run.json")
        assert "interrupted: modbot stopped during the step" in json.loads(record.read_text())["reason"]
        # the loop goes on: the next merge builds and reaches staging
        console = Console(world, "admin", str(world.password))
        console.install("seo")
        review_comment(world, 2)
        release = built(world, merge(world, 2))
        wait_for("staging to run it", lambda: world.release_on("staging") == release)
        assert {"forum", "seo"} <= set(world.served_modules("staging") or [])
    finally:
        world.close()


def _step_started(world: Served, key: str) -> bool:
    for record in (world.data / "host" / "runs").glob("*/run.json"):
        steps = {s["key"]: s for s in json.loads(record.read_text())["steps"]}
        if steps.get(key, {}).get("started_at"):
            return True
    return False
