"""What the local store holds and what needs a person, for `sync-pipeline status` and the demo report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from .settings import Settings, scrub_url
from .store import Store
from .store import api_calls as api_calls_q
from .store import contacts as contacts_q
from .store import enrichment_cache as cache_q
from .store import enrichment_ledger as ledger_q
from .store import outbox as outbox_q
from .store import sync_state as state_q
from .store import webhooks as webhooks_q
from .store.migrations import applied_versions, load_migrations
from .store.overview import table_counts

# Quarantined webhooks are listed for this long back.
QUARANTINE_WINDOW = timedelta(days=1)
# More quarantined deliveries than this in an hour means a vendor changed its payload (or someone
# posts junk with a valid token): worth a look, though nothing is lost — the quarantine keeps them.
QUARANTINE_WARN_PER_HOUR = 50


def quarantine_growing(last_hour: int) -> bool:
    """The one rule for "the quarantine grows too fast" (status and the visitors check)."""
    return last_hour > QUARANTINE_WARN_PER_HOUR


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
        quarantined_last_hour, _ = webhooks_q.quarantine_count(tx, since=now - timedelta(hours=1))
        calls = {
            window: api_calls_q.calls_by_provider(tx, now - span)
            for window, span in (("last_hour", timedelta(hours=1)), ("last_day", timedelta(days=1)))
        }
        cache_entries = cache_q.counts(tx, now)
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        enrichment = {
            "today": ledger_q.totals(tx, today),
            "last_30_days": ledger_q.totals(tx, now - timedelta(days=30)),
        }
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
        "quarantined_last_hour": quarantined_last_hour,
        "enrichment_cache": cache_entries,
        "enrichment": {window: _enrichment_window(t) for window, t in enrichment.items()},
        "vendor_calls": {
            window: {
                r["provider"]: {"calls": int(r["calls"]), "429s": int(r["rate_limited"]), "errors": int(r["errors"])}
                for r in rows
            }
            for window, rows in calls.items()
        },
    }


def _enrichment_window(totals: dict[str, float]) -> dict[str, float]:
    lookups = totals["hits"] + totals["paid_calls"]
    return {
        "hits": int(totals["hits"]),
        "paid_calls": int(totals["paid_calls"]),
        "hit_rate": round(totals["hits"] / lookups, 4) if lookups else 0.0,
        "spent_usd": round(totals["spent_usd"], 2),
        "avoided_usd": round(totals["avoided_usd"], 2),
    }


def needs_a_person(status: dict[str, Any]) -> list[str]:
    """What in ``status`` a person must look at; empty when all is well (the CLI's exit code)."""
    found = [
        f"asset {a['asset']} is stale: last materialized {a['last_materialized'] or 'never'}, "
        f"its policy allows {a['fail_window_s']} s"
        for a in status.get("assets", [])
        if a["stale"]
    ]
    outbox = status["outbox_by_status"]
    for state, what in (("dead", "the vendor refused them"), ("unknown", "the vendor could not say if they went")):
        if outbox.get(state):
            found.append(
                f"{outbox[state]} outbox job(s) {state}: {what} (`sync-pipeline outbox list --status {state}`)"
            )
    if status["outbox_blocked"]:
        found.append(describe_blocked(status["outbox_blocked"]))
    if quarantine_growing(status["quarantined_last_hour"]):
        found.append(
            f"{status['quarantined_last_hour']} webhook deliveries quarantined in the last hour "
            f"(more than {QUARANTINE_WARN_PER_HOUR}); see the reasons below"
        )
    return found


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
    for window, providers in status["vendor_calls"].items():
        for provider, n in providers.items():
            label = window.replace("_", " ")
            lines.append(f"vendor     {provider} {label}: {n['calls']:,} calls, {n['429s']} 429s, {n['errors']} errors")
    entries = status["enrichment_cache"]
    lines.append(
        f"enrichment cache: {entries['fresh_hits']:,} fresh answers, {entries['fresh_not_found']:,} fresh "
        f"'no match', {entries['expired']:,} expired"
    )
    for window, e in status["enrichment"].items():
        lines.append(
            f"enrichment {window.replace('_', ' ')}: {e['paid_calls']:,} paid, {e['hits']:,} from the cache "
            f"(hit rate {e['hit_rate']:.0%}), ${e['spent_usd']:,.2f} spent, ${e['avoided_usd']:,.2f} avoided"
        )
    for a in status.get("assets", []):
        age = "never materialized" if a["last_materialized"] is None else f"last {a['last_materialized']}"
        policy = f", policy {a['fail_window_s']} s" if a["fail_window_s"] else ""
        lines.append(f"asset      {a['asset']}: {age}{policy}{'  STALE' if a['stale'] else ''}")
    problems = needs_a_person(status)
    lines.append("needs a person: " + ("nothing" if not problems else ""))
    lines.extend(f"  - {p}" for p in problems)
    return "\n".join(lines)
