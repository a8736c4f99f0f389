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
