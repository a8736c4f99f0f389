"""What keeps ``ghl_contacts`` fresh unattended: a sensor and the nightly deletion reconciliation.

The sensor requests an incremental sync when a CRM webhook marked contacts dirty, or when the
last completed sync is older than the freshness window minus a margin (polling covers what
webhooks miss: GHL drops any delivery that was not answered 429). Run keys make a request for the
same reason idempotent, and the ``sync_pipeline/exclusive`` run tag keeps one sync run at a time.
"""

import json
from datetime import UTC, datetime

import dagster as dg

from ...providers.lifecycle import close_provider, transport_metadata
from ...store import contacts as contacts_q
from ...store import sync_state as state_q
from ...store import webhooks as webhooks_q
from ...sync.reconcile import reconcile_deletions
from ..resources import ProvidersResource, StoreResource
from ..tags import exclusive
from .assets import ghl_contacts, other_accounts_note
from .freshness import ContactsFreshness

ghl_contacts_job = dg.define_asset_job(
    "ghl_contacts_sync",
    selection=dg.AssetSelection.assets(ghl_contacts),
    tags=exclusive("ghl_contacts"),
)


@dg.sensor(
    name="ghl_contacts_sensor",
    job=ghl_contacts_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Incremental contact sync when webhooks report changes or the data nears its freshness limit.",
)
def ghl_contacts_sensor(
    context: dg.SensorEvaluationContext, store: StoreResource, providers: ProvidersResource
) -> dg.SensorResult | dg.SkipReason:
    settings, account = providers.settings(), providers.account()
    now = datetime.now(UTC)
    with store.get_store().transaction() as tx:
        pending, newest_event = webhooks_q.unprocessed_contact_events(tx, account.provider)
        state = state_q.load(tx, account.stream)
        others = contacts_q.other_accounts_live(tx, account)
    last_sync = state.updated_at if state.checkpoint is None else None
    reason = ContactsFreshness.configured(settings).sync_due(last_sync, pending, now)
    previous = json.loads(context.cursor) if context.cursor else {}
    if reason is None:
        note = f"; {other_accounts_note(others)}" if others else ""
        return dg.SkipReason(
            f"{account} contacts fresh (last sync {last_sync.isoformat() if last_sync else 'never'}){note}"
        )
    # One request per new webhook event batch, or per stale sync state: re-evaluating the same
    # situation produces the same run key, which Dagster does not launch twice.
    run_key = f"events-{newest_event}" if pending else f"fresh-{last_sync.isoformat() if last_sync else 'never'}"
    if previous.get("run_key") == run_key:
        return dg.SkipReason(f"sync already requested ({reason})")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=run_key, tags={"sync_pipeline/reason": reason[:200]})],
        cursor=json.dumps({"run_key": run_key, "at": now.isoformat()}),
    )


@dg.op(pool="crm_api", description="Soft-delete local contacts the CRM no longer has (complete listings only).")
def reconcile_contacts(
    context: dg.OpExecutionContext, store: StoreResource, providers: ProvidersResource
) -> dg.Output[int]:
    db = store.get_store()
    crm = providers.crm(db)
    try:
        report = reconcile_deletions(db, crm)
    finally:
        api = transport_metadata(crm)
        close_provider(crm)
    context.log.info(f"reconciled {report.crm_ids} CRM ids: {report.deleted} soft-deleted")
    return dg.Output(report.deleted, metadata={**report.as_metadata(), **api})


@dg.job(name="ghl_reconcile", tags=exclusive("ghl_contacts"))
def ghl_reconcile_job() -> None:
    reconcile_contacts()


ghl_reconcile_schedule = dg.ScheduleDefinition(
    name="ghl_reconcile_schedule",
    job=ghl_reconcile_job,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Nightly: list every CRM contact id and soft-delete what the CRM lost (missed webhooks).",
)
