"""Queries on the ``contacts`` table: upsert by content hash, soft delete, agent reads, and the
local side of an agent's pending change.

Every query is scoped to one CRM :class:`Account` (the CRM's name plus its GHL location or HubSpot
portal), so a store that once mirrored another account never serves that account's rows as this
one's. Functions take an open :class:`Transaction` so callers can write rows and their sync
checkpoint atomically (an interrupted sync then resumes exactly after the last page it stored).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import orjson

from ..records import Contact, ContactChanges
from ..settings import Settings
from .base import Row, Transaction, in_list

# Columns an agent's change may write: the fields of ContactChanges. A deletion writes deleted_at;
# a rejected change puts any of these back.
WRITABLE_COLUMNS = tuple(f.name for f in fields(ContactChanges))
RESTORABLE_COLUMNS = (*WRITABLE_COLUMNS, "deleted_at")

# Columns that say what a contact is; equal values mean nothing to write. ``raw`` is not among
# them: GHL's search hits and ``GET /contacts/{id}`` shape one unchanged contact differently, and
# any change on the vendor's side moves ``date_updated``, which is.
CONTENT_COLUMNS = tuple(f.name for f in fields(Contact) if f.name not in ("id", "provider", "raw"))

# What an agent reads of a contact: its identity, content, when we last saw it at the CRM and the
# vendor's latest word on email to it.
READ_COLUMNS = ("id", "provider", *CONTENT_COLUMNS, "synced_at", "last_email_status", "last_email_at")

# A page of ids per statement keeps parameter lists and transactions short.
_CHUNK = 500
# Contacts per upsert statement: each costs a scan of the table on DuckDB (see _INSERT_NEW), so
# larger statements spread it; the sync hands over at most this many at once (WRITE_AHEAD_CONTACTS).
UPSERT_STATEMENT_ROWS = 5_000


@dataclass(frozen=True)
class Account:
    """One CRM account: the CRM's name and its location (GHL) or portal (HubSpot) id.

    An empty ``id`` (HubSpot without ``HUBSPOT_PORTAL_ID``) is a CRM whose rows carry no account:
    reads are then not narrowed by it.
    """

    provider: str
    id: str = ""

    @classmethod
    def configured(cls, settings: Settings) -> Account:
        """The account ``CRM_PROVIDER`` and its location/portal setting name."""
        return cls(settings.crm_provider, settings.crm_account)

    @property
    def stream(self) -> str:
        """The ``sync_state`` stream holding this account's contact sync position."""
        return f"{self.provider}_contacts" + (f":{self.id}" if self.id else "")

    def __str__(self) -> str:
        return f"{self.provider} account {self.id}" if self.id else self.provider

    def where(self, alias: str = "") -> str:
        """The SQL condition selecting this account's rows (parameters from :meth:`params`)."""
        prefix = f"{alias}." if alias else ""
        condition = f"{prefix}provider = :account_provider"
        return condition + (f" AND {prefix}location_id = :account_id" if self.id else "")

    def params(self) -> dict[str, str]:
        return {"account_provider": self.provider, "account_id": self.id}

    def narrow(self, rows: list[Row]) -> list[Row]:
        """``rows`` found by a point lookup (see :func:`_point_lookup`), narrowed as :meth:`where` would."""
        return [r for r in rows if r["provider"] == self.provider and (not self.id or r["location_id"] == self.id)]


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


def content_hash(row: dict[str, Any]) -> str:
    """A stable digest of a contact row's content columns."""
    content = orjson.dumps({k: row[k] for k in CONTENT_COLUMNS}, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(content).hexdigest()


_STORED = ("provider", "id", *CONTENT_COLUMNS, "synced_at", "content_hash", "raw")
_COLUMNS = ", ".join(_STORED)
# A page is written in at most three statements, each over the whole page (see fetchall_over):
# its new ids are inserted; what the others held is looked up; those whose content changed (or that
# had been deleted) are rewritten, unless an agent's change is pending (the sync must not undo what
# the agent just wrote; the outbox refreshes the row when the vendor confirms). Inserting first
# spares a full sync the lookup. On DuckDB 2.0 every one of these statements is a join against a
# scan of the table (it plans ON CONFLICT as MERGE INTO: 40 ms a statement at 600,000 contacts
# whatever the statement's size), hence few large statements (UPSERT_STATEMENT_ROWS).
_INSERT_NEW = (
    f"INSERT INTO contacts ({_COLUMNS}, deleted_at) SELECT {_COLUMNS}, NULL FROM {{rows}} "
    "ON CONFLICT (provider, id) DO NOTHING RETURNING id"
)
_KNOWN = (
    "SELECT c.id, c.content_hash, c.deleted_at, c.pending_since FROM contacts c "
    "JOIN {rows} r ON c.provider = r.provider AND c.id = r.id"
)
# The guard repeats the lookup's verdict, so a row an agent changed meanwhile (on Postgres, between
# the two statements) is still left alone.
_REWRITE = (
    f"INSERT INTO contacts ({_COLUMNS}, deleted_at) SELECT {_COLUMNS}, NULL FROM {{rows}} "
    "ON CONFLICT (provider, id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _STORED if c not in ("provider", "id"))
    + ", deleted_at = NULL WHERE contacts.pending_since IS NULL "
    "AND (contacts.content_hash <> excluded.content_hash OR contacts.deleted_at IS NOT NULL) RETURNING id"
)


def upsert_contacts(tx: Transaction, contacts: Sequence[Contact], synced_at: datetime) -> UpsertCounts:
    """Insert new contacts, rewrite changed ones, leave unchanged ones alone (by content hash).

    Rows with an agent's change pending are left alone too. Later duplicates of an id in
    ``contacts`` win, so an overlap window may repeat contacts freely.
    """
    latest = {c.id: c for c in contacts}
    counts = UpsertCounts()
    items = list(latest.values())
    for start in range(0, len(items), UPSERT_STATEMENT_ROWS):
        rows = [_row(contact, synced_at) for contact in items[start : start + UPSERT_STATEMENT_ROWS]]
        inserted = {r["id"] for r in tx.fetchall_over(_INSERT_NEW, rows, table="contacts")}
        counts.inserted += len(inserted)
        rows = [row for row in rows if row["id"] not in inserted]
        keys = [{"provider": row["provider"], "id": row["id"]} for row in rows]
        known = {r["id"]: r for r in tx.fetchall_over(_KNOWN, keys, table="contacts")}
        changed, undeleting = [], set()
        for row in rows:
            previous = known[row["id"]]
            if previous["pending_since"] is not None:
                counts.pending += 1
            elif previous["content_hash"] != row["content_hash"] or previous["deleted_at"] is not None:
                changed.append(row)
                if previous["deleted_at"] is not None:
                    undeleting.add(row["id"])
            else:
                counts.unchanged += 1
        rewritten = {r["id"] for r in tx.fetchall_over(_REWRITE, changed, table="contacts")}
        counts.updated += len(rewritten)
        counts.undeleted += len(rewritten & undeleting)
        counts.pending += len(changed) - len(rewritten)
    return counts


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
        "raw": contact.raw,
    }
    row["content_hash"] = content_hash(row)
    return row


# The columns agent reads filter and sort on: the planner's statistics that matter.
_PLANNED_COLUMNS = ("provider", "location_id", "id", "email", "deleted_at", "date_updated")


def refresh_statistics(tx: Transaction, dialect: str) -> None:
    """Let the planner see a bulk write's rows now rather than when autovacuum gets to them: right
    after 20,000 new contacts, Postgres's stale statistics made a find by email combine two indexes
    (1.1 ms) instead of using the email index alone (0.03 ms). DuckDB keeps its statistics as it writes.

    Only the columns reads filter and sort on: sampling the JSON columns as well took most of the
    time (0.4 s after 20,000 contacts on a slow host, a twentieth of what the sync itself took).
    """
    if dialect == "postgres":
        tx.execute(f"ANALYZE contacts ({', '.join(_PLANNED_COLUMNS)})")


def soft_delete(tx: Transaction, account: Account, ids: Iterable[str], deleted_at: datetime) -> int:
    """Mark live rows deleted; return how many were live. Deleting twice changes nothing."""
    deleted = 0
    ids = list(ids)
    for start in range(0, len(ids), _CHUNK):
        clause, params = in_list("id", ids[start : start + _CHUNK])
        deleted += tx.execute(
            f"UPDATE contacts SET deleted_at = :at WHERE {account.where()} AND deleted_at IS NULL AND id IN {clause}",
            {**account.params(), "at": deleted_at, **params},
        )
    return deleted


def live_ids(tx: Transaction, account: Account) -> set[str]:
    """Every id we hold as not deleted."""
    rows = tx.fetchall(f"SELECT id FROM contacts WHERE {account.where()} AND deleted_at IS NULL", account.params())
    return {r["id"] for r in rows}


def live_ids_synced_before(
    tx: Transaction, account: Account, before: datetime, *, after_id: str | None, limit: int
) -> list[str]:
    """Up to ``limit`` ids of live rows last written before ``before``, in id order after ``after_id``
    (a reconciliation pages through them: memory stays bounded by a page, not the table)."""
    after = "" if after_id is None else "AND id > :after_id "
    rows = tx.fetchall(
        f"SELECT id FROM contacts WHERE {account.where()} AND deleted_at IS NULL AND synced_at < :before "
        f"{after}ORDER BY id LIMIT :limit",
        {**account.params(), "before": before, "after_id": after_id, "limit": limit},
    )
    return [r["id"] for r in rows]


def ids_synced_since(tx: Transaction, account: Account, since: datetime) -> set[str]:
    """Ids written by a sync (or read-through) at or after ``since``."""
    rows = tx.fetchall(
        f"SELECT id FROM contacts WHERE {account.where()} AND synced_at >= :since", {**account.params(), "since": since}
    )
    return {r["id"] for r in rows}


def get_contact(tx: Transaction, account: Account, contact_id: str) -> Row | None:
    """One contact row (deleted ones included, with ``deleted_at`` set)."""
    found = _point_lookup(tx, account, "id", contact_id)
    return found[0] if found else None


def _point_lookup(tx: Transaction, account: Account, column: str, value: str) -> list[Row]:
    """This account's rows whose indexed ``column`` (``id`` or ``email``) equals ``value``.

    Only the lookup and the CRM are in the SQL (Postgres finds an id through the primary key
    ``(provider, id)``), and the location is applied to the handful found: DuckDB 2.0 reads through
    an index only when no other condition survives its statistics. Beside ``location_id = ?``, or
    ``deleted_at IS NULL`` once any contact was deleted, it scanned: 3.5-4.2 ms at 100,000 synced
    contacts against 0.65 ms (a materialized CTE keeping the lookup apart: 1.2 ms). A store holding
    two CRMs' contacts scans too, as the provider then survives.
    """
    rows = tx.fetchall(
        f"SELECT * FROM contacts WHERE provider = :account_provider AND {column} = :value",
        {**account.params(), "value": value},
    )
    return account.narrow(rows)


def mark_seen(tx: Transaction, account: Account, contact_id: str, now: datetime) -> None:
    """The contact was just read at the CRM and found unchanged: it is as fresh as a rewrite."""
    tx.execute(
        f"UPDATE contacts SET synced_at = :now WHERE {account.where()} AND id = :id",
        {**account.params(), "now": now, "id": contact_id},
    )


def find_contacts(
    tx: Transaction,
    account: Account,
    *,
    email: str | None = None,
    query: str | None = None,
    tag: str | None = None,
    limit: int = 50,
) -> list[Row]:
    """Live contacts matching every given criterion, most recently updated first."""
    if email is not None and not query and not tag:  # an agent's usual question: one point lookup
        live = [r for r in _point_lookup(tx, account, "email", email.strip().lower()) if r["deleted_at"] is None]
        return _newest_first(live)[:limit]
    where = [account.where(), "deleted_at IS NULL"]
    params: dict[str, Any] = {**account.params(), "limit": limit}
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
        f"SELECT * FROM contacts WHERE {' AND '.join(where)} ORDER BY date_updated DESC NULLS LAST, id LIMIT :limit",
        params,
    )


def _newest_first(rows: list[Row]) -> list[Row]:
    """``rows`` in :func:`find_contacts`' SQL order (``date_updated DESC NULLS LAST, id``)."""
    by_id = sorted(rows, key=lambda r: r["id"])
    return sorted(by_id, key=lambda r: (r["date_updated"] is not None, r["date_updated"]), reverse=True)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- what the store holds, for assets, checks and status -------------------------------------------


def row_counts(tx: Transaction, account: Account) -> dict[str, int]:
    """``live`` and ``deleted`` rows of the account."""
    row = tx.fetchone(
        "SELECT count(*) FILTER (WHERE deleted_at IS NULL) AS live, "
        f"count(*) FILTER (WHERE deleted_at IS NOT NULL) AS deleted FROM contacts WHERE {account.where()}",
        account.params(),
    )
    return {"live": int(row["live"] or 0), "deleted": int(row["deleted"] or 0)} if row else {"live": 0, "deleted": 0}


def table_rows(tx: Transaction) -> int:
    """Rows in ``contacts``, every account's: what a write's scan reads on DuckDB (see _INSERT_NEW)."""
    return int(tx.scalar("SELECT count(*) FROM contacts") or 0)


def accounts(tx: Transaction) -> list[Row]:
    """Every account the store holds rows of: ``provider``, ``location_id``, ``live``, ``deleted``."""
    return tx.fetchall(
        "SELECT provider, location_id, count(*) FILTER (WHERE deleted_at IS NULL) AS live, "
        "count(*) FILTER (WHERE deleted_at IS NOT NULL) AS deleted "
        "FROM contacts GROUP BY provider, location_id ORDER BY provider, location_id"
    )


def other_accounts_live(tx: Transaction, account: Account) -> list[Row]:
    """Accounts of the same CRM besides ``account`` that still have live rows here (never read)."""
    if not account.id:
        return []
    return [
        r
        for r in accounts(tx)
        if r["provider"] == account.provider and (r["location_id"] or "") != account.id and r["live"]
    ]


# Row-level health conditions, by the metadata name a check reports them under.
HEALTH_CONDITIONS = {
    "rows_with_duplicate_id": "id IN (SELECT id FROM contacts GROUP BY provider, id HAVING count(*) > 1)",
    "empty_ids": "deleted_at IS NULL AND (id IS NULL OR id = '')",
    "mixed_case_emails": "email IS NOT NULL AND email <> lower(email)",
}


def count_unhealthy(tx: Transaction, account: Account, condition: str) -> int:
    """Rows of the account breaking one of :data:`HEALTH_CONDITIONS`."""
    sql = f"SELECT count(*) FROM contacts WHERE {account.where()} AND {HEALTH_CONDITIONS[condition]}"
    return int(tx.scalar(sql, account.params()))


def newest_synced_at(tx: Transaction, account: Account) -> datetime | None:
    return tx.scalar(f"SELECT max(synced_at) FROM contacts WHERE {account.where()}", account.params())


def record_email_activity(
    tx: Transaction, contact_id: str | None, to_email: str | None, status: str, now: datetime
) -> None:
    """The vendor's latest word on email to a contact (by id, or by address), for agents' reads."""
    tx.execute(
        "UPDATE contacts SET last_email_status = :status, last_email_at = :now "
        "WHERE (id = :contact_id OR email = :to_email) AND deleted_at IS NULL",
        {"status": status, "now": now, "contact_id": contact_id, "to_email": to_email},
    )


# -- an agent's change, applied locally before the vendor confirms it -----------------------------


def apply_local_change(
    tx: Transaction, account: Account, contact_id: str, values: Mapping[str, Any], now: datetime
) -> None:
    """Write ``values`` to the row and mark it pending; ``pending_since`` keeps the start of a run
    of queued changes (their outcomes are judged together)."""
    unknown = set(values) - set(RESTORABLE_COLUMNS)
    if unknown:
        raise ValueError(f"not a writable contact column: {', '.join(sorted(unknown))}")
    assignments = "".join(f"{column} = :{column}, " for column in values)
    tx.execute(
        f"UPDATE contacts SET {assignments}pending_since = COALESCE(pending_since, :now) "
        f"WHERE {account.where()} AND id = :id",
        {**values, **account.params(), "now": now, "id": contact_id},
    )


def settle_pending(
    tx: Transaction,
    account: Account,
    contact_id: str,
    *,
    now: datetime,
    fresh: Contact | None = None,
    restore: Mapping[str, Any] | None = None,
) -> None:
    """Finish an agent's local change once the vendor answered.

    ``fresh`` (the vendor's copy after a confirmed write) replaces the row; ``restore`` (the
    ``before`` snapshot of a rejected write) puts the old values back. Either way the row stops
    being pending.
    """
    values = {} if fresh is not None else {k: v for k, v in (restore or {}).items() if k in RESTORABLE_COLUMNS}
    assignments = "".join(f"{column} = :{column}, " for column in values)
    tx.execute(
        f"UPDATE contacts SET {assignments}pending_since = NULL WHERE {account.where()} AND id = :id",
        {**values, **account.params(), "id": contact_id},
    )
    if fresh is not None:
        upsert_contacts(tx, [fresh], now)
