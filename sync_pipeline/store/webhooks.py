"""Queries on the webhook receiver's own tables: replay receipts, quarantine, contact change markers.

(Delivery events update the ``outbox``; their queries live in :mod:`.outbox`.)"""

from __future__ import annotations

from datetime import datetime

from .base import Row, Transaction


def first_receipt(tx: Transaction, source: str, webhook_id: str, now: datetime) -> bool:
    """Record a delivery id; False when it was seen before (a replay or a vendor retry)."""
    if tx.fetchone(
        "SELECT 1 AS seen FROM webhook_receipts WHERE source = :source AND webhook_id = :id",
        {"source": source, "id": webhook_id},
    ):
        return False
    tx.execute(
        "INSERT INTO webhook_receipts (source, webhook_id, received_at) VALUES (:source, :id, :now)",
        {"source": source, "id": webhook_id, "now": now},
    )
    return True


def quarantine(tx: Transaction, source: str, reason: str, body: str, now: datetime) -> None:
    """Keep a delivery we could not accept, verbatim, with the reason (nothing is lost)."""
    tx.execute(
        "INSERT INTO webhook_quarantine (source, received_at, reason, body) VALUES (:source, :now, :reason, :body)",
        {"source": source, "now": now, "reason": reason[:2000], "body": body},
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


def ping(tx: Transaction) -> None:
    """A round trip to the database (health checks)."""
    tx.scalar("SELECT 1")
