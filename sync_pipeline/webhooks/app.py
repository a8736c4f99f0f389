"""The ASGI webhook receiver served by `sync-pipeline webhooks serve`.

Routes (DESIGN.md): ``POST /webhooks/rb2b?token=…``, ``POST /webhooks/ghl``,
``POST /webhooks/instantly``, ``GET /healthz``. Each handler stores what it accepts before
answering, so a delivery is either durable or refused, never half taken.
"""

from __future__ import annotations

from datetime import timedelta

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..settings import Settings
from ..store import Store
from ..store import webhooks as webhooks_q
from .ghl import handle_ghl
from .ghl_signature import GhlVerifier
from .instantly import handle_instantly
from .rb2b import handle_rb2b


def build_app(store: Store, settings: Settings) -> Starlette:
    """The receiver bound to one store and the webhook settings (keys, tokens, replay window)."""
    verifier = GhlVerifier.from_settings(settings.ghl_webhook_public_key, settings.ghl_webhook_legacy_rsa_key)
    max_age = timedelta(seconds=settings.webhook_max_age_s)

    async def ghl(request: Request) -> Response:
        answer = handle_ghl(store, verifier, await request.body(), request.headers, max_age=max_age, provider="ghl")
        return JSONResponse({"detail": answer.detail}, status_code=answer.status)

    async def rb2b(request: Request) -> Response:
        body = await request.body()
        answer = await run_in_threadpool(
            handle_rb2b, store, settings.rb2b_webhook_token, body, request.query_params.get("token")
        )
        return JSONResponse({"detail": answer.detail}, status_code=answer.status)

    async def instantly(request: Request) -> Response:
        body = await request.body()
        answer = await run_in_threadpool(
            handle_instantly,
            store,
            settings.instantly_webhook_token,
            body,
            request.headers,
            request.query_params.get("token"),
        )
        return JSONResponse({"detail": answer.detail}, status_code=answer.status)

    async def healthz(request: Request) -> Response:
        await run_in_threadpool(_ping, store)
        return JSONResponse({"status": "ok", "store": store.dialect})

    return Starlette(
        routes=[
            Route("/webhooks/rb2b", rb2b, methods=["POST"]),
            Route("/webhooks/ghl", ghl, methods=["POST"]),
            Route("/webhooks/instantly", instantly, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def _ping(store: Store) -> None:
    with store.transaction() as tx:
        webhooks_q.ping(tx)
