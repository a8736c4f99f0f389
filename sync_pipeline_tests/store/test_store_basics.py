from sync_pipeline.store import Store


def test_roundtrip_json_and_timestamps(store: Store) -> None:
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO sync_state (stream, cursor, checkpoint, updated_at) VALUES (:s, :c, :cp, now())",
            {"s": "ghl_contacts", "c": "2026-01-01T00:00:00Z", "cp": {"page": 3, "ids": ["a", "b"]}},
        )
    with store.transaction() as tx:
        row = tx.fetchone("SELECT * FROM sync_state WHERE stream = :s", {"s": "ghl_contacts"})
    assert row is not None
    assert row["checkpoint"] == {"page": 3, "ids": ["a", "b"]}
    assert row["updated_at"].utcoffset().total_seconds() == 0


def test_an_asynchronous_commit_is_committed_and_ends_with_its_transaction(store: Store) -> None:
    """A synced page commits without waiting for the disk flush (Postgres: synchronous_commit off for
    that transaction alone); DuckDB always flushes. Either way it is committed like any other."""
    with store.transaction() as tx:
        tx.asynchronous_commit()
        tx.execute("INSERT INTO sync_state (stream, cursor, updated_at) VALUES ('async', '1', now())")
        if store.dialect == "postgres":
            assert tx.scalar("SHOW synchronous_commit") == "off"
    with store.transaction() as tx:
        assert tx.scalar("SELECT cursor FROM sync_state WHERE stream = 'async'") == "1"
        if store.dialect == "postgres":
            assert tx.scalar("SHOW synchronous_commit") == "on"  # the next transaction waits again
