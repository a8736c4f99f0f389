"""A GHL sandbox and a store joined through settings, as a deployment would be (the `wire` fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from sync_pipeline.providers import registry
from sync_pipeline.providers.base import CRMProvider
from sync_pipeline.providers.lifecycle import close_provider
from sync_pipeline.settings import Settings, get_settings
from sync_pipeline.store import Store
from sync_pipeline_tests.sandbox_fixtures import GhlSandboxFactory, GhlSandboxHandle
from sync_pipeline_tests.sandbox_process import SandboxProcess


@dataclass
class Wired:
    sandbox: GhlSandboxHandle | SandboxProcess  # in this process, or in one of its own
    store: Store
    settings: Settings

    def crm(self) -> CRMProvider:
        return registry.crm_provider(self.settings, self.store)

    def sandbox_contacts(self) -> dict[str, dict[str, Any]]:
        """Every live contact the sandbox holds, read over raw HTTP (independent of our provider)."""
        found: dict[str, dict[str, Any]] = {}
        after = None
        with self.sandbox.client() as client:
            while True:
                body: dict[str, Any] = {
                    "locationId": self.sandbox.location_id,
                    "pageLimit": 500,
                    "sort": [{"field": "dateUpdated", "direction": "asc"}],
                }
                if after:
                    body["searchAfter"] = after
                hits = client.post("/contacts/search", json=body).raise_for_status().json()["contacts"]
                found.update({h["id"]: h for h in hits})
                if len(hits) < 500:
                    return found
                after = hits[-1]["searchAfter"]


@pytest.fixture
def wire(store: Store, ghl_sandbox_factory: GhlSandboxFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """``wire(**sandbox_options)`` → a sandbox plus settings (and the process env) pointing at it."""

    def make(**options: Any) -> Wired:
        sandbox = ghl_sandbox_factory(**options)
        env = {**sandbox.running.env, "SYNC_PIPELINE_DB": store.url}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        return Wired(sandbox, store, Settings.from_env(env))

    yield make
    get_settings.cache_clear()


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


def sync_with(wired: Wired, **options: Any) -> Any:
    """One sync through a fresh provider, closed afterwards; returns (report, transport stats)."""
    from sync_pipeline.sync.contacts import sync_contacts

    crm = wired.crm()
    try:
        report = sync_contacts(wired.store, crm, **options)
        return report, crm.stats()
    finally:
        close_provider(crm)
