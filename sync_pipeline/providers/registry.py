"""Choosing providers is configuration: ``CRM_PROVIDER``, ``EMAIL_PROVIDER``, ``ENRICHMENT_PROVIDER``.

Each provider class offers ``from_settings(settings, store) -> provider``; this module maps the
setting's value to the class, imported lazily so a deployment only loads the vendors it uses.
Agent and asset code call these functions and never name a vendor.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from ..settings import Settings, SettingsError, env_name
from ..store import Store
from .base import CRMProvider, EmailProvider, EnrichmentProvider

CRM_CLASSES = {
    "ghl": "sync_pipeline.providers.ghl:GhlCRM",
    "hubspot": "sync_pipeline.providers.hubspot:HubSpotCRM",
}
EMAIL_CLASSES = {
    "ghl": "sync_pipeline.providers.ghl:GhlEmail",
    "instantly": "sync_pipeline.providers.instantly:InstantlyEmail",
}
ENRICHMENT_CLASSES = {
    "clay": "sync_pipeline.providers.clay:ClayEnrichment",
    "pdl": "sync_pipeline.providers.pdl:PdlEnrichment",
}


def crm_provider(settings: Settings, store: Store, name: str | None = None) -> CRMProvider:
    """The configured CRM (or ``name``)."""
    return _build(CRM_CLASSES, "crm_provider", name or settings.crm_provider, settings, store)


def email_provider(settings: Settings, store: Store, name: str | None = None) -> EmailProvider:
    """The configured email sender (or ``name``)."""
    return _build(EMAIL_CLASSES, "email_provider", name or settings.email_provider, settings, store)


def enrichment_provider(settings: Settings, store: Store, name: str | None = None) -> EnrichmentProvider:
    """The configured enricher, the first of an ``ENRICHMENT_PROVIDER`` waterfall (or ``name``)."""
    return _build(ENRICHMENT_CLASSES, "enrichment_provider", name or settings.enrichment_providers[0], settings, store)


def _build(classes: dict[str, str], setting: str, name: str, settings: Settings, store: Store) -> Any:
    try:
        module_name, class_name = classes[name].split(":")
    except KeyError:
        raise SettingsError(f"{env_name(setting)}={name!r} is not one of {', '.join(classes)}") from None
    return getattr(import_module(module_name), class_name).from_settings(settings, store)
