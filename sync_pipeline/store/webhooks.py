"""Queries on the webhook receiver's own tables: replay receipts, quarantine, contact change markers.

(Delivery events update the ``outbox``; their queries live in :mod:`.outbox`.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from .base import Row, Transaction, in_list


@dataclass(frozen=True)
class Receipt:
    """A delivery's id at its vendor (or a digest of its body) and when it arrived."""

    webhook_id: str
    received_at: datetime


def first_receipts(tx: Transaction, source: str, receipts: Sequence[Receipt]) -> list[bool]:
    """Record delivery ids; for each, False when it was seen before — a replay, a vendor retry, or
    the same id earlier in ``receipts`` (one query reads the known ids, one inserts the new)."""
    ids_sql, params = in_list("id", sorted({r.webhook_id for r in receipts}))
    seen = {
        r["webhook_id"]
        for r in tx.fetchall(
            f"SELECT webhook_id FROM webhook_receipts WHERE source = :source AND webhook_id IN {ids_sql}",
            {**params, "source": source},
        )
    }
    first, new = [], []
    for receipt in receipts:
        first.append(receipt.webhook_id not in seen)
        if first[-1]:
            seen.add(receipt.webhook_id)
            new.append({"source": source, "id": receipt.webhook_id, "now": receipt.received_at})
    tx.executemany("INSERT INTO webhook_receipts (source, webhook_id, received_at) VALUES (:source, :id, :now)", new)
    return first


@dataclass(frozen=True)
class Quarantined:
    """A delivery we could not accept, verbatim, with the reason."""

    source: str
    reason: str
    body: str
    received_at: datetime


def quarantine(tx: Transaction, deliveries: Sequence[Quarantined]) -> None:
    """Keep deliveries we could not accept, with the reason (nothing is lost), in one statement."""
    tx.executemany(
        "INSERT INTO webhook_quarantine (source, received_at, reason, body) VALUES (:source, :now, :reason, :body)",
        [{"source": d.source, "now": d.received_at, "reason": d.reason[:2000], "body": d.body} for d in deliveries],
    )


def record_contact_event(tx: Transaction, provider: str, contact_id: str, event_type: str, now: datetime) -> None:
    tx.execute(
        "INSERT INTO contact_events (provider, contact_id, event_type, received_at) "
        "VALUES (:provider, :contact_id, :event_type, :now)",
        {"provider": provider, "contact_id": contact_id, "event_type": event_type, "now": now},
    )


def unprocessed_contact_events(tx: Transaction, provider: str) -> tuple[int, int | None]:
    """How many change markers wait for a sync, and the newest one's id (for run keys)."""
    row = tx.fetchone(
        "SELECT count(*) AS n, max(id) AS newest FROM contact_events "
        "WHERE provider = :provider AND processed_at IS NULL",
        {"provider": provider},
    )
    return (int(row["n"]), row["newest"]) if row else (0, None)


def mark_contact_events_processed(tx: Transaction, provider: str, received_before: datetime, now: datetime) -> int:
    """A sync that started at ``received_before`` covered every change reported before it."""
    return tx.execute(
        "UPDATE contact_events SET processed_at = :now "
        "WHERE provider = :provider AND processed_at IS NULL AND received_at < :before",
        {"provider": provider, "before": received_before, "now": now},
    )


def quarantine_since(tx: Transaction, since: datetime) -> list[Row]:
    """Quarantined deliveries since ``since`` by source and reason: ``source``, ``reason``, ``n``, ``latest``."""
    return tx.fetchall(
        "SELECT source, reason, count(*) AS n, max(received_at) AS latest FROM webhook_quarantine "
        "WHERE received_at >= :since GROUP BY source, reason ORDER BY n DESC, source, reason LIMIT 20",
        {"since": since},
    )


def quarantine_count(
    tx: Transaction, *, source: str | None = None, after_id: int = 0, since: datetime | None = None
) -> tuple[int, int]:
    """How many deliveries (of ``source``, or all) were quarantined after row ``after_id`` and since
    ``since``, and the newest row id among them (``after_id`` when none)."""
    where = ["id > :after"]
    if source is not None:
        where.append("source = :source")
    if since is not None:
        where.append("received_at >= :since")
    row = tx.fetchone(
        f"SELECT count(*) AS n, max(id) AS newest FROM webhook_quarantine WHERE {' AND '.join(where)}",
        {"source": source, "after": after_id, "since": since},
    )
    return (int(row["n"]), int(row["newest"] or after_id)) if row else (0, after_id)


def ping(tx: Transaction) -> None:
    """A round trip to the database (health checks)."""
    tx.scalar("SELECT 1")
