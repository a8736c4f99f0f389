"""A full sync is bound by the vendor's rate limit, not by our work, and its memory by the few pages
fetched ahead of the writer.

The figure at GHL's real limit is ``bench/bench_sync.py`` (20,000 contacts at page size 100: 20 s of
requests); here the same shape runs at a fifth of the size in a window compressed to 5 s.
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from sync_pipeline.settings import Settings
from sync_pipeline.store import Store
from sync_pipeline.sync import contacts as contacts_sync
from sync_pipeline_tests.ghl_deployment import Wired, compress, sync_with
from sync_pipeline_tests.sandbox_process import ghl_sandbox_process

PAGE = 100


def test_a_full_sync_pages_within_5_percent_of_what_the_rate_limit_allows(store: Store, tmp_path: Path) -> None:
    # The sandbox in a process of its own, as the vendor is: in this one, the time it takes to answer
    # would compete with the sync for the interpreter and count against the sync.
    with ghl_sandbox_process(20_000, tmp_path) as sandbox:
        wired = Wired(sandbox, store, Settings.from_env({**sandbox.env, "SYNC_PIPELINE_DB": store.url}))
        compress(wired, 100, seconds=5.0)  # GHL's 100 requests per window, in 5 s instead of 10
        started = time.monotonic()
        report, api = sync_with(wired, page_size=PAGE)
        elapsed = time.monotonic() - started
        stats = sandbox.admin("stats")

    assert report.counts.inserted == 20_000 and api.calls == 20_000 // PAGE + 1
    assert api.rate_limited == 0 and stats["rate_limited"] == 0
    # The pace the vendor saw, first request to last: a page write that held up the next request
    # would stretch it. The limit lets the n-th request go floor((n-1)/L) windows after the first.
    paging_s = stats["last_request_at"] - stats["first_request_at"]
    floor_s = (api.calls - 1) // 100 * 5.0
    assert 0.99 * floor_s <= paging_s <= 1.05 * floor_s, f"{paging_s:.2f} s paging; the limit allows {floor_s:.2f} s"
    # Before the first request and after the last: settings, the last page's write, the report.
    assert elapsed - paging_s < 2.0, f"{elapsed - paging_s:.2f} s of {elapsed:.2f} s outside paging"


def _peak_sync_memory(wired: Wired) -> int:
    """Peak Python memory a full sync allocates beyond what was held before it."""
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        sync_with(wired, page_size=PAGE, full=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before


def test_sync_memory_does_not_grow_with_the_number_of_contacts(wire, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pages fetched ahead of the writer are bounded by WRITE_AHEAD_CONTACTS (5,000 in production, as
    # many as the large run holds): two pages here, so that holding every page would show.
    monkeypatch.setattr(contacts_sync, "WRITE_AHEAD_CONTACTS", 2 * PAGE)
    small = _peak_sync_memory(wire(contacts=500))
    large = _peak_sync_memory(wire(contacts=5_000))  # ten times the pages

    # Holding every page would take about ten times the memory; streaming holds a few.
    assert large < 2 * small, f"peak {large / 1e6:.1f} MB for 5,000 contacts vs {small / 1e6:.1f} MB for 500"
