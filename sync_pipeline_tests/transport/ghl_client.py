"""A GHL client pointed at the fake vendor, shared by the fixtures and the worker processes."""

from __future__ import annotations

from typing import Any

from sync_pipeline.settings import Secret
from sync_pipeline.store import Store
from sync_pipeline.transport import GHL_PROFILE, RetryPolicy, VendorClient, Window

from .fake_vendor import GOOD_TOKEN

LIMIT, PERIOD_S = 20, 1.0
# GHL's profile with its burst window compressed to the fake vendor's 20 per 1 s.
TEST_WINDOWS = (Window("burst", LIMIT, PERIOD_S), GHL_PROFILE.windows[1])
FAST_RETRIES = RetryPolicy(max_attempts=5, base_delay_s=0.05, max_delay_s=0.5, max_elapsed_s=20.0)
CONTACT = "/contacts/{contactId}"


def build_client(store: Store, vendor_url: str, **overrides: Any) -> VendorClient:
    """A GHL client on the fake vendor; ``overrides`` replace any constructor argument."""
    kwargs: dict[str, Any] = {
        "profile": GHL_PROFILE,
        "base_url": vendor_url,
        "account": "loc-test",
        "credentials": Secret(GOOD_TOKEN),
        "store": store,
        "default_headers": {"Version": "2021-07-28"},
        "timeout": 5.0,
        "retry": FAST_RETRIES,
        "windows": TEST_WINDOWS,
    }
    kwargs.update(overrides)
    return VendorClient(**kwargs)


def get_contact(client: VendorClient, contact_id: str) -> int:
    """One templated GET, as a provider module would make it; returns the status."""
    return client.request("GET", CONTACT, path_params={"contactId": contact_id}).status_code
