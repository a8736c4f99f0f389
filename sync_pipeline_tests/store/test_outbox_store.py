from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sync_pipeline.store import Store
from sync_pipeline.store import outbox as q

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _email(i: int, **kw: object) -> q.NewJob:
    fields = dict(
        action="send_email",
        provider="ghl",
        payload={"n": i},
        idempotency_key=f"k{i}",
        contact_id=f"c{i % 3}",
        to_email=f"p{i}@x.com",
        subject="hi",
        body_html="<p>hi</p>",
    )
    fields.update(kw)
    return q.NewJob(**fields)  # type: ignore[arg-type]


def test_same_idempotency_key_returns_same_job(store: Store) -> None:
    with store.transaction() as tx:
        first, created = q.enqueue(tx, _email(1), T0)
        again, created_again = q.enqueue(tx, _email(1, subject="different"), T0)
        assert (created, created_again) == (True, False)
        assert first == again
        assert tx.scalar("SELECT count(*) FROM outbox") == 1


def test_claim_leases_due_rows_and_respects_send_after(store: Store) -> None:
    with store.transaction() as tx:
        for i in range(5):
            q.enqueue(tx, _email(i), T0)
        q.enqueue(tx, _email(9, send_after=T0 + timedelta(hours=1)), T0)
    rows = q.claim(store, owner="w1", now=T0, lease_until=T0 + timedelta(minutes=1), limit=10)
    assert len(rows) == 5
    assert all(r["status"] == "sending" and r["attempts"] == 1 and not r["outcome_uncertain"] for r in rows)
    assert q.claim(store, owner="w2", now=T0, lease_until=T0 + timedelta(minutes=1), limit=10) == []
    later = q.claim(store, owner="w2", now=T0 + timedelta(hours=2), lease_until=T0 + timedelta(hours=3), limit=10)
    # the scheduled row is due now, and the five leased rows' leases lapsed: reclaimed as uncertain
    assert len(later) == 6
    assert sum(r["outcome_uncertain"] for r in later) == 5


def test_writes_to_one_contact_go_out_in_order(store: Store) -> None:
    with store.transaction() as tx:
        a, _ = q.enqueue(tx, q.NewJob("update_contact", "ghl", {"f": 1}, "u1", contact_id="c1"), T0)
        b, _ = q.enqueue(tx, q.NewJob("add_tags", "ghl", {"t": ["x"]}, "u2", contact_id="c1"), T0)
        c, _ = q.enqueue(tx, q.NewJob("update_contact", "ghl", {"f": 2}, "u3", contact_id="c2"), T0)
    lease = T0 + timedelta(minutes=1)
    first = {r["id"] for r in q.claim(store, owner="w", now=T0, lease_until=lease, limit=10)}
    assert first == {a, c}  # b waits for a
    with store.transaction() as tx:
        q.mark_sent(tx, a, "ref-a", T0)
    assert [r["id"] for r in q.claim(store, owner="w", now=T0, lease_until=lease, limit=10)] == [b]


def test_terminal_transitions_and_dead_replay(store: Store) -> None:
    with store.transaction() as tx:
        ids = [q.enqueue(tx, _email(i), T0)[0] for i in range(3)]
    q.claim(store, owner="w", now=T0, lease_until=T0 + timedelta(minutes=1), limit=10)
    with store.transaction() as tx:
        q.mark_sent(tx, ids[0], "msg-1", T0)
        q.mark_final(tx, ids[1], "dead", "422: invalid recipient", T0)
        q.mark_retry(tx, ids[2], "503", T0 + timedelta(seconds=30), T0, uncertain=True)
        assert q.get_job(tx, ids[0])["provider_ref"] == "msg-1"
        assert q.get_job(tx, ids[1])["last_error"] == "422: invalid recipient"
        assert q.due_count(tx, T0) == 0
        assert q.due_count(tx, T0 + timedelta(minutes=1)) == 1
        assert q.requeue_dead(tx, T0) == 1
        replayed = q.get_job(tx, ids[1])
        assert (replayed["status"], replayed["attempts"]) == ("queued", 0)
        assert [r["id"] for r in q.list_jobs(tx, status="sent")] == [ids[0]]


def test_concurrent_claimers_never_share_a_row(store: Store) -> None:
    with store.transaction() as tx:
        for i in range(200):
            q.enqueue(tx, _email(i, contact_id=None), T0)
    claimed: list[list[str]] = [[], [], [], []]

    def drain(slot: int) -> None:
        while rows := q.claim(store, owner=f"w{slot}", now=T0, lease_until=T0 + timedelta(minutes=5), limit=7):
            claimed[slot].extend(r["id"] for r in rows)

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for part in claimed for i in part]
    assert len(everything) == 200 and len(set(everything)) == 200
