"""``send_outbox``: claim due jobs in chunks, send each vendor's chunks in that vendor's pool, report.

claim_outbox ──DynamicOut per vendor──▶ send_<vendor> (pool <vendor>_api, one chunk per step)
                                         └──collect──▶ report_outbox (totals, callbacks)

Chunks, not rows, fan out: each multiprocess step is a new Python process. Within a step a thread
pool sends concurrently under the shared rate limiter, so steps of one vendor in several runs, or
on several machines, together stay under that vendor's limit.
"""

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import dagster as dg

from ...outbox.drain import DrainReport, claim_chunks, finish_drain, process_chunk, worker_id
from ...outbox.run import configured_worker
from ...providers import registry
from ..resources import ProvidersResource, StoreResource
from ..tags import exclusive

VENDORS = sorted(set(registry.CRM_CLASSES) | set(registry.EMAIL_CLASSES))


class ClaimConfig(dg.Config):
    chunk_size: int = 50
    max_rows: int = 1000
    lease_minutes: int = 10


class SendConfig(dg.Config):
    concurrency: int = 4  # threads per step; the shared limiter paces them


@dg.op(out={vendor: dg.DynamicOut(list) for vendor in VENDORS})
def claim_outbox(context: dg.OpExecutionContext, config: ClaimConfig, store: StoreResource) -> Iterator[Any]:
    """Lease due jobs (``FOR UPDATE SKIP LOCKED`` on Postgres) and emit one chunk per step."""
    chunks = claim_chunks(
        store.get_store(),
        owner=f"{worker_id()}:{context.run_id[:8]}",
        chunk_size=config.chunk_size,
        max_rows=config.max_rows,
        lease=timedelta(minutes=config.lease_minutes),
    )
    context.log.info(f"claimed {sum(map(len, chunks))} job(s) in {len(chunks)} chunk(s)")
    for i, chunk in enumerate(chunks):
        vendor = chunk[0]["provider"]
        yield dg.DynamicOutput(chunk, output_name=vendor, mapping_key=f"{vendor}_{i}")


def _send_op(vendor: str) -> dg.OpDefinition:
    @dg.op(name=f"send_{vendor}", pool=f"{vendor}_api", description=f"Send one chunk of {vendor} jobs.")
    def send(
        context: dg.OpExecutionContext,
        config: SendConfig,
        store: StoreResource,
        providers: ProvidersResource,
        chunk: list,
    ) -> DrainReport:
        with configured_worker(store.get_store(), providers.settings(), vendor) as worker:
            report = process_chunk(worker, chunk, concurrency=config.concurrency)
            report.count_transport(worker.providers())
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
    claimed = claim_outbox()
    report_outbox(**{vendor: getattr(claimed, vendor).map(SEND_OPS[vendor]).collect() for vendor in VENDORS})
