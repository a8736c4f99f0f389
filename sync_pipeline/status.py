"""What the local store holds and what needs a person, for `sync-pipeline status` and the demo report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from .settings import Settings, scrub_url
from .store import Store
from .store import contacts as contacts_q
from .store import outbox as outbox_q
from .store import sync_state as state_q
from .store import webhooks as webhooks_q
from .store.migrations import applied_versions, load_migrations
from .store.overview import table_counts

# Quarantined webhooks are listed for this long back.
QUARANTINE_WINDOW = timedelta(days=1)


def collect_status(store: Store, settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """Row counts, contacts per CRM account, outbox depth and blocked writes, sync positions,
    recent quarantine, applied migrations and configured providers — with no secret in it."""
    now = now or datetime.now(UTC)
    account = contacts_q.Account.configured(settings)
    with store.transaction() as tx:
        applied = applied_versions(tx)
        counts = table_counts(tx)
        accounts = contacts_q.accounts(tx)
        outbox = outbox_q.count_by_status(tx)
        oldest_due = outbox_q.oldest_due(tx, now)
        blocked = outbox_q.blocked_writes(tx, now)
        streams = state_q.all_streams(tx)
        quarantined = webhooks_q.quarantine_since(tx, now - QUARANTINE_WINDOW)
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
            "crm_account": account.id,
            "email": settings.email_provider,
            "enrichment": settings.enrichment_provider,
        },
        "rows": counts,
        "contacts_by_account": [
            {
                "provider": a["provider"],
                "account": a["location_id"] or "",
                "live": int(a["live"]),
                "deleted": int(a["deleted"]),
                "configured": a["provider"] == account.provider and (not account.id or a["location_id"] == account.id),
            }
            for a in accounts
        ],
        "outbox_by_status": outbox,
        "outbox_oldest_due": oldest_due.isoformat() if oldest_due else None,
        "outbox_blocked": blocked,
        "sync_state": [
            {"stream": s.stream, "cursor": s.cursor, "updated_at": s.updated_at.isoformat() if s.updated_at else None}
            for s in streams
        ],
        "quarantine_last_day": [
            {"source": q["source"], "reason": q["reason"], "count": int(q["n"])} for q in quarantined
        ],
    }


def describe_blocked(blocked: list[dict[str, Any]]) -> str:
    """One sentence on the writes that wait behind a job the drain will not send, and what to do."""
    first = blocked[0]
    more = f" (and {len(blocked) - 1} more)" if len(blocked) > 1 else ""
    return (
        f"{len(blocked)} write(s) wait behind a job the drain will not send: job {first['job_id']} "
        f"({first['action']} to contact {first['contact_id']}) waits for job {first['blocked_by']}, "
        f"which is {first['blocked_by_status']}{more}; check that job at the vendor and settle it"
    )


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
        "providers  " + ", ".join(f"{k}={v}" for k, v in status["providers"].items() if v),
        "rows",
        *[f"  {table:<20} {n:>10,}" for table, n in status["rows"].items()],
    ]
    for a in status["contacts_by_account"]:
        label = f"{a['provider']} {a['account'] or '(no account)'}"
        note = "" if a["configured"] else "  (another account: agents do not read these)"
        lines.append(f"contacts   {label}: {a['live']:,} live, {a['deleted']:,} deleted{note}")
    if status["outbox_by_status"]:
        lines.append("outbox     " + ", ".join(f"{k}={v}" for k, v in sorted(status["outbox_by_status"].items())))
    if status["outbox_oldest_due"]:
        lines.append(f"outbox     oldest due job waiting since {status['outbox_oldest_due']}")
    if status["outbox_blocked"]:
        lines.append(f"BLOCKED    {describe_blocked(status['outbox_blocked'])}")
        for b in status["outbox_blocked"]:
            reason = f": {b['blocked_by_error']}" if b["blocked_by_error"] else ""
            blocker = f"job {b['blocked_by']} [{b['blocked_by_status']}]{reason}"
            lines.append(f"  job {b['job_id']} ({b['action']}) waits for {blocker}")
    for stream in status["sync_state"]:
        lines.append(f"stream     {stream['stream']}: cursor {stream['cursor']} (updated {stream['updated_at']})")
    for q in status["quarantine_last_day"]:
        lines.append(f"quarantine {q['source']}: {q['count']} in the last day: {q['reason']}")
    return "\n".join(lines)
