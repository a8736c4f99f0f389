"""The providers resource: vendor clients chosen by settings, built per run or tick."""

from __future__ import annotations

from typing import Any

import dagster as dg

from ..providers import registry
from ..providers.base import CRMProvider, EmailProvider
from ..settings import Settings, get_settings
from ..store import Store


class ProvidersResource(dg.ConfigurableResource):
    """Builds the configured CRM and email providers (``CRM_PROVIDER``, ``EMAIL_PROVIDER``).

    Holds no config of its own: keys and base URLs come from the environment through settings,
    so they never appear in the Dagster UI.
    """

    def settings(self) -> Settings:
        return get_settings()

    def crm(self, store: Store) -> CRMProvider:
        return registry.crm_provider(self.settings(), store)

    def email(self, store: Store) -> EmailProvider:
        return registry.email_provider(self.settings(), store)


def transport_metadata(provider: Any) -> dict[str, Any]:
    """The provider's transport counters (calls, 429s, limiter wait) as flat metadata, if it has any."""
    stats = getattr(provider, "stats", None)
    return stats().as_metadata() if callable(stats) else {}


def close_provider(provider: Any) -> None:
    """Flush the call ledger and close connections, for providers that hold them."""
    close = getattr(provider, "close", None)
    if callable(close):
        close()
