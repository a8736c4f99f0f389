"""How long an agent waits to send an email: enqueue (ours) vs calling the vendor directly.

Baseline, in the same process: a direct GHL send through the sandbox with the real APIs' latency
(300-800 ms). Measured: ``agent.enqueue_email`` on DuckDB (the embedded default) and PostgreSQL.
Prints p50/p99 per backend and the ratio to the baseline.

    .venv/bin/python -m bench.bench_enqueue [--n 2000] [--pg postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.scratch_db import pg_schema_url
from sync_pipeline import agent
from sync_pipeline.providers import registry
from sync_pipeline.records import OutboundEmail
from sync_pipeline.sandbox import LatencyConfig, SandboxConfig, start_sandbox
from sync_pipeline.settings import Settings
from sync_pipeline.store import connect, ensure_migrated
from sync_pipeline.sync.contacts import sync_contacts


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000, help="enqueues per backend")
    parser.add_argument("--direct", type=int, default=20, help="direct vendor sends for the baseline")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp())
    with start_sandbox(("ghl",), contacts=200, config=SandboxConfig(latency=LatencyConfig(300, 800))) as sandbox:
        settings = Settings.from_env({**sandbox.env, "SYNC_PIPELINE_DB": f"duckdb:///{tmp / 'bench.duckdb'}"})
        store = ensure_migrated(connect(settings.db_url))
        crm = registry.crm_provider(settings, store)
        sync_contacts(store, crm, page_size=500)
        contact = next(iter(agent.find_contacts(query="@", limit=1, store=store, settings=settings)))
        email = registry.email_provider(settings, store)
        direct = []
        for i in range(args.direct):
            started = time.perf_counter()
            email.send(OutboundEmail(f"bench-direct-{i}", contact["email"], "Hi", "<p>x</p>", contact_id=contact["id"]))
            direct.append(time.perf_counter() - started)
        print(
            f"baseline: direct GHL send (sandbox, 300-800 ms latency), n={len(direct)}: "
            f"p50 {percentile(direct, 0.5) * 1000:.0f} ms, p99 {percentile(direct, 0.99) * 1000:.0f} ms"
        )

    for backend, url in (("duckdb", f"duckdb:///{tmp / 'enqueue.duckdb'}"), ("postgres", pg_schema_url(args.pg))):
        store = ensure_migrated(connect(url))
        local = replace(settings, db_url=url)
        samples = []
        for i in range(args.n):
            started = time.perf_counter()
            agent.enqueue_email(
                f"person{i}@example.com", "Hi", "<p>x</p>", idempotency_key=f"b{i}", store=store, settings=local
            )
            samples.append(time.perf_counter() - started)
        p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
        print(
            f"{backend:>8}: enqueue_email n={args.n}: p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms, "
            f"mean {statistics.mean(samples) * 1000:.2f} ms -> the agent waits "
            f"{percentile(direct, 0.5) / p50:.0f}x less than a direct send (p50)"
        )
        store.close()


if __name__ == "__main__":
    main()
