"""Queries on ``visitor_events``: every accepted RB2B delivery, raw and normalized."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from ..records import Visitor
from .base import Transaction

# The normalized visitor fields of an event (its readers, e.g. visitor_days, select them too).
VISITOR_COLUMNS = (
    "linkedin_url",
    "business_email",
    "first_name",
    "last_name",
    "title",
    "company_name",
    "website",
    "industry",
    "employee_count",
    "employee_count_min",
    "employee_count_max",
    "estimate_revenue",
    "city",
    "state",
    "zipcode",
    "seen_at",
    "captured_url",
    "referrer",
    "is_repeat_visit",
)


def land_visitor(tx: Transaction, event_id: str, source: str, visitor: Visitor, now: datetime) -> bool:
    """Store one visit (matched to a live contact by business email); False if it was stored before."""
    if tx.fetchone("SELECT 1 AS seen FROM visitor_events WHERE event_id = :id", {"id": event_id}):
        return False
    values: dict[str, Any] = {k: v for k, v in asdict(visitor).items() if k in VISITOR_COLUMNS}
    contact_id = None
    if visitor.business_email:
        contact_id = tx.scalar(
            "SELECT id FROM contacts WHERE email = :email AND deleted_at IS NULL ORDER BY date_updated DESC LIMIT 1",
            {"email": visitor.business_email},
        )
    columns = ", ".join(VISITOR_COLUMNS)
    tx.execute(
        f"INSERT INTO visitor_events (event_id, source, received_at, {columns}, tags, contact_id, raw) "
        f"VALUES (:event_id, :source, :now, {', '.join(':' + c for c in VISITOR_COLUMNS)}, :tags, :contact_id, :raw)",
        {
            **values,
            "event_id": event_id,
            "source": source,
            "now": now,
            "tags": list(visitor.tags),
            "contact_id": contact_id,
            "raw": dict(visitor.raw),
        },
    )
    return True
