"""``ghl_contacts``: the CRM's contacts in the local store, kept within 15 minutes of the CRM.

The asset keeps its contract name whichever CRM is configured (``CRM_PROVIDER=hubspot`` syncs
HubSpot into the same table through the same code).
"""

from datetime import UTC, datetime

import dagster as dg

from ...providers.lifecycle import close_provider, transport_metadata
from ...store import contacts as contacts_q
from ...store import webhooks as webhooks_q
from ...sync.contacts import crm_account, sync_contacts
from ..resources import ProvidersResource, StoreResource
from .freshness import ContactsFreshness


class ContactsSyncConfig(dg.Config):
    full: bool = False  # re-read every contact instead of those changed since the cursor
    page_size: int = 100


@dg.asset(
    name="ghl_contacts",
    group_name="contacts",
    kinds={"http", "sql"},
    description="CRM contacts synced incrementally into the local `contacts` table (soft deletes included).",
    freshness_policy=ContactsFreshness().policy(),
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
    account = crm_account(crm)
    started = datetime.now(UTC)
    try:
        report = sync_contacts(db, crm, full=config.full, page_size=config.page_size, progress=context.log.info)
    finally:
        api = transport_metadata(crm)
        close_provider(crm)
    with db.transaction() as tx:
        covered = webhooks_q.mark_contact_events_processed(tx, crm.name, started, datetime.now(UTC))
        rows = contacts_q.row_counts(tx, account)
        others = contacts_q.other_accounts_live(tx, account)
    context.log.info(f"{report.stream}: {report.mode} sync, {report.pages} pages, {report.counts}")
    if others:
        context.log.warning(other_accounts_note(others))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows["live"],
            "rows_soft_deleted_total": rows["deleted"],
            "crm_provider": crm.name,
            "crm_account": account.id,
            "rows_of_other_accounts": sum(int(r["live"]) for r in others),
            "webhook_events_covered": covered,
            **report.as_metadata(),
            **api,
        }
    )


def other_accounts_note(others: list[dict]) -> str:
    """Says that the store also holds another account's contacts, which no read returns."""
    listed = ", ".join(f"{r['live']} of {r['location_id'] or '(no account)'}" for r in others)
    return f"the store also holds live contacts of other accounts ({listed}); agents read only the configured one"
