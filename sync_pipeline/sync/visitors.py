"""RB2B visitors: landed ``visitor_events`` rolled up into ``visitor_days`` — one row per person (or
company-only profile) and UTC day — and matched to the configured CRM account's live contacts.

Who a row is about (its profile key):

* a person by their LinkedIn profile (RB2B sends one with every person), else their business
  email, else name and company;
* a company-only profile by its website's domain, else its company name.

A repeat delivery never lands twice (the receiver keys events by a body digest), and a repeat visit
adds to the day's row: visit count, pages seen, latest ``seen_at``.

Matching is evaluated again on every run, so a visitor seen before their contact synced is matched
on the next run; matches to contacts the account no longer has live are dropped first. In order:

1. business email = contact email, case-insensitive;
2. LinkedIn profile. Neither CRM has a LinkedIn field of its own: GHL keeps it in a custom field
   the location defines (its id differs per location; the sandbox seeds ``contact.linkedin``),
   HubSpot in a property (e.g. ``hs_linkedin_url``) that our mapping keeps among custom fields. So
   any custom field value holding a ``linkedin.com/in/…`` URL counts. URLs are compared as
   :func:`linkedin_key` normalizes them: no scheme, ``www.`` or country host, query, fragment or
   trailing slash, lower-cased (LinkedIn profile slugs are case-insensitive).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from ..store import Row, Store
from ..store import sync_state as state_q
from ..store import visitor_days as days_q
from ..store import webhooks as webhooks_q
from ..store.contacts import Account

_LINKEDIN = re.compile(r"linkedin\.com/(in|pub)/([^/?#\s\"'\\]+)", re.IGNORECASE)


def linkedin_key(url: str | None) -> str | None:
    """``https://www.linkedin.com/in/Jane-Doe/?trk=x`` → ``linkedin.com/in/jane-doe``; None if no profile URL."""
    keys = linkedin_keys_in(url)
    return keys[0] if keys else None


def linkedin_keys_in(text: str | None) -> list[str]:
    """Every LinkedIn profile named in ``text`` (e.g. a contact's custom fields as JSON), normalized."""
    return [f"linkedin.com/{m.group(1).lower()}/{unquote(m.group(2)).lower()}" for m in _LINKEDIN.finditer(text or "")]


def domain_of(website: str | None) -> str | None:
    """``https://www.Acme.com/about`` → ``acme.com``."""
    if not website or not website.strip():
        return None
    text = website.strip()
    host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    return host.removeprefix("www.") or None


def profile_of(event: Row) -> tuple[str, str]:
    """``(profile key, kind)`` of one landed event; kind is ``person`` or ``company``."""
    email = (event["business_email"] or "").lower()
    if event["linkedin_url"] or email or event["first_name"] or event["last_name"]:
        if key := linkedin_key(event["linkedin_url"]):
            return f"person:{key}", "person"
        if email:
            return f"person:{email}", "person"
        name = " ".join(filter(None, (event["first_name"], event["last_name"]))).lower()
        return f"person:{name}@{_organisation(event)}", "person"
    return f"company:{_organisation(event)}", "company"


def _organisation(event: Row) -> str:
    return domain_of(event["website"]) or (event["company_name"] or "").strip().lower()


def day_of(event: Row) -> str:
    """The UTC day of the visit (``seen_at``, or when it landed if RB2B sent no time)."""
    return _seen(event).astimezone(UTC).date().isoformat()


def _seen(event: Row) -> datetime:
    return event["seen_at"] or event["received_at"]


def roll_up(key: str, day: str, kind: str, events: Sequence[Row], now: datetime) -> dict[str, Any]:
    """One ``visitor_days`` row from every event of that profile and day."""
    ordered = sorted(events, key=lambda e: (_seen(e), e["seq"]))
    row: dict[str, Any] = {
        f: next((e[f] for e in reversed(ordered) if e[f] is not None), None) for f in days_q.PROFILE_FIELDS
    }
    pages = list(dict.fromkeys(e["captured_url"] for e in ordered if e["captured_url"]))
    row.update(
        profile_key=key,
        visit_day=day,
        kind=kind,
        business_email=(row["business_email"] or "").lower() or None,
        linkedin_key=linkedin_key(row["linkedin_url"]),
        visits=len(ordered),
        pages=pages,
        last_page=next((e["captured_url"] for e in reversed(ordered) if e["captured_url"]), None),
        referrer=next((e["referrer"] for e in ordered if e["referrer"]), None),
        first_seen_at=_seen(ordered[0]),
        last_seen_at=_seen(ordered[-1]),
        last_event_seq=max(e["seq"] for e in ordered),
        updated_at=now,
    )
    return row


@dataclass
class VisitorsReport:
    """What one run did; becomes Dagster materialization metadata."""

    new_events: int = 0
    people: int = 0  # distinct people (companies) with a visit counted this run
    companies: int = 0
    matched: int = 0  # of those people, matched to a contact / not
    unmatched: int = 0
    newly_matched_rows: int = 0  # rows matched this run, visits of earlier runs included
    stale_matches_dropped: int = 0
    unmatched_rows: int = 0
    total_rows: int = 0
    quarantined_since_last_run: int = 0
    cursor_seq: int = 0  # newest event seq counted so far

    def as_metadata(self) -> dict[str, int]:
        return asdict(self)


def update_visitors(
    store: Store,
    account: Account,
    *,
    batch_size: int = 2_000,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> VisitorsReport:
    """Count every landed event not yet counted, re-match visitors, and report what changed.

    Rows touched by this run carry ``updated_at`` = the run's start, so callers can pick them out.
    """
    now = clock()
    with store.transaction() as tx:
        position = json.loads(state_q.load(tx, days_q.STREAM).cursor or "{}")
    report = VisitorsReport(cursor_seq=int(position.get("seq", 0)))
    while counted := _count_batch(store, batch_size, now):
        report.new_events += len(counted)
        report.cursor_seq = max(report.cursor_seq, *counted)
    report.stale_matches_dropped = match_visitors(store, account, now)
    with store.transaction() as tx:
        for name, value in {**days_q.touched_summary(tx, now), **days_q.totals(tx, now)}.items():
            setattr(report, name, value)
        report.quarantined_since_last_run, quarantine_id = webhooks_q.quarantine_count(
            tx, source="rb2b", after_id=int(position.get("quarantine_id", 0))
        )
        cursor = json.dumps({"seq": report.cursor_seq, "quarantine_id": quarantine_id})
        state_q.save(tx, days_q.STREAM, cursor=cursor, checkpoint=None, at=now)
    return report


def _count_batch(store: Store, batch_size: int, now: datetime) -> list[int]:
    """Assign the next batch of uncounted events to their rows and recompute those rows, in one
    transaction; return the batch's seqs (empty when nothing was left)."""
    with store.transaction() as tx:
        events = days_q.uncounted_events(tx, batch_size)
        if not events:
            return []
        kinds: dict[str, str] = {}
        assignments = []
        for event in events:
            key, kinds[key] = profile_of(event)
            assignments.append({"event_id": event["event_id"], "profile_key": key, "visit_day": day_of(event)})
        days_q.assign_events(tx, assignments)
        touched = {(a["profile_key"], a["visit_day"]) for a in assignments}
        grouped: dict[tuple[str, str], list[Row]] = defaultdict(list)
        for event in days_q.events_of(tx, kinds, {day for _, day in touched}):
            if (event["profile_key"], event["visit_day"]) in touched:
                grouped[event["profile_key"], event["visit_day"]].append(event)
        days_q.upsert_days(tx, [roll_up(k, d, kinds[k], grouped[k, d], now) for k, d in sorted(touched)])
    return [e["seq"] for e in events]


def match_visitors(store: Store, account: Account, now: datetime) -> int:
    """Drop matches to contacts no longer live, then match unmatched people by business email and
    then by LinkedIn profile; return how many stale matches were dropped."""
    with store.transaction() as tx:
        dropped = days_q.drop_stale_matches(tx, account)
        days_q.match_by_email(tx, account, now)
        wanted = days_q.unmatched_linkedin_keys(tx)
        if wanted:
            found: dict[str, str] = {}
            for contact in days_q.contacts_mentioning_linkedin(tx, account):  # most recently updated first
                for key in linkedin_keys_in(contact["custom_fields"]):
                    if key in wanted:
                        found.setdefault(key, contact["id"])
            days_q.match_by_linkedin(tx, found, now)
    return max(dropped, 0)
