"""Fixtures for the outreach vendors: Instantly, Clay, PDL and RB2B sandboxes on loopback, the
providers pointed at them, and a recorder that keeps every request and response for conformance.

``instantly_sandbox`` / ``clay_sandbox`` / ``pdl_sandbox`` / ``rb2b_sender`` are started sandboxes
(``outreach_sandbox_factory(vendor, vendor_config=…, config=…)`` starts one with other settings);
``instantly_email`` / ``clay_enrichment`` / ``pdl_enrichment`` are providers on them with fast
retries and a DuckDB store. Every exchange with a sandbox started here is in ``handle.exchanges``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync_pipeline.providers.clay import ClayEnrichment
from sync_pipeline.providers.instantly import InstantlyEmail
from sync_pipeline.providers.pdl import PdlEnrichment
from sync_pipeline.sandbox import SandboxConfig, SandboxOptions, VendorSandbox
from sync_pipeline.sandbox.clay.config import ClayConfig
from sync_pipeline.sandbox.launcher import VENDOR_FACTORIES
from sync_pipeline.sandbox.pipeline import SandboxPipeline
from sync_pipeline.sandbox.server import ServerThread
from sync_pipeline.settings import Secret
from sync_pipeline.store import Store, connect, migrate
from sync_pipeline.transport import (
    CLAY_PROFILE,
    INSTANTLY_PROFILE,
    PDL_PROFILE,
    RetryPolicy,
    VendorClient,
    VendorProfile,
    Window,
)
from sync_pipeline_tests.sandbox_fixtures import stop_in_background

FAST_RETRIES = RetryPolicy(max_attempts=6, base_delay_s=0.05, max_delay_s=0.5, max_elapsed_s=20.0)


@dataclass
class Exchange:
    """One request a sandbox received and the response it sent (None when the connection dropped)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.response_body)


class Recorder:
    """ASGI wrapper keeping every vendor exchange (admin paths skipped). Without faults only: a
    dropped connection needs uvicorn's own ``send``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.exchanges: list[Exchange] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        exchange = Exchange(scope["method"], scope["path"], scope["query_string"].decode(), headers, b"")
        self.exchanges.append(exchange)

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                exchange.body += message.get("body", b"")
            return message

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                exchange.response_headers = {k.decode(): v.decode() for k, v in message.get("headers", [])}
            elif message["type"] == "http.response.body":
                exchange.response_body += message.get("body", b"")
            await send(message)

        await self.app(scope, recording_receive, recording_send)


@dataclass
class OutreachSandbox:
    """A running vendor sandbox: its URL, live state and what a client needs to call it."""

    url: str
    state: VendorSandbox
    credentials: dict[str, str]
    recorder: Recorder | None

    @property
    def exchanges(self) -> list[Exchange]:
        assert self.recorder is not None, "started with record=False"
        return self.recorder.exchanges

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST (with a body) or GET an ``/_sandbox/`` endpoint; returns the JSON answer."""
        url = f"{self.url}/_sandbox/{path}"
        response = httpx.post(url, json=body, timeout=30) if body is not None else httpx.get(url)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        return self.admin("stats")


OutreachFactory = Callable[..., OutreachSandbox]


@pytest.fixture
def outreach_sandbox_factory() -> Iterator[OutreachFactory]:
    """``factory(vendor, *, vendor_config=None, config=None, seed=1, record=True)``; stopped after the test.

    ``record=True`` wraps the server in a :class:`Recorder` (tests that inject ``drop``/``lost_response``
    faults pass ``record=False``)."""
    started: list[tuple[ServerThread, VendorSandbox]] = []

    def factory(
        vendor: str,
        *,
        vendor_config: Any = None,
        config: SandboxConfig | None = None,
        seed: int = 1,
        record: bool = True,
    ) -> OutreachSandbox:
        options = SandboxOptions(seed=seed, config=config or SandboxConfig(), vendor_config=vendor_config)
        state = VENDOR_FACTORIES[vendor](options)
        pipeline = SandboxPipeline(state)
        recorder = Recorder(pipeline) if record else None
        server = ServerThread(recorder or pipeline, name=f"{vendor}-sandbox")
        started.append((server, state))
        url = server.start()
        return OutreachSandbox(url, state, state.credentials(), recorder)

    yield factory
    stop_in_background(*(partial(_stop, server, state) for server, state in started))


def _stop(server: ServerThread, state: VendorSandbox) -> None:
    server.stop()
    state.close()


@pytest.fixture
def instantly_sandbox(outreach_sandbox_factory: OutreachFactory) -> OutreachSandbox:
    return outreach_sandbox_factory("instantly")


@pytest.fixture
def clay_sandbox(outreach_sandbox_factory: OutreachFactory) -> OutreachSandbox:
    """Clay with runs that finish after 50 ms (the default 0.5 s is for demos)."""
    return outreach_sandbox_factory("clay", vendor_config=ClayConfig(processing_delay_s=0.05))


@pytest.fixture
def pdl_sandbox(outreach_sandbox_factory: OutreachFactory) -> OutreachSandbox:
    return outreach_sandbox_factory("pdl")


@pytest.fixture
def rb2b_sender(outreach_sandbox_factory: OutreachFactory) -> OutreachSandbox:
    """The RB2B sandbox; point it at a receiver with ``admin("config", {"target_url": …})``."""
    return outreach_sandbox_factory("rb2b")


# ---- providers on the sandboxes ----------------------------------------------------------------


@pytest.fixture
def duck_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated DuckDB store (provider tests exercise vendors, not store backends)."""
    store = connect(f"duckdb:///{tmp_path / 'outreach.duckdb'}")
    migrate(store)
    try:
        yield store
    finally:
        store.close()


def sandbox_client(
    store: Store, sandbox: OutreachSandbox, profile: VendorProfile, *, api_key: str | None = None, **kwargs: Any
) -> VendorClient:
    """A transport client on ``sandbox`` with fast retries (``api_key`` overrides the sandbox's key)."""
    key = api_key if api_key is not None else sandbox.credentials["api_key"]
    options: dict[str, Any] = {"timeout": 5.0, "retry": FAST_RETRIES, **kwargs}
    return VendorClient(
        profile=profile, base_url=sandbox.url, account=None, credentials=Secret(key), store=store, **options
    )


class _Closable(Protocol):
    def close(self) -> None: ...


P = TypeVar("P", bound=_Closable)


def _closed_after(build: Callable[..., P]) -> Iterator[Callable[..., P]]:
    """A ``make`` fixture's body: yields ``build`` and closes every provider it made once the test ends."""
    built: list[P] = []

    def make(*args: Any, **kwargs: Any) -> P:
        provider = build(*args, **kwargs)
        built.append(provider)
        return provider

    yield make
    for provider in built:
        provider.close()


@pytest.fixture
def make_instantly(duck_store: Store) -> Iterator[Callable[..., InstantlyEmail]]:
    """``make(sandbox, api_key=None)`` → an :class:`InstantlyEmail` on ``sandbox``, closed after the test."""

    def make(sandbox: OutreachSandbox, *, api_key: str | None = None) -> InstantlyEmail:
        windows = (*INSTANTLY_PROFILE.windows, Window("list_emails", 600, 60.0))  # tests list more than 20/min
        return InstantlyEmail(
            sandbox_client(duck_store, sandbox, INSTANTLY_PROFILE, api_key=api_key),
            campaign_id=sandbox.credentials["campaign_id"],
            eaccount=sandbox.credentials["eaccount"],
            list_emails_client=sandbox_client(duck_store, sandbox, INSTANTLY_PROFILE, api_key=api_key, windows=windows),
        )

    yield from _closed_after(make)


@pytest.fixture
def instantly_email(
    make_instantly: Callable[..., InstantlyEmail], instantly_sandbox: OutreachSandbox
) -> InstantlyEmail:
    return make_instantly(instantly_sandbox)


@pytest.fixture
def make_clay(duck_store: Store) -> Iterator[Callable[..., ClayEnrichment]]:
    """``make(sandbox, api_key=None, **provider_options)`` → a :class:`ClayEnrichment` polling every 50 ms."""

    def make(sandbox: OutreachSandbox, *, api_key: str | None = None, **options: Any) -> ClayEnrichment:
        options.setdefault("poll_interval_s", 0.05)
        options.setdefault("max_wait_s", 10.0)
        return ClayEnrichment(
            sandbox_client(duck_store, sandbox, CLAY_PROFILE, api_key=api_key),
            person_routine_id=sandbox.credentials["person_routine_id"],
            company_routine_id=sandbox.credentials["company_routine_id"],
            **options,
        )

    yield from _closed_after(make)


@pytest.fixture
def make_pdl(duck_store: Store) -> Iterator[Callable[..., PdlEnrichment]]:
    """``make(sandbox, api_key=None)`` → a :class:`PdlEnrichment` on ``sandbox``."""

    def make(sandbox: OutreachSandbox, *, api_key: str | None = None) -> PdlEnrichment:
        return PdlEnrichment(sandbox_client(duck_store, sandbox, PDL_PROFILE, api_key=api_key))

    yield from _closed_after(make)
