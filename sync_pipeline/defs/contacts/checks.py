"""What "healthy" means for the local contacts, checked after every ``ghl_contacts`` run."""

from datetime import UTC, datetime

import dagster as dg

from ...store import contacts as contacts_q
from ...store import sync_state as state_q
from ..resources import ProvidersResource, StoreResource
from .assets import ghl_contacts
from .freshness import ContactsFreshness


def _unhealthy(store: StoreResource, providers: ProvidersResource, condition: str) -> dg.AssetCheckResult:
    with store.get_store().transaction() as tx:
        rows = contacts_q.count_unhealthy(tx, providers.account(), condition)
    return dg.AssetCheckResult(passed=rows == 0, metadata={condition: rows})


@dg.asset_check(asset=ghl_contacts, description="Every CRM id appears once (per provider).")
def contacts_unique_ids(store: StoreResource, providers: ProvidersResource) -> dg.AssetCheckResult:
    return _unhealthy(store, providers, "rows_with_duplicate_id")


@dg.asset_check(asset=ghl_contacts, description="No live contact has an empty id.")
def contacts_ids_present(store: StoreResource, providers: ProvidersResource) -> dg.AssetCheckResult:
    return _unhealthy(store, providers, "empty_ids")


@dg.asset_check(asset=ghl_contacts, description="Emails are stored lower-cased, so lookups by email match.")
def contacts_emails_lowercase(store: StoreResource, providers: ProvidersResource) -> dg.AssetCheckResult:
    return _unhealthy(store, providers, "mixed_case_emails")


@dg.asset_check(
    asset=ghl_contacts,
    description="Row-level freshness: the newest synced_at is within CONTACTS_FRESHNESS_MINUTES.",
)
def contacts_synced_recently(store: StoreResource, providers: ProvidersResource) -> dg.AssetCheckResult:
    freshness = ContactsFreshness.configured(providers.settings())
    account = providers.account()
    with store.get_store().transaction() as tx:
        newest = contacts_q.newest_synced_at(tx, account)
        last_run = state_q.load(tx, account.stream).updated_at
    # An incremental run that found nothing new rewrites no row, so the stream's own timestamp
    # (set by every completed run) also counts as "seen the CRM recently".
    latest = max(filter(None, (newest, last_run)), default=None)
    now = datetime.now(UTC)
    age = None if latest is None else now - latest
    return dg.AssetCheckResult(
        passed=freshness.is_fresh(latest, now),
        metadata={
            "age_minutes": round(age.total_seconds() / 60, 2) if age else -1.0,
            "window_minutes": freshness.window.total_seconds() / 60,
        },
    )


CHECKS = [contacts_unique_ids, contacts_ids_present, contacts_emails_lowercase, contacts_synced_recently]
