"""The providers resource: vendor clients chosen by settings, built per run or tick."""

from __future__ import annotations

import dagster as dg

from ..providers import registry
from ..providers.base import CRMProvider
from ..settings import Settings, get_settings
from ..store import Store


class ProvidersResource(dg.ConfigurableResource):
    """Settings and the configured CRM (``CRM_PROVIDER``) for Dagster code; the outbox job builds its
    email and CRM providers per vendor from the same settings.

    Holds no config of its own: keys and base URLs come from the environment through settings,
    so they never appear in the Dagster UI.
    """

    def settings(self) -> Settings:
        return get_settings()

    def crm(self, store: Store) -> CRMProvider:
        return registry.crm_provider(self.settings(), store)
