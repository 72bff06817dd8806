"""The registry of event handlers, through the real worker and store: a stored delivery of each event
reaches its handler; a command whose job fails after it acted is not run again by the retry."""

from __future__ import annotations

from typing import Any

import pytest

from bot.forge import Forge, ForgeError
from bot.forge.github.webhooks import event_from_webhook
from bot.runtime import Runtime
from bot.web.webhook import HANDLED_EVENTS
from bot.worker import Worker
from bot.worker.wiring import EVENT_HANDLERS, build_worker
from tests.chatops_world import REPO, World, settings, tag_sha
from tests.github_conformance import webhook_example
from tests.store_helpers import FakeClock


class OneForge:
    def __init__(self, forge: Forge) -> None:
        self.forge = forge

    def for_installation(self, installation_id: int | None) -> Forge:
        return self.forge


@pytest.fixture
def worker(world: World) -> Worker:
    return build_worker(Runtime(settings(), world.store, OneForge(world.forge)), 0)


_deliveries = iter(range(1, 10_000))


def deliver(world: World, worker: Worker, event: str, payload: dict[str, Any]) -> str | None:
    delivery_id = f"d-{next(_deliveries)}"
    world.store.record_delivery(delivery_id, event, payload.get("action"), REPO, 7, payload)
    assert worker.run_once()
    info = world.store.get_delivery(delivery_id)
    assert info is not None
    return str(info.status.value)


def test_every_handled_event_has_a_handler_and_the_webhook_accepts_it() -> None:
    webhooks = {"pull_request", "issue_comment", "deployment_status", "workflow_run", "create", "push"}
    assert webhooks <= HANDLED_EVENTS
    # each converts (a real example payload) into a typed event whose kind has a use case, and every
    # use case is reached from some webhook
    kinds = set()
    for name in sorted(webhooks):
        event = event_from_webhook(name, webhook_example(name))
        assert event is not None
        kinds.add(event.kind)
    assert kinds == set(EVENT_HANDLERS)


def test_a_deploy_from_delivery_to_done_through_the_worker(world: World, worker: Worker) -> None:
    pull, release = world.merged_pull()
    assert release is not None
    assert (
        deliver(world, worker, "issue_comment", world.comment_payload(pull.number, "/deploy staging"))
        == "done"
    )
    assert tag_sha(world.forge, "staging") == release.commit_sha
    [record] = world.store.deployments(REPO)
    assert record.github_deployment_id is not None
    success = world.post_status(record.github_deployment_id, "success", f"deployed {release.release_id}")
    assert deliver(world, worker, "deployment_status", success) == "done"
    done = world.store.get_deployment(record.id)
    assert done is not None
    assert done.status == "success"
    assert world.store.get_lock(REPO, "staging") is None
    closed = world.pull_closed_payload(pull)
    assert deliver(world, worker, "pull_request", closed) == "done"  # no build waits: nothing to do
    tag = world.create_payload(f"release/{release.release_id}")
    assert deliver(world, worker, "create", tag) == "done"


def test_a_retried_command_job_does_not_deploy_twice(world: World, worker: Worker, clock: FakeClock) -> None:
    pull, _ = world.merged_pull()
    payload = world.comment_payload(pull.number, "/deploy production")
    world.forge.fail_next("create_comment", ForgeError("create_comment", 502, "Bad Gateway"))
    world.store.record_delivery("d-retry", "issue_comment", "created", REPO, 7, payload)
    assert worker.run_once()  # deployed, then the reply failed: the job is retried later
    info = world.store.get_delivery("d-retry")
    assert info is not None
    assert info.status.value == "pending"
    clock.advance(3600)
    assert worker.run_once()
    info = world.store.get_delivery("d-retry")
    assert info is not None
    assert info.status.value == "done"
    assert len(world.forge.deployments(REPO)) == 1
    [answer] = [
        c.body
        for c in world.forge.comments(REPO, pull.number)
        if c.author == "modbot[bot]" and "command-reply" in c.body
    ]
    assert "never runs a command twice" in answer


def test_a_reaction_github_refuses_neither_stops_nor_fails_the_command(world: World, worker: Worker) -> None:
    pull, release = world.merged_pull()
    assert release is not None
    refused = ForgeError("add_reaction", 403, "Resource not accessible by integration")
    world.forge.fail_next("add_reaction", refused)  # 👀
    payload = world.comment_payload(pull.number, "/deploy staging")
    assert deliver(world, worker, "issue_comment", payload) == "done"
    assert tag_sha(world.forge, "staging") == release.commit_sha
    assert world.forge.reactions(REPO, payload["comment"]["id"]) == ["rocket"]
    [answer] = [c.body for c in world.forge.comments(REPO, pull.number) if "command-reply" in c.body]
    assert "⏳ queued" in answer
