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


def test_one_page_counts_every_outcome_and_leaves_pending_rows_alone(store: Store) -> None:
    account = Account("ghl")
    with store.transaction() as tx:
        q.upsert_contacts(tx, [_contact(i) for i in range(4)], T0)
        q.soft_delete(tx, account, ["c00001"], T0)
        q.apply_local_change(tx, account, "c00002", {"phone": "+15550002"}, T0)
        page = [
            _contact(0),  # unchanged
            _contact(1),  # deleted here, listed again: undeleted
            _contact(2, phone="+15559999"),  # changed at the CRM while an agent's change is pending
            _contact(3, company_name="Beta"),  # changed
            _contact(4),  # new
            _contact(4),  # a repeat within the page counts once
        ]
        counts = q.upsert_contacts(tx, page, T0 + timedelta(hours=1))
        pending = q.get_contact(tx, account, "c00002")
        undeleted = q.get_contact(tx, account, "c00001")
    assert (counts.inserted, counts.updated, counts.undeleted, counts.unchanged, counts.pending) == (1, 2, 1, 1, 1)
    assert pending is not None and pending["phone"] == "+15550002"  # the agent's change stands
    assert undeleted is not None and undeleted["deleted_at"] is None
    assert undeleted["synced_at"] == T0 + timedelta(hours=1)


def test_a_written_row_holds_every_value_as_given(store: Store) -> None:
    nested = {"nested": {"a": [1, "ü"]}}
    contact = _contact(7, phone=None, tags=(), custom_fields=nested, raw={"id": "c00007", "x": [1]})
    with store.transaction() as tx:
        q.upsert_contacts(tx, [contact], T0)
        row = q.get_contact(tx, Account("ghl"), "c00007")
    assert row is not None
    assert (row["email"], row["phone"], row["tags"], row["custom_fields"]) == (
        "person7@example.com",
        None,
        [],
        nested,
    )
    assert row["raw"] == {"id": "c00007", "x": [1]} and row["date_updated"] == T0 + timedelta(minutes=7)
    assert row["content_hash"] == q.content_hash(row)


def test_a_lookup_by_email_answers_as_the_search_does(store: Store) -> None:
    """By email alone, find_contacts is a point lookup narrowed and sorted in Python (DuckDB keeps its
    index only for a lookup standing alone); with a query beside it, the SQL path. Same answer."""
    shared = "Shared@Example.com"
    stamps = [T0 + timedelta(hours=1), None, T0 + timedelta(hours=1), T0]  # a tie on date, and no date
    contacts = [_contact(i, email=shared, date_updated=stamp) for i, stamp in enumerate(stamps)]
    elsewhere = _contact(9, email=shared, location_id="loc2")
    with store.transaction() as tx:
        q.upsert_contacts(tx, [*contacts, elsewhere, _contact(10, email=shared)], T0)
        q.soft_delete(tx, Account("ghl", "loc1"), ["c00010"], T0)
        by_lookup = q.find_contacts(tx, Account("ghl", "loc1"), email=shared)
        by_search = q.find_contacts(tx, Account("ghl", "loc1"), email=shared, query="ann")
        first_two = q.find_contacts(tx, Account("ghl", "loc1"), email=shared, limit=2)
    assert [r["id"] for r in by_lookup] == ["c00000", "c00002", "c00003", "c00001"]
    assert by_lookup == by_search and first_two == by_lookup[:2]
