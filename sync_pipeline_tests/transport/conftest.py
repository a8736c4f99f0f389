"""Fixtures for transport tests: a fake GHL-like vendor on loopback and clients that call it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sync_pipeline.store import Store
from sync_pipeline.transport import VendorClient

from .fake_vendor import FakeVendor, serve
from .ghl_client import LIMIT, PERIOD_S, build_client

ClientFactory = Callable[..., VendorClient]


@pytest.fixture
def vendor() -> Iterator[tuple[FakeVendor, str]]:
    """The fake vendor (20 requests per 1 s fixed window) and its base URL."""
    fake = FakeVendor(limit=LIMIT, period_s=PERIOD_S)
    with serve(fake) as url:
        yield fake, url


@pytest.fixture
def make_client(store: Store, vendor: tuple[FakeVendor, str]) -> Iterator[ClientFactory]:
    """Build clients on the fake vendor and the test store; all are closed after the test."""
    clients: list[VendorClient] = []

    def make(**overrides: Any) -> VendorClient:
        client = build_client(store, vendor[1], **overrides)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
