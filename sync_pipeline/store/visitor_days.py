"""Queries on ``visitor_days`` (the ``rb2b_visitors`` asset): one row per person, or company-only
profile, and UTC day, rolled up from ``visitor_events`` and matched to the CRM account's contacts.

Events are taken in arrival order (``visitor_events.seq``) among those not yet counted
(``profile_key IS NULL``) rather than strictly after a high-water mark: Postgres hands out sequence
values at insert, not at commit, so a delivery committed a moment after a later one would fall
behind such a mark and never be counted. Each run then recomputes the rows it touched from every
event of those rows, so re-reading an event (or two runs at once) never counts a visit twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from .base import Row, Transaction, in_list
from .contacts import Account
from .visitors import VISITOR_COLUMNS

STREAM = "rb2b_visitors"  # sync_state row: the newest event seq counted, quarantine position

# Fields of one visit; every other normalized field describes the visitor, and a day's row shows
# its latest non-empty value.
PER_VISIT = ("seen_at", "captured_url", "referrer", "is_repeat_visit")
PROFILE_FIELDS = tuple(c for c in VISITOR_COLUMNS if c not in PER_VISIT)
EVENT_COLUMNS = ("seq", "event_id", "received_at", *VISITOR_COLUMNS)

# What a visitor_days row says about the visits; recomputed from its events on every touch. The
# match and the CRM jobs are not among them: they belong to the row and survive a recompute.
DAY_COLUMNS = (
    "profile_key",
    "visit_day",
    "kind",
    *PROFILE_FIELDS,
    "linkedin_key",
    "visits",
    "pages",
    "last_page",
    "referrer",
    "first_seen_at",
    "last_seen_at",
    "last_event_seq",
    "updated_at",
)

# What agents read of a visitor.
READ_COLUMNS = (*DAY_COLUMNS[:-2], "contact_id", "matched_by", "matched_at", "crm_job_id", "updated_at")

_CHUNK = 500


# -- events -> rows ------------------------------------------------------------------------------


def uncounted_events(tx: Transaction, limit: int) -> list[Row]:
    """The oldest landed events no row counts yet, in arrival order."""
    return tx.fetchall(
        f"SELECT {', '.join(EVENT_COLUMNS)} FROM visitor_events WHERE profile_key IS NULL ORDER BY seq LIMIT :limit",
        {"limit": limit},
    )


def assign_events(tx: Transaction, assignments: Sequence[Mapping[str, Any]]) -> None:
    """Record which row counts each event: ``event_id``, ``profile_key``, ``visit_day``."""
    tx.executemany(
        "UPDATE visitor_events SET profile_key = :profile_key, visit_day = :visit_day WHERE event_id = :event_id",
        assignments,
    )


def events_of(tx: Transaction, profile_keys: Iterable[str], days: Iterable[str]) -> list[Row]:
    """Every counted event of these profiles on these days, in arrival order."""
    keys = sorted(set(profile_keys))
    day_clause, day_params = in_list("day", sorted(set(days)))
    rows: list[Row] = []
    for start in range(0, len(keys), _CHUNK):
        clause, params = in_list("key", keys[start : start + _CHUNK])
        rows += tx.fetchall(
            f"SELECT profile_key, visit_day, {', '.join(EVENT_COLUMNS)} FROM visitor_events "
            f"WHERE profile_key IN {clause} AND visit_day IN {day_clause}",
            {**params, **day_params},
        )
    return sorted(rows, key=lambda r: r["seq"])


_INSERT = f"INSERT INTO visitor_days ({', '.join(DAY_COLUMNS)}) VALUES ({', '.join(':' + c for c in DAY_COLUMNS)})"
_UPDATE = (
    f"UPDATE visitor_days SET {', '.join(f'{c} = :{c}' for c in DAY_COLUMNS[2:])} "
    "WHERE profile_key = :profile_key AND visit_day = :visit_day"
)


def upsert_days(tx: Transaction, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write recomputed rows; a row's match and CRM jobs are kept.

    A plain INSERT for new rows and an UPDATE for the others, rather than ``ON CONFLICT``: both
    backends run those two shapes as one statement per batch (DuckDB ran the upsert row by row,
    7 ms a row). Runs are one at a time (the job's exclusive tag); two at once could collide on a
    new row's key, and the loser's transaction then rolls back whole for the next run to redo.
    """
    existing: set[tuple[str, str]] = set()
    keys = sorted({r["profile_key"] for r in rows})
    for start in range(0, len(keys), _CHUNK):
        clause, params = in_list("key", keys[start : start + _CHUNK])
        found = tx.fetchall(f"SELECT profile_key, visit_day FROM visitor_days WHERE profile_key IN {clause}", params)
        existing.update((r["profile_key"], r["visit_day"]) for r in found)
    tx.executemany(_INSERT, [r for r in rows if (r["profile_key"], r["visit_day"]) not in existing])
    tx.executemany(_UPDATE, [r for r in rows if (r["profile_key"], r["visit_day"]) in existing])


def uncounted(tx: Transaction) -> tuple[int, int | None]:
    """How many landed events wait to be counted, and the newest one's seq (for run keys)."""
    row = tx.fetchone("SELECT count(*) AS n, max(seq) AS newest FROM visitor_events WHERE profile_key IS NULL")
    return (int(row["n"]), row["newest"]) if row else (0, None)


# -- matching to the account's contacts ----------------------------------------------------------


def drop_stale_matches(tx: Transaction, account: Account) -> int:
    """Forget matches to contacts the account no longer has live (deleted, or another account)."""
    return tx.execute(
        "UPDATE visitor_days SET contact_id = NULL, matched_by = NULL, matched_at = NULL "
        "WHERE contact_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM contacts c "
        f"WHERE {account.where('c')} AND c.deleted_at IS NULL AND c.id = visitor_days.contact_id)",
        account.params(),
    )


def match_by_email(tx: Transaction, account: Account, now: datetime) -> None:
    """Match unmatched people to the live contact with their business email (case-insensitive)."""
    same_email = (
        f"FROM contacts c WHERE {account.where('c')} AND c.deleted_at IS NULL "
        "AND c.email = lower(visitor_days.business_email)"
    )
    tx.execute(
        f"UPDATE visitor_days SET contact_id = (SELECT c.id {same_email} "
        "ORDER BY c.date_updated DESC NULLS LAST, c.id LIMIT 1), matched_by = 'email', matched_at = :now "
        "WHERE contact_id IS NULL AND kind = 'person' AND business_email IS NOT NULL "
        f"AND EXISTS (SELECT 1 {same_email})",
        {**account.params(), "now": now},
    )


def unmatched_linkedin_keys(tx: Transaction) -> set[str]:
    """LinkedIn keys of people still unmatched."""
    rows = tx.fetchall(
        "SELECT DISTINCT linkedin_key FROM visitor_days "
        "WHERE contact_id IS NULL AND kind = 'person' AND linkedin_key IS NOT NULL"
    )
    return {r["linkedin_key"] for r in rows}


def contacts_mentioning_linkedin(tx: Transaction, account: Account) -> list[Row]:
    """``id`` and ``custom_fields`` (as JSON text) of live contacts whose custom fields name a
    linkedin.com URL, most recently updated first."""
    return tx.fetchall(
        "SELECT id, CAST(custom_fields AS TEXT) AS custom_fields FROM contacts "
        f"WHERE {account.where()} AND deleted_at IS NULL "
        "AND lower(CAST(custom_fields AS TEXT)) LIKE '%linkedin.com/%' "
        "ORDER BY date_updated DESC NULLS LAST, id",
        account.params(),
    )


def match_by_linkedin(tx: Transaction, contact_by_key: Mapping[str, str], now: datetime) -> None:
    """Match unmatched people whose LinkedIn key is in ``contact_by_key`` to that contact."""
    tx.executemany(
        "UPDATE visitor_days SET contact_id = :contact_id, matched_by = 'linkedin', matched_at = :now "
        "WHERE linkedin_key = :key AND contact_id IS NULL AND kind = 'person'",
        [{"key": k, "contact_id": c, "now": now} for k, c in contact_by_key.items()],
    )


def stale_matches(tx: Transaction, account: Account) -> int:
    """Rows matched to a contact the account does not hold live (0 when healthy)."""
    return int(
        tx.scalar(
            "SELECT count(*) FROM visitor_days v WHERE v.contact_id IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM contacts c WHERE {account.where('c')} AND c.deleted_at IS NULL AND c.id = v.contact_id)",
            account.params(),
        )
    )


# -- contacts created for unmatched visitors (RB2B_CREATE_CONTACTS) ------------------------------


def creation_candidates(tx: Transaction, touched_since: datetime) -> list[Row]:
    """Unmatched people with a business email, in rows touched since ``touched_since``, for whom no
    contact was queued yet; one row per email (its latest visit)."""
    rows = tx.fetchall(
        "SELECT business_email, first_name, last_name, company_name, last_page, last_seen_at FROM visitor_days v "
        "WHERE v.updated_at >= :since AND v.kind = 'person' AND v.contact_id IS NULL "
        "AND v.business_email IS NOT NULL AND v.crm_job_id IS NULL AND NOT EXISTS "
        "(SELECT 1 FROM visitor_days o WHERE o.business_email = v.business_email AND o.crm_job_id IS NOT NULL) "
        "ORDER BY v.business_email, v.last_seen_at DESC",
        {"since": touched_since},
    )
    return list({r["business_email"]: r for r in reversed(rows)}.values())


def record_creation(tx: Transaction, email: str, job_id: str) -> None:
    """The contact for ``email`` was queued as outbox job ``job_id``."""
    tx.execute(
        "UPDATE visitor_days SET crm_job_id = :job WHERE business_email = :email AND crm_job_id IS NULL",
        {"job": job_id, "email": email},
    )


def created_contacts_to_tag(tx: Transaction) -> list[str]:
    """Contacts we created (their job was sent) that have synced and matched, not yet tagged."""
    rows = tx.fetchall(
        "SELECT DISTINCT v.contact_id FROM visitor_days v JOIN outbox o ON o.id = v.crm_job_id "
        "WHERE v.contact_id IS NOT NULL AND v.tag_job_id IS NULL AND o.status = 'sent' ORDER BY v.contact_id"
    )
    return [r["contact_id"] for r in rows]


def record_tagging(tx: Transaction, contact_id: str, job_id: str) -> None:
    tx.execute(
        "UPDATE visitor_days SET tag_job_id = :job "
        "WHERE contact_id = :contact_id AND crm_job_id IS NOT NULL AND tag_job_id IS NULL",
        {"job": job_id, "contact_id": contact_id},
    )


def awaiting_match(tx: Transaction) -> int:
    """People a newly synced contact could match, plus created contacts still untagged."""
    return int(
        tx.scalar(
            "SELECT count(*) FROM visitor_days WHERE kind = 'person' AND (contact_id IS NULL "
            "OR (crm_job_id IS NOT NULL AND tag_job_id IS NULL))"
        )
    )


# -- what a run did, and reads ---------------------------------------------------------------------


def touched_summary(tx: Transaction, since: datetime) -> dict[str, int]:
    """Distinct people and companies in rows touched since ``since``; people matched or not."""
    row = tx.fetchone(
        "SELECT count(DISTINCT CASE WHEN kind = 'person' THEN profile_key END) AS people, "
        "count(DISTINCT CASE WHEN kind = 'company' THEN profile_key END) AS companies, "
        "count(DISTINCT CASE WHEN kind = 'person' AND contact_id IS NOT NULL THEN profile_key END) AS matched "
        "FROM visitor_days WHERE updated_at >= :since",
        {"since": since},
    )
    people, companies, matched = (int((row or {}).get(k) or 0) for k in ("people", "companies", "matched"))
    return {"people": people, "companies": companies, "matched": matched, "unmatched": people - matched}


def totals(tx: Transaction, matched_at: datetime) -> dict[str, int]:
    """Rows in all, people rows unmatched, and rows matched at ``matched_at`` (this run)."""
    row = tx.fetchone(
        "SELECT count(*) AS total_rows, "
        "count(CASE WHEN kind = 'person' AND contact_id IS NULL THEN 1 END) AS unmatched_rows, "
        "count(CASE WHEN matched_at = :at THEN 1 END) AS newly_matched_rows FROM visitor_days",
        {"at": matched_at},
    )
    return {k: int(v or 0) for k, v in (row or {}).items()}


def recent(tx: Transaction, *, since: datetime | None, matched: bool | None, limit: int) -> list[Row]:
    """Rows last seen at or after ``since``, newest first; ``matched`` narrows to (un)matched."""
    where = ["last_seen_at >= :since"] if since is not None else []
    if matched is not None:
        where.append("contact_id IS NOT NULL" if matched else "contact_id IS NULL")
    return tx.fetchall(
        f"SELECT {', '.join(READ_COLUMNS)} FROM visitor_days {'WHERE ' + ' AND '.join(where) if where else ''} "
        "ORDER BY last_seen_at DESC, profile_key LIMIT :limit",
        {"since": since, "limit": limit},
    )
