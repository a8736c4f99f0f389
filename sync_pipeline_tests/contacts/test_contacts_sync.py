"""Incremental contact sync against the GHL sandbox over real HTTP, on DuckDB and Postgres."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sync_pipeline.sandbox import FaultConfig, SandboxConfig
from sync_pipeline.store import contacts as contacts_q
from sync_pipeline.store.contacts import Account
from sync_pipeline.sync import reconcile
from sync_pipeline.sync.reconcile import reconcile_deletions
from sync_pipeline_tests.ghl_deployment import Wired, sync_with


def local_live(wired: Wired) -> dict[str, dict[str, Any]]:
    with wired.store.transaction() as tx:
        rows = tx.fetchall(
            "SELECT * FROM contacts WHERE provider = 'ghl' AND location_id = :location AND deleted_at IS NULL",
            {"location": wired.settings.ghl_location_id},
        )
    return {r["id"]: r for r in rows}


def assert_converged(wired: Wired) -> None:
    """Local live rows equal the sandbox's contacts: same ids, same fields."""
    remote = wired.sandbox_contacts()
    local = local_live(wired)
    assert set(local) == set(remote)
    for contact_id, vendor in remote.items():
        row = local[contact_id]
        assert row["email"] == (vendor.get("email") or "").lower() or (row["email"] is None and not vendor.get("email"))
        assert (row["first_name"], row["last_name"]) == (vendor.get("firstName"), vendor.get("lastName"))
        assert row["phone"] == vendor.get("phone")
        assert row["company_name"] == vendor.get("companyName")
        assert row["tags"] == vendor.get("tags", [])
        assert (
            row["date_updated"].isoformat().replace("+00:00", "") == vendor["dateUpdated"].replace("Z", "")[:26]
            or abs(row["date_updated"].timestamp() * 1000 - _ms(vendor["dateUpdated"])) < 1
        )


def _ms(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


def test_full_then_incremental_sync_converges_with_far_fewer_calls(wire) -> None:
    wired = wire(contacts=2500)
    full, full_api = sync_with(wired, page_size=100)
    assert full.mode == "full" and full.counts.inserted == 2500
    assert 0 < full.slowest_write_s <= full.writing_s < full.duration_s  # where the time went, for the UI
    assert_converged(wired)

    ids = sorted(local_live(wired))
    wired.sandbox.admin(
        "contacts/mutate",
        {
            "updates": [{"id": ids[0], "phone": "+15550009999"}, {"id": ids[1], "tags": ["vip"]}],
            "random_updates": 10,
            "creates": [{"firstName": "New", "lastName": "Person", "email": "New.Person@Example.com"}],
            "deletes": [ids[2]],
        },
    )
    wired.sandbox.admin("contacts/mutate", {"deletes": [ids[3]], "emit_webhooks": False})
    incremental, inc_api = sync_with(wired, page_size=100)
    assert incremental.mode == "incremental"
    assert incremental.counts.inserted == 1 and incremental.counts.updated >= 2
    assert inc_api.calls <= 2 and full_api.calls >= 25  # one page instead of 25
    # deletes are not in an incremental listing: webhooks (tested elsewhere) or reconciliation find them
    crm = wired.crm()
    report = reconcile_deletions(wired.store, crm)
    crm.close()
    assert report.deleted == 2
    assert_converged(wired)

    again, again_api = sync_with(wired, page_size=100)
    assert again.counts.inserted == again.counts.updated == 0 and again_api.calls == 1


def test_reconciliation_pages_through_local_ids_and_compares_them_whole(wire, monkeypatch) -> None:
    wired = wire(contacts=60)
    sync_with(wired, page_size=25)
    listed = sorted(local_live(wired))
    # Rows the CRM never had: one extends a listed id (a comparison at the listing's width would
    # take it for that id), one is shorter than every listed id.
    strays = [listed[0] + "-old", "z"]
    with wired.store.transaction() as tx:
        for stray in strays:
            tx.execute(
                "INSERT INTO contacts (provider, id, location_id, synced_at, content_hash) "
                "VALUES ('ghl', :id, :location, :at, 'h')",
                {"id": stray, "location": wired.settings.ghl_location_id, "at": datetime(2026, 1, 1, tzinfo=UTC)},
            )
    monkeypatch.setattr(reconcile, "_LOCAL_PAGE", 7)  # 62 local rows: nine pages
    crm = wired.crm()
    try:
        report = reconcile_deletions(wired.store, crm, page_size=25)
    finally:
        crm.close()
    assert (report.crm_ids, report.local_live_before, report.deleted) == (60, 62, 2)
    assert sorted(local_live(wired)) == listed


def test_reconciliation_deletes_nothing_when_the_listing_fails(wire) -> None:
    wired = wire(contacts=1200)
    sync_with(wired, page_size=500)
    ids = sorted(local_live(wired))
    wired.sandbox.admin("contacts/mutate", {"deletes": ids[:5], "emit_webhooks": False})
    wired.sandbox.admin("faults", {"error_next": 50, "error_status": 500})  # listing cannot finish
    crm = wired.crm()
    try:
        reconcile_deletions(wired.store, crm, page_size=100)
        raise AssertionError("reconciliation should have failed")
    except Exception as exc:  # the transport gives up with a TransientVendorError
        assert "500" in str(exc) or "Transient" in type(exc).__name__
    finally:
        crm.close()
    assert len(local_live(wired)) == 1200  # a partial listing deleted nothing


def test_sync_rides_out_vendor_faults_and_stays_exact(wire) -> None:
    faults = FaultConfig(error_rate=0.08, drop_rate=0.05, timeout_rate=0.04, timeout_s=0.3, burst_429=3)
    wired = wire(contacts=1500, config=SandboxConfig(faults=faults))
    report, api = sync_with(wired, page_size=100)
    wired.sandbox.admin("faults", {"error_rate": 0, "drop_rate": 0, "timeout_rate": 0})
    assert report.counts.inserted == 1500
    assert api.retries > 0  # faults really happened and were ridden out
    assert_converged(wired)


def test_pending_agent_change_is_not_overwritten_by_a_sync(wire) -> None:
    from sync_pipeline import agent

    wired = wire(contacts=300)
    sync_with(wired, page_size=500)
    target = sorted(local_live(wired))[0]
    agent.update_contact(target, first_name="AgentWrote", store=wired.store, settings=wired.settings)
    sync_with(wired, full=True, page_size=500)
    assert agent.get_contact(target, store=wired.store, settings=wired.settings)["first_name"] == "AgentWrote"


def test_read_through_refreshes_one_stale_contact(wire) -> None:
    from datetime import timedelta

    from sync_pipeline import agent

    wired = wire(contacts=300)
    sync_with(wired, page_size=500)
    target = sorted(local_live(wired))[0]
    wired.sandbox.admin(
        "contacts/mutate", {"updates": [{"id": target, "firstName": "Changed"}], "emit_webhooks": False}
    )
    kw = {"store": wired.store, "settings": wired.settings}
    assert agent.get_contact(target, **kw)["first_name"] != "Changed"  # local answer, no call
    time.sleep(0.05)
    fresh = agent.get_contact(target, max_age=timedelta(milliseconds=10), **kw)
    assert fresh["first_name"] == "Changed"
    assert agent.get_contact(target, max_age=timedelta(minutes=5), **kw)["first_name"] == "Changed"
    with wired.store.transaction() as tx:
        calls = tx.scalar("SELECT count(*) FROM api_calls WHERE endpoint = '/contacts/{contactId}'")
    assert calls == 1  # the second read was fresh enough: no call
    wired.sandbox.admin("contacts/mutate", {"deletes": [target], "emit_webhooks": False})
    time.sleep(0.05)
    assert agent.get_contact(target, max_age=timedelta(milliseconds=10), **kw) is None
    with wired.store.transaction() as tx:
        assert contacts_q.get_contact(tx, Account("ghl"), target)["deleted_at"] is not None


def test_a_contact_read_through_is_not_rewritten_by_the_next_sync(wire) -> None:
    from datetime import timedelta

    from sync_pipeline import agent

    wired = wire(contacts=300)
    sync_with(wired, page_size=500)
    target = sorted(local_live(wired))[0]
    kw = {"store": wired.store, "settings": wired.settings}
    time.sleep(0.05)
    agent.get_contact(target, max_age=timedelta(milliseconds=10), **kw)  # GHL's GET shape, not search's

    again, _ = sync_with(wired, full=True, page_size=500)
    assert (again.counts.updated, again.counts.unchanged) == (0, 300)


def test_a_sync_that_writes_many_rows_refreshes_the_planners_statistics(wire) -> None:
    """Right after a bulk sync, Postgres's stale statistics picked a slow plan for find-by-email;
    a sync that wrote at least REFRESH_STATISTICS_AFTER_ROWS analyzes the table itself."""
    wired = wire(contacts=1200)
    report, _ = sync_with(wired, page_size=500)
    assert report.counts.inserted == 1200
    if wired.store.dialect != "postgres":
        return  # DuckDB keeps its statistics as it writes
    with wired.store.transaction() as tx:
        analyzed = tx.scalar(
            "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables "
            "WHERE relname = 'contacts' AND schemaname = current_schema()"
        )
    assert analyzed


def test_pages_that_pile_up_behind_a_slow_writer_are_stored_together_and_converge(wire, monkeypatch) -> None:
    """Grouped writes keep the sync exact: the cursor, the newest change seen and every row."""
    from sync_pipeline.sync import contacts as contacts_sync

    wired = wire(contacts=3_000)
    sync_with(wired, page_size=100)  # 3,000 rows in the table: groups of up to 15 pages below
    monkeypatch.setattr(contacts_sync, "TABLE_ROWS_PER_WRITTEN_ROW", 2)
    wired.sandbox.admin("contacts/mutate", {"random_updates": 600})
    # The writer pauses every ten pages (its progress report is slow), so pages queue up meanwhile.
    report, _ = sync_with(wired, page_size=100, full=True, progress=lambda _: time.sleep(0.3))
    assert report.pages >= 31 and 1 < report.writes < report.pages
    # Random updates may pick a contact twice; each changed contact is rewritten, the rest left alone.
    assert 500 < report.counts.updated <= 600 and report.counts.inserted == 0
    assert_converged(wired)
    with wired.store.transaction() as tx:
        state = contacts_q_state(tx, wired)
    assert state.checkpoint is None and state.cursor == report.cursor_after


def contacts_q_state(tx, wired: Wired):
    from sync_pipeline.store import sync_state as state_q

    return state_q.load(tx, Account.configured(wired.settings).stream)


def test_reconciliation_counts_an_id_the_listing_repeats_once_and_keeps_its_contact(wire) -> None:
    """A listing may repeat ids (a provider paging by a key that moves): each is one CRM contact."""
    from dataclasses import replace

    wired = wire(contacts=300)
    sync_with(wired, page_size=100)
    gone = sorted(local_live(wired))[:3]
    wired.sandbox.admin("contacts/mutate", {"deletes": gone, "emit_webhooks": False})
    crm = wired.crm()
    list_ids = crm.list_ids

    def repeating(cursor=None, *, page_size=500):  # every page lists its first id twice
        page = list_ids(cursor, page_size=page_size)
        return replace(page, ids=[*page.ids, *page.ids[:1]])

    crm.list_ids = repeating  # type: ignore[method-assign]
    try:
        report = reconcile_deletions(wired.store, crm, page_size=50)
    finally:
        crm.close()
    assert (report.crm_ids, report.deleted) == (297, 3)
    assert set(local_live(wired)) == set(wired.sandbox_contacts())


def test_every_page_write_commits_asynchronously(wire, monkeypatch) -> None:
    """A page and its checkpoint are one transaction, so a page lost to a database crash right after
    its commit is the page the next run fetches again (test_sync_resume): its commit need not wait
    for the disk flush."""
    wired = wire(contacts=300)
    with wired.store.transaction() as tx:
        transaction_class = type(tx)
    asked = []
    original = transaction_class.asynchronous_commit
    monkeypatch.setattr(transaction_class, "asynchronous_commit", lambda tx: (asked.append(tx), original(tx))[1])
    report, _ = sync_with(wired, page_size=100)
    assert report.counts.inserted == 300 and len(asked) == report.writes >= 3
    assert_converged(wired)
