"""GHL deliveries over real HTTP: signatures, replays, quarantine, contact dirty markers, deletes."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from sync_pipeline.records import Contact
from sync_pipeline.sandbox.server import ServerThread
from sync_pipeline.settings import Settings
from sync_pipeline.store import Store
from sync_pipeline.store import contacts as contacts_q
from sync_pipeline.store.contacts import Account
from sync_pipeline.webhooks.app import build_app

KEY = ed25519.Ed25519PrivateKey.generate()
SPKI = base64.b64encode(
    KEY.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
).decode()


@pytest.fixture
def receiver(store: Store) -> Iterator[str]:
    settings = replace(Settings.from_env({}), ghl_webhook_public_key=SPKI)
    server = ServerThread(build_app(store, settings), name="webhooks")
    url = server.start()
    yield url
    server.stop()


def _post(url: str, event: dict, *, key: ed25519.Ed25519PrivateKey = KEY, sign: bool = True) -> httpx.Response:
    body = json.dumps(event).encode()
    headers = {"content-type": "application/json"}
    if sign:
        headers["x-ghl-signature"] = base64.b64encode(key.sign(body)).decode()
    return httpx.post(f"{url}/webhooks/ghl", content=body, headers=headers)


def _event(kind: str, contact_id: str, webhook_id: str, **extra: object) -> dict:
    return {
        "type": kind,
        "locationId": "loc",
        "id": contact_id,
        "webhookId": webhook_id,
        "timestamp": datetime.now(UTC).isoformat(),
        **extra,
    }


def test_signed_contact_events_mark_dirty_and_deletes_apply_at_once(receiver: str, store: Store) -> None:
    now = datetime.now(UTC)
    with store.transaction() as tx:
        contacts_q.upsert_contacts(tx, [Contact(id="c1", provider="ghl", email="a@b.com", date_updated=now)], now)
    assert _post(receiver, _event("ContactUpdate", "c2", "w1")).status_code == 200
    assert _post(receiver, _event("ContactDelete", "c1", "w2")).status_code == 200
    with store.transaction() as tx:
        events = tx.fetchall("SELECT contact_id, event_type FROM contact_events ORDER BY id")
        deleted = contacts_q.get_contact(tx, Account("ghl"), "c1")
    assert [(e["contact_id"], e["event_type"]) for e in events] == [
        ("c2", "ContactUpdate"),
        ("c1", "ContactDelete"),
    ]
    assert deleted is not None and deleted["deleted_at"] is not None


def test_bad_or_missing_signature_is_refused_and_stores_nothing(receiver: str, store: Store) -> None:
    other = ed25519.Ed25519PrivateKey.generate()
    assert _post(receiver, _event("ContactUpdate", "c1", "w1"), key=other).status_code == 401
    assert _post(receiver, _event("ContactUpdate", "c1", "w2"), sign=False).status_code == 401
    with store.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM contact_events") == 0
        assert tx.scalar("SELECT count(*) FROM webhook_quarantine") == 0


def test_replayed_webhook_id_is_applied_once(receiver: str, store: Store) -> None:
    event = _event("ContactUpdate", "c1", "same-id")
    assert _post(receiver, event).status_code == 200
    assert _post(receiver, event).json()["detail"] == "duplicate delivery ignored"
    with store.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM contact_events") == 1


def test_stale_and_malformed_deliveries_are_quarantined_with_reason(receiver: str, store: Store) -> None:
    stale = _event("ContactUpdate", "c1", "w-old", timestamp=(datetime.now(UTC) - timedelta(hours=1)).isoformat())
    assert _post(receiver, stale).status_code == 200
    no_id = {"type": "ContactUpdate", "webhookId": "w3", "timestamp": datetime.now(UTC).isoformat()}
    assert _post(receiver, no_id).status_code == 200
    body = b"not json at all"
    signed = {"x-ghl-signature": base64.b64encode(KEY.sign(body)).decode()}
    assert httpx.post(f"{receiver}/webhooks/ghl", content=body, headers=signed).status_code == 200
    with store.transaction() as tx:
        rows = tx.fetchall("SELECT reason, body FROM webhook_quarantine ORDER BY id")
    assert [r["reason"].split(":")[0] for r in rows] == [
        "stale delivery",
        "ContactUpdate without a contact id",
        "malformed GHL delivery",
    ]
    assert rows[2]["body"] == "not json at all"


def test_message_events_update_delivery_status(receiver: str, store: Store) -> None:
    from sync_pipeline.store import outbox as outbox_q

    now = datetime.now(UTC)
    with store.transaction() as tx:
        job, _ = outbox_q.enqueue(tx, outbox_q.NewJob("send_email", "ghl", {}, "k1", to_email="a@b.com"), now)
        outbox_q.mark_sent(tx, job, "msg-1", now)
    stats = {
        "type": "LCEmailStats",
        "webhookId": "w9",
        "timestamp": now.isoformat(),
        "webhookPayload": {"event": "delivered", "id": "msg-1"},
    }
    assert "delivered for 1 job" in _post(receiver, stats).json()["detail"]
    with store.transaction() as tx:
        assert outbox_q.get_job(tx, job)["delivery_status"] == "delivered"


def test_healthz(receiver: str) -> None:
    assert httpx.get(f"{receiver}/healthz").json()["status"] == "ok"


def test_legacy_rsa_signature_is_accepted_only_where_configured(store: Store) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = (
        rsa_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    body = json.dumps(_event("ContactUpdate", "c-rsa", "w-rsa")).encode()
    headers = {"x-wh-signature": base64.b64encode(rsa_key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()}
    for legacy_key, expected in (("", 401), (pem, 200)):
        settings = replace(Settings.from_env({}), ghl_webhook_public_key=SPKI, ghl_webhook_legacy_rsa_key=legacy_key)
        server = ServerThread(build_app(store, settings), name="webhooks")
        url = server.start()
        try:
            assert httpx.post(f"{url}/webhooks/ghl", content=body, headers=headers).status_code == expected
        finally:
            server.stop()
    with store.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM contact_events WHERE contact_id = 'c-rsa'") == 1
