"""Queries on the ``outbox`` table: enqueue, lease-based claims, and every terminal transition.

Statuses (:class:`JobStatus`): ``queued → sending (leased) → sent | retry → … | dead | unknown``.
A claim takes a lease (``lease_until``); a crashed worker's rows return to the queue when the
lease lapses, flagged ``outcome_uncertain`` so the next worker asks the vendor before resending.
On Postgres claims use ``FOR UPDATE SKIP LOCKED`` so several drainers run at once; on DuckDB one
process holds the file per transaction, which already makes a claim exclusive.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from . import contacts as contacts_q
from .base import Row, Store, Transaction, in_list


class JobStatus(StrEnum):
    """Where an outbox job stands. Every queued write ends ``sent``, ``dead`` or ``unknown``."""

    QUEUED = "queued"
    SENDING = "sending"  # leased by a worker
    RETRY = "retry"  # failed, due again at next_attempt_at
    SENT = "sent"
    DEAD = "dead"  # will not be sent; last_error says why
    UNKNOWN = "unknown"  # the vendor cannot tell whether it acted; a person must check


ACTIVE = (JobStatus.QUEUED, JobStatus.SENDING, JobStatus.RETRY)
TERMINAL = (JobStatus.SENT, JobStatus.DEAD, JobStatus.UNKNOWN)
# A CRM write in one of these holds back every later write to the same contact: writes go out in
# enqueue order, and an ``unknown`` one may or may not have happened, so nothing may overtake it.
UNFINISHED = (*ACTIVE, JobStatus.UNKNOWN)


def _sql_list(statuses: Iterable[JobStatus]) -> str:
    """Statuses as an SQL list literal: constants of this module, never user input."""
    return "(" + ", ".join(f"'{s.value}'" for s in statuses) + ")"


_ACTIVE, _TERMINAL, _UNFINISHED = _sql_list(ACTIVE), _sql_list(TERMINAL), _sql_list(UNFINISHED)
_WAITING = _sql_list((JobStatus.QUEUED, JobStatus.RETRY))


@dataclass(frozen=True)
class NewJob:
    """One vendor write an agent asked for."""

    action: str
    provider: str
    payload: dict[str, Any]
    idempotency_key: str
    contact_id: str | None = None
    to_email: str | None = None
    subject: str | None = None
    body_html: str | None = None
    callback_url: str | None = None
    send_after: datetime | None = None


def job_id_for_key(tx: Transaction, idempotency_key: str) -> str | None:
    """The job already queued under ``idempotency_key``, if any."""
    found = tx.scalar("SELECT id FROM outbox WHERE idempotency_key = :key", {"key": idempotency_key})
    return None if found is None else str(found)


def enqueue(tx: Transaction, job: NewJob, now: datetime) -> tuple[str, bool]:
    """Queue ``job``; return ``(job_id, created)``. The same idempotency key returns the same job."""
    existing = job_id_for_key(tx, job.idempotency_key)
    if existing is not None:
        return existing, False
    job_id = uuid.uuid4().hex
    tx.execute(
        """
        INSERT INTO outbox (id, action, provider, payload, idempotency_key, contact_id, to_email, subject,
                            body_html, callback_url, callback_status, status, attempts, next_attempt_at,
                            created_at, updated_at)
        VALUES (:id, :action, :provider, :payload, :key, :contact_id, :to_email, :subject, :body_html,
                :callback_url, :callback_status, :status, 0, :due, :now, :now)
        """,
        {
            "id": job_id,
            "action": job.action,
            "provider": job.provider,
            "payload": job.payload,
            "key": job.idempotency_key,
            "contact_id": job.contact_id,
            "to_email": job.to_email,
            "subject": job.subject,
            "body_html": job.body_html,
            "callback_url": job.callback_url,
            "callback_status": "pending" if job.callback_url else None,
            "status": JobStatus.QUEUED.value,
            "due": max(job.send_after, now) if job.send_after else now,
            "now": now,
        },
    )
    return job_id, True


# Due by time: waiting and past next_attempt_at, or leased by a worker whose lease lapsed (it died).
_DUE_BY_TIME = f"""
    ((o.status IN {_WAITING} AND o.next_attempt_at <= :now)
     OR (o.status = '{JobStatus.SENDING}' AND o.lease_until < :now))
"""
# The job an earlier, unfinished CRM write to the same contact holds back (writes go out in order).
_EARLIER_UNFINISHED = f"""
    FROM outbox e
    WHERE o.contact_id IS NOT NULL AND e.contact_id = o.contact_id AND e.provider = o.provider
      AND e.action <> 'send_email' AND o.action <> 'send_email'
      AND e.status IN {_UNFINISHED} AND e.seq < o.seq
"""
# One rule for "a drain would take this job now": the claim and the sensor's question both use it.
_CLAIMABLE = f"{_DUE_BY_TIME} {{provider_filter}} AND NOT EXISTS (SELECT 1 {_EARLIER_UNFINISHED})"


def _claimable_where(providers: Sequence[str] | None) -> tuple[str, dict[str, Any]]:
    if not providers:
        return _CLAIMABLE.format(provider_filter=""), {}
    clause, params = in_list("provider", list(providers))
    return _CLAIMABLE.format(provider_filter=f"AND o.provider IN {clause}"), params


def claim(
    store: Store,
    *,
    owner: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    providers: Sequence[str] | None = None,
) -> list[Row]:
    """Lease up to ``limit`` due rows to ``owner`` and return them (attempts already counted)."""
    where, params = _claimable_where(providers)
    select = f"SELECT o.id FROM outbox o WHERE {where} ORDER BY o.next_attempt_at, o.seq LIMIT :limit"
    if store.dialect == "postgres":
        select += " FOR UPDATE OF o SKIP LOCKED"
    with store.transaction() as tx:
        ids = [r["id"] for r in tx.fetchall(select, {"now": now, "limit": limit, **params})]
        if not ids:
            return []
        clause, id_params = in_list("id", ids)
        # SET expressions read the old row, so outcome_uncertain records "its lease lapsed mid-send".
        tx.execute(
            f"""
            UPDATE outbox
            SET outcome_uncertain = (outcome_uncertain OR status = '{JobStatus.SENDING}'),
                status = '{JobStatus.SENDING}', lease_until = :lease_until, lease_owner = :owner,
                attempts = attempts + 1, updated_at = :now
            WHERE id IN {clause}
            """,
            {"lease_until": lease_until, "owner": owner, "now": now, **id_params},
        )
        return tx.fetchall(f"SELECT * FROM outbox WHERE id IN {clause} ORDER BY seq", id_params)


def due_count(tx: Transaction, now: datetime) -> int:
    """Rows a drain would claim now (the sensor's question): the claim's own condition."""
    return sum(due_by_provider(tx, now).values())


def blocked_writes(tx: Transaction, now: datetime, limit: int = 20) -> list[Row]:
    """CRM writes due by time that wait behind an earlier write to the same contact which the next
    drain will not send (an ``unknown`` one, or one retrying later).

    Each row: ``job_id``, ``action``, ``contact_id`` and the job holding it back: ``blocked_by``,
    ``blocked_by_status``, ``blocked_by_error``. Waiting behind a job that the next drain sends
    anyway is just the per-contact order, and is not listed.
    """
    claimable, params = _claimable_where(None)
    return tx.fetchall(
        f"""
        SELECT w.job_id, w.action, w.contact_id, w.blocked_by, b.status AS blocked_by_status,
               b.last_error AS blocked_by_error
        FROM (SELECT o.id AS job_id, o.seq, o.action, o.contact_id,
                     (SELECT e.id {_EARLIER_UNFINISHED} ORDER BY e.seq LIMIT 1) AS blocked_by
              FROM outbox o
              WHERE {_DUE_BY_TIME} AND EXISTS (SELECT 1 {_EARLIER_UNFINISHED})) w
        JOIN outbox b ON b.id = w.blocked_by
        WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.id = w.blocked_by AND {claimable})
        ORDER BY w.seq
        LIMIT :limit
        """,
        {"now": now, "limit": limit, **params},
    )


def oldest_due(tx: Transaction, now: datetime) -> datetime | None:
    """When the job waiting longest became due (for status: how far behind the drain is)."""
    where, params = _claimable_where(None)
    return tx.scalar(f"SELECT min(o.next_attempt_at) FROM outbox o WHERE {where}", {"now": now, **params})


def mark_sent(
    tx: Transaction, job_id: str, provider_ref: str | None, now: datetime, *, note: str | None = None
) -> None:
    """Done; ``note`` (kept in ``last_error``) says how, e.g. which job's call carried this one."""
    tx.execute(
        "UPDATE outbox SET status = :status, provider_ref = :ref, done_at = :now, updated_at = :now, "
        "lease_until = NULL, lease_owner = NULL, outcome_uncertain = FALSE, last_error = :note WHERE id = :id",
        {"id": job_id, "status": JobStatus.SENT.value, "ref": provider_ref, "now": now, "note": note},
    )


def lease_following_updates(store: Store, row: Row, *, owner: str, now: datetime, lease_until: datetime) -> list[Row]:
    """Lease the ``update_contact`` jobs queued right after ``row`` for the same contact.

    Only an unbroken run of due updates qualifies: any other unfinished write in between keeps its
    place in the order. Nobody else can claim these rows meanwhile, because ``row`` — an earlier
    write to the same contact — is unfinished.
    """
    if row["action"] != "update_contact" or row["contact_id"] is None:
        return []
    with store.transaction() as tx:
        later = tx.fetchall(
            "SELECT * FROM outbox WHERE provider = :provider AND contact_id = :contact_id AND seq > :seq "
            f"AND action <> 'send_email' AND status IN {_UNFINISHED} ORDER BY seq",
            {"provider": row["provider"], "contact_id": row["contact_id"], "seq": row["seq"]},
        )
        run = []
        for job in later:
            waiting = job["status"] in (JobStatus.QUEUED, JobStatus.RETRY)
            if job["action"] != "update_contact" or not waiting or job["next_attempt_at"] > now:
                break
            run.append(job)
        if not run:
            return []
        clause, params = in_list("id", [job["id"] for job in run])
        tx.execute(
            f"UPDATE outbox SET status = '{JobStatus.SENDING}', lease_owner = :owner, lease_until = :lease_until, "
            f"attempts = attempts + 1, updated_at = :now WHERE id IN {clause}",
            {"owner": owner, "lease_until": lease_until, "now": now, **params},
        )
    return run


def renew_leases(tx: Transaction, owner: str, *, lease_until: datetime, now: datetime) -> int:
    """Extend every lease ``owner`` still holds (its heartbeat); return how many."""
    return tx.execute(
        "UPDATE outbox SET lease_until = :lease_until, updated_at = :now "
        f"WHERE lease_owner = :owner AND status = '{JobStatus.SENDING}'",
        {"owner": owner, "lease_until": lease_until, "now": now},
    )


def due_by_provider(tx: Transaction, now: datetime) -> dict[str, int]:
    """Rows a drain would claim now, per provider (how many chunks a run should plan for)."""
    where, params = _claimable_where(None)
    rows = tx.fetchall(
        f"SELECT o.provider, count(*) AS n FROM outbox o WHERE {where} GROUP BY o.provider", {"now": now, **params}
    )
    return {r["provider"]: int(r["n"]) for r in rows}


def release(tx: Transaction, job_ids: Sequence[str], now: datetime) -> None:
    """Give leased jobs back to the queue as they were (their attempt did not happen)."""
    if not job_ids:
        return
    clause, params = in_list("id", list(job_ids))
    tx.execute(
        f"UPDATE outbox SET status = '{JobStatus.QUEUED}', lease_owner = NULL, lease_until = NULL, "
        f"attempts = attempts - 1, updated_at = :now WHERE id IN {clause}",
        {"now": now, **params},
    )


def mark_retry(
    tx: Transaction, job_id: str, error: str, next_attempt_at: datetime, now: datetime, *, uncertain: bool
) -> None:
    """Back to the queue for a later attempt; ``uncertain`` if the vendor may have acted already."""
    tx.execute(
        "UPDATE outbox SET status = :status, last_error = :error, next_attempt_at = :due, updated_at = :now, "
        "lease_until = NULL, lease_owner = NULL, outcome_uncertain = :uncertain WHERE id = :id",
        {
            "id": job_id,
            "status": JobStatus.RETRY.value,
            "error": error[:2000],
            "due": next_attempt_at,
            "now": now,
            "uncertain": uncertain,
        },
    )


def mark_final(tx: Transaction, job_id: str, status: JobStatus, reason: str, now: datetime) -> None:
    """``dead`` (will not be sent; reason says why) or ``unknown`` (a human must check the vendor)."""
    if status not in (JobStatus.DEAD, JobStatus.UNKNOWN):
        raise ValueError(f"mark_final takes dead or unknown, not {status!r}")
    tx.execute(
        "UPDATE outbox SET status = :status, last_error = :reason, done_at = :now, updated_at = :now, "
        "lease_until = NULL, lease_owner = NULL WHERE id = :id",
        {"id": job_id, "status": JobStatus(status).value, "reason": reason[:2000], "now": now},
    )


def requeue_dead(tx: Transaction, now: datetime, job_ids: Sequence[str] | None = None) -> int:
    """Replay dead jobs (all, or the given ones) from a fresh attempt count."""
    clause, params = in_list("id", list(job_ids)) if job_ids is not None else ("", {})
    return tx.execute(
        f"UPDATE outbox SET status = '{JobStatus.QUEUED}', attempts = 0, next_attempt_at = :now, updated_at = :now, "
        f"done_at = NULL WHERE status = '{JobStatus.DEAD}' {'AND id IN ' + clause if clause else ''}",
        {"now": now, **params},
    )


def other_active_writes(tx: Transaction, provider: str, contact_id: str, exclude_id: str) -> int:
    """Unfinished CRM writes to the contact besides ``exclude_id`` (its local row stays pending)."""
    return int(
        tx.scalar(
            "SELECT count(*) FROM outbox WHERE provider = :provider AND contact_id = :contact_id "
            f"AND id <> :id AND action <> 'send_email' AND status IN {_UNFINISHED}",
            {"provider": provider, "contact_id": contact_id, "id": exclude_id},
        )
    )


def rejected_writes_while_pending(tx: Transaction, provider: str, contact_id: str) -> list[Row]:
    """CRM writes to the contact that ended ``dead`` since its local row went pending, newest first."""
    return tx.fetchall(
        "SELECT o.* FROM outbox o JOIN contacts c ON c.provider = o.provider AND c.id = o.contact_id "
        "WHERE o.provider = :provider AND o.contact_id = :contact_id AND o.action <> 'send_email' "
        f"AND o.status = '{JobStatus.DEAD}' AND c.pending_since IS NOT NULL AND o.created_at >= c.pending_since "
        "ORDER BY o.seq DESC",
        {"provider": provider, "contact_id": contact_id},
    )


def get_job(tx: Transaction, job_id: str) -> Row | None:
    return tx.fetchone("SELECT * FROM outbox WHERE id = :id", {"id": job_id})


def list_jobs(tx: Transaction, *, status: str | None = None, limit: int = 50) -> list[Row]:
    where = "WHERE status = :status" if status else ""
    return tx.fetchall(
        f"SELECT * FROM outbox {where} ORDER BY seq DESC LIMIT :limit", {"status": status, "limit": limit}
    )


def count_by_status(tx: Transaction) -> dict[str, int]:
    """How many jobs stand in each status."""
    return {r["status"]: int(r["n"]) for r in tx.fetchall("SELECT status, count(*) AS n FROM outbox GROUP BY status")}


# -- callbacks to the agent's own endpoint -------------------------------------------------------


def pending_callbacks(tx: Transaction, limit: int) -> list[Row]:
    """Finished jobs whose result has not yet reached their ``callback_url``, oldest first."""
    return tx.fetchall(
        "SELECT id, action, status, provider_ref, last_error, done_at, callback_url, callback_attempts "
        f"FROM outbox WHERE callback_status = 'pending' AND status IN {_TERMINAL} ORDER BY done_at LIMIT :limit",
        {"limit": limit},
    )


def record_callback(tx: Transaction, job_id: str, *, attempts: int, status: str, now: datetime) -> None:
    """``status``: ``pending`` (try again on a later drain), ``delivered`` or ``failed``."""
    tx.execute(
        "UPDATE outbox SET callback_attempts = :attempts, callback_status = :status, updated_at = :now WHERE id = :id",
        {"attempts": attempts, "status": status, "now": now, "id": job_id},
    )


# -- delivery events reported by the vendor --------------------------------------------------------


def record_delivery(tx: Transaction, provider: str, provider_ref: str, status: str, now: datetime) -> int:
    """A vendor reported what became of a sent message; return how many jobs matched."""
    job = tx.scalar(
        "SELECT id FROM outbox WHERE provider = :provider AND provider_ref = :ref",
        {"provider": provider, "ref": provider_ref},
    )
    return 0 if job is None else _deliver(tx, str(job), status, now)


def record_delivery_to(tx: Transaction, provider: str, to_email: str, status: str, now: datetime) -> int:
    """Like :func:`record_delivery`, for vendors whose events name the recipient, not the message:
    the latest email sent to that address takes the status."""
    latest = tx.scalar(
        f"SELECT id FROM outbox WHERE provider = :provider AND to_email = :to AND status = '{JobStatus.SENT}' "
        "ORDER BY done_at DESC LIMIT 1",
        {"provider": provider, "to": to_email},
    )
    return 0 if latest is None else _deliver(tx, str(latest), status, now)


def _deliver(tx: Transaction, job_id: str, status: str, now: datetime) -> int:
    """Set the job's delivery status and its contact's latest email activity."""
    tx.execute(
        "UPDATE outbox SET delivery_status = :status, delivery_updated_at = :now WHERE id = :id",
        {"status": status, "now": now, "id": job_id},
    )
    job = get_job(tx, job_id) or {}
    contacts_q.record_email_activity(tx, job.get("contact_id"), job.get("to_email"), status, now)
    return 1
