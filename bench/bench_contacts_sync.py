"""A full contact sync of N contacts at GHL's real limit (100 requests / 10 s), on each backend.

Baseline in the same process: the time the rate limit alone allows for the same number of
requests (``requests / 10 per second``). Prints elapsed, requests, 429s, the ratio to that floor,
rows written per second and how much the process's peak memory grew (bounded: pages are
streamed). The sandbox runs in its own process, as the vendor's CPU is not ours.

    .venv/bin/python -m bench.bench_contacts_sync [--contacts 100000] [--backends duckdb,postgres]
"""

from __future__ import annotations

import argparse
import json
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.scratch_db import pg_schema_url
from sync_pipeline.providers import registry
from sync_pipeline.providers.lifecycle import close_provider
from sync_pipeline.settings import Settings
from sync_pipeline.store import connect, ensure_migrated
from sync_pipeline.sync.contacts import sync_contacts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--backends", default="duckdb,postgres")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    with sandbox_process(args.contacts, tmp / "urls.json") as sandbox_env:
        for backend in args.backends.split(","):
            url = f"duckdb:///{tmp / 'sync.duckdb'}" if backend == "duckdb" else pg_schema_url(args.pg)
            settings = Settings.from_env({**sandbox_env, "SYNC_PIPELINE_DB": url})
            store = ensure_migrated(connect(url))
            crm = registry.crm_provider(settings, store)
            rss_before = _rss_mib()
            started = time.monotonic()
            report = sync_contacts(store, crm, page_size=args.page_size)
            elapsed = time.monotonic() - started
            stats = crm.stats()
            close_provider(crm)
            floor = stats.calls / 10.0  # 100 requests per 10 s
            print(
                f"{backend:>8}: {report.counts.inserted:,} contacts in {elapsed:.1f} s, {stats.calls} requests, "
                f"{stats.rate_limited} 429s; rate-limit floor {floor:.1f} s -> {elapsed / floor:.3f}x the floor "
                f"({(elapsed / floor - 1) * 100:+.1f} %); {report.counts.inserted / elapsed:,.0f} rows/s; "
                f"max RSS {_rss_mib():.0f} MiB (+{_rss_mib() - rss_before:.0f} MiB during the sync)"
            )
            store.close()
            time.sleep(10)  # let the sandbox's rolling 10-s window empty before the next backend


@contextmanager
def sandbox_process(contacts: int, urls_file: Path) -> Iterator[dict[str, str]]:
    """The GHL sandbox in its own process, as the vendor is: its CPU is not ours."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sync_pipeline.cli",
            "sandbox",
            "--contacts",
            str(contacts),
            "--seed",
            "3",
            "--urls-file",
            str(urls_file),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not urls_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        yield json.loads(urls_file.read_text())["env"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
