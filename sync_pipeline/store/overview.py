"""How much each table of the local data layer holds, for status reports."""

from __future__ import annotations

from .base import Transaction

TABLES = (
    "contacts",
    "visitor_events",
    "enrichment_cache",
    "outbox",
    "webhook_quarantine",
    "sync_state",
    "api_calls",
)


def table_counts(tx: Transaction) -> dict[str, int]:
    """Rows per table of :data:`TABLES` (names are constants of this module, never input)."""
    return {table: int(tx.scalar(f"SELECT count(*) FROM {table}")) for table in TABLES}
