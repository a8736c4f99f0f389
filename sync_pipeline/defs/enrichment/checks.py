"""What "healthy" means for the enrichment cache and the profiles agents read."""

from datetime import UTC, datetime

import dagster as dg

from ...enrichment import CachePolicy
from ...enrichment.refresh import backlog
from ...store import contact_profiles as profiles_q
from ...store import enrichment_ledger as ledger_q
from ..resources import ProvidersResource, StoreResource
from .assets import clay_enrichments, contact_profiles

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dg.asset_check(
    asset=clay_enrichments,
    description="Row-level TTL: no cache hit ever served an entry at or past its expires_at.",
)
def enrichments_never_served_expired(store: StoreResource) -> dg.AssetCheckResult:
    with store.get_store().transaction() as tx:
        ledger = ledger_q.totals(tx, since=EPOCH)
    late, hits = int(ledger["served_past_expiry"]), int(ledger["hits"])
    return dg.AssetCheckResult(passed=late == 0, metadata={"served_past_expiry": late, "hits_checked": hits})


@dg.asset_check(
    asset=clay_enrichments,
    description="Every contact, visitor and requested key has a fresh entry (warns while some wait, e.g. on budget).",
)
def enrichment_backlog(store: StoreResource, providers: ProvidersResource) -> dg.AssetCheckResult:
    waiting = backlog(
        store.get_store(), CachePolicy.configured(providers.settings()), providers.account(), datetime.now(UTC)
    )
    return dg.AssetCheckResult(
        passed=waiting == 0, severity=dg.AssetCheckSeverity.WARN, metadata={"keys_waiting": waiting}
    )


@dg.asset_check(asset=contact_profiles, description="One profile per live contact of the CRM account.")
def contact_profiles_cover_contacts(store: StoreResource, providers: ProvidersResource) -> dg.AssetCheckResult:
    with store.get_store().transaction() as tx:
        coverage = profiles_q.coverage(tx, providers.account())
    return dg.AssetCheckResult(passed=coverage["profiles"] == coverage["live_contacts"], metadata=coverage)


CHECKS = [enrichments_never_served_expired, enrichment_backlog, contact_profiles_cover_contacts]
