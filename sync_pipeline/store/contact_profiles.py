"""Queries on ``contact_profiles``: one row per live contact of a CRM account — the contact, its
latest person enrichment, its recent visits and its outbox history — the one table agents read.

The asset rebuilds an account's rows in one statement; joins and aggregates are portable SQL
(window functions, no JSON aggregation), identical on DuckDB and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime

from .base import Row, Transaction
from .contacts import Account
from .outbox import ACTIVE, JobStatus

PROFILE_COLUMNS = (
    "provider",
    "contact_id",
    "location_id",
    "email",
    "first_name",
    "last_name",
    "company_name",
    "phone",
    "tags",
    "contact_synced_at",
    "enrichment_status",
    "enrichment_provider",
    "enrichment",
    "enrichment_fetched_at",
    "enrichment_expires_at",
    "visits_30d",
    "visit_days_30d",
    "last_visit_at",
    "last_page",
    "emails_sent",
    "emails_pending",
    "jobs_failed",
    "last_job_action",
    "last_job_status",
    "last_job_at",
    "last_email_subject",
    "last_email_at",
    "built_at",
)


def _statuses(*statuses: JobStatus) -> str:
    """Statuses as an SQL list literal: constants, never input."""
    return "(" + ", ".join(f"'{s.value}'" for s in statuses) + ")"


def _latest(source: str, columns: str, order: str, where: str = "") -> str:
    """Each contact's newest row of ``source`` (a subquery aliased by the caller)."""
    return (
        f"(SELECT contact_id, {columns}, row_number() OVER (PARTITION BY contact_id ORDER BY {order} DESC) AS n "
        f"FROM {source} WHERE contact_id IS NOT NULL{where})"
    )


_REBUILD = f"""
INSERT INTO contact_profiles ({", ".join(PROFILE_COLUMNS)})
SELECT c.provider, c.id, c.location_id, c.email, c.first_name, c.last_name, c.company_name, c.phone, c.tags,
       c.synced_at, e.status, e.provider, e.data, e.fetched_at, e.expires_at,
       coalesce(v.visits, 0), coalesce(v.days, 0), v.last_seen_at, lv.last_page,
       coalesce(o.sent, 0), coalesce(o.pending, 0), coalesce(o.failed, 0),
       lj.action, lj.status, lj.created_at, le.subject, le.created_at, :now
FROM contacts c
LEFT JOIN enrichment_cache e ON e.kind = 'person' AND e.key = c.email
LEFT JOIN (SELECT contact_id, sum(visits) AS visits, count(*) AS days, max(last_seen_at) AS last_seen_at
           FROM visitor_days WHERE contact_id IS NOT NULL AND last_seen_at >= :visits_since
           GROUP BY contact_id) v ON v.contact_id = c.id
LEFT JOIN {_latest("visitor_days", "last_page", "last_seen_at")} lv ON lv.contact_id = c.id AND lv.n = 1
LEFT JOIN (SELECT contact_id,
                  sum(CASE WHEN action = 'send_email' AND status = '{JobStatus.SENT.value}' THEN 1 ELSE 0 END) AS sent,
                  sum(CASE WHEN status IN {_statuses(*ACTIVE)} THEN 1 ELSE 0 END) AS pending,
                  sum(CASE WHEN status IN {_statuses(JobStatus.DEAD, JobStatus.UNKNOWN)} THEN 1 ELSE 0 END) AS failed
           FROM outbox WHERE contact_id IS NOT NULL GROUP BY contact_id) o ON o.contact_id = c.id
LEFT JOIN {_latest("outbox", "action, status, created_at", "seq")} lj ON lj.contact_id = c.id AND lj.n = 1
LEFT JOIN {_latest("outbox", "subject, created_at", "seq", " AND action = 'send_email'")} le
       ON le.contact_id = c.id AND le.n = 1
WHERE {{account}} AND c.deleted_at IS NULL
"""


def rebuild(tx: Transaction, account: Account, *, now: datetime, visits_since: datetime) -> int:
    """Replace ``account``'s profiles with one row per live contact; return how many."""
    params = {**account.params(), "now": now, "visits_since": visits_since}
    tx.execute(f"DELETE FROM contact_profiles WHERE {account.where()}", account.params())
    tx.execute(_REBUILD.format(account=account.where("c")), params)
    return int(tx.scalar(f"SELECT count(*) FROM contact_profiles WHERE {account.where()}", account.params()) or 0)


def get_profile(tx: Transaction, account: Account, contact_id: str) -> Row | None:
    """``contact_id``'s profile in ``account``, or None (unknown, deleted, or not built yet)."""
    return tx.fetchone(
        f"SELECT {', '.join(PROFILE_COLUMNS)} FROM contact_profiles WHERE {account.where()} AND contact_id = :id",
        {**account.params(), "id": contact_id},
    )


def coverage(tx: Transaction, account: Account) -> dict[str, int]:
    """Profiles against live contacts of ``account``, and profiles with a person enrichment."""
    mine = account.where()
    row = tx.fetchone(
        "SELECT "
        f"(SELECT count(*) FROM contacts WHERE {mine} AND deleted_at IS NULL) AS live_contacts, "
        f"(SELECT count(*) FROM contact_profiles WHERE {mine}) AS profiles, "
        f"(SELECT count(*) FROM contact_profiles WHERE {mine} AND enrichment_status = 'hit') AS enriched",
        account.params(),
    )
    return {k: int(v or 0) for k, v in (row or {}).items()}
