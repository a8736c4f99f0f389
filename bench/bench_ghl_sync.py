"""Benchmark: page through every contact of a GHL sandbox under GHL's real limits.

Runs :class:`~sync_pipeline.providers.ghl.GhlCRM` (built from settings, as the sync does) against a
sandbox enforcing 100 requests per 10 s, and prints the requests made, the 429s seen (must be 0),
the elapsed time and the achieved request rate as a share of the 100-per-10-s ceiling, next to the
theoretical minimum time for the same number of requests::

    .venv/bin/python -m bench.bench_ghl_sync --contacts 50000 --page-size 500
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

from sync_pipeline.providers.ghl import GhlCRM
from sync_pipeline.sandbox import start_sandbox
from sync_pipeline.settings import Secret, Settings
from sync_pipeline.store import connect, migrate

LIMIT, PERIOD_S = 100, 10.0  # GHL: per app per location (vendor reference 1.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--db", help="store URL (default: a fresh DuckDB file)")
    args = parser.parse_args()

    db_url = args.db or f"duckdb:///{Path(tempfile.mkdtemp()) / 'bench.duckdb'}"
    store = connect(db_url)
    migrate(store)
    with start_sandbox(("ghl",), contacts=args.contacts, seed=7) as sandbox:
        env = sandbox.env
        settings = Settings(
            ghl_base_url=env["GHL_BASE_URL"],
            ghl_api_key=Secret(env["GHL_API_KEY"]),
            ghl_location_id=env["GHL_LOCATION_ID"],
        )
        crm = GhlCRM.from_settings(settings, store)
        seen, cursor = 0, None
        started = time.monotonic()
        while True:
            page = crm.changed_since(None, cursor, page_size=args.page_size)
            seen += len(page.contacts)
            cursor = page.next_cursor
            if cursor is None:
                break
        elapsed = time.monotonic() - started
        stats = crm.stats()
        crm.close()
        vendor_429s = sandbox.state("ghl").stats.snapshot()["rate_limited"]

    requests = stats.attempts
    ceiling = LIMIT / PERIOD_S
    steady_min = (requests - 1) / ceiling  # every request at the ceiling rate, evenly spaced
    burst_min = (math.ceil(requests / LIMIT) - 1) * PERIOD_S  # a full window at once, then wait
    achieved = (requests - 1) / elapsed if elapsed > 0 else float("inf")
    print(f"contacts paged        {seen:,} of {args.contacts:,} (pageLimit {min(args.page_size, 500)})")
    print(f"requests made         {requests} ({stats.calls} calls, {stats.retries} retries)")
    print(f"429s                  {vendor_429s} at the sandbox, {stats.rate_limited} seen by the client")
    print(f"elapsed               {elapsed:.2f} s (limiter waits {stats.limiter_wait_s:.2f} s)")
    print(
        f"theoretical minimum   {steady_min:.2f} s at {ceiling:g} req/s steady ({burst_min:.0f} s if bursting a window)"
    )
    print(
        f"achieved rate         {achieved:.2f} req/s = {100 * achieved / ceiling:.1f} % "
        f"of the {LIMIT}-per-{PERIOD_S:g}-s ceiling"
    )
    print(f"contacts per second   {seen / elapsed:,.0f}")
    if vendor_429s or seen != args.contacts:
        raise SystemExit("FAILED: 429s seen or contacts missing")


if __name__ == "__main__":
    main()
