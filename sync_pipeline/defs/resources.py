"""Resources shared by every domain's Dagster code: the store and the configured vendors.

Neither holds config a person could read in the UI: keys, base URLs and database passwords come
from the environment through settings, read when a run or a sensor tick first needs them — never
when definitions load.
"""

from __future__ import annotations

import dagster as dg

from ..providers import registry
from ..providers.base import CRMProvider
from ..settings import Settings, get_settings
from ..store import Store, ensure_migrated, open_store, shared_store
from ..store.contacts import Account


class StoreResource(dg.ConfigurableResource):
    """The local data layer (``SYNC_PIPELINE_DB``), migrated on first use in each process.

    ``db_url`` is for tests only: a production URL may carry a password, and resource config is
    shown in the Dagster UI, so production reads it from the environment via settings instead.
    """

    db_url: str = ""

    def get_store(self) -> Store:
        return ensure_migrated(shared_store(self.db_url) if self.db_url else open_store())


class ProvidersResource(dg.ConfigurableResource):
    """Settings and the configured CRM (``CRM_PROVIDER``) for Dagster code; the outbox job builds its
    email and CRM providers per vendor from the same settings."""

    def settings(self) -> Settings:
        return get_settings()

    def account(self) -> Account:
        """The CRM account the store mirrors (CRM plus location or portal)."""
        return Account.configured(self.settings())

    def crm(self, store: Store) -> CRMProvider:
        return registry.crm_provider(self.settings(), store)


defs = dg.Definitions(resources={"store": StoreResource(), "providers": ProvidersResource()})
