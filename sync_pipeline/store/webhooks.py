"""Queries behind the webhook receiver: replay receipts, quarantine, contact change markers,
delivery status of sent jobs."""

from __future__ import annotations

from datetime import datetime

from .base import Transaction


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


def record_delivery(tx: Transaction, provider: str, provider_ref: str, status: str, now: datetime) -> int:
    """A vendor reported what became of a sent message; return how many jobs matched."""
    job = tx.scalar(
        "SELECT id FROM outbox WHERE provider = :provider AND provider_ref = :ref",
        {"provider": provider, "ref": provider_ref},
    )
    return 0 if job is None else _deliver(tx, str(job), status, now)


def record_delivery_to(tx: Transaction, provider: str, to_email: str, status: str, now: datetime) -> int:
    """Like :func:`record_delivery`, for vendors whose events name the recipient, not the message:
    the latest email sent to that address takes the status."""
    latest = tx.scalar(
        "SELECT id FROM outbox WHERE provider = :provider AND to_email = :to AND status = 'sent' "
        "ORDER BY done_at DESC LIMIT 1",
        {"provider": provider, "to": to_email},
    )
    return 0 if latest is None else _deliver(tx, str(latest), status, now)


def _deliver(tx: Transaction, job_id: str, status: str, now: datetime) -> int:
    """Set the job's delivery status and its contact's latest email activity."""
    tx.execute(
        "UPDATE outbox SET delivery_status = :status, delivery_updated_at = :now WHERE id = :id",
        {"status": status, "now": now, "id": job_id},
    )
    tx.execute(
        "UPDATE contacts SET last_email_status = :status, last_email_at = :now "
        "WHERE (id = (SELECT contact_id FROM outbox WHERE id = :id) "
        "       OR email = (SELECT to_email FROM outbox WHERE id = :id)) AND deleted_at IS NULL",
        {"status": status, "now": now, "id": job_id},
    )
    return 1
