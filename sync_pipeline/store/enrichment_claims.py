"""Queries on ``enrichment_claims``: who is fetching which key right now, across every process.

A claim is taken with one upsert that only wins over a lapsed claim, so on both backends exactly
one caller holds a key: DuckDB runs one transaction at a time across the processes sharing its
file, and on PostgreSQL the conflicting insert waits for the holder's row and then sees it.
Every statement takes its rows in key order (one statement per key where SQL gives no order), so
two batches overlapping in keys never deadlock on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache

from .base import Row, Transaction, in_list

_CLAIM_COLUMNS = ("kind", "key", "owner", "claimed_at", "lease_until", "reserved_usd", "error")
_CHUNK = 500


@lru_cache(maxsize=16)
def _claim_sql(n: int) -> str:
    values = ", ".join(f"(:kind, :key_{i}, :owner, :now, :lease_until, :reserved, NULL)" for i in range(n))
    return (
        f"INSERT INTO enrichment_claims ({', '.join(_CLAIM_COLUMNS)}) VALUES {values} "
        "ON CONFLICT (kind, key) DO UPDATE SET owner = excluded.owner, claimed_at = excluded.claimed_at, "
        "lease_until = excluded.lease_until, reserved_usd = excluded.reserved_usd, error = NULL "
        "WHERE enrichment_claims.lease_until <= :now RETURNING key"
    )


def claim(
    tx: Transaction,
    kind: str,
    keys: Sequence[str],
    *,
    owner: str,
    now: datetime,
    lease_until: datetime,
    reserved_usd: float = 0.0,
) -> set[str]:
    """Claim every key that nobody holds (or whose claim lapsed); return the keys now ``owner``'s."""
    won: set[str] = set()
    ordered = sorted(set(keys))
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        params = {"kind": kind, "owner": owner, "now": now, "lease_until": lease_until, "reserved": reserved_usd}
        params.update({f"key_{i}": key for i, key in enumerate(chunk)})
        won.update(r["key"] for r in tx.fetchall(_claim_sql(len(chunk)), params))
    return won


def claims_of(tx: Transaction, kind: str, keys: Iterable[str]) -> dict[str, Row]:
    """The claims on ``keys``, lapsed or not, by key."""
    clause, params = in_list("key", sorted(set(keys)))
    rows = tx.fetchall(
        f"SELECT {', '.join(_CLAIM_COLUMNS)} FROM enrichment_claims WHERE kind = :kind AND key IN {clause}",
        {"kind": kind, **params},
    )
    return {r["key"]: r for r in rows}


def release(tx: Transaction, kind: str, keys: Sequence[str], owner: str) -> None:
    """Drop ``owner``'s claims on ``keys`` (its answers are stored, or it gave the keys up)."""
    _each(
        tx,
        "DELETE FROM enrichment_claims WHERE kind = :kind AND key = :key AND owner = :owner",
        [{"kind": kind, "key": key, "owner": owner} for key in sorted(set(keys))],
    )


def fail(tx: Transaction, kind: str, keys: Sequence[str], owner: str, error: str, now: datetime) -> None:
    """Leave ``owner``'s error on its claims, lapsed at once: the callers that waited read it, the
    next caller takes the key over and tries again."""
    _each(
        tx,
        "UPDATE enrichment_claims SET error = :error, lease_until = :now, reserved_usd = 0 "
        "WHERE kind = :kind AND key = :key AND owner = :owner",
        [{"kind": kind, "key": key, "owner": owner, "error": error[:2000], "now": now} for key in sorted(set(keys))],
    )


def reserved_usd(tx: Transaction, now: datetime, *, other_than: str) -> float:
    """Dollars held against the daily budget by fetches in flight, except ``other_than``'s."""
    value = tx.scalar(
        "SELECT sum(reserved_usd) FROM enrichment_claims WHERE lease_until > :now AND error IS NULL "
        "AND owner <> :owner",
        {"now": now, "owner": other_than},
    )
    return float(value or 0.0)


def in_flight(tx: Transaction, now: datetime) -> int:
    """Keys being fetched right now (live claims)."""
    return int(tx.scalar("SELECT count(*) FROM enrichment_claims WHERE lease_until > :now", {"now": now}) or 0)


def _each(tx: Transaction, sql: str, rows: list[dict[str, object]]) -> None:
    """``sql`` once per row, in the rows' order (a single row as a plain statement: cheaper on DuckDB)."""
    if len(rows) == 1:
        tx.execute(sql, rows[0])
    elif rows:
        tx.executemany(sql, rows)
