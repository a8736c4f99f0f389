"""Queries on ``api_calls``: the ledger of vendor request attempts, one row per attempt."""

from __future__ import annotations

from collections.abc import Sequence

from .base import Params, Transaction

_INSERT = (
    "INSERT INTO api_calls (provider, account, method, endpoint, status_code, latency_ms, cost_usd, "
    'rate_limited, error, "at") VALUES (:provider, :account, :method, :endpoint, :status_code, :latency_ms, '
    ":cost_usd, :rate_limited, :error, :at)"
)


def record_calls(tx: Transaction, rows: Sequence[Params]) -> None:
    """Insert attempts (mappings keyed by the columns, ``provider`` … ``at``), in one round trip
    where the driver allows."""
    tx.executemany(_INSERT, rows)
