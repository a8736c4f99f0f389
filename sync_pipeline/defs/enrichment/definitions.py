"""Enrichment domain definitions."""

import dagster as dg

from .assets import clay_enrichments, contact_profiles
from .automation import enrichment_automation
from .checks import CHECKS
from .resources import EnrichmentResource

# The same refresh the automation sensor runs, as a job a person (or `make demo`) can launch by name.
enrichment_refresh_job = dg.define_asset_job(
    "enrichment_refresh",
    selection=dg.AssetSelection.assets(clay_enrichments, contact_profiles),
    description="Enrich contacts and visitors with no fresh cache entry, then rebuild contact_profiles.",
)

defs = dg.Definitions(
    assets=[clay_enrichments, contact_profiles],
    jobs=[enrichment_refresh_job],
    asset_checks=CHECKS,
    sensors=[enrichment_automation],
    resources={"enrichment": EnrichmentResource()},
)
