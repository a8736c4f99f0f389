"""What one rate-limit reservation costs in the store, per vendor profile and backend.

Every vendor request runs one reservation transaction before it is sent. Baseline in the same
process: the least any shared limiter must do, a transaction that rewrites one row (its commit
fsyncs DuckDB's WAL). Windows are widened so nothing waits: only the store work is measured, with a log as
long as the vendor's real limits would keep (6,000 slots for Instantly's per-minute window).

    .venv/bin/python -m bench.bench_limiter [--reservations 2000] [--backends duckdb,postgres]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import time
from collections.abc import Callable

from bench.scratch_db import scratch_store_url
from sync_pipeline.store import Store, connect, ensure_migrated
from sync_pipeline.transport.limiter import SharedRateLimiter
from sync_pipeline.transport.profiles import GHL_PROFILE, INSTANTLY_PROFILE, VendorProfile
from sync_pipeline.transport.stats import TransportCounters


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reservations", type=int, default=2000)
    parser.add_argument("--backends", default="duckdb,postgres")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        with scratch_store_url(backend, args.pg) as url:
            _measure(backend, url, args.reservations)


def _measure(backend: str, url: str, n: int) -> None:
    store = ensure_migrated(connect(url))
    try:
        with store.transaction() as tx:
            tx.execute("INSERT INTO rate_limits (bucket, window_name, tat, interval_s) VALUES ('baseline', 'w', 0, 0)")
        baseline = _per_call_ms(functools.partial(_one_row_write, store), n)
        for profile in (GHL_PROFILE, INSTANTLY_PROFILE):
            ms = _reservation_ms(store, profile, n)
            print(
                f"{backend:>8} {profile.name:<9}: {ms:.2f} ms per reservation "
                f"({len(profile.windows)} windows) = {ms / baseline:.1f}x a one-row write ({baseline:.2f} ms)"
            )
    finally:
        store.close()


def _reservation_ms(store: Store, profile: VendorProfile, n: int) -> float:
    # 1,000x the real limits: the log fills as it would, and no reservation waits.
    wide = tuple(dataclasses.replace(w, limit=w.limit * 1000) for w in profile.windows)
    limiter = SharedRateLimiter(
        store, provider=profile.name, account="bench", windows=wide, rate_headers=(), counters=TransportCounters()
    )
    for _ in range(min(6000, n)):  # warm the log up to its steady length
        limiter.acquire(time.monotonic() + 60)
    return _per_call_ms(lambda: limiter.acquire(time.monotonic() + 60), n)


def _one_row_write(store: Store) -> None:
    with store.transaction() as tx:
        tx.execute("UPDATE rate_limits SET tat = tat + 1 WHERE bucket = 'baseline'")


def _per_call_ms(call: Callable[[], object], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - started) / n * 1000


if __name__ == "__main__":
    main()
