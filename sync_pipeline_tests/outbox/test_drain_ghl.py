"""The outbox drained against the GHL sandbox: limits, crashes, faults, read-your-own-writes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from sync_pipeline import agent
from sync_pipeline.outbox.drain import LEASE, claim_chunks, drain, process_chunk
from sync_pipeline.outbox.run import configured_worker, drain_configured
from sync_pipeline_tests.ghl_deployment import Wired, compress
from sync_pipeline_tests.outbox.conftest import FAST


def _queue_emails(wired: Wired, n: int) -> list[str]:
    with wired.store.transaction() as tx:
        ids = [
            r["id"]
            for r in tx.fetchall("SELECT id FROM contacts WHERE email IS NOT NULL ORDER BY id LIMIT :n", {"n": n})
        ]
    kw = {"store": wired.store, "settings": wired.settings}
    return [
        agent.enqueue_email(
            subject=f"Note {i}", html=f"<p>Hello {i}</p>", contact_id=cid, idempotency_key=f"demo-{i}", **kw
        )
        for i, cid in enumerate(ids)
    ]


def _statuses(wired: Wired) -> dict[str, int]:
    with wired.store.transaction() as tx:
        return {r["status"]: r["n"] for r in tx.fetchall("SELECT status, count(*) AS n FROM outbox GROUP BY status")}


def test_drain_stays_under_the_limit_at_over_90_percent_of_it(ready: Wired) -> None:
    # A 4-s window instead of GHL's 10 s: long enough that the limiter's 50-ms allowance and thread
    # wake-up jitter stay small beside it, so the limiter, not the machine, decides the result
    compress(ready, 40, seconds=4.0)
    jobs = _queue_emails(ready, 81)
    with configured_worker(ready.store, ready.settings, **FAST) as worker:
        # one send first: the client learns the (compressed) window from GHL's response headers
        process_chunk(worker, claim_chunks(ready.store, owner="warm-up", max_rows=1)[0])
        started = time.monotonic()
        report = drain(worker, concurrency=4)
        elapsed = time.monotonic() - started
    stats = ready.sandbox.admin("stats")
    assert report.total("sent") == len(jobs) - 1 and stats["emails_accepted"] == len(jobs)
    assert stats["rate_limited"] == 0 and stats["duplicate_sends"] == 0
    ceiling_s = (len(jobs) - 1) / 10  # the fastest the vendor allows: 40 per 4 s
    assert ceiling_s / elapsed >= 0.9, f"{elapsed:.2f}s for {len(jobs)} sends: {ceiling_s / elapsed:.0%} of the limit"


def test_sigkilled_drainers_lose_nothing_and_send_nothing_twice(ready: Wired) -> None:
    jobs = _queue_emails(ready, 300)
    rng = random.Random(5)
    env = dict(os.environ)
    for _ in range(4):  # kill a drainer at a random point, several times
        child = subprocess.Popen(
            [sys.executable, "-m", "sync_pipeline_tests.outbox.drain_worker", "1.0", "60"],
            env=env,
            start_new_session=True,
        )
        time.sleep(rng.uniform(0.8, 2.0))
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(10)
    time.sleep(1.1)  # the dead drainers' leases lapse
    drain_configured(
        ready.store, ready.settings, chunk_size=10, concurrency=4, lease=timedelta(seconds=5), worker_options=FAST
    )
    stats = ready.sandbox.admin("stats")
    assert _statuses(ready) == {"sent": len(jobs)}
    assert stats["emails_accepted"] == len(jobs)
    assert stats["duplicate_sends"] == 0


def test_vendor_faults_end_every_row_sent_or_dead_with_a_reason(ready: Wired) -> None:
    jobs = _queue_emails(ready, 120)
    ready.sandbox.admin(
        "faults",
        {"error_rate": 0.15, "drop_rate": 0.05, "timeout_rate": 0.05, "timeout_s": 0.3, "lost_response_rate": 0.05},
    )
    for _ in range(20):
        drain_configured(ready.store, ready.settings, chunk_size=20, concurrency=4, worker_options=FAST)
        if set(_statuses(ready)) <= {"sent", "dead", "unknown"}:
            break
        time.sleep(0.3)
    ready.sandbox.admin("faults", {"error_rate": 0, "drop_rate": 0, "timeout_rate": 0, "lost_response_rate": 0})
    statuses = _statuses(ready)
    assert set(statuses) <= {"sent", "dead", "unknown"}, statuses
    assert sum(statuses.values()) == len(jobs)
    with ready.store.transaction() as tx:
        unexplained = tx.scalar("SELECT count(*) FROM outbox WHERE status <> 'sent' AND last_error IS NULL")
    assert unexplained == 0
    stats = ready.sandbox.admin("stats")
    assert stats["duplicate_sends"] == 0
    assert stats["emails_accepted"] == statuses.get("sent", 0) + statuses.get("unknown", 0) or stats[
        "emails_accepted"
    ] == statuses.get("sent", 0)


def test_contact_update_is_read_locally_at_once_and_reaches_the_crm(ready: Wired) -> None:
    kw = {"store": ready.store, "settings": ready.settings}
    target, doomed = sorted(r["id"] for r in agent.find_contacts(query="@", limit=2, **kw))
    agent.update_contact(target, first_name="Agentname", **kw)
    agent.update_contact(doomed, last_name="Never", **kw)
    assert agent.get_contact(target, **kw)["first_name"] == "Agentname"  # before any drain
    before = agent.get_contact(doomed, **kw)
    assert before["last_name"] == "Never" and before["pending"]
    ready.sandbox.admin("contacts/mutate", {"deletes": [doomed], "emit_webhooks": False})  # CRM rejects it now

    drain_configured(ready.store, ready.settings, worker_options=FAST)
    with ready.sandbox.client() as client:
        remote = client.get(f"/contacts/{target}").json()["contact"]
    assert remote["firstName"] == "Agentname"
    confirmed = agent.get_contact(target, **kw)
    assert confirmed["first_name"] == "Agentname" and not confirmed["pending"]
    with ready.store.transaction() as tx:
        dead = tx.fetchone("SELECT status, last_error FROM outbox WHERE contact_id = :id", {"id": doomed})
        row = tx.fetchone("SELECT last_name, pending_since FROM contacts WHERE id = :id", {"id": doomed})
    assert dead["status"] == "dead" and "not found" in dead["last_error"].lower()
    assert row["last_name"] != "Never" and row["pending_since"] is None  # rolled back locally
    assert agent.get_contact(doomed, **kw) is None  # and the CRM's deletion shows


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_two_drainers_on_postgres_share_the_limit_and_never_send_twice(ready: Wired) -> None:
    jobs = _queue_emails(ready, 200)
    env = dict(os.environ)
    children = [
        subprocess.Popen([sys.executable, "-m", "sync_pipeline_tests.outbox.drain_worker", "30", "8"], env=env)
        for _ in range(2)
    ]
    for child in children:
        child.wait(60)
    stats = ready.sandbox.admin("stats")
    assert _statuses(ready) == {"sent": len(jobs)}
    assert stats["emails_accepted"] == len(jobs) and stats["duplicate_sends"] == 0
    assert stats["rate_limited"] == 0


@pytest.mark.slow
def test_a_killed_drains_jobs_go_out_within_a_minute_each_once(ready: Wired) -> None:
    """A drain SIGKILLed while it holds claims (kept alive by its heartbeat) stops renewing them:
    another drain sends every job within one lease of the kill, none twice.

    The child runs with a 6-s lease so the test takes seconds; the default lease is what bounds the
    promise of "within 60 s" in production, and it is checked against that bound here too.
    """
    assert timedelta(seconds=30) >= LEASE, "a killed drain's jobs must be claimable within 60 s"
    lease = timedelta(seconds=6)
    jobs = _queue_emails(ready, 150)
    child = subprocess.Popen(
        [sys.executable, "-m", "sync_pipeline_tests.outbox.drain_worker", str(lease.total_seconds()), "120"],
        env=dict(os.environ),
        start_new_session=True,
    )
    started = time.monotonic()
    try:
        # kill it once it is sending and past a heartbeat (a third of the lease): its claims are renewed ones
        while time.monotonic() - started < 30 and (
            ready.sandbox.admin("stats")["emails_accepted"] < 10
            or time.monotonic() - started < lease.total_seconds() / 2
        ):
            time.sleep(0.05)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(10)
    killed_at = time.monotonic()
    held = _statuses(ready).get("sending", 0)
    assert held > 0, "the drain should have died holding claims"
    while _statuses(ready).get("sent", 0) < len(jobs) and time.monotonic() - killed_at < 60:
        drain_configured(ready.store, ready.settings, chunk_size=10, concurrency=4, lease=lease, worker_options=FAST)
        time.sleep(0.2)
    recovered_in = time.monotonic() - killed_at
    stats = ready.sandbox.admin("stats")
    assert _statuses(ready) == {"sent": len(jobs)}, f"{held} claimed jobs not all sent {recovered_in:.0f} s after"
    assert recovered_in <= lease.total_seconds() + 10  # one lease, then the sends themselves
    assert stats["emails_accepted"] == len(jobs) and stats["duplicate_sends"] == 0
