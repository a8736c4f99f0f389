"""The RB2B sandbox. RB2B has no API we call — it pushes visitors — so this sandbox serves no vendor
routes; it is a sender driven through admin endpoints:

* ``POST /_sandbox/rb2b/send {"count": N}`` posts the next N seeded visitors to ``target_url``
  (``?token=`` appended) and answers ``{"accepted", "connected", "disconnected_reason", …}``;
* ``GET /_sandbox/rb2b/status`` and ``POST /_sandbox/rb2b/reconnect``.

``/_sandbox/stats`` shows ``webhooks`` outcomes and the ``visitors_sent`` / ``disconnected`` counters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from sync_pipeline.sandbox.admin import admin_endpoint, json_object
from sync_pipeline.sandbox.config import SandboxConfigError
from sync_pipeline.sandbox.pdl.people import SeededPeople
from sync_pipeline.sandbox.ratelimit import RateDecision, RateWindow
from sync_pipeline.sandbox.rb2b.config import Rb2bConfig
from sync_pipeline.sandbox.rb2b.sender import Rb2bSender
from sync_pipeline.sandbox.vendor import SandboxOptions, VendorSandbox

MAX_BATCH = 10_000


class Rb2bSandbox(VendorSandbox):
    """The RB2B visitor sender; ``sender.state`` says whether the integration is connected."""

    name = "rb2b"
    config_type = Rb2bConfig
    config: Rb2bConfig

    def __init__(self, options: SandboxOptions) -> None:
        super().__init__(options)
        self.sender = Rb2bSender(SeededPeople(options.seed, miss_rate=0.0), self.stats)

    def routes(self) -> Sequence[BaseRoute]:
        return ()

    def admin_routes(self) -> Sequence[BaseRoute]:
        async def send(request: Request) -> Response:
            count = (await json_object(request)).get("count", 1)
            if not isinstance(count, int) or not 1 <= count <= MAX_BATCH:
                raise SandboxConfigError(f"count must be an integer from 1 to {MAX_BATCH}")
            accepted = await self.sender.send(count, self.config)
            return JSONResponse({"accepted": accepted, **self.sender.state.as_json()})

        async def status(request: Request) -> Response:
            return JSONResponse(self.sender.state.as_json())

        async def reconnect(request: Request) -> Response:
            self.sender.reconnect()
            return JSONResponse(self.sender.state.as_json())

        return [
            Route("/_sandbox/rb2b/send", admin_endpoint(send), methods=["POST"]),
            Route("/_sandbox/rb2b/status", admin_endpoint(status), methods=["GET"]),
            Route("/_sandbox/rb2b/reconnect", admin_endpoint(reconnect), methods=["POST"]),
        ]

    def rate_windows(self) -> Sequence[RateWindow]:
        return ()

    def rate_limit_headers(self, decision: RateDecision) -> Mapping[str, str]:
        return {}

    def rate_limited_response(self, decision: RateDecision, retry_after_s: float | None) -> Response:
        return PlainTextResponse("Too Many Requests", status_code=429)

    def server_error_response(self, status: int) -> Response:
        return PlainTextResponse("Internal Server Error", status_code=status)

    def credentials(self) -> dict[str, str]:
        return {"webhook_token": self.config.token}

    def environment(self, base_url: str) -> dict[str, str]:
        return {"RB2B_WEBHOOK_TOKEN": self.config.token}

    def reset_data(self) -> None:
        self.sender.reset()
