"""What the local store holds, for `sync-pipeline status` and the demo report."""

from __future__ import annotations

from typing import Any

from .settings import Settings, scrub_url
from .store import Store
from .store.migrations import load_migrations

TABLES = (
    "contacts",
    "visitor_events",
    "enrichment_cache",
    "outbox",
    "webhook_quarantine",
    "sync_state",
    "api_calls",
)


def collect_status(store: Store, settings: Settings) -> dict[str, Any]:
    """Row counts, applied migrations and configured providers, with no secret in it."""
    with store.transaction() as tx:
        applied = [r["version"] for r in tx.fetchall("SELECT version FROM schema_migrations ORDER BY version")]
        counts = {table: tx.scalar(f"SELECT count(*) FROM {table}") for table in TABLES}
        outbox = {r["status"]: r["n"] for r in tx.fetchall("SELECT status, count(*) AS n FROM outbox GROUP BY status")}
        streams = tx.fetchall("SELECT stream, cursor, updated_at FROM sync_state ORDER BY stream")
    pending = [m.version for m in load_migrations() if m.version not in applied]
    return {
        "store": {
            "backend": store.dialect,
            "url": scrub_url(store.url),
            "migrations_applied": applied,
            "migrations_pending": pending,
        },
        "providers": {
            "crm": settings.crm_provider,
            "email": settings.email_provider,
            "enrichment": settings.enrichment_provider,
        },
        "rows": counts,
        "outbox_by_status": outbox,
        "sync_state": [
            {"stream": s["stream"], "cursor": s["cursor"], "updated_at": s["updated_at"].isoformat()} for s in streams
        ],
    }


def format_status(status: dict[str, Any]) -> str:
    """The status as a short human-readable report."""
    store = status["store"]
    lines = [
        f"store      {store['backend']}  {store['url']}",
        f"migrations applied {store['migrations_applied']}"
        + (
            f", PENDING {store['migrations_pending']} (run `sync-pipeline migrate`)"
            if store["migrations_pending"]
            else ""
        ),
        "providers  " + ", ".join(f"{k}={v}" for k, v in status["providers"].items()),
        "rows",
        *[f"  {table:<20} {n:>10,}" for table, n in status["rows"].items()],
    ]
    if status["outbox_by_status"]:
        lines.append("outbox     " + ", ".join(f"{k}={v}" for k, v in sorted(status["outbox_by_status"].items())))
    for stream in status["sync_state"]:
        lines.append(f"stream     {stream['stream']}: cursor {stream['cursor']} (updated {stream['updated_at']})")
    return "\n".join(lines)
