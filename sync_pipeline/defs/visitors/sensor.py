"""What keeps ``rb2b_visitors`` current unattended: ``rb2b_visitors_sensor``.

It requests a run when the receiver landed events no run has counted yet (run key per batch: the
newest event's seq), or when contacts synced after the last run while visitors still wait for a
match or a created contact for its ``rb2b`` tag (run key: the newest contact sync time). The same
situation always yields the same run key, which Dagster never launches twice.
"""

import json
from datetime import datetime

import dagster as dg

from ...store import contacts as contacts_q
from ...store import sync_state as state_q
from ...store import visitor_days as days_q
from ..resources import ProvidersResource, StoreResource
from ..tags import exclusive
from .assets import rb2b_visitors

rb2b_visitors_job = dg.define_asset_job(
    "rb2b_visitors_refresh",
    selection=dg.AssetSelection.assets(rb2b_visitors),
    tags=exclusive("rb2b_visitors"),
)


def run_due(
    uncounted: int, newest_seq: int | None, contacts_synced: datetime | None, last_run: datetime | None, waiting: int
) -> tuple[str, str] | None:
    """``(run key, reason)`` for a run needed now, or None."""
    if uncounted:
        return f"events-{newest_seq}", f"{uncounted} visitor event(s) landed"
    if waiting and contacts_synced and (last_run is None or contacts_synced > last_run):
        return f"contacts-{contacts_synced.isoformat()}", f"contacts synced; {waiting} visitor row(s) await a match"
    return None


@dg.sensor(
    name="rb2b_visitors_sensor",
    job=rb2b_visitors_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Counts and matches RB2B visitors when the webhook receiver landed new events.",
)
def rb2b_visitors_sensor(
    context: dg.SensorEvaluationContext, store: StoreResource, providers: ProvidersResource
) -> dg.SensorResult | dg.SkipReason:
    account = providers.account()
    with store.get_store().transaction() as tx:
        uncounted, newest_seq = days_q.uncounted(tx)
        last_run = state_q.load(tx, days_q.STREAM).updated_at
        waiting = days_q.awaiting_match(tx)
        contacts_synced = contacts_q.newest_synced_at(tx, account) if waiting else None
    due = run_due(uncounted, newest_seq, contacts_synced, last_run, waiting)
    if due is None:
        return dg.SkipReason("no new visitor events")
    run_key, reason = due
    previous = json.loads(context.cursor) if context.cursor else {}
    if previous.get("run_key") == run_key:
        return dg.SkipReason(f"run already requested ({reason})")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=run_key, tags={"sync_pipeline/reason": reason[:200]})],
        cursor=json.dumps({"run_key": run_key}),
    )
