"""``send_outbox``: plan chunks of due jobs, send each vendor's chunks in that vendor's pool, report.

plan_outbox ──DynamicOut per vendor──▶ send_<vendor> (pool <vendor>_api, one chunk per step)
                                        └──collect──▶ report_outbox (totals, warnings, callbacks)

Chunks, not rows, fan out: each multiprocess step is a new Python process. Each step claims its own
chunk when it starts and keeps it with a lease heartbeat, so no job is leased while its step waits
for a pool slot, and a killed step's jobs lapse within one short lease. Within a step a thread pool
sends concurrently under the shared rate limiter, so steps of one vendor in several runs, or on
several machines, together stay under that vendor's limit.
"""

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from ...outbox.drain import LEASE, DrainReport, finish_drain, work_due_jobs
from ...outbox.run import configured_worker
from ...providers import registry
from ...store import outbox as outbox_q
from ..resources import ProvidersResource, StoreResource
from ..tags import exclusive

VENDORS = sorted(set(registry.CRM_CLASSES) | set(registry.EMAIL_CLASSES))


class PlanConfig(dg.Config):
    chunk_size: int = 50  # jobs per step
    max_rows: int = 1000  # jobs per run; later ones wait for the next run
    lease_seconds: int = int(LEASE.total_seconds())  # renewed by each step's heartbeat while it lives


class SendConfig(dg.Config):
    concurrency: int = 4  # threads per step; the shared limiter paces them


@dg.op(out={vendor: dg.DynamicOut(dict) for vendor in VENDORS})
def plan_outbox(context: dg.OpExecutionContext, config: PlanConfig, store: StoreResource) -> Iterator[Any]:
    """Count due jobs per vendor and emit one step per chunk; each step claims its own chunk."""
    with store.get_store().transaction() as tx:
        due = outbox_q.due_by_provider(tx, datetime.now(UTC))
    budget, planned = config.max_rows, 0
    for vendor in VENDORS:
        rows = min(due.get(vendor, 0), budget)
        budget -= rows
        for i in range(-(-rows // config.chunk_size)):
            size = min(config.chunk_size, rows - i * config.chunk_size)
            planned += 1
            yield dg.DynamicOutput(
                {"chunk_size": size, "lease_seconds": config.lease_seconds},
                output_name=vendor,
                mapping_key=f"{vendor}_{i}",
            )
    unknown = {v: n for v, n in due.items() if v not in VENDORS}
    if unknown:  # no step can take them: a provider name no registry knows (it ends dead in a drain)
        context.log.warning(f"jobs queued for providers this code does not know: {unknown}")
    context.log.info(f"{sum(due.values())} job(s) due; {planned} chunk(s) planned")


def _send_op(vendor: str) -> dg.OpDefinition:
    @dg.op(name=f"send_{vendor}", pool=f"{vendor}_api", description=f"Send one chunk of {vendor} jobs.")
    def send(
        context: dg.OpExecutionContext,
        config: SendConfig,
        store: StoreResource,
        providers: ProvidersResource,
        chunk: dict,
    ) -> DrainReport:
        with configured_worker(store.get_store(), providers.settings(), vendor) as worker:
            report = work_due_jobs(
                worker,
                chunk_size=chunk["chunk_size"],
                max_rows=chunk["chunk_size"],
                rounds=1,
                lease=timedelta(seconds=chunk["lease_seconds"]),
                providers=[vendor],
                concurrency=config.concurrency,
            )
        context.log.info(f"{vendor}: {report.as_metadata()}")
        return report

    return send


SEND_OPS = {vendor: _send_op(vendor) for vendor in VENDORS}


@dg.op(ins={vendor: dg.In(list) for vendor in VENDORS})
def report_outbox(context: dg.OpExecutionContext, store: StoreResource, **reports: list) -> dg.Output[dict]:
    """Totals by action and outcome, throughput and 429s as metadata, after the drain's common end
    (:func:`~sync_pipeline.outbox.drain.finish_drain`: warnings, callbacks). The run fails when any
    job ended ``dead`` or ``unknown``, so the UI shows it as needing a person."""
    total = DrainReport()
    parts = [part for vendor_reports in reports.values() for part in vendor_reports]
    for part in parts:
        total.merge(part)
    # whole-run throughput: chunks may have run one after another or at once
    run_stats = context.instance.get_run_stats(context.run_id)
    total.duration_s = (
        max(time.time() - run_stats.start_time, 1e-6)
        if run_stats.start_time
        else max((part.duration_s for part in parts), default=0.0)
    )
    metadata = finish_drain(store.get_store(), total, logger=context.log).as_metadata()
    context.log.info(f"outbox drained: {metadata}")
    if total.failures:
        # A green run would hide jobs a person must look at: each is logged above with its reason.
        raise dg.Failure(
            description=f"{metadata['dead']} job(s) ended dead and {metadata['unknown']} unknown; "
            "their reasons are logged above and kept in each job's last_error",
            metadata=metadata,
        )
    return dg.Output(metadata, metadata=metadata)


@dg.job(
    name="send_outbox",
    tags=exclusive("send_outbox"),
    description="Drain the outbox under each vendor's rate limit and pool.",
)
def send_outbox() -> None:
    planned = plan_outbox()
    report_outbox(**{vendor: getattr(planned, vendor).map(SEND_OPS[vendor]).collect() for vendor in VENDORS})
