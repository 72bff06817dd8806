"""POST /webhook: verify, record, answer. Nothing else happens here; a worker does the work.

Order matters: the size limit first (before reading more than it allows), then the signature
over the raw body (before parsing anything from an unverified sender), then the JSON, then one
durable write, then 202. A rejected delivery stores nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bot.metrics import Metrics
from bot.web.signature import signature_matches

log = logging.getLogger(__name__)

# Events a handler exists (or will exist) for; anything else is acknowledged and dropped.
HANDLED_EVENTS = frozenset(
    {
        "pull_request",
        "issue_comment",
        "push",
        "deployment_status",
        "workflow_run",
        "check_run",
        "installation",
    }
)


class DeliveryRecorder(Protocol):
    def record_delivery(  # noqa: PLR0917 - the store's signature
        self,
        delivery_id: str,
        event: str,
        action: str | None,
        repository: str | None,
        installation_id: int | None,
        payload: dict[str, Any],
    ) -> Any: ...


@dataclass(frozen=True)
class WebhookConfig:
    secrets: Sequence[str]
    max_body_bytes: int
    repositories: frozenset[str] | None  # allow-list; None = every repository the App is installed on


def webhook_router(
    config: WebhookConfig, recorder: DeliveryRecorder, metrics: Metrics, on_recorded: Callable[[], None]
) -> APIRouter:
    if not config.secrets:
        raise ValueError("no webhook secret is configured; refusing to accept unverifiable deliveries")
    router = APIRouter()

    @router.post("/webhook", status_code=202)
    async def webhook(request: Request) -> JSONResponse:
        started = time.perf_counter()
        event = request.headers.get("x-github-event", "")
        response = await _handle(
            request, event, config=config, recorder=recorder, metrics=metrics, on_recorded=on_recorded
        )
        metrics.ack_seconds.observe(time.perf_counter() - started)
        return response

    return router


def _reject(metrics: Metrics, event: str, status: int, error: str) -> JSONResponse:
    metrics.deliveries.labels(event or "unknown", "rejected").inc()
    return JSONResponse({"error": error}, status_code=status)


async def _read_limited(request: Request, limit: int) -> bytes | None:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


async def _handle(
    request: Request,
    event: str,
    *,
    config: WebhookConfig,
    recorder: DeliveryRecorder,
    metrics: Metrics,
    on_recorded: Callable[[], None],
) -> JSONResponse:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > config.max_body_bytes):
        return _reject(metrics, event, 413, f"body larger than {config.max_body_bytes} bytes")
    body = await _read_limited(request, config.max_body_bytes)
    if body is None:
        return _reject(metrics, event, 413, f"body larger than {config.max_body_bytes} bytes")
    if not signature_matches(request.headers.get("x-hub-signature-256"), body, config.secrets):
        log.warning("webhook rejected: bad or missing signature (event %r)", event[:50])
        return _reject(metrics, event, 401, "bad or missing X-Hub-Signature-256")
    try:
        payload = json.loads(body)
    except ValueError:
        return _reject(metrics, event, 400, "the body is not JSON")
    if not isinstance(payload, dict):
        return _reject(metrics, event, 400, "the body is not a JSON object")
    if event == "ping":
        metrics.deliveries.labels("ping", "accepted").inc()
        return JSONResponse({"ok": True}, status_code=200)
    delivery_id = request.headers.get("x-github-delivery", "")
    if not event or not delivery_id or len(delivery_id) > 100:
        return _reject(metrics, event, 400, "X-GitHub-Event and X-GitHub-Delivery headers are required")
    repository = _repository(payload)
    if event not in HANDLED_EVENTS or (
        config.repositories is not None and (repository or "").lower() not in config.repositories
    ):
        metrics.deliveries.labels(event if event in HANDLED_EVENTS else "other", "ignored").inc()
        return JSONResponse({"status": "ignored"}, status_code=202)
    action = payload.get("action") if isinstance(payload.get("action"), str) else None
    installation = payload.get("installation")
    installation_id = installation.get("id") if isinstance(installation, dict) else None
    # the store call blocks (a database write): keep it off the event loop
    outcome = await run_in_threadpool(
        recorder.record_delivery,
        delivery_id,
        event,
        action,
        repository,
        installation_id if isinstance(installation_id, int) else None,
        payload,
    )
    name = str(getattr(outcome, "value", outcome)).lower()
    metrics.deliveries.labels(event, name).inc()
    on_recorded()
    return JSONResponse({"status": name}, status_code=202)


def _repository(payload: dict[str, Any]) -> str | None:
    repo = payload.get("repository")
    name = repo.get("full_name") if isinstance(repo, dict) else None
    return name if isinstance(name, str) else None
