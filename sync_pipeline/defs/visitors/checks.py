"""What "healthy" means for ``rb2b_visitors``, checked after every run."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from ...status import QUARANTINE_WARN_PER_HOUR, quarantine_growing
from ...store import visitor_days as days_q
from ...store import webhooks as webhooks_q
from ..resources import ProvidersResource, StoreResource
from .assets import rb2b_visitors


@dg.asset_check(asset=rb2b_visitors, description="Every matched visitor points at a live contact of the CRM account.")
def rb2b_visitors_match_live_contacts(store: StoreResource, providers: ProvidersResource) -> dg.AssetCheckResult:
    with store.get_store().transaction() as tx:
        stale = days_q.stale_matches(tx, providers.account())
    return dg.AssetCheckResult(passed=stale == 0, metadata={"matched_to_missing_contact": stale})


@dg.asset_check(
    asset=rb2b_visitors,
    description=f"The RB2B quarantine grew by at most {QUARANTINE_WARN_PER_HOUR} deliveries in the last hour.",
)
def rb2b_quarantine_growth(store: StoreResource) -> dg.AssetCheckResult:
    since = datetime.now(UTC) - timedelta(hours=1)
    with store.get_store().transaction() as tx:
        last_hour, _ = webhooks_q.quarantine_count(tx, source="rb2b", since=since)
    return dg.AssetCheckResult(
        passed=not quarantine_growing(last_hour),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"quarantined_last_hour": last_hour, "limit_per_hour": QUARANTINE_WARN_PER_HOUR},
    )


CHECKS = [rb2b_visitors_match_live_contacts, rb2b_quarantine_growth]
