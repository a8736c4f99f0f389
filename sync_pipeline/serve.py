"""`sync-pipeline serve`: one long-running process for the webhook receiver and the MCP server.

Many agents then share one process, one store connection (pool) and one per-client rate limiter,
instead of each spawning its own ``sync-pipeline mcp``. Routes: the receiver's (``/webhooks/*``,
``/healthz``, from :func:`sync_pipeline.webhooks.app.build_app`) and MCP's streamable HTTP at
``/mcp``.

Access to ``/mcp``: on loopback no token is needed (the SDK's Host/Origin checks keep web pages out);
when ``MCP_TOKEN`` is set every request must carry ``Authorization: Bearer <token>`` (else 401),
and serving beyond loopback without it is refused before anything listens.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import AsyncIterator

import anyio
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .agent.mcp_limits import CallLimiter
from .agent.mcp_server import build_server, is_loopback
from .settings import Settings, SettingsError
from .store import Store
from .webhooks.app import build_app

MCP_PATH = "/mcp"


class _ClientGone(logging.Filter):
    """Drops the SDK's ERROR (with a traceback) when a client ends its session while the server's
    standalone SSE stream is open: a clean disconnect, not a failure (modelcontextprotocol/python-sdk
    #1227 and kin). Every other record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, anyio.ClosedResourceError | anyio.BrokenResourceError)


def _quiet_client_disconnects() -> None:
    sdk_transport = logging.getLogger("mcp.server.streamable_http")
    if not any(isinstance(f, _ClientGone) for f in sdk_transport.filters):
        sdk_transport.addFilter(_ClientGone())


def check_bind(host: str, settings: Settings) -> None:
    """Refuse to serve MCP beyond loopback without a token: :class:`SettingsError` saying what to do."""
    if not is_loopback(host) and not settings.mcp_token:
        raise SettingsError(
            f"refusing to serve {MCP_PATH} on {host} without MCP_TOKEN: set MCP_TOKEN (clients send it as "
            "'Authorization: Bearer <token>') or listen on 127.0.0.1"
        )


class BearerAuth:
    """ASGI wrapper: requests must carry ``Authorization: Bearer <token>`` (compared in constant time)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                answer = JSONResponse(
                    {"error": "unauthorized: send 'Authorization: Bearer <MCP_TOKEN>'"},
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="sync_pipeline"'},
                )
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)


def build_serve_app(
    store: Store, settings: Settings, *, host: str = "127.0.0.1", limiter: CallLimiter | None = None
) -> Starlette:
    """The receiver and MCP (at ``/mcp``) as one ASGI app over one store; checks the bind first."""
    check_bind(host, settings)
    _quiet_client_disconnects()
    mcp = build_server(settings, store=store, limiter=limiter, host=host)
    # The SDK's app routes /mcp itself; it is reached through a Route of the same path, so the
    # receiver keeps every other path.
    mcp_app: ASGIApp = mcp.streamable_http_app()
    if settings.mcp_token:
        mcp_app = BearerAuth(mcp_app, settings.mcp_token.reveal())

    webhooks = build_app(store, settings)

    # A mounted app's lifespan is not run by Starlette: both are entered here.
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with webhooks.router.lifespan_context(webhooks), mcp.session_manager.run():
            yield

    return Starlette(routes=[Route(MCP_PATH, mcp_app), Mount("", app=webhooks)], lifespan=lifespan)
