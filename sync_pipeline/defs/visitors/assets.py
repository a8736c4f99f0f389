"""``rb2b_visitors``: RB2B website visitors, one row per person (or company-only profile) and day in
``visitor_days``, matched to the CRM account's contacts; unmatched ones in ``visitors_unmatched``.
"""

from datetime import UTC, datetime

import dagster as dg

from ...sync.visitors import update_visitors
from ..resources import ProvidersResource, StoreResource
from .crm_contacts import CrmQueueReport, queue_new_visitors, tag_created_contacts


class VisitorsConfig(dg.Config):
    batch_size: int = 2_000  # events counted per transaction
    # Custom field (GHL custom field id, HubSpot property name) that receives the page a visitor
    # queued as a contact saw last; "" leaves it out. The field must exist in the CRM: HubSpot
    # refuses an unknown property (the job then ends dead with that reason), GHL ignores it.
    page_field: str = "rb2b_page"


@dg.asset(
    name="rb2b_visitors",
    group_name="visitors",
    kinds={"sql"},
    deps=[dg.AssetKey("ghl_contacts")],
    description=(
        "RB2B visitors from `visitor_events`, one row per person (or company-only profile) and day in "
        "`visitor_days`, matched to contacts by email then LinkedIn; unmatched ones in `visitors_unmatched`."
    ),
)
def rb2b_visitors(
    context: dg.AssetExecutionContext,
    config: VisitorsConfig,
    store: StoreResource,
    providers: ProvidersResource,
) -> dg.MaterializeResult:
    """Count new visitor events, re-match visitors, and (with RB2B_CREATE_CONTACTS) queue contacts."""
    db, settings, account = store.get_store(), providers.settings(), providers.account()
    started = datetime.now(UTC)  # rows this run touches carry it as updated_at
    report = update_visitors(db, account, batch_size=config.batch_size, clock=lambda: started)
    crm = CrmQueueReport()
    if settings.rb2b_create_contacts:
        crm = queue_new_visitors(
            db, settings, touched_since=started, page_field=config.page_field, log=context.log.warning
        )
    tag_created_contacts(db, settings, crm)
    context.log.info(
        f"{report.new_events} new events: {report.people} people ({report.matched} matched), "
        f"{report.companies} companies; {crm.queued_to_crm} queued to the CRM"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": report.total_rows,
            "crm_account": str(account),
            "create_contacts": settings.rb2b_create_contacts,
            **report.as_metadata(),
            **crm.as_metadata(),
        }
    )
