"""Queries on ``visitor_events``: every accepted RB2B delivery, raw and normalized."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..records import Visitor
from .base import Transaction, in_list
from .contacts import Account

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

_STORED = ("event_id", "source", "received_at", *VISITOR_COLUMNS, "tags", "contact_id", "raw")
_INSERT = f"INSERT INTO visitor_events ({', '.join(_STORED)}) VALUES ({', '.join(':' + c for c in _STORED)})"


@dataclass(frozen=True)
class Visit:
    """One delivery to land: its id (a digest of the body), where it came from, the visitor, when."""

    event_id: str
    source: str
    visitor: Visitor
    received_at: datetime


def land_visits(tx: Transaction, visits: Sequence[Visit], account: Account) -> list[bool]:
    """Store each visit not stored before, matched to a live contact of ``account`` by business email.

    One query finds the ids already stored and the contacts, one inserts the rest; a repeat within
    ``visits`` lands once too. Returns, for each visit, whether it landed (False: stored before).
    """
    known, contact_by_email = _lookup(
        tx, account, [v.event_id for v in visits], [v.visitor.business_email for v in visits]
    )
    landed, rows = [], []
    for visit in visits:
        landed.append(visit.event_id not in known)
        if landed[-1]:
            known.add(visit.event_id)
            rows.append(_row(visit, contact_by_email.get(visit.visitor.business_email or "")))
    tx.executemany(_INSERT, rows)
    return landed


def _lookup(
    tx: Transaction, account: Account, event_ids: Sequence[str], emails: Sequence[str | None]
) -> tuple[set[str], dict[str, Any]]:
    """Which of ``event_ids`` are stored, and the most recently updated live contact of ``account``
    for each (lower-cased) email — in one round trip: a statement costs DuckDB about a millisecond."""
    ids_sql, ids = in_list("id", sorted(set(event_ids)))
    emails_sql, addresses = in_list("email", sorted({e for e in emails if e}))
    rows = tx.fetchall(
        "SELECT 'event' AS kind, event_id AS key, NULL AS contact_id, NULL AS updated FROM visitor_events "
        f"WHERE event_id IN {ids_sql} "
        "UNION ALL SELECT 'contact' AS kind, email AS key, id AS contact_id, date_updated AS updated FROM contacts "
        f"WHERE {account.where()} AND deleted_at IS NULL AND email IN {emails_sql} "
        "ORDER BY updated DESC NULLS LAST, contact_id",
        {**ids, **addresses, **account.params()},
    )
    contact_by_email: dict[str, Any] = {}
    for row in rows:
        if row["kind"] == "contact":
            contact_by_email.setdefault(row["key"], row["contact_id"])
    return {r["key"] for r in rows if r["kind"] == "event"}, contact_by_email


def _row(visit: Visit, contact_id: Any) -> dict[str, Any]:
    visitor = visit.visitor
    return {
        **{column: getattr(visitor, column) for column in VISITOR_COLUMNS},
        "event_id": visit.event_id,
        "source": visit.source,
        "received_at": visit.received_at,
        "tags": list(visitor.tags),
        "contact_id": contact_id,
        "raw": dict(visitor.raw),
    }


def count_events(tx: Transaction) -> int:
    """How many deliveries ``visitor_events`` holds."""
    return int(tx.scalar("SELECT count(*) FROM visitor_events") or 0)
