"""Queries on ``enrichment_cache`` (one answer per person or company, with its expiry) and on
``enrichment_requests`` (keys owed an answer: asked without waiting, or skipped over the budget).

The policy — what is fresh, when an entry expires, who may fetch — lives in
:mod:`sync_pipeline.enrichment`; these functions only read and write rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from .base import Row, Transaction, in_list
from .contacts import Account

ENTRY_COLUMNS = (
    "kind",
    "key",
    "provider",
    "status",
    "data",
    "attempts",
    "credits",
    "cost_usd",
    "fetch_seconds",
    "fetched_at",
    "expires_at",
)

# A newer answer is never overwritten by an older one (a slow fetch finishing after a fresh one).
_PUT = (
    f"INSERT INTO enrichment_cache ({', '.join(ENTRY_COLUMNS)}) VALUES ({', '.join(':' + c for c in ENTRY_COLUMNS)}) "
    "ON CONFLICT (kind, key) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in ENTRY_COLUMNS[2:])
    + " WHERE enrichment_cache.fetched_at <= excluded.fetched_at"
)

_CHUNK = 500


def get_entries(tx: Transaction, kind: str, keys: Iterable[str]) -> dict[str, Row]:
    """The cached entries of ``keys`` (fresh or not), by key."""
    found: dict[str, Row] = {}
    wanted = sorted(set(keys))
    for start in range(0, len(wanted), _CHUNK):
        clause, params = in_list("key", wanted[start : start + _CHUNK])
        for row in tx.fetchall(
            f"SELECT {', '.join(ENTRY_COLUMNS)} FROM enrichment_cache WHERE kind = :kind AND key IN {clause}",
            {"kind": kind, **params},
        ):
            found[row["key"]] = row
    return found


def put_entries(tx: Transaction, rows: Sequence[Mapping[str, Any]]) -> None:
    """Store answers (rows of :data:`ENTRY_COLUMNS`); each settles any request for its key."""
    if not rows:
        return
    tx.executemany(_PUT, rows)
    for kind in {r["kind"] for r in rows}:
        drop_requests(tx, kind, [r["key"] for r in rows if r["kind"] == kind])


def expire(tx: Transaction, kind: str, keys: Sequence[str], at: datetime) -> int:
    """Make entries expire at ``at`` (an operator forcing a refresh; tests)."""
    clause, params = in_list("key", list(keys))
    return tx.execute(
        f"UPDATE enrichment_cache SET expires_at = :at WHERE kind = :kind AND key IN {clause}",
        {"kind": kind, "at": at, **params},
    )


def counts(tx: Transaction, now: datetime) -> dict[str, int]:
    """Entries by state: ``fresh_hits``, ``fresh_not_found`` (fresh "no match") and ``expired``."""
    found = {"fresh_hits": 0, "fresh_not_found": 0, "expired": 0}
    for row in tx.fetchall(
        "SELECT status, expires_at > :now AS fresh, count(*) AS n FROM enrichment_cache GROUP BY status, fresh",
        {"now": now},
    ):
        state = "expired" if not row["fresh"] else "fresh_hits" if row["status"] == "hit" else "fresh_not_found"
        found[state] += int(row["n"])
    return found


# -- what the asset keeps enriched ---------------------------------------------------------------


def person_candidates(tx: Transaction, account: Account) -> list[str]:
    """Addresses worth an answer: live contacts of ``account``, visitors with a business email, and
    people asked for without an answer yet."""
    rows = tx.fetchall(
        "SELECT email AS value FROM contacts "
        f"WHERE {account.where()} AND deleted_at IS NULL AND email IS NOT NULL AND email <> '' "
        "UNION SELECT business_email FROM visitor_days WHERE business_email IS NOT NULL AND business_email <> '' "
        "UNION SELECT key FROM enrichment_requests WHERE kind = 'person'",
        account.params(),
    )
    return [r["value"] for r in rows]


def company_candidates(tx: Transaction) -> list[str]:
    """Websites of company-only visitor profiles, and companies asked for without an answer yet."""
    rows = tx.fetchall(
        "SELECT website AS value FROM visitor_days WHERE kind = 'company' AND website IS NOT NULL AND website <> '' "
        "UNION SELECT key FROM enrichment_requests WHERE kind = 'company'"
    )
    return [r["value"] for r in rows]


# -- enrichment_requests -------------------------------------------------------------------------


def add_requests(tx: Transaction, kind: str, keys: Sequence[str], now: datetime, reason: str) -> None:
    """Remember that ``keys`` are owed an answer (kept until an entry for them is stored)."""
    tx.executemany(
        "INSERT INTO enrichment_requests (kind, key, requested_at, reason) VALUES (:kind, :key, :now, :reason) "
        "ON CONFLICT (kind, key) DO UPDATE SET reason = excluded.reason",
        [{"kind": kind, "key": key, "now": now, "reason": reason} for key in keys],
    )


def drop_requests(tx: Transaction, kind: str, keys: Sequence[str]) -> None:
    for start in range(0, len(keys), _CHUNK):
        clause, params = in_list("key", list(keys[start : start + _CHUNK]))
        tx.execute(f"DELETE FROM enrichment_requests WHERE kind = :kind AND key IN {clause}", {"kind": kind, **params})


def pending_requests(tx: Transaction) -> dict[str, int]:
    """Requests waiting for an answer, by reason."""
    rows = tx.fetchall("SELECT reason, count(*) AS n FROM enrichment_requests GROUP BY reason")
    return {r["reason"]: int(r["n"]) for r in rows}
