"""Enrichment tests: Clay and PDL sandboxes fast enough for many lookups, enrichers on the
``store`` fixture (both backends) pointed at them, and a clock the test moves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync_pipeline.enrichment import CachePolicy, Enricher
from sync_pipeline.providers.clay import ClayEnrichment
from sync_pipeline.providers.pdl import PdlEnrichment
from sync_pipeline.sandbox.clay.config import ClayConfig
from sync_pipeline.sandbox.pdl.config import PdlConfig
from sync_pipeline.sandbox.ratelimit import RateWindow
from sync_pipeline.store import Store
from sync_pipeline.transport import PDL_PROFILE, Window
from sync_pipeline_tests.enrichment.flight_worker import clay_on
from sync_pipeline_tests.instantly_clay_pdl_rb2b_fixtures import OutreachFactory, OutreachSandbox, sandbox_client

# Sandbox and client limits far above what the tests send: they measure the cache, not the limiter.
WIDE = (RateWindow("second", 5_000, 1.0, rolling=True),)
CLIENT_WINDOWS = (Window("second", 5_000, 1.0),)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class SimClock:
    """A clock tests set and move; ``fetch_seconds`` of entries is measured on it too."""

    now: datetime = T0
    step: timedelta = field(default=timedelta(0))  # added on every read: lookups take time

    def __call__(self) -> datetime:
        current = self.now
        self.now += self.step
        return current

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clay(outreach_sandbox_factory: OutreachFactory) -> OutreachSandbox:
    return outreach_sandbox_factory("clay", vendor_config=ClayConfig(processing_delay_s=0.02, rate_windows=WIDE))


@pytest.fixture
def pdl(outreach_sandbox_factory: OutreachFactory) -> OutreachSandbox:
    return outreach_sandbox_factory("pdl", vendor_config=PdlConfig(rate_windows=WIDE))


def clay_provider(store: Store, sandbox: OutreachSandbox, **options: Any) -> ClayEnrichment:
    """A Clay provider on ``sandbox``, its limiter state in ``store``, polling every 20 ms."""
    return clay_on(store, sandbox.url, sandbox.credentials, **{"max_wait_s": 10.0, **options})


def pdl_provider(store: Store, sandbox: OutreachSandbox) -> PdlEnrichment:
    return PdlEnrichment(sandbox_client(store, sandbox, PDL_PROFILE, windows=CLIENT_WINDOWS))


MakeEnricher = Callable[..., Enricher]


@pytest.fixture
def make_enricher(store: Store) -> Iterator[MakeEnricher]:
    """``make(*providers, **Enricher options)`` on the ``store`` fixture; closed after the test."""
    made: list[Enricher] = []

    def make(*providers: Any, **options: Any) -> Enricher:
        options.setdefault("policy", CachePolicy())
        enricher = Enricher(store, providers, **options)
        made.append(enricher)
        return enricher

    yield make
    for enricher in made:
        enricher.close()


def rows_processed(sandbox: OutreachSandbox) -> int:
    """Lookups the Clay sandbox charged for, by its own count (one per item of every run)."""
    return int(sandbox.stats()["counters"].get("rows_processed", 0))
