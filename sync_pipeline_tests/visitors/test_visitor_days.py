"""Landed RB2B events rolled up per person (or company) and day, and matched to contacts, on both
backends: repeats, late contacts, deleted contacts, other accounts, LinkedIn in custom fields."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sync_pipeline.store import Store, connect, migrate
from sync_pipeline.store.migrations import load_migrations
from sync_pipeline.sync.visitors import domain_of, linkedin_key, linkedin_keys_in, update_visitors
from sync_pipeline_tests.conftest import store_url
from sync_pipeline_tests.visitors.conftest import ACCOUNT, add_contact, delete_contact, land, visit, visitor_rows

ADA = "https://www.linkedin.com/in/Ada-Lovelace/"


def test_linkedin_urls_compare_normalized() -> None:
    for url in (ADA, "http://uk.linkedin.com/in/ada-lovelace?trk=x", "linkedin.com/in/ADA-LOVELACE#top"):
        assert linkedin_key(url) == "linkedin.com/in/ada-lovelace"
    assert linkedin_key("https://www.linkedin.com/company/acme") is None and linkedin_key(None) is None
    fields = '{"Abc123": "https://www.linkedin.com/in/Ada-Lovelace/", "x": "linkedin.com/in/bob%20b"}'
    assert linkedin_keys_in(fields) == ["linkedin.com/in/ada-lovelace", "linkedin.com/in/bob b"]
    assert domain_of("https://www.Acme.com/about") == "acme.com" and domain_of("acme.io") == "acme.io"


def test_one_row_per_person_and_day_with_visits_pages_and_latest_seen(store: Store) -> None:
    land(store, visit(ADA, "Ada@Analytical.example"))
    land(store, visit(ADA, "Ada@Analytical.example"))  # the same body again: landed once
    land(store, visit(ADA, None, Seen_At="2026-01-05T16:30:00Z", Captured_URL="https://vendor.example/demo"))
    land(store, visit(ADA, None, Seen_At="2026-01-05T15:00:00Z", Captured_URL="https://vendor.example/pricing"))
    land(store, visit(ADA, None, Seen_At="2026-01-06T09:00:00Z"))  # next day: a row of its own
    land(store, visit(None, None))  # company-only profile
    land(store, visit(None, None, Seen_At="2026-01-05T18:00:00Z", Website="analytical.example/careers"))

    report = update_visitors(store, ACCOUNT)

    rows = {(r["profile_key"], r["visit_day"]): r for r in visitor_rows(store)}
    assert set(rows) == {
        ("person:linkedin.com/in/ada-lovelace", "2026-01-05"),
        ("person:linkedin.com/in/ada-lovelace", "2026-01-06"),
        ("company:analytical.example", "2026-01-05"),
    }
    ada = rows["person:linkedin.com/in/ada-lovelace", "2026-01-05"]
    assert (ada["kind"], ada["visits"], ada["business_email"]) == ("person", 3, "ada@analytical.example")
    assert ada["pages"] == ["https://vendor.example/pricing", "https://vendor.example/demo"]
    assert ada["last_page"] == "https://vendor.example/demo"
    assert ada["last_seen_at"] == datetime(2026, 1, 5, 16, 30, tzinfo=UTC)
    assert ada["first_seen_at"] == datetime(2026, 1, 5, 14, tzinfo=UTC)
    assert rows["company:analytical.example", "2026-01-05"]["visits"] == 2
    assert (report.new_events, report.people, report.companies, report.total_rows) == (6, 1, 1, 3)

    again = update_visitors(store, ACCOUNT)
    assert (again.new_events, again.people, again.total_rows) == (0, 0, 3)
    assert again.cursor_seq == report.cursor_seq > 0

    land(store, visit(ADA, None, Seen_At="2026-01-05T17:00:00Z", Captured_URL="https://vendor.example/blog"))
    third = update_visitors(store, ACCOUNT)
    ada = {(r["profile_key"], r["visit_day"]): r for r in visitor_rows(store)}[
        "person:linkedin.com/in/ada-lovelace", "2026-01-05"
    ]
    assert (third.new_events, ada["visits"], ada["pages"][-1]) == (1, 4, "https://vendor.example/blog")
    assert third.cursor_seq > report.cursor_seq and len(visitor_rows(store)) == 3


def test_an_event_committed_behind_a_counted_one_is_still_counted(store: Store) -> None:
    land(store, visit(ADA, None))
    first = update_visitors(store, ACCOUNT)
    # Postgres numbers rows at insert, not commit: a slower delivery can commit with a lower seq
    with store.transaction() as tx:
        tx.execute("UPDATE visitor_events SET seq = 1000 WHERE profile_key IS NOT NULL")
    land(store, visit(None, "late@analytical.example"))
    with store.transaction() as tx:
        tx.execute("UPDATE visitor_events SET seq = 5 WHERE profile_key IS NULL")

    second = update_visitors(store, ACCOUNT)

    assert (first.new_events, second.new_events) == (1, 1)
    assert {r["profile_key"] for r in visitor_rows(store)} == {
        "person:linkedin.com/in/ada-lovelace",
        "person:late@analytical.example",
    }


def test_matched_by_email_then_linkedin_and_again_when_contacts_change(store: Store) -> None:
    add_contact(store, "c-email", email="grace@navy.example")
    add_contact(
        store, "c-linkedin", email="other@x.example", custom_fields={"Kx9": "https://linkedin.com/in/ada-lovelace"}
    )
    add_contact(store, "c-elsewhere", email="alan@bletchley.example", location="another-location")
    land(store, visit(None, "Grace@Navy.example", First_Name="Grace"))
    land(store, visit(ADA, "ada@analytical.example"))
    land(store, visit("https://www.linkedin.com/in/alan", "alan@bletchley.example", First_Name="Alan"))
    land(store, visit("https://www.linkedin.com/in/late", "late@analytical.example", First_Name="Late"))

    report = update_visitors(store, ACCOUNT)

    def matches() -> dict[str, tuple[str | None, str | None]]:
        return {r["business_email"]: (r["contact_id"], r["matched_by"]) for r in visitor_rows(store)}

    assert matches() == {
        "grace@navy.example": ("c-email", "email"),
        "ada@analytical.example": ("c-linkedin", "linkedin"),
        "alan@bletchley.example": (None, None),  # that contact belongs to another GHL location
        "late@analytical.example": (None, None),
    }
    assert (report.people, report.matched, report.unmatched, report.newly_matched_rows) == (4, 2, 2, 2)
    with store.transaction() as tx:
        unmatched = tx.fetchall("SELECT business_email FROM visitors_unmatched ORDER BY business_email")
    assert [r["business_email"] for r in unmatched] == ["alan@bletchley.example", "late@analytical.example"]

    add_contact(store, "c-late", email="late@analytical.example")  # synced after the visit
    delete_contact(store, "c-email")
    later = update_visitors(store, ACCOUNT)

    assert matches()["late@analytical.example"] == ("c-late", "email")
    assert matches()["grace@navy.example"] == (None, None)
    assert (later.new_events, later.newly_matched_rows, later.stale_matches_dropped) == (0, 1, 1)


def test_rows_landed_before_the_migration_get_a_sequence_number(backend: str, tmp_path: Path) -> None:
    urls = store_url(backend, tmp_path)
    store = connect(next(urls))
    try:
        migrations = load_migrations()
        migrate(store, [m for m in migrations if m.version < 6])
        for n in range(3):
            land(store, visit(None, f"early{n}@analytical.example"))
        migrate(store)
        land(store, visit(None, "after@analytical.example"))
        with store.transaction() as tx:
            seqs = {
                r["business_email"]: r["seq"] for r in tx.fetchall("SELECT business_email, seq FROM visitor_events")
            }
        early = [seqs[f"early{n}@analytical.example"] for n in range(3)]
        assert None not in early and len(set(early)) == 3
        assert seqs["after@analytical.example"] > max(early)
        assert update_visitors(store, ACCOUNT).new_events == 4
    finally:
        store.close()
        urls.close()
