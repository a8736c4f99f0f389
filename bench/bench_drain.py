"""Draining N queued emails at GHL's real limit (100 requests / 10 s), against the sandbox.

Baseline in the same process: the time the limit alone allows for N sends (N / 10 per second).
Prints elapsed, 429s, duplicates the sandbox saw, and the achieved share of the allowed rate.

    .venv/bin/python -m bench.bench_drain [--emails 1000] [--db duckdb|postgres]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import httpx

from bench.bench_contacts_sync import sandbox_process
from bench.scratch_db import pg_schema_url
from sync_pipeline import agent
from sync_pipeline.outbox.run import drain_configured
from sync_pipeline.providers import registry
from sync_pipeline.providers.lifecycle import close_provider
from sync_pipeline.settings import Settings
from sync_pipeline.store import connect, ensure_migrated
from sync_pipeline.sync.contacts import sync_contacts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--db", default="duckdb", choices=["duckdb", "postgres"])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    with sandbox_process(args.emails, tmp / "urls.json") as env:
        url = f"duckdb:///{tmp / 'drain.duckdb'}" if args.db == "duckdb" else pg_schema_url(args.pg)
        settings = Settings.from_env({**env, "SYNC_PIPELINE_DB": url})
        store = ensure_migrated(connect(url))
        crm = registry.crm_provider(settings, store)
        sync_contacts(store, crm, page_size=500)
        close_provider(crm)
        contacts = agent.find_contacts(query="@", limit=args.emails, store=store, settings=settings)
        for i, contact in enumerate(contacts):
            agent.enqueue_email(
                subject=f"Hello {i}", html="<p>Hi</p>", contact_id=contact["id"], store=store, settings=settings
            )
        time.sleep(10)  # the sync's requests leave the sandbox's rolling window
        started = time.monotonic()
        report = drain_configured(store, settings, concurrency=8)
        elapsed = time.monotonic() - started
        stats = httpx.get(f"{env['GHL_BASE_URL']}/_sandbox/stats").json()
        floor = len(contacts) / 10.0
        print(
            f"{args.db}: drained {report.total('sent')}/{len(contacts)} emails in {elapsed:.1f} s; "
            f"{stats['rate_limited']} 429s, {stats['duplicate_sends']} duplicates; the limit allows "
            f"{floor:.1f} s -> {floor / elapsed:.1%} of the allowed rate"
        )


if __name__ == "__main__":
    main()
