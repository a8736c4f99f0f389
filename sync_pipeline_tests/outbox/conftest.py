"""Outbox tests share a GHL sandbox whose contacts are synced locally, with a compressed limit."""

from __future__ import annotations

import pytest

from sync_pipeline.outbox.backoff import Backoff
from sync_pipeline_tests.wiring import Wired, sync_with

FAST = {"backoff": Backoff(base_s=0.05, cap_s=0.5)}


def compress(wired: Wired, limit: int, seconds: float = 1.0) -> None:
    """GHL's 100-per-10-s window, compressed: the client adopts it from the response headers."""
    wired.sandbox.admin(
        "rate-limits",
        {
            "windows": [
                {"name": "burst", "limit": limit, "seconds": seconds, "rolling": True},
                {"name": "daily", "limit": 200_000, "seconds": 86_400.0, "rolling": False},
            ]
        },
    )


@pytest.fixture
def ready(wire):
    """A sandbox with 400 contacts, synced locally, limits compressed to 50 per second."""
    wired = wire(contacts=400)
    sync_with(wired, page_size=500)
    compress(wired, 50)
    return wired
