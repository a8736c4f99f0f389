"""Outbox tests share a GHL sandbox whose contacts are synced locally, with a compressed limit."""

from __future__ import annotations

import pytest

from sync_pipeline.outbox.backoff import Backoff
from sync_pipeline_tests.ghl_deployment import compress, sync_with

FAST = {"backoff": Backoff(base_s=0.05, cap_s=0.5)}


@pytest.fixture
def ready(wire):
    """A sandbox with 400 contacts, synced locally, limits compressed to 50 per second."""
    wired = wire(contacts=400)
    sync_with(wired, page_size=500)
    compress(wired, 50)
    return wired
