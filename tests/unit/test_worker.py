"""The worker: outcomes, retries with backoff (or GitHub's Retry-After), permanent failures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.forge import ForgeError
from bot.metrics import Metrics
from bot.store import Store
from bot.worker import PermanentError, Worker
from tests.store_helpers import temporary_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with temporary_store("sqlite", directory=tmp_path, max_attempts=2) as opened:
        yield opened


def record(store: Store, delivery: str, event: str = "pull_request") -> None:
    store.record_delivery(delivery, event, "opened", "o/r", 1, {"n": delivery})


def worker(store: Store, handler: Any, metrics: Metrics) -> Worker:
    return Worker(store, {"pull_request": handler}, metrics, "w1", base_backoff=0.0, max_backoff=0.0)


def test_done_retry_and_final_failure(store: Store) -> None:
    metrics = Metrics()
    calls: list[str] = []

    def flaky(job: Any) -> str:
        calls.append(job.delivery_id)
        raise RuntimeError("GitHub is down")

    record(store, "d1")
    w = worker(store, flaky, metrics)
    assert w.run_once()  # attempt 1: retried (no delay)
    assert w.run_once()  # attempt 2: the last one
    assert not w.run_once()
    assert calls == ["d1", "d1"]
    info = store.get_delivery("d1")
    assert info is not None and info.status.value == "failed" and "GitHub is down" in (info.last_error or "")
    text = metrics.exposition().decode()
    assert 'modbot_jobs_total{event="pull_request",result="retry"} 1.0' in text
    assert 'modbot_jobs_total{event="pull_request",result="failed"} 1.0' in text


def test_permanent_errors_and_unknown_events(store: Store) -> None:
    def refuse(job: Any) -> str:
        raise PermanentError("bad payload")

    record(store, "d1")
    record(store, "d2", event="push")
    w = worker(store, refuse, Metrics())
    assert w.run_once() and w.run_once()
    assert store.get_delivery("d1").status.value == "failed"  # type: ignore[union-attr]
    assert store.get_delivery("d2").status.value == "ignored"  # type: ignore[union-attr]


def test_retry_after_from_github_is_honoured(store: Store) -> None:
    def limited(job: Any) -> str:
        raise ForgeError("create_comment", 403, "secondary rate limit", retry_after=120)

    record(store, "d1")
    assert worker(store, limited, Metrics()).run_once()
    info = store.get_delivery("d1")
    assert info is not None and info.status.value == "pending"
    assert info.next_attempt_at is not None
    assert (info.next_attempt_at - info.received_at).total_seconds() >= 110


def test_backoff_grows_with_attempts_and_has_jitter() -> None:
    w = Worker(None, {}, Metrics(), "w", base_backoff=5, max_backoff=600)  # type: ignore[arg-type]
    assert 2.5 <= w.backoff(1) <= 5
    assert 20 <= w.backoff(4) <= 40
    assert 300 <= w.backoff(20) <= 600
