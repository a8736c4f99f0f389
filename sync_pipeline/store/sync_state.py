"""Queries on ``sync_state``: one row per stream with its cursor and in-flight checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .base import Transaction


@dataclass(frozen=True)
class StreamState:
    """``cursor`` is the committed high-water mark; ``checkpoint`` the unfinished run's progress."""

    stream: str
    cursor: str | None
    checkpoint: dict[str, Any] | None
    updated_at: datetime | None


def load(tx: Transaction, stream: str) -> StreamState:
    row = tx.fetchone(
        "SELECT cursor, checkpoint, updated_at FROM sync_state WHERE stream = :stream", {"stream": stream}
    )
    if row is None:
        return StreamState(stream, None, None, None)
    return StreamState(stream, row["cursor"], row["checkpoint"], row["updated_at"])


def save(tx: Transaction, stream: str, *, cursor: str | None, checkpoint: dict[str, Any] | None, at: datetime) -> None:
    """Write both fields at once, so a row is never half updated."""
    tx.execute(
        "INSERT INTO sync_state (stream, cursor, checkpoint, updated_at) "
        "VALUES (:stream, :cursor, :checkpoint, :at) "
        "ON CONFLICT (stream) DO UPDATE SET cursor = excluded.cursor, checkpoint = excluded.checkpoint, "
        "updated_at = excluded.updated_at",
        {"stream": stream, "cursor": cursor, "checkpoint": checkpoint, "at": at},
    )


def all_streams(tx: Transaction) -> list[StreamState]:
    """Every stream's state, by name."""
    rows = tx.fetchall("SELECT stream, cursor, checkpoint, updated_at FROM sync_state ORDER BY stream")
    return [StreamState(r["stream"], r["cursor"], r["checkpoint"], r["updated_at"]) for r in rows]
