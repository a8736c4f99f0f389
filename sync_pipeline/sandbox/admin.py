"""The ``/_sandbox/`` admin endpoints every vendor sandbox serves (never part of a vendor API).

| endpoint | what it does |
|---|---|
| ``GET /_sandbox/stats`` | the :mod:`~sync_pipeline.sandbox.stats` document |
| ``GET/POST /_sandbox/faults`` | read / change :class:`~sync_pipeline.sandbox.config.FaultConfig` fields |
| ``GET/POST /_sandbox/latency`` | read / change ``{"min_ms", "max_ms"}`` |
| ``GET/POST /_sandbox/rate-limits`` | read / replace ``{"windows": [{name, limit, seconds, rolling}]}`` |
| ``GET/POST /_sandbox/webhooks`` | read / change ``{"url": …}`` and retries; GET lists recent deliveries |
| ``GET/POST /_sandbox/config`` | read / change the vendor's own settings |
| ``GET /_sandbox/credentials`` | ``{"credentials": {...}, "env": {...}}`` |
| ``POST /_sandbox/reset`` | seeded records, zero stats, constructor settings |

POST bodies are partial: only the fields sent change. A bad field answers 400 ``{"error": …}``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sync_pipeline.sandbox.config import SandboxConfigError, updated
from sync_pipeline.sandbox.ratelimit import RateWindow
from sync_pipeline.sandbox.routing import Handler, answering
from sync_pipeline.sandbox.webhooks import WebhookDelivery

if TYPE_CHECKING:
    from sync_pipeline.sandbox.vendor import VendorSandbox


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; raises SandboxConfigError otherwise (an empty body is ``{}``)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise SandboxConfigError(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SandboxConfigError("body must be a JSON object")
    return data


def admin_endpoint(handler: Handler) -> Handler:
    """Turn :class:`SandboxConfigError` raised by an admin handler into a 400 with the reason."""
    return answering(handler, SandboxConfigError, lambda exc: JSONResponse({"error": str(exc)}, status_code=400))


def as_json(value: Any) -> Any:
    """A config dataclass (or anything nested in one) as JSON-ready data."""
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value


def admin_routes(vendor: VendorSandbox) -> list[Route]:
    """The shared admin routes bound to one vendor sandbox."""

    async def stats(request: Request) -> Response:
        return JSONResponse(vendor.stats.snapshot())

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            vendor.faults.update_faults(await json_object(request))
        return JSONResponse(as_json(vendor.faults.faults))

    async def latency(request: Request) -> Response:
        if request.method == "POST":
            vendor.faults.update_latency(await json_object(request))
        return JSONResponse(as_json(vendor.faults.latency))

    async def rate_limits(request: Request) -> Response:
        if request.method == "POST":
            body = await json_object(request)
            windows = body.get("windows")
            if not isinstance(windows, list):
                raise SandboxConfigError('send {"windows": [{"name", "limit", "seconds", "rolling"}, ...]}')
            vendor.limiter.configure(RateWindow.from_json(w) for w in windows)
        return JSONResponse({"windows": [as_json(w) for w in vendor.limiter.windows]})

    async def webhooks(request: Request) -> Response:
        if request.method == "POST":
            vendor.webhooks.configure(updated(vendor.webhooks.config, await json_object(request)))
        recent = list(vendor.webhooks.deliveries)[-100:]
        return JSONResponse({**as_json(vendor.webhooks.config), "deliveries": [_delivery(d) for d in recent]})

    async def config(request: Request) -> Response:
        if request.method == "POST":
            vendor.configure(await json_object(request))
        return JSONResponse(as_json(vendor.config))

    async def credentials(request: Request) -> Response:
        base_url = str(request.base_url).rstrip("/")
        return JSONResponse({"credentials": vendor.credentials(), "env": vendor.environment(base_url)})

    async def reset(request: Request) -> Response:
        vendor.reset()
        return JSONResponse({"reset": True})

    return [
        Route("/_sandbox/stats", admin_endpoint(stats), methods=["GET"]),
        Route("/_sandbox/faults", admin_endpoint(faults), methods=["GET", "POST"]),
        Route("/_sandbox/latency", admin_endpoint(latency), methods=["GET", "POST"]),
        Route("/_sandbox/rate-limits", admin_endpoint(rate_limits), methods=["GET", "POST"]),
        Route("/_sandbox/webhooks", admin_endpoint(webhooks), methods=["GET", "POST"]),
        Route("/_sandbox/config", admin_endpoint(config), methods=["GET", "POST"]),
        Route("/_sandbox/credentials", admin_endpoint(credentials), methods=["GET"]),
        Route("/_sandbox/reset", admin_endpoint(reset), methods=["POST"]),
    ]


def _delivery(delivery: WebhookDelivery) -> Mapping[str, Any]:
    return {
        "event": delivery.event,
        "url": delivery.url,
        "attempts": delivery.attempts,
        "status": delivery.status,
        "delivered": delivery.delivered,
        "error": delivery.error,
        "body": delivery.body.decode("utf-8", errors="replace"),
    }
