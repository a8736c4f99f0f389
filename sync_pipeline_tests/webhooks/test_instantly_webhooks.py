"""Instantly delivery events over real HTTP: token auth, de-duplication, delivery status of sends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest

from sync_pipeline.sandbox.server import ServerThread
from sync_pipeline.settings import Secret, Settings
from sync_pipeline.store import Store
from sync_pipeline.store import outbox as outbox_q
from sync_pipeline.webhooks.app import build_app

TOKEN = "inst-hook-secret"


@pytest.fixture
def receiver(store: Store) -> Iterator[str]:
    settings = replace(Settings.from_env({}), instantly_webhook_token=Secret(TOKEN))
    server = ServerThread(build_app(store, settings), name="webhooks")
    yield server.start()
    server.stop()


def _post(url: str, event: dict | bytes, token: str | None = TOKEN) -> httpx.Response:
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    headers = {"X-Webhook-Token": token} if token else {}
    return httpx.post(f"{url}/webhooks/instantly", content=body, headers=headers)


def _sent_job(store: Store, to: str, key: str) -> str:
    now = datetime.now(UTC)
    with store.transaction() as tx:
        job, _ = outbox_q.enqueue(tx, outbox_q.NewJob("send_email", "instantly", {}, key, to_email=to), now)
        outbox_q.mark_sent(tx, job, f"lead-{key}", now)
    return job


def test_events_update_the_latest_send_to_the_lead(receiver: str, store: Store) -> None:
    _sent_job(store, "ann@acme.com", "k1")
    latest = _sent_job(store, "ann@acme.com", "k2")
    event = {"event_type": "email_bounced", "lead_email": "Ann@Acme.com", "timestamp": "2026-01-01T00:00:00Z"}
    assert _post(receiver, event).json()["detail"] == "email_bounced -> bounced for 1 job(s)"
    assert _post(receiver, event).json()["detail"] == "duplicate delivery ignored"
    with store.transaction() as tx:
        assert outbox_q.get_job(tx, latest)["delivery_status"] == "bounced"


def test_wrong_or_missing_token_is_refused(receiver: str, store: Store) -> None:
    event = {"event_type": "email_sent", "lead_email": "a@b.com"}
    assert _post(receiver, event, token="nope").status_code == 401
    assert _post(receiver, event, token=None).status_code == 401
    assert httpx.post(f"{receiver}/webhooks/instantly?token={TOKEN}", json=event).status_code == 200


def test_malformed_delivery_is_quarantined(receiver: str, store: Store) -> None:
    assert _post(receiver, b"[1, 2").status_code == 200
    assert _post(receiver, {"event_type": "reply_received"}).status_code == 200
    with store.transaction() as tx:
        reasons = [r["reason"] for r in tx.fetchall("SELECT reason FROM webhook_quarantine ORDER BY id")]
    assert reasons[0].startswith("malformed Instantly delivery") and "without a lead_email" in reasons[1]


def test_delivery_events_become_the_contacts_email_activity(receiver: str, store: Store) -> None:
    from sync_pipeline import agent
    from sync_pipeline.records import Contact
    from sync_pipeline.store import contacts as contacts_q

    now = datetime.now(UTC)
    with store.transaction() as tx:
        contacts_q.upsert_contacts(tx, [Contact(id="c9", provider="ghl", email="bo@acme.com", date_updated=now)], now)
    _sent_job(store, "bo@acme.com", "k9")
    _post(receiver, {"event_type": "reply_received", "lead_email": "bo@acme.com"})
    contact = agent.get_contact("c9", store=store, settings=Settings.from_env({}))
    assert contact["last_email_status"] == "replied" and contact["last_email_at"] is not None
