"""Resources shared by every domain's Dagster code."""

from __future__ import annotations

import dagster as dg

from ..store import Store, ensure_migrated, open_store, shared_store
from .providers import ProvidersResource


class StoreResource(dg.ConfigurableResource):
    """The local data layer (``SYNC_PIPELINE_DB``), migrated on first use in each process.

    ``db_url`` is for tests only: a production URL may carry a password, and resource config is
    shown in the Dagster UI, so production reads it from the environment via settings instead.
    """

    db_url: str = ""

    def get_store(self) -> Store:
        return ensure_migrated(shared_store(self.db_url) if self.db_url else open_store())


defs = dg.Definitions(resources={"store": StoreResource(), "providers": ProvidersResource()})
