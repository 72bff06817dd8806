"""End to end in-process: signed delivery -> 202 -> worker -> exactly one sticky comment and one
check; redelivery -> nothing new; a push -> the same comment edited; a crash between storing and
handling -> handled after restart; forged, oversized and malformed deliveries store nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from bot.app.review.report import MARKER
from bot.config import BotSettings, load_settings
from bot.forge import Forge
from bot.runtime import Runtime
from bot.store import Store
from bot.web.app import create_app
from bot.web.signature import sign
from bot.worker.wiring import build_worker
from tests.corpus import HISTORY, version_number
from tests.fakes import FakeForge
from tests.github_conformance import validate_webhook, webhook_example
from tests.store_helpers import temporary_store

REPO = "rustok/rustok"
SECRET = "s3cret"


def history(number: int) -> bytes:
    return next(p for p in HISTORY if version_number(p) == number).read_bytes()


class OneForge:
    def __init__(self, forge: Forge) -> None:
        self.forge = forge

    def for_installation(self, installation_id: int | None) -> Forge:
        return self.forge


def app_settings(**extra: str) -> BotSettings:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    env = {
        "MODBOT_WEBHOOK_SECRET": f"old,{SECRET}",
        "MODBOT_GITHUB_APP_ID": "12345",
        "MODBOT_GITHUB_PRIVATE_KEY": pem,
        "MODBOT_BOT_LOGIN": "modbot[bot]",
        "MODBOT_MAX_BODY_BYTES": "200000",
        **extra,
    }
    return load_settings(env)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with temporary_store("sqlite", directory=tmp_path) as opened:
        yield opened


@pytest.fixture
def forge() -> FakeForge:
    fake = FakeForge()
    fake.add_repo(REPO, files={"modules.toml": history(37), "README.md": b"x"})
    fake.commit(REPO, "install-events", {"modules.toml": history(38)})
    fake.add_pull(REPO, "install-events", number=7)
    return fake


def make_runtime(store: Store, forge: FakeForge, settings: BotSettings | None = None) -> Runtime:
    return Runtime(settings or app_settings(), store, OneForge(forge))


def pr_payload(forge: FakeForge, action: str, number: int = 7) -> dict[str, Any]:
    payload = webhook_example("pull_request", action)
    pull = forge.get_pull(REPO, number)
    payload["action"] = action
    payload["repository"]["full_name"] = REPO
    payload["repository"]["html_url"] = f"https://github.com/{REPO}"
    pr = payload["pull_request"]
    pr["number"] = number
    pr["state"] = "open"
    pr["head"]["sha"] = pull.head_sha
    pr["base"]["sha"] = pull.base_sha
    payload["installation"] = {"id": 42, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI="}
    if action == "synchronize":
        payload["before"], payload["after"] = "0" * 40, pull.head_sha
    validate_webhook("pull_request", payload)
    return payload


def post(client: TestClient, event: str, payload: Any, delivery: str, *, secret: str = SECRET) -> Any:
    body = json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(secret, body),
        "Content-Type": "application/json",
    }
    return client.post("/webhook", content=body, headers=headers)


def test_delivery_to_one_comment_and_one_check(store: Store, forge: FakeForge) -> None:
    runtime = make_runtime(store, forge)
    worker = build_worker(runtime, 0)
    with TestClient(create_app(runtime, workers=0)) as client:
        response = post(client, "pull_request", pr_payload(forge, "opened"), "d-1")
        assert response.status_code == 202
        assert response.json() == {"status": "new"}
        forge.api_calls = 0
        assert worker.run_once()
        assert not worker.run_once()
        comments = forge.comments(REPO, 7)
        assert len(comments) == 1
        assert comments[0].body.startswith(MARKER)
        assert "`+events,+iggy_connector,-social_graph`" in comments[0].body
        [run] = forge.check_runs(REPO)
        assert (run.name, run.conclusion) == ("modbot/manifest", "success")
        assert forge.api_calls <= 5  # first validation budget

        # a redelivery of the same delivery id changes nothing
        again = post(client, "pull_request", pr_payload(forge, "opened"), "d-1")
        assert again.json() == {"status": "duplicate_done"}
        assert not worker.run_once()
        assert len(forge.comments(REPO, 7)) == 1 and len(forge.check_runs(REPO)) == 1

        # a push: the same comment is edited, a new check run on the new head
        forge.commit(REPO, "install-events", {"modules.toml": history(19)})
        forge.add_pull(REPO, "install-events", number=7)
        assert post(client, "pull_request", pr_payload(forge, "synchronize"), "d-2").status_code == 202
        forge.api_calls = 0
        assert worker.run_once()
        assert forge.api_calls <= 4  # later-push budget
        [comment] = forge.comments(REPO, 7)
        assert comment.id == comments[0].id
        assert "default-enabled-closure" in comment.body and "#L68" in comment.body
        runs = forge.check_runs(REPO)
        assert [r.conclusion for r in runs] == ["success", "failure"]
        assert runs[1].annotations[0].start_line == 68

        metrics = client.get("/metrics").text
        assert 'modbot_webhook_deliveries_total{event="pull_request",outcome="new"} 2.0' in metrics
        assert 'modbot_jobs_total{event="pull_request",result="done"} 2.0' in metrics
        assert client.get("/healthz").json()["status"] == "ok"


def test_token_mode_sets_a_commit_status(store: Store, forge: FakeForge) -> None:
    settings = load_settings(
        {
            "MODBOT_WEBHOOK_SECRET": SECRET,
            "MODBOT_GITHUB_TOKEN": "ghp_" + "a" * 36,
            "MODBOT_BOT_LOGIN": "modbot",
        }
    )
    runtime = make_runtime(store, forge, settings)
    with TestClient(create_app(runtime, workers=0)) as client:
        post(client, "pull_request", pr_payload(forge, "opened"), "d-1")
    assert build_worker(runtime, 0).run_once()
    assert forge.check_runs(REPO) == []
    [status] = forge.statuses(REPO)
    assert status.state == "success" and status.context == "modbot/manifest"


def test_crash_between_storing_and_handling(tmp_path: Path, forge: FakeForge) -> None:
    with temporary_store("sqlite", directory=tmp_path) as first:
        with TestClient(create_app(make_runtime(first, forge), workers=0)) as client:
            assert post(client, "pull_request", pr_payload(forge, "opened"), "d-9").status_code == 202
        url = first.engine.url
        # the process dies here: nothing handled it
        from bot.store import open_store

        restarted = open_store(url.render_as_string(hide_password=False))
        try:
            assert build_worker(make_runtime(restarted, forge), 0).run_once()
        finally:
            restarted.engine.dispose()
    assert len(forge.comments(REPO, 7)) == 1


def test_workers_started_with_the_app_handle_deliveries(store: Store, forge: FakeForge) -> None:
    import time

    runtime = make_runtime(store, forge)
    with TestClient(create_app(runtime, workers=1)) as client:
        post(client, "pull_request", pr_payload(forge, "opened"), "d-1")
        deadline = time.monotonic() + 10
        while not forge.comments(REPO, 7) and time.monotonic() < deadline:
            time.sleep(0.02)
    assert len(forge.comments(REPO, 7)) == 1


def test_pr_that_does_not_touch_the_manifest_gets_nothing(store: Store, forge: FakeForge) -> None:
    forge.commit(REPO, "docs", {"README.md": b"y"})
    forge.add_pull(REPO, "docs", number=8)
    runtime = make_runtime(store, forge)
    with TestClient(create_app(runtime, workers=0)) as client:
        post(client, "pull_request", pr_payload(forge, "opened", number=8), "d-1")
    assert build_worker(runtime, 0).run_once()
    assert forge.comments(REPO, 8) == [] and forge.check_runs(REPO) == []


def test_a_superseded_head_is_not_published(store: Store, forge: FakeForge) -> None:
    runtime = make_runtime(store, forge)
    old = pr_payload(forge, "opened")
    forge.commit(REPO, "install-events", {"modules.toml": history(19)})
    forge.add_pull(REPO, "install-events", number=7)
    new = pr_payload(forge, "synchronize")
    with TestClient(create_app(runtime, workers=0)) as client:
        post(client, "pull_request", old, "d-old")
        post(client, "pull_request", new, "d-new")
    # the newer delivery is handled first (another replica was faster)
    job_new = store.get_delivery("d-new")
    assert job_new is not None
    store_state = store.get_pr_state(REPO, 7)
    assert store_state is None
    from tests.webhook_handlers import handle_pull_request

    assert handle_pull_request(
        new, job_new.received_at, forge=forge, store=store, settings=runtime.settings
    ).startswith("reviewed")
    job_old = store.get_delivery("d-old")
    assert job_old is not None
    outcome = handle_pull_request(
        old, job_old.received_at, forge=forge, store=store, settings=runtime.settings
    )
    assert outcome.startswith("superseded")
    [comment] = forge.comments(REPO, 7)
    assert "default-enabled-closure" in comment.body  # still the newer head's verdict


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda h, b: h.update({"X-Hub-Signature-256": sign("wrong", b)}), 401),
        (lambda h, b: h.pop("X-Hub-Signature-256"), 401),
        (lambda h, b: h.update({"X-Hub-Signature-256": "sha256=" + "0" * 64}), 401),
    ],
    ids=["wrong-secret", "missing", "forged"],
)
def test_forged_deliveries_store_nothing(store: Store, forge: FakeForge, mutate: Any, status: int) -> None:
    body = json.dumps(pr_payload(forge, "opened")).encode()
    headers = {
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": "d-x",
        "X-Hub-Signature-256": sign(SECRET, body),
    }
    mutate(headers, body)
    with TestClient(create_app(make_runtime(store, forge), workers=0)) as client:
        assert client.post("/webhook", content=body, headers=headers).status_code == status
    assert store.queue_depth() == 0 and store.get_delivery("d-x") is None


def test_malformed_oversized_ping_and_unknown(store: Store, forge: FakeForge) -> None:
    with TestClient(create_app(make_runtime(store, forge), workers=0)) as client:
        body = b"{not json"
        headers = {
            "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": "d-1",
            "X-Hub-Signature-256": sign(SECRET, body),
        }
        assert client.post("/webhook", content=body, headers=headers).status_code == 400
        huge = b'{"a": "' + b"x" * 300_000 + b'"}'
        headers["X-Hub-Signature-256"] = sign(SECRET, huge)
        assert client.post("/webhook", content=huge, headers=headers).status_code == 413
        ping = webhook_example("ping")
        assert post(client, "ping", ping, "d-2").status_code == 200
        star = webhook_example("star", "created")
        response = post(client, "star", star, "d-3")
        assert response.status_code == 202 and response.json() == {"status": "ignored"}
    assert store.queue_depth() == 0


def test_refuses_to_start_without_a_secret(store: Store, forge: FakeForge) -> None:
    settings = load_settings({"MODBOT_GITHUB_TOKEN": "ghp_" + "a" * 36, "MODBOT_BOT_LOGIN": "modbot"})
    with pytest.raises(Exception, match="MODBOT_WEBHOOK_SECRET"):
        create_app(make_runtime(store, forge, settings))


def test_repository_allow_list(store: Store, forge: FakeForge) -> None:
    runtime = make_runtime(store, forge, app_settings(MODBOT_REPOSITORIES="other/repo"))
    with TestClient(create_app(runtime, workers=0)) as client:
        assert post(client, "pull_request", pr_payload(forge, "opened"), "d-1").json() == {
            "status": "ignored"
        }
    assert store.queue_depth() == 0


def test_a_store_outage_answers_503_and_a_redelivery_then_succeeds(
    store: Store, forge: FakeForge, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = pr_payload(forge, "opened")
    with TestClient(create_app(make_runtime(store, forge), workers=0)) as client:

        def outage(*_: Any) -> Any:
            raise OSError("database is unreachable")

        with monkeypatch.context() as patched:
            patched.setattr(store, "record_deliveries", outage)
            response = post(client, "pull_request", payload, "d-outage")
        assert response.status_code == 503
        assert "redeliver" in response.json()["error"] and "Traceback" not in response.text
        assert store.get_delivery("d-outage") is None
        # GitHub's redelivery (same id) after the outage is stored as new
        assert post(client, "pull_request", payload, "d-outage").json() == {"status": "new"}
    assert store.get_delivery("d-outage") is not None


def test_webhook_only_takes_post_and_other_paths_reach_the_app(store: Store, forge: FakeForge) -> None:
    with TestClient(create_app(make_runtime(store, forge), workers=0)) as client:
        response = client.get("/webhook")
        assert response.status_code == 405 and response.headers["allow"] == "POST"
        assert client.get("/healthz").json()["status"] == "ok"
        assert client.post("/webhook/", content=b"{}").status_code in (404, 405)


def test_forged_event_names_do_not_create_metric_series(store: Store, forge: FakeForge) -> None:
    runtime = make_runtime(store, forge)
    with TestClient(create_app(runtime, workers=0)) as client:
        for n in range(5):
            headers = {"X-GitHub-Event": f"made-up-{n}", "X-GitHub-Delivery": f"x-{n}"}
            assert client.post("/webhook", content=b"{}", headers=headers).status_code == 401
        metrics = client.get("/metrics").text
    assert "made-up" not in metrics
    assert 'modbot_webhook_deliveries_total{event="other",outcome="rejected"} 5.0' in metrics
