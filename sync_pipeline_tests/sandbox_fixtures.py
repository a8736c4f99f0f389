"""Pytest fixtures that start vendor sandboxes on loopback, for any test in the suite.

Use them from a conftest (``pytest_plugins = ["sync_pipeline_tests.sandbox_fixtures"]``) or import
them. ``ghl_sandbox`` is a seeded GHL sandbox with GHL's real rate limits; ``ghl_sandbox_factory``
starts one with other settings; ``webhook_sink`` is a local receiver for the webhooks a sandbox
sends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sync_pipeline.sandbox import RunningSandbox, start_sandbox
from sync_pipeline.sandbox.ghl.config import API_VERSION
from sync_pipeline.sandbox.ghl.sandbox import GhlSandbox
from sync_pipeline.sandbox.hubspot.sandbox import HubSpotSandbox
from sync_pipeline.sandbox.server import ServerThread


def sandbox_admin(base_url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """POST (with a body) or GET a sandbox's ``/_sandbox/<path>`` endpoint; returns the JSON answer."""
    url = f"{base_url}/_sandbox/{path}"
    response = httpx.post(url, json=body) if body is not None else httpx.get(url)
    response.raise_for_status()
    return response.json()


@dataclass
class _SandboxHandle:
    """What every sandbox handle shares: the running sandbox, its URL and its admin endpoints."""

    running: RunningSandbox
    url: str

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST (with a body) or GET an ``/_sandbox/`` endpoint; returns the JSON answer."""
        return sandbox_admin(self.url, path, body)

    def _client(self, auth_headers: dict[str, str], kwargs: dict[str, Any]) -> httpx.Client:
        """An httpx client on the sandbox's URL; headers in ``kwargs`` add to (or override) ``auth_headers``."""
        headers = {**auth_headers, **kwargs.pop("headers", {})}
        return httpx.Client(base_url=self.url, headers=headers, **kwargs)


@dataclass
class GhlSandboxHandle(_SandboxHandle):
    """A running GHL sandbox and what a client needs to call it."""

    api_key: str
    location_id: str
    webhook_public_key: str
    state: GhlSandbox

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client with the sandbox's base URL, bearer key and ``Version`` header."""
        return self._client({"Authorization": f"Bearer {self.api_key}", "Version": API_VERSION}, kwargs)


GhlSandboxFactory = Callable[..., GhlSandboxHandle]


def stop_in_background(*stops: Callable[[], None]) -> None:
    """A test's servers stopped in a thread of their own, so the next test need not wait: each takes
    0.1-0.2 s to wind down (uvicorn's tick, then its shutdown pause), hundreds of tests in turn."""
    threading.Thread(target=lambda: [stop() for stop in stops], name="sandbox-stop", daemon=True).start()


@pytest.fixture
def ghl_sandbox_factory() -> Iterator[GhlSandboxFactory]:
    """``factory(contacts=…, seed=…, config=…, vendor_configs=…, clock=…)`` → a started GHL sandbox,
    stopped after the test."""
    started: list[RunningSandbox] = []

    def factory(**options: Any) -> GhlSandboxHandle:
        options.setdefault("contacts", 2_000)
        running = start_sandbox(("ghl",), **options)
        started.append(running)
        creds = running.credentials["ghl"]
        state = running.state("ghl")
        assert isinstance(state, GhlSandbox)
        return GhlSandboxHandle(
            running,
            running.urls["ghl"],
            creds["api_key"],
            creds["location_id"],
            creds["webhook_public_key"],
            state,
        )

    yield factory
    stop_in_background(*(running.stop for running in started))


@pytest.fixture
def ghl_sandbox(ghl_sandbox_factory: GhlSandboxFactory) -> GhlSandboxHandle:
    """A GHL sandbox with 2,000 seeded contacts (seed 1) and GHL's default limits and settings."""
    return ghl_sandbox_factory()


@dataclass
class WebhookSink:
    """A loopback receiver recording every delivery; ``statuses`` scripts its answers (then 200)."""

    url: str = ""
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self) -> list[bytes]:
        with self._lock:
            return [body for body, _ in self.received]

    async def receive(self, request: Request) -> Response:
        """Record one delivery and answer the next scripted status."""
        body = await request.body()
        with self._lock:
            self.received.append((body, dict(request.headers)))
            status = self.statuses.pop(0) if self.statuses else 200
        return Response(status_code=status)


@pytest.fixture
def webhook_sink() -> Iterator[WebhookSink]:
    sink = WebhookSink()
    server = ServerThread(Starlette(routes=[Route("/hook", sink.receive, methods=["POST"])]), name="webhook-sink")
    sink.url = server.start() + "/hook"
    yield sink
    stop_in_background(server.stop)


# ---- HubSpot ------------------------------------------------------------------------------------


@dataclass
class HubSpotSandboxHandle(_SandboxHandle):
    """A running HubSpot sandbox and what a client needs to call it."""

    token: str
    state: HubSpotSandbox

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client with the sandbox's base URL and bearer token."""
        return self._client({"Authorization": f"Bearer {self.token}"}, kwargs)


HubSpotSandboxFactory = Callable[..., HubSpotSandboxHandle]


@pytest.fixture
def hubspot_sandbox_factory() -> Iterator[HubSpotSandboxFactory]:
    """``factory(contacts=…, seed=…, config=…, vendor_configs=…, clock=…)`` → a started HubSpot
    sandbox, stopped after the test."""
    started: list[RunningSandbox] = []

    def factory(**options: Any) -> HubSpotSandboxHandle:
        options.setdefault("contacts", 2_000)
        running = start_sandbox(("hubspot",), **options)
        started.append(running)
        state = running.state("hubspot")
        assert isinstance(state, HubSpotSandbox)
        return HubSpotSandboxHandle(running, running.urls["hubspot"], running.credentials["hubspot"]["token"], state)

    yield factory
    stop_in_background(*(running.stop for running in started))


@pytest.fixture
def hubspot_sandbox(hubspot_sandbox_factory: HubSpotSandboxFactory) -> HubSpotSandboxHandle:
    """A HubSpot sandbox with 2,000 seeded contacts (seed 1) and HubSpot's default limits."""
    return hubspot_sandbox_factory()
