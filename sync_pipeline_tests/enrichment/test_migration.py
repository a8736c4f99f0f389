"""sql/007 on a store that already holds enrichment_cache rows of the 001 shape: they are carried
over (one per key) and read as entries, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sync_pipeline.enrichment import Entry
from sync_pipeline.store import connect
from sync_pipeline.store import enrichment_cache as cache_q
from sync_pipeline.store.migrations import load_migrations, migrate


def test_rows_of_the_old_shape_are_carried_over(db_url: str) -> None:
    store = connect(db_url)
    before = [m for m in load_migrations() if m.version < 7]
    migrate(store, before)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    with store.transaction() as tx:
        for provider, cost in (("clay", 0.25), ("pdl", 0.10)):  # the same person from two enrichers
            tx.execute(
                "INSERT INTO enrichment_cache (provider, key, kind, status, data, cost_usd, fetched_at, expires_at) "
                "VALUES (:provider, 'ada@northwind.com', 'person', 'hit', :data, :cost, :now, :expires)",
                {"provider": provider, "data": {"full_name": "Ada"}, "cost": cost, "now": now,
                 "expires": now + timedelta(days=30)},
            )  # fmt: skip

    migrate(store)

    with store.transaction() as tx:
        rows = cache_q.get_entries(tx, "person", ["ada@northwind.com"])
    entry = Entry.from_row(rows["ada@northwind.com"])
    assert (entry.provider, entry.found, dict(entry.data), entry.cost_usd) == ("clay", True, {"full_name": "Ada"}, 0.25)
    assert entry.expires_at == now + timedelta(days=30)
    store.close()
