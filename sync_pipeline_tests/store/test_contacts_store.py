from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sync_pipeline.records import Contact
from sync_pipeline.store import Store
from sync_pipeline.store import contacts as q
from sync_pipeline.store.contacts import Account

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _contact(i: int, **changes: object) -> Contact:
    base = Contact(
        id=f"c{i:05d}",
        provider="ghl",
        email=f"Person{i}@Example.com",
        first_name=f"Ann{i}",
        last_name="Lee",
        company_name="Acme_100%",
        tags=("hot lead", f"t{i % 3}"),
        custom_fields={"score": i},
        location_id="loc1",
        date_added=T0,
        date_updated=T0 + timedelta(minutes=i),
        raw={"id": f"c{i:05d}"},
    )
    return replace(base, **changes)


def test_upsert_counts_by_outcome_and_skips_unchanged(store: Store) -> None:
    with store.transaction() as tx:
        first = q.upsert_contacts(tx, [_contact(i) for i in range(1200)], T0)
    assert (first.inserted, first.updated, first.unchanged) == (1200, 0, 0)
    changed = [_contact(i, phone="+15550001") if i % 100 == 0 else _contact(i) for i in range(1200)]
    with store.transaction() as tx:
        second = q.upsert_contacts(tx, [*changed, _contact(5000)], T0 + timedelta(hours=1))
        row = q.get_contact(tx, Account("ghl"), "c00100")
        untouched = q.get_contact(tx, Account("ghl"), "c00101")
    assert (second.inserted, second.updated, second.unchanged) == (1, 12, 1188)
    assert row is not None and row["phone"] == "+15550001" and row["email"] == "person100@example.com"
    assert untouched is not None and untouched["synced_at"] == T0  # unchanged rows are not rewritten


def test_soft_delete_and_undelete_on_reappearance(store: Store) -> None:
    with store.transaction() as tx:
        q.upsert_contacts(tx, [_contact(i) for i in range(5)], T0)
        assert q.soft_delete(tx, Account("ghl"), ["c00001", "c00002", "missing"], T0) == 2
        assert q.soft_delete(tx, Account("ghl"), ["c00001"], T0) == 0
        assert q.live_ids(tx, Account("ghl")) == {"c00000", "c00003", "c00004"}
        again = q.upsert_contacts(tx, [_contact(1)], T0)
        assert again.undeleted == 1
        assert "c00001" in q.live_ids(tx, Account("ghl"))


def test_agent_reads_by_email_query_and_tag(store: Store) -> None:
    with store.transaction() as tx:
        q.upsert_contacts(tx, [_contact(i) for i in range(30)], T0)
        q.soft_delete(tx, Account("ghl"), ["c00003"], T0)
        assert [r["id"] for r in q.find_contacts(tx, Account("ghl"), email=" PERSON7@example.COM ")] == ["c00007"]
        assert q.find_contacts(tx, Account("ghl"), email="person3@example.com") == []  # deleted rows are hidden
        by_name = q.find_contacts(tx, Account("ghl"), query="ann2")
        assert {r["id"] for r in by_name} == {f"c{i:05d}" for i in (2, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29)}
        assert len(q.find_contacts(tx, Account("ghl"), query="acme_100%")) == 29
        assert q.find_contacts(tx, Account("ghl"), query="acmex100") == []  # _ is not a wildcard
        tagged = q.find_contacts(tx, Account("ghl"), tag="t1", limit=100)
        assert {r["id"] for r in tagged} == {f"c{i:05d}" for i in range(30) if i % 3 == 1}
        assert q.find_contacts(tx, Account("ghl"), tag="hot") == []  # whole tags only
        assert len(q.find_contacts(tx, Account("ghl"), tag="hot lead", limit=5)) == 5
