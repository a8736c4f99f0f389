"""The enrichment waterfall for Dagster code, built from settings when a run needs it."""

from __future__ import annotations

import dagster as dg

from ...enrichment import Enricher
from ...settings import get_settings
from ...store import Store


class EnrichmentResource(dg.ConfigurableResource):
    """The enrichers of ``ENRICHMENT_PROVIDER`` with the configured TTLs and daily budget. Keys and
    prices come from the environment at run time, never from resource config (shown in the UI)."""

    def enricher(self, store: Store, *, caller: str) -> Enricher:
        return Enricher.configured(get_settings(), store, caller=caller)
