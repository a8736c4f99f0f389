"""``outbox_sensor``: start ``send_outbox`` when jobs are due and no drain is already running."""

from datetime import UTC, datetime

import dagster as dg

from ...status import describe_blocked
from ...store import outbox as outbox_q
from ..resources import StoreResource
from .job import send_outbox

ACTIVE_RUNS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dg.sensor(
    name="outbox_sensor",
    job=send_outbox,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Drain the outbox whenever jobs are due; never two drains at once.",
)
def outbox_sensor(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.RunRequest | dg.SkipReason:
    now = datetime.now(UTC)
    with store.get_store().transaction() as tx:
        due = outbox_q.due_count(tx, now)
        blocked = [] if due else outbox_q.blocked_writes(tx, now)
    if not due:
        why = f"; {describe_blocked(blocked)}" if blocked else ""
        return dg.SkipReason(f"no outbox job is due{why}")
    running = context.instance.get_runs(filters=dg.RunsFilter(job_name=send_outbox.name, statuses=ACTIVE_RUNS), limit=1)
    if running:
        return dg.SkipReason(f"{due} job(s) due; drain {running[0].run_id[:8]} is still running")
    return dg.RunRequest(run_key=f"drain-{now.isoformat()}", tags={"sync_pipeline/due_jobs": str(due)})
