"""The ASGI webhook receiver served by `sync-pipeline webhooks serve`.

Routes (DESIGN.md): ``POST /webhooks/rb2b?token=…``, ``POST /webhooks/ghl``,
``POST /webhooks/instantly``, ``GET /healthz``. Each handler authenticates and parses on the event
loop, then hands the delivery to the group committer, which answers once the delivery is committed
(together with whatever else arrived meanwhile, from any vendor), so a delivery is either durable or
refused, never half taken.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..settings import Settings
from ..store import Store
from ..store import webhooks as webhooks_q
from ..store.contacts import Account
from .answer import Answer
from .ghl import accept_ghl
from .ghl_signature import GhlVerifier
from .group_commit import GroupCommitter
from .instantly import accept_instantly
from .rb2b import accept_rb2b


def build_app(store: Store, settings: Settings) -> Starlette:
    """The receiver bound to one store and the webhook settings (keys, tokens, replay window)."""
    verifier = GhlVerifier.from_settings(settings.ghl_webhook_public_key, settings.ghl_webhook_legacy_rsa_key)
    max_age = timedelta(seconds=settings.webhook_max_age_s)
    account = Account.configured(settings)
    committer = GroupCommitter(store)

    async def ghl(request: Request) -> Response:
        accepted = accept_ghl(verifier, await request.body(), request.headers, max_age=max_age, provider="ghl")
        return _respond(await committer.answer(accepted))

    async def rb2b(request: Request) -> Response:
        token = request.query_params.get("token")
        accepted = accept_rb2b(settings.rb2b_webhook_token, await request.body(), token, account)
        return _respond(await committer.answer(accepted))

    async def instantly(request: Request) -> Response:
        token = request.query_params.get("token")
        accepted = accept_instantly(settings.instantly_webhook_token, await request.body(), request.headers, token)
        return _respond(await committer.answer(accepted))

    async def healthz(request: Request) -> Response:
        await run_in_threadpool(_ping, store)
        return JSONResponse({"status": "ok", "store": store.dialect})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        access_log = logging.getLogger("uvicorn.access")
        access_log.addFilter(ACCESS_LOG_REDACTION)
        try:
            yield
        finally:
            await run_in_threadpool(committer.close)  # what was accepted is committed and answered
            access_log.removeFilter(ACCESS_LOG_REDACTION)

    return Starlette(
        routes=[
            Route("/webhooks/rb2b", rb2b, methods=["POST"]),
            Route("/webhooks/ghl", ghl, methods=["POST"]),
            Route("/webhooks/instantly", instantly, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def _respond(answer: Answer) -> Response:
    return JSONResponse({"detail": answer.detail}, status_code=answer.status)


def _ping(store: Store) -> None:
    with store.transaction() as tx:
        webhooks_q.ping(tx)


class _RedactTokens(logging.Filter):
    """uvicorn's access log prints each request's URL, and RB2B and Instantly put their secret in
    ``?token=``: the value is masked before the line is written."""

    _TOKEN = re.compile(r"([?&]token=)[^&\s]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._TOKEN.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        return True


# Added to ``uvicorn.access`` while the receiver runs.
ACCESS_LOG_REDACTION = _RedactTokens()
