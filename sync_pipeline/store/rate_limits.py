"""Queries on ``rate_limits`` and ``rate_limit_slots``: the vendor rate limiter's shared state.

``rate_limits`` holds one row per (bucket, window): a budget window's GCRA theoretical arrival time,
or the bucket's hold (window :data:`HOLD_WINDOW`: nothing is sent before its ``tat``).
``rate_limit_slots`` is the log of send times reserved in each burst window. Times are epoch
seconds on the database clock. Each function is one step of the limiter's one-transaction
reservation (``sync_pipeline/transport/limiter.py``); the statements are tuned for it, and the
comments say where a plainer statement costs more.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from .base import Transaction

HOLD_WINDOW = "~hold"

_CLOCK = {
    "postgres": "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)",
    "duckdb": "CAST(EXTRACT(EPOCH FROM now()) AS DOUBLE PRECISION)",
}


def _upsert_hold(value: str, on_conflict: str) -> str:
    return (
        "INSERT INTO rate_limits (bucket, window_name, tat, interval_s) "
        f"VALUES (:bucket, '{HOLD_WINDOW}', {value}, 0) "
        f"ON CONFLICT (bucket, window_name) DO UPDATE SET tat = {on_conflict}"
    )


@lru_cache(maxsize=4)
def _lock_and_read_hold_sql(dialect: str) -> str:
    # DuckDB runs one transaction at a time anyway, and a plain read costs it a third of an upsert.
    if dialect == "duckdb":
        return (
            f"SELECT {_CLOCK[dialect]} AS now_s, (SELECT tat FROM rate_limits "
            f"WHERE bucket = :bucket AND window_name = '{HOLD_WINDOW}') AS hold_s"
        )
    return _upsert_hold("0", "rate_limits.tat") + f" RETURNING tat AS hold_s, {_CLOCK[dialect]} AS now_s"


@lru_cache(maxsize=4)
def _extend_hold_sql(dialect: str) -> str:
    return _upsert_hold(f"{_CLOCK[dialect]} + :seconds", "GREATEST(rate_limits.tat, excluded.tat)")


_NTH_RECENT_SLOT = (
    "SELECT slot FROM rate_limit_slots WHERE bucket = :bucket AND window_name = :window "
    "ORDER BY slot DESC LIMIT 1 OFFSET :skip"
)
_FORGET_SLOTS = "DELETE FROM rate_limit_slots WHERE bucket = :bucket AND window_name = :window AND slot < :before"
# A plain UPDATE (the reservation holds the bucket) costs DuckDB half an upsert; the first spend
# of a window inserts its row.
_SPEND_BUDGET = (
    "UPDATE rate_limits SET tat = GREATEST(tat, :start) + :interval, interval_s = :interval "
    "WHERE bucket = :bucket AND window_name = :window RETURNING tat"
)
_FIRST_SPEND = (
    "INSERT INTO rate_limits (bucket, window_name, tat, interval_s) VALUES (:bucket, :window, :start + :interval, "
    ":interval) RETURNING tat"
)


@lru_cache(maxsize=8)
def _log_slots_sql(windows: int) -> str:
    values = ", ".join(f"(:bucket, :w{i}, :slot)" for i in range(windows))
    return f"INSERT INTO rate_limit_slots (bucket, window_name, slot) VALUES {values}"


def lock_and_read_hold(tx: Transaction, dialect: str, bucket: str) -> tuple[float, float]:
    """The database clock and the bucket's hold (0 when it has none), as epoch seconds.

    On Postgres the hold row is upserted to take its row lock, which serializes the reservations
    on ``bucket`` until ``tx`` ends; run it first.
    """
    row = tx.fetchone(_lock_and_read_hold_sql(dialect), {"bucket": bucket}) or {}
    return float(row["now_s"]), float(row["hold_s"] or 0.0)


def extend_hold(tx: Transaction, dialect: str, bucket: str, seconds: float) -> None:
    """Hold ``bucket`` until ``seconds`` from now on the database clock, unless it is held longer."""
    tx.execute(_extend_hold_sql(dialect), {"bucket": bucket, "seconds": seconds})


def nth_recent_slot(tx: Transaction, bucket: str, window: str, n: int) -> float | None:
    """The ``n``-th most recent slot (1-based) logged in ``window``, or None when the log is shorter."""
    slot = tx.scalar(_NTH_RECENT_SLOT, {"bucket": bucket, "window": window, "skip": n - 1})
    return None if slot is None else float(slot)


def spend_budget(tx: Transaction, bucket: str, window: str, start: float, interval_s: float) -> float:
    """Spend one request of a GCRA budget at ``start`` or later; return the window's new arrival time."""
    params = {"bucket": bucket, "window": window, "start": start, "interval": interval_s}
    tat = tx.scalar(_SPEND_BUDGET, params)
    return float(tat if tat is not None else tx.scalar(_FIRST_SPEND, params))


def forget_slots(tx: Transaction, bucket: str, window: str, before: float) -> None:
    """Drop the slots of ``window`` older than ``before``."""
    tx.execute(_FORGET_SLOTS, {"bucket": bucket, "window": window, "before": before})


def log_slots(tx: Transaction, bucket: str, windows: Sequence[str], slot: float) -> None:
    """Log ``slot`` in every one of ``windows``, in one statement."""
    names = {f"w{i}": window for i, window in enumerate(windows)}
    tx.execute(_log_slots_sql(len(windows)), {"bucket": bucket, **names, "slot": slot})
