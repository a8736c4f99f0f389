"""RB2B's sandbox sender against the real receiver over HTTP, then ``rb2b_visitors`` through Dagster:
the expected people and companies, matched where a contact exists, malformed deliveries in the
quarantine with their reasons; with RB2B_CREATE_CONTACTS, one CRM contact per new visitor, ever."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import dagster as dg
import httpx
import pytest

from sync_pipeline.defs.visitors.assets import rb2b_visitors
from sync_pipeline.outbox.run import drain_configured
from sync_pipeline.sandbox import start_sandbox
from sync_pipeline.sandbox.pdl.people import SeededPeople
from sync_pipeline.sandbox.rb2b.payloads import visitor_payload
from sync_pipeline.sandbox.server import ServerThread
from sync_pipeline.settings import Secret, Settings, get_settings
from sync_pipeline.store import Store
from sync_pipeline.webhooks.app import build_app
from sync_pipeline_tests.ghl_deployment import Wired
from sync_pipeline_tests.visitors.conftest import add_contact, resources, visitor_rows

MALFORMED: dict[bytes, str] = {
    b"not json": "body is not JSON",
    b"[1, 2]": "body must be a JSON object",
    json.dumps({"Captured URL": "https://vendor.example/"}).encode(): "no one to identify",
    json.dumps({"Business Email": "x@y.example", "Seen At": "yesterday"}).encode(): "'Seen At' is not a timestamp",
    json.dumps({"Business Email": 42, "Captured URL": "https://vendor.example/"}).encode(): "'Business Email' must be",
}


@dataclass
class Rb2b:
    """The RB2B sender and our receiver, both on loopback."""

    sender: str
    receiver: str
    token: str

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        url = f"{self.sender}/_sandbox/{path}"
        return (httpx.post(url, json=body) if body is not None else httpx.get(url)).raise_for_status().json()

    def send(self, count: int, **config: Any) -> dict[str, Any]:
        self.admin("config", {"target_url": f"{self.receiver}/webhooks/rb2b", "token": self.token, **config})
        return self.admin("rb2b/send", {"count": count})

    def post(self, body: bytes, token: str | None = None) -> int:
        """One delivery straight to the receiver (what the sender does not produce)."""
        url = f"{self.receiver}/webhooks/rb2b"
        return httpx.post(url, params={"token": token or self.token}, content=body).status_code


@pytest.fixture
def rb2b(store: Store) -> Iterator[Rb2b]:
    with start_sandbox(("rb2b",)) as sandbox:
        token = sandbox.credentials["rb2b"]["webhook_token"]
        settings = replace(Settings.from_env({}), rb2b_webhook_token=Secret(token))
        server = ServerThread(build_app(store, settings), name="webhooks")
        try:
            yield Rb2b(sandbox.urls["rb2b"], server.start(), token)
        finally:
            server.stop()


def sent_payloads(indexes: range) -> list[dict[str, Any]]:
    people = SeededPeople(1, miss_rate=0.0)  # what the sandbox started with seed 1 sends
    return [visitor_payload(people, i) for i in indexes]


def materialize(store: Store) -> dict[str, Any]:
    with dg.instance_for_test() as instance:
        result = dg.materialize([rb2b_visitors], instance=instance, resources=resources(store))
    assert result.success
    return {k: v.value for k, v in result.asset_materializations_for_node("rb2b_visitors")[0].metadata.items()}


def test_a_burst_lands_as_people_and_companies_matched_and_quarantined(rb2b: Rb2b, configured: Store) -> None:
    payloads = sent_payloads(range(31))
    add_contact(configured, "c-email", email=payloads[3]["Business Email"].lower())  # sent Title-Cased
    linkedin = payloads[4]["LinkedIn URL"].upper().replace("HTTPS://WWW.", "http://").rstrip("/")
    add_contact(configured, "c-linkedin", email="someone-else@example.com", custom_fields={"cf1": linkedin})

    wrong = rb2b.send(2, token="wrong-token")  # a misconfigured RB2B integration: 401, then disconnected
    assert (wrong["accepted"], wrong["connected"], wrong["disconnected_reason"]) == (0, False, "receiver answered 401")
    rb2b.admin("rb2b/reconnect", {})
    assert rb2b.send(30)["accepted"] == 30  # visitors 1..30 (0 was lost to the wrong token)
    rb2b.admin("reset", {})
    assert rb2b.send(31)["accepted"] == 31  # 0..30 again: 0 is new, the rest are repeats
    repeat = {**payloads[2], "Captured URL": "https://vendor.example/case-studies", "Seen At": "2026-01-05T23:59:00Z"}
    assert rb2b.post(json.dumps(repeat).encode()) == 200  # the same person again, later that day
    assert rb2b.post(json.dumps(repeat).encode(), token="wrong") == 401
    for body in MALFORMED:
        assert rb2b.post(body) == 200  # RB2B disconnects on anything else
    assert rb2b.admin("rb2b/status")["connected"] is True

    meta = materialize(configured)

    people = {p["LinkedIn URL"].lower().rstrip("/").removeprefix("https://www.") for p in payloads if p["LinkedIn URL"]}
    companies = {p["Website"].removeprefix("https://") for p in payloads if not p["LinkedIn URL"]}
    rows = {r["profile_key"]: r for r in visitor_rows(configured)}
    assert set(rows) == {f"person:{p}" for p in people} | {f"company:{c}" for c in companies}
    assert {r["visit_day"] for r in rows.values()} == {"2026-01-05"}
    assert (meta["new_events"], meta["people"], meta["companies"]) == (32, len(people), len(companies))
    assert meta["dagster/row_count"] == len(rows) and meta["quarantined_since_last_run"] == len(MALFORMED)

    def row_of(index: int) -> dict[str, Any]:
        return rows["person:" + payloads[index]["LinkedIn URL"].lower().rstrip("/").removeprefix("https://www.")]

    assert (row_of(3)["contact_id"], row_of(3)["matched_by"]) == ("c-email", "email")
    assert (row_of(4)["contact_id"], row_of(4)["matched_by"]) == ("c-linkedin", "linkedin")
    assert sum(r["contact_id"] is not None for r in rows.values()) == 2 == meta["matched"]
    assert (row_of(2)["visits"], row_of(2)["pages"][-1]) == (2, "https://vendor.example/case-studies")
    assert all(r["visits"] == 1 for key, r in rows.items() if key != row_of(2)["profile_key"])
    with configured.transaction() as tx:
        quarantined = tx.fetchall("SELECT reason, body FROM webhook_quarantine WHERE source = 'rb2b'")
        unmatched = tx.scalar("SELECT count(*) FROM visitors_unmatched")
    assert sorted(q["body"].encode() for q in quarantined) == sorted(MALFORMED)
    for q in quarantined:
        assert MALFORMED[q["body"].encode()] in q["reason"], q
    assert unmatched == len(rows) - 2


def test_unmatched_visitors_become_one_crm_contact_each_ever(
    rb2b: Rb2b, wire: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    wired: Wired = wire(contacts=50)
    monkeypatch.setenv("RB2B_CREATE_CONTACTS", "true")
    get_settings.cache_clear()
    before = wired.sandbox_contacts()
    payloads = sent_payloads(range(10))
    emails = {p["Business Email"].lower() for p in payloads if p["Business Email"]}

    assert rb2b.send(10)["accepted"] == 10
    first = materialize(wired.store)
    drain_configured(wired.store, wired.settings)

    assert first["queued_to_crm"] == len(emails) == 8 and first["tag_jobs_queued"] == 0
    created = _new_contacts(wired, before)
    assert sorted(c["email"] for c in created) == sorted(emails)

    # repeats: the sender again from the start, and a later visit on another page
    rb2b.admin("reset", {})
    assert rb2b.send(10)["accepted"] == 10
    later = {**payloads[0], "Captured URL": "https://vendor.example/demo", "Seen At": "2026-01-06T09:00:00Z"}
    assert rb2b.post(json.dumps(later).encode()) == 200
    second = materialize(wired.store)  # the created contacts are local now: matched, then tagged
    drain_configured(wired.store, wired.settings)
    third = materialize(wired.store)

    assert (second["new_events"], second["queued_to_crm"], second["matched"]) == (1, 0, 1)
    assert second["tag_jobs_queued"] == len(emails) and third["tag_jobs_queued"] == third["queued_to_crm"] == 0
    created = _new_contacts(wired, before)
    assert sorted(c["email"] for c in created) == sorted(emails)
    assert all("rb2b" in c["tags"] for c in created)
    with wired.store.transaction() as tx:
        jobs = tx.fetchall("SELECT action, status, idempotency_key FROM outbox ORDER BY idempotency_key")
        unmatched_people = tx.scalar("SELECT count(*) FROM visitors_unmatched WHERE kind = 'person'")
    assert {(j["action"], j["status"]) for j in jobs} == {("upsert_contact", "sent"), ("add_tags", "sent")}
    assert sorted(j["idempotency_key"] for j in jobs if j["action"] == "upsert_contact") == sorted(
        f"rb2b:create:{e}" for e in emails
    )
    assert unmatched_people == 0


def _new_contacts(wired: Wired, before: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for cid, c in wired.sandbox_contacts().items() if cid not in before]
