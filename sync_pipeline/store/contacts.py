"""Queries on the ``contacts`` table: upsert by content hash, soft delete, agent reads.

Functions take an open :class:`Transaction` so callers can write rows and their sync checkpoint
atomically (an interrupted sync then resumes exactly after the last page it stored).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from ..records import Contact
from .base import Row, Transaction, in_list

# Columns an agent's queued change may touch (and a rejected change may put back).
_RESTORABLE = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "company_name",
    "custom_fields",
    "tags",
    "deleted_at",
)

# A page of ids per statement keeps parameter lists and transactions short.
_CHUNK = 500


@dataclass
class UpsertCounts:
    """What one upsert did, by outcome (reported as Dagster metadata)."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    undeleted: int = 0
    pending: int = 0  # left alone: an agent's queued change is applied locally, awaiting the vendor

    def add(self, other: UpsertCounts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.undeleted += other.undeleted
        self.pending += other.pending


# Columns that say what a contact is; equal values mean nothing to write. ``raw`` is not among
# them: GHL's search hits and ``GET /contacts/{id}`` shape one unchanged contact differently, and
# any change on the vendor's side moves ``date_updated``, which is.
CONTENT_COLUMNS = (
    "location_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "company_name",
    "tags",
    "custom_fields",
    "date_added",
    "date_updated",
)


def content_hash(row: dict[str, Any]) -> str:
    """A stable digest of a contact row's content columns."""
    content = orjson.dumps({k: row[k] for k in CONTENT_COLUMNS}, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(content).hexdigest()


def raw_text(contact: Contact) -> str:
    """The vendor's record as canonical JSON text (sorted keys), as stored in ``raw``.

    orjson, not the standard library: encoding every contact twice was most of a sync's CPU.
    """
    return orjson.dumps(contact.raw, option=orjson.OPT_SORT_KEYS, default=str).decode()


_INSERT = """
INSERT INTO contacts (provider, id, location_id, email, phone, first_name, last_name, company_name, tags,
                      custom_fields, date_added, date_updated, deleted_at, synced_at, content_hash, raw)
VALUES (:provider, :id, :location_id, :email, :phone, :first_name, :last_name, :company_name, :tags,
        :custom_fields, :date_added, :date_updated, NULL, :synced_at, :content_hash, :raw)
"""

_UPDATE = """
UPDATE contacts SET location_id = :location_id, email = :email, phone = :phone, first_name = :first_name,
       last_name = :last_name, company_name = :company_name, tags = :tags, custom_fields = :custom_fields,
       date_added = :date_added, date_updated = :date_updated, deleted_at = NULL, synced_at = :synced_at,
       content_hash = :content_hash, raw = :raw
WHERE provider = :provider AND id = :id
"""


def upsert_contacts(tx: Transaction, contacts: Sequence[Contact], synced_at: datetime) -> UpsertCounts:
    """Insert new contacts, rewrite changed ones, leave unchanged ones alone (by content hash).

    Rows with an agent's change pending are left alone too: the sync must not undo what the agent
    just wrote; the outbox refreshes them when the vendor confirms.
    Later duplicates of an id in ``contacts`` win, so an overlap window may repeat contacts freely.
    """
    latest = {c.id: c for c in contacts}
    counts = UpsertCounts()
    items = list(latest.values())
    for start in range(0, len(items), _CHUNK):
        chunk = items[start : start + _CHUNK]
        known = _existing(tx, chunk[0].provider, [c.id for c in chunk])
        inserts, updates = [], []
        for contact in chunk:
            row = _row(contact, synced_at)
            previous = known.get(contact.id)
            if previous is None:
                inserts.append(row)
            elif previous["pending_since"] is not None:
                counts.pending += 1
            elif previous["content_hash"] != row["content_hash"] or previous["deleted_at"] is not None:
                updates.append(row)
                counts.undeleted += previous["deleted_at"] is not None
            else:
                counts.unchanged += 1
        tx.executemany(_INSERT, inserts)
        tx.executemany(_UPDATE, updates)
        counts.inserted += len(inserts)
        counts.updated += len(updates)
    return counts


def _existing(tx: Transaction, provider: str, ids: Sequence[str]) -> dict[str, Row]:
    clause, params = in_list("id", ids)
    rows = tx.fetchall(
        "SELECT id, content_hash, deleted_at, pending_since FROM contacts "
        f"WHERE provider = :provider AND id IN {clause}",
        {"provider": provider, **params},
    )
    return {r["id"]: r for r in rows}


def _row(contact: Contact, synced_at: datetime) -> dict[str, Any]:
    row = {
        "provider": contact.provider,
        "id": contact.id,
        "location_id": contact.location_id,
        "email": contact.email.lower() if contact.email else None,
        "phone": contact.phone,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "company_name": contact.company_name,
        "tags": list(contact.tags),
        "custom_fields": dict(contact.custom_fields),
        "date_added": contact.date_added,
        "date_updated": contact.date_updated,
        "synced_at": synced_at,
        "raw": raw_text(contact),
    }
    row["content_hash"] = content_hash(row)
    return row


def soft_delete(tx: Transaction, provider: str, ids: Iterable[str], deleted_at: datetime) -> int:
    """Mark live rows deleted; return how many were live. Deleting twice changes nothing."""
    deleted = 0
    ids = list(ids)
    for start in range(0, len(ids), _CHUNK):
        clause, params = in_list("id", ids[start : start + _CHUNK])
        deleted += tx.execute(
            f"UPDATE contacts SET deleted_at = :at WHERE provider = :provider AND deleted_at IS NULL "
            f"AND id IN {clause}",
            {"provider": provider, "at": deleted_at, **params},
        )
    return deleted


def live_ids(tx: Transaction, provider: str) -> set[str]:
    """Every id we hold as not deleted (for reconciliation against the CRM's full id list)."""
    rows = tx.fetchall(
        "SELECT id FROM contacts WHERE provider = :provider AND deleted_at IS NULL", {"provider": provider}
    )
    return {r["id"] for r in rows}


def get_contact(tx: Transaction, provider: str, contact_id: str) -> Row | None:
    """One contact row (deleted ones included, with ``deleted_at`` set)."""
    return tx.fetchone(
        "SELECT * FROM contacts WHERE provider = :provider AND id = :id",
        {"provider": provider, "id": contact_id},
    )


def find_contacts(
    tx: Transaction,
    provider: str,
    *,
    email: str | None = None,
    query: str | None = None,
    tag: str | None = None,
    limit: int = 50,
) -> list[Row]:
    """Live contacts matching every given criterion, most recently updated first."""
    where = ["provider = :provider", "deleted_at IS NULL"]
    params: dict[str, Any] = {"provider": provider, "limit": limit}
    if email is not None:
        where.append("email = :email")
        params["email"] = email.strip().lower()
    if query:
        where.append(
            "(lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '')) LIKE :q ESCAPE '\\' "
            "OR email LIKE :q ESCAPE '\\' OR lower(coalesce(company_name, '')) LIKE :q ESCAPE '\\')"
        )
        params["q"] = f"%{_escape_like(query.strip().lower())}%"
    if tag:
        # Tags are a JSON array of strings; both backends render it as text with each tag quoted.
        where.append("CAST(tags AS TEXT) LIKE :tag ESCAPE '\\'")
        params["tag"] = f"%{_escape_like(json.dumps(tag))}%"
    return tx.fetchall(
        f"SELECT * FROM contacts WHERE {' AND '.join(where)} ORDER BY date_updated DESC, id LIMIT :limit",
        params,
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def settle_pending(
    tx: Transaction,
    provider: str,
    contact_id: str,
    *,
    now: datetime,
    fresh: Contact | None = None,
    restore: dict[str, Any] | None = None,
) -> None:
    """Finish an agent's local change once the vendor answered.

    ``fresh`` (the vendor's copy after a confirmed write) replaces the row; ``restore`` (the
    ``before`` snapshot of a rejected write) puts the old values back. Either way the row stops
    being pending.
    """
    if fresh is not None:
        tx.execute(
            "UPDATE contacts SET pending_since = NULL WHERE provider = :provider AND id = :id",
            {"provider": provider, "id": contact_id},
        )
        upsert_contacts(tx, [fresh], now)
        return
    values = {k: v for k, v in (restore or {}).items() if k in _RESTORABLE}
    assignments = "".join(f"{column} = :{column}, " for column in values)
    tx.execute(
        f"UPDATE contacts SET {assignments}pending_since = NULL WHERE provider = :provider AND id = :id",
        {**values, "provider": provider, "id": contact_id},
    )
