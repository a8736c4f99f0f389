"""Visitors tests: a store whose settings point at one GHL location, and helpers that land RB2B
deliveries and seed contacts the way the receiver and the sync would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from sync_pipeline.defs.resources import ProvidersResource, StoreResource
from sync_pipeline.records import Contact
from sync_pipeline.settings import Secret, get_settings
from sync_pipeline.store import Store
from sync_pipeline.store import contacts as contacts_q
from sync_pipeline.store.contacts import Account
from sync_pipeline.webhooks.rb2b import handle_rb2b

LOCATION = "loc-visitors"
ACCOUNT = Account("ghl", LOCATION)
TOKEN = "visitors-token"


@pytest.fixture
def configured(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """``store``, with the process settings (as Dagster resources read them) pointing at it."""
    for key, value in {"SYNC_PIPELINE_DB": store.url, "GHL_LOCATION_ID": LOCATION, "CRM_PROVIDER": "ghl"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("RB2B_CREATE_CONTACTS", raising=False)
    get_settings.cache_clear()
    yield store
    get_settings.cache_clear()


def resources(store: Store) -> dict[str, Any]:
    return {"store": StoreResource(db_url=store.url), "providers": ProvidersResource()}


def visit(linkedin: str | None = None, email: str | None = None, **fields: Any) -> dict[str, Any]:
    """An RB2B payload (Title-Case keys); ``fields`` override by RB2B key with underscores for spaces."""
    payload: dict[str, Any] = {
        "LinkedIn URL": linkedin,
        "Business Email": email,
        "First Name": "Ada" if linkedin or email else None,
        "Last Name": "Lovelace" if linkedin or email else None,
        "Company Name": "Analytical Engines",
        "Website": "https://www.analytical.example",
        "Seen At": "2026-01-05T14:00:00.000Z",
        "Captured URL": "https://vendor.example/pricing",
        "Referrer": "https://www.google.com/",
    }
    payload.update({key.replace("_", " "): value for key, value in fields.items()})
    return payload


def land(store: Store, payload: dict[str, Any] | bytes) -> str:
    """Deliver one body to the RB2B receiver's handler; returns its answer's detail."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    answer = handle_rb2b(store, Secret(TOKEN), body, TOKEN)
    assert answer.status == 200, answer
    return answer.detail


def add_contact(store: Store, contact_id: str, *, location: str = LOCATION, **fields: Any) -> None:
    now = datetime.now(UTC)
    contact = Contact(id=contact_id, provider="ghl", location_id=location, date_updated=now, **fields)
    with store.transaction() as tx:
        contacts_q.upsert_contacts(tx, [contact], now)


def delete_contact(store: Store, contact_id: str) -> None:
    with store.transaction() as tx:
        contacts_q.soft_delete(tx, ACCOUNT, [contact_id], datetime.now(UTC))


def visitor_rows(store: Store) -> list[dict[str, Any]]:
    with store.transaction() as tx:
        return tx.fetchall("SELECT * FROM visitor_days ORDER BY profile_key, visit_day")
