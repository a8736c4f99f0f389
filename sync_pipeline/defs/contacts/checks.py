"""What "healthy" means for the local contacts, checked after every ``ghl_contacts`` run."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from ..providers import ProvidersResource
from ..resources import StoreResource
from .assets import ghl_contacts


def _crm(providers: ProvidersResource) -> str:
    return providers.settings().crm_provider


def _offending_rows(store: StoreResource, providers: ProvidersResource, condition: str) -> int:
    with store.get_store().transaction() as tx:
        return int(
            tx.scalar(f"SELECT count(*) FROM contacts WHERE provider = :p AND {condition}", {"p": _crm(providers)})
        )


@dg.asset_check(asset=ghl_contacts, description="Every CRM id appears once (per provider).")
def contacts_unique_ids(store: StoreResource, providers: ProvidersResource) -> dg.AssetCheckResult:
    rows = _offending_rows(
        store,
        providers,
        "id IN (SELECT id FROM contacts WHERE provider = :p GROUP BY id HAVING count(*) > 1)",
    )
    return dg.AssetCheckResult(passed=rows == 0, metadata={"rows_with_duplicate_id": rows})


@dg.asset_check(asset=ghl_contacts, description="No live contact has an empty id.")
def contacts_ids_present(store: StoreResource, providers: ProvidersResource) -> dg.AssetCheckResult:
    rows = _offending_rows(store, providers, "deleted_at IS NULL AND (id IS NULL OR id = '')")
    return dg.AssetCheckResult(passed=rows == 0, metadata={"empty_ids": rows})


@dg.asset_check(asset=ghl_contacts, description="Emails are stored lower-cased, so lookups by email match.")
def contacts_emails_lowercase(store: StoreResource, providers: ProvidersResource) -> dg.AssetCheckResult:
    rows = _offending_rows(store, providers, "email IS NOT NULL AND email <> lower(email)")
    return dg.AssetCheckResult(passed=rows == 0, metadata={"mixed_case_emails": rows})


@dg.asset_check(
    asset=ghl_contacts,
    description="Row-level freshness: the newest synced_at is within CONTACTS_FRESHNESS_MINUTES.",
)
def contacts_synced_recently(store: StoreResource, providers: ProvidersResource) -> dg.AssetCheckResult:
    window = timedelta(minutes=providers.settings().contacts_freshness_minutes)
    with store.get_store().transaction() as tx:
        newest = tx.scalar("SELECT max(synced_at) FROM contacts WHERE provider = :p", {"p": _crm(providers)})
        last_run = tx.scalar(
            "SELECT updated_at FROM sync_state WHERE stream = :s", {"s": f"{_crm(providers)}_contacts"}
        )
    # An incremental run that found nothing new rewrites no row, so the stream's own timestamp
    # (set by every completed run) also counts as "seen the CRM recently".
    latest = max(filter(None, (newest, last_run)), default=None)
    age = None if latest is None else datetime.now(UTC) - latest
    return dg.AssetCheckResult(
        passed=age is not None and age <= window,
        metadata={
            "age_minutes": round(age.total_seconds() / 60, 2) if age else -1.0,
            "window_minutes": window.total_seconds() / 60,
        },
    )


CHECKS = [contacts_unique_ids, contacts_ids_present, contacts_emails_lowercase, contacts_synced_recently]
