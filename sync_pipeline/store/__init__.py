"""The local data layer: one interface, DuckDB (embedded default) or PostgreSQL backends.

``open_store()`` returns the process-wide store for ``SYNC_PIPELINE_DB``; call :func:`migrate`
before first use (the CLI, the demo and the Dagster resources do).
"""

from __future__ import annotations

import threading

from ..settings import DUCKDB_MEMORY_LIMIT, Settings, get_settings
from .base import Row, Store, Transaction
from .errors import MigrationError, StoreBusy, StoreConfigError, StoreError
from .migrations import ensure_migrated, migrate

__all__ = [
    "MigrationError",
    "Row",
    "Store",
    "StoreBusy",
    "StoreConfigError",
    "StoreError",
    "Transaction",
    "connect",
    "ensure_migrated",
    "migrate",
    "open_store",
    "shared_store",
]

_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def connect(url: str, *, lock_timeout_s: float = 30.0, duckdb_memory_limit: str = DUCKDB_MEMORY_LIMIT) -> Store:
    """A new store for ``url`` (``duckdb:///path`` or ``postgresql://…``)."""
    if url.startswith("duckdb://"):
        from .duckdb_backend import DuckDBStore

        path = url.removeprefix("duckdb://")
        if path in ("", "/", "/:memory:", ":memory:"):
            raise StoreConfigError(
                "SYNC_PIPELINE_DB=duckdb:///… needs a file path (an in-memory database cannot be shared "
                "between the Dagster processes)"
            )
        return DuckDBStore(path, lock_timeout_s=lock_timeout_s, memory_limit=duckdb_memory_limit)
    from .postgres_backend import PostgresStore

    return PostgresStore(url)


def shared_store(url: str, *, lock_timeout_s: float = 30.0, duckdb_memory_limit: str = DUCKDB_MEMORY_LIMIT) -> Store:
    """The process-wide store for ``url``: one per URL, so one DuckDB lock and one Postgres pool."""
    with _stores_lock:
        store = _stores.get(url)
        if store is None:
            store = _stores[url] = connect(url, lock_timeout_s=lock_timeout_s, duckdb_memory_limit=duckdb_memory_limit)
        return store


def open_store(settings: Settings | None = None) -> Store:
    """The process-wide store for the configured ``SYNC_PIPELINE_DB``."""
    settings = settings or get_settings()
    return shared_store(
        settings.db_url, lock_timeout_s=settings.db_lock_timeout_s, duckdb_memory_limit=settings.duckdb_memory_limit
    )
