"""Queries on ``api_calls``: the ledger of vendor request attempts, one row per attempt."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from .base import Params, Row, Transaction

_INSERT = (
    "INSERT INTO api_calls (provider, account, method, endpoint, status_code, latency_ms, cost_usd, "
    'rate_limited, error, "at") VALUES (:provider, :account, :method, :endpoint, :status_code, :latency_ms, '
    ":cost_usd, :rate_limited, :error, :at)"
)


def record_calls(tx: Transaction, rows: Sequence[Params]) -> None:
    """Insert attempts (mappings keyed by the columns, ``provider`` … ``at``), in one round trip
    where the driver allows."""
    tx.executemany(_INSERT, rows)


def calls_by_provider(tx: Transaction, since: datetime) -> list[Row]:
    """Per provider since ``since``: ``calls`` (attempts), ``rate_limited`` (429s met) and ``errors``."""
    return tx.fetchall(
        "SELECT provider, count(*) AS calls, count(*) FILTER (WHERE rate_limited) AS rate_limited, "
        "count(*) FILTER (WHERE status_code IS NULL OR status_code >= 500) AS errors "
        'FROM api_calls WHERE "at" >= :since GROUP BY provider ORDER BY provider',
        {"since": since},
    )
