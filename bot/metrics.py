"""Prometheus metrics, one registry per bot process (tests get their own).

prometheus_client is used rather than hand-written exposition text: it gets the format,
escaping and histogram buckets right and is the reference client.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    def __init__(self, queue_depth: Callable[[], float] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.deliveries = Counter(
            "modbot_webhook_deliveries",
            "Webhook deliveries by event and outcome (accepted, duplicate, requeued, ignored, rejected).",
            ["event", "outcome"],
            registry=self.registry,
        )
        self.queue_depth = Gauge("modbot_queue_depth", "Jobs waiting or running.", registry=self.registry)
        if queue_depth is not None:
            self.queue_depth.set_function(queue_depth)
        self.github_calls = Counter(
            "modbot_github_calls", "GitHub API calls by operation.", ["operation"], registry=self.registry
        )
        self.github_errors = Counter(
            "modbot_github_errors", "GitHub API errors by HTTP status.", ["status"], registry=self.registry
        )
        self.github_call_seconds = Histogram(
            "modbot_github_call_seconds",
            "Duration of each GitHub API request (every attempt), by route template (never a URL with ids), "
            "method and outcome (ok, client_error, server_error, rate_limited, network_error).",
            ["route", "method", "outcome"],
            buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.jobs = Counter(
            "modbot_jobs",
            "Handled jobs by event and result (done, retry, failed).",
            ["event", "result"],
            registry=self.registry,
        )
        self.handling_seconds = Histogram(
            "modbot_job_handling_seconds",
            "Time from a job's start to its end, by event.",
            ["event"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.job_age_seconds = Histogram(
            "modbot_job_age_seconds",
            "Time from a delivery's arrival to its job being claimed (stage=claimed, every attempt) and "
            "done (stage=done), by event.",
            ["event", "stage"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600),
            registry=self.registry,
        )
        self.dead_letters = Gauge(
            "modbot_dead_letters",
            "Deliveries whose job gave up (failed), as stored: `modbot dead-letters list` shows them.",
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "modbot_webhook_ack_seconds",
            "Time to verify, record and answer a webhook delivery.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
            registry=self.registry,
        )

    def observe_github_call(self, route: str, method: str, outcome: str, seconds: float) -> None:
        """One GitHub request's duration (`bot.forge.github.ForgeStats`' ``on_latency``)."""
        self.github_call_seconds.labels(route, method, outcome).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
