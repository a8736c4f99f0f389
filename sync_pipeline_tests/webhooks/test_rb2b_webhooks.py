"""RB2B's sender against our receiver over real HTTP: every valid visit lands, the rest is kept in
quarantine with its reason, and the integration never sees a non-200 (RB2B would disconnect)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest

from sync_pipeline.records import Contact
from sync_pipeline.sandbox import start_sandbox
from sync_pipeline.sandbox.server import ServerThread
from sync_pipeline.settings import Secret, Settings
from sync_pipeline.store import Store
from sync_pipeline.store import contacts as contacts_q
from sync_pipeline.webhooks.app import build_app


@pytest.fixture
def receiver(store: Store) -> Iterator[tuple[str, str]]:
    with start_sandbox(("rb2b",)) as sandbox:
        token = sandbox.credentials["rb2b"]["webhook_token"]
        settings = replace(Settings.from_env({}), rb2b_webhook_token=Secret(token))
        server = ServerThread(build_app(store, settings), name="webhooks")
        url = server.start()
        sender = sandbox.urls["rb2b"]
        httpx.post(f"{sender}/_sandbox/config", json={"target_url": f"{url}/webhooks/rb2b"}).raise_for_status()
        yield sender, url
        server.stop()


def test_sender_deliveries_land_or_are_quarantined_and_rb2b_stays_connected(receiver, store: Store) -> None:
    sender, _ = receiver
    answer = httpx.post(f"{sender}/_sandbox/rb2b/send", json={"count": 40}).json()
    status = httpx.get(f"{sender}/_sandbox/rb2b/status").json()
    assert status.get("disconnected") in (False, None), status
    with store.transaction() as tx:
        landed = tx.scalar("SELECT count(*) FROM visitor_events")
        quarantined = tx.fetchall("SELECT reason, body FROM webhook_quarantine WHERE source = 'rb2b'")
        company_only = tx.scalar(
            "SELECT count(*) FROM visitor_events WHERE business_email IS NULL AND company_name IS NOT NULL"
        )
        ranged = tx.scalar("SELECT count(*) FROM visitor_events WHERE employee_count_max > employee_count_min")
    assert landed + len(quarantined) == 40 == answer["accepted"]
    assert landed > 0 and company_only > 0 and ranged > 0
    assert all(q["reason"] and q["body"] for q in quarantined)


def test_visits_match_synced_contacts_and_repeats_land_once(receiver, store: Store) -> None:
    _, url = receiver
    now = datetime.now(UTC)
    with store.transaction() as tx:
        contacts_q.upsert_contacts(
            tx, [Contact(id="c7", provider="ghl", email="adam@retention.com", date_updated=now)], now
        )
    visit = {
        "LinkedIn URL": "https://www.linkedin.com/in/retentionadam/",
        "First Name": "Adam",
        "Business Email": "Adam@Retention.com",
        "Seen At": "2024-01-01T12:34:56:00.00+00.00",
        "Captured URL": "https://rb2b.com/pricing",
        "Employee Count": "11-50",
        "Tags": "Hot Pages, Hot Leads",
    }
    body = json.dumps(visit)
    token = httpx.get(f"{receiver[0]}/_sandbox/credentials").json()["credentials"]["webhook_token"]
    for _ in range(2):
        assert httpx.post(f"{url}/webhooks/rb2b?token={token}", content=body).status_code == 200
    assert httpx.post(f"{url}/webhooks/rb2b?token=wrong", content=body).status_code == 401
    with store.transaction() as tx:
        rows = tx.fetchall(
            "SELECT contact_id, business_email, employee_count_min, employee_count_max, tags, seen_at "
            "FROM visitor_events"
        )
    assert len(rows) == 1
    row = rows[0]
    assert (row["contact_id"], row["business_email"]) == ("c7", "adam@retention.com")
    assert (row["employee_count_min"], row["employee_count_max"]) == (11, 50)
    assert row["tags"] == ["Hot Pages", "Hot Leads"] and row["seen_at"].year == 2024
