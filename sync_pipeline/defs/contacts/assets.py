"""``ghl_contacts``: the CRM's contacts in the local store, kept within 15 minutes of the CRM.

The asset keeps its contract name whichever CRM is configured (``CRM_PROVIDER=hubspot`` syncs
HubSpot into the same table through the same code).
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from ...providers.lifecycle import close_provider, transport_metadata
from ...settings import get_settings
from ...store import webhooks as webhooks_q
from ...sync.contacts import sync_contacts
from ..providers import ProvidersResource
from ..resources import StoreResource


class ContactsSyncConfig(dg.Config):
    full: bool = False  # re-read every contact instead of those changed since the cursor
    page_size: int = 100


def contacts_freshness_policy() -> dg.FreshnessPolicy:
    """Fail after ``CONTACTS_FRESHNESS_MINUTES`` without a materialization, warn at two thirds."""
    minutes = get_settings().contacts_freshness_minutes
    return dg.FreshnessPolicy.time_window(
        fail_window=timedelta(minutes=minutes), warn_window=timedelta(minutes=max(1, minutes * 2 // 3))
    )


@dg.asset(
    name="ghl_contacts",
    group_name="contacts",
    kinds={"http", "sql"},
    description="CRM contacts synced incrementally into the local `contacts` table (soft deletes included).",
    freshness_policy=contacts_freshness_policy(),
    pool="crm_api",
)
def ghl_contacts(
    context: dg.AssetExecutionContext,
    config: ContactsSyncConfig,
    store: StoreResource,
    providers: ProvidersResource,
) -> dg.MaterializeResult:
    """Fetch contacts changed since the stored cursor and upsert them by content hash."""
    db = store.get_store()
    crm = providers.crm(db)
    started = datetime.now(UTC)
    try:
        report = sync_contacts(db, crm, full=config.full, page_size=config.page_size, progress=context.log.info)
    finally:
        api = transport_metadata(crm)
        close_provider(crm)
    with db.transaction() as tx:
        covered = webhooks_q.mark_contact_events_processed(tx, crm.name, started, datetime.now(UTC))
        live = tx.scalar("SELECT count(*) FROM contacts WHERE provider = :p AND deleted_at IS NULL", {"p": crm.name})
        deleted = tx.scalar(
            "SELECT count(*) FROM contacts WHERE provider = :p AND deleted_at IS NOT NULL", {"p": crm.name}
        )
    context.log.info(f"{report.stream}: {report.mode} sync, {report.pages} pages, {report.counts}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": int(live),
            "rows_soft_deleted_total": int(deleted),
            "crm_provider": crm.name,
            "webhook_events_covered": covered,
            **report.as_metadata(),
            **api,
        }
    )
