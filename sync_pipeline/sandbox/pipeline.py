"""The ASGI app of one vendor sandbox: the vendor's routes behind the shared request pipeline.

Every vendor request goes through, in order:

1. injected latency;
2. injected ``drop`` / ``timeout`` (connection closed, request not handled);
3. the rate limiter on the sandbox clock (the vendor's 429 when a window is full);
4. injected ``burst_429`` / ``error`` (vendor 429 with ``Retry-After`` / vendor 5xx);
5. the vendor's :meth:`~sync_pipeline.sandbox.vendor.VendorSandbox.guard` (auth, required headers);
6. the vendor's route — or, for ``lost_response``, the route with its answer thrown away and the
   connection closed.

The vendor's rate-limit headers go on every response that is sent, and every request is counted in
the stats under its route template. Paths under ``/_sandbox/`` skip the pipeline entirely.
"""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import Message, Receive, Scope, Send

from sync_pipeline.sandbox.admin import admin_routes
from sync_pipeline.sandbox.connection import drop_connection, hang
from sync_pipeline.sandbox.faults import FaultKind
from sync_pipeline.sandbox.vendor import VendorSandbox

ADMIN_PREFIX = "/_sandbox"


class SandboxPipeline:
    """ASGI callable serving one :class:`VendorSandbox` (vendor routes plus admin routes)."""

    def __init__(self, vendor: VendorSandbox) -> None:
        self.vendor = vendor
        self._routes: list[BaseRoute] = list(vendor.routes())
        self._vendor_app = Starlette(
            routes=self._routes,
            exception_handlers={HTTPException: self._http_exception, Exception: self._unhandled},
        )
        self._admin_app = Starlette(routes=[*admin_routes(vendor), *vendor.admin_routes()])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self._admin_app(scope, receive, send)
            return
        await self._serve_vendor(scope, receive, send)

    async def _serve_vendor(self, scope: Scope, receive: Receive, send: Send) -> None:
        vendor = self.vendor
        arrived_at = vendor.clock.now()
        endpoint = f"{scope['method']} {self._template(scope)}"
        plan = vendor.faults.plan()
        if plan.latency_s:
            await asyncio.sleep(plan.latency_s)
        if plan.fault in (FaultKind.DROP, FaultKind.TIMEOUT):
            vendor.stats.record_fault(plan.fault)
            if plan.fault is FaultKind.TIMEOUT:
                await hang(receive, plan.faults.timeout_s)
            vendor.stats.record_request(endpoint, "dropped", arrived_at)
            await drop_connection(send, receive)
            return

        connection = HTTPConnection(scope)
        decision = vendor.limiter.acquire(vendor.rate_limit_key(connection))
        extra_headers = [(k.lower().encode(), v.encode()) for k, v in vendor.rate_limit_headers(decision).items()]
        statuses: list[int] = []

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
                message = {**message, "headers": [*message.get("headers", []), *extra_headers]}
            await send(message)

        response: Response | None
        if not decision.allowed:
            response = vendor.rate_limited_response(decision, None)
        elif plan.fault is FaultKind.BURST_429:
            vendor.stats.record_fault(plan.fault)
            response = vendor.rate_limited_response(decision, plan.faults.burst_retry_after_s)
        elif plan.fault is FaultKind.ERROR:
            vendor.stats.record_fault(plan.fault)
            response = vendor.server_error_response(plan.faults.error_status)
        else:
            response = vendor.guard(connection)

        if response is not None:
            await response(scope, receive, send_with_headers)
        elif plan.fault is FaultKind.LOST_RESPONSE:
            vendor.stats.record_fault(plan.fault)

            async def discard(message: Message) -> None:
                return None

            await self._vendor_app(scope, receive, discard)
            await drop_connection(send, receive)
        else:
            await self._vendor_app(scope, receive, send_with_headers)
        vendor.stats.record_request(endpoint, statuses[0] if statuses else "dropped", arrived_at)

    def _template(self, scope: Scope) -> str:
        """The path template of the route serving ``scope`` (stats group by it), or ``unmatched``."""
        partial = None
        for route in self._routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return getattr(route, "path", "unmatched")
            if match is Match.PARTIAL and partial is None:
                partial = getattr(route, "path", "unmatched")
        return partial or "unmatched"

    async def _http_exception(self, request: Request, exc: Exception) -> Response:
        """Starlette raises 404/405 for paths the vendor does not serve; nothing else is expected."""
        if isinstance(exc, HTTPException) and exc.status_code in (404, 405):
            return self.vendor.not_found_response(request.method, request.url.path)
        return self.vendor.server_error_response(500)

    async def _unhandled(self, request: Request, exc: Exception) -> Response:
        return self.vendor.server_error_response(500)
