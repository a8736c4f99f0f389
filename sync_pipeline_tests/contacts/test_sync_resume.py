"""A sync killed mid-way resumes after its last stored page instead of starting over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sync_pipeline.sandbox import LatencyConfig, SandboxConfig
from sync_pipeline.store import sync_state as state_q
from sync_pipeline.store.contacts import Account
from sync_pipeline_tests.contacts.test_contacts_sync import assert_converged
from sync_pipeline_tests.ghl_deployment import sync_with

PAGE = 50
CONTACTS = 1500  # 30 pages


def _search_requests(wired) -> int:
    stats = wired.sandbox.admin("stats")
    return sum(n for status, n in stats["requests"].get("POST /contacts/search", {}).items() if status == "200")


def test_killed_sync_resumes_without_rereading_finished_pages(wire) -> None:
    wired = wire(contacts=CONTACTS, config=SandboxConfig(latency=LatencyConfig(30, 40)))
    child = subprocess.Popen(
        [sys.executable, "-m", "sync_pipeline_tests.contacts.sync_worker", str(PAGE)],
        env=dict(os.environ),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with wired.store.transaction() as tx:
                state = state_q.load(tx, Account.configured(wired.settings).stream)
                stored = tx.scalar("SELECT count(*) FROM contacts")
            if state.checkpoint and stored >= 8 * PAGE:
                break
            time.sleep(0.02)
        os.killpg(child.pid, signal.SIGKILL)
    finally:
        child.wait(10)
    with wired.store.transaction() as tx:
        stored_before = tx.scalar("SELECT count(*) FROM contacts")
    assert PAGE <= stored_before < CONTACTS, "the child should have been killed mid-way"
    pages_done = stored_before // PAGE
    requests_before = _search_requests(wired)

    report, _ = sync_with(wired, page_size=PAGE)
    assert report.mode == "resumed"
    resumed_requests = _search_requests(wired) - requests_before
    remaining_pages = CONTACTS // PAGE - pages_done + 1  # + the empty page that ends the listing
    assert resumed_requests <= remaining_pages + 1  # at most the page in flight is read again
    assert report.counts.inserted == CONTACTS - stored_before
    assert_converged(wired)
