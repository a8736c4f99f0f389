"""Queries on the ``outbox`` table: enqueue, lease-based claims, and every terminal transition.

Statuses: ``queued → sending (leased) → sent | retry → … | dead | unknown``.
A claim takes a lease (``lease_until``); a crashed worker's rows return to the queue when the
lease lapses, flagged ``outcome_uncertain`` so the next worker asks the vendor before resending.
On Postgres claims use ``FOR UPDATE SKIP LOCKED`` so several drainers run at once; on DuckDB one
process holds the file per transaction, which already makes a claim exclusive.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .base import Row, Store, Transaction, in_list

ACTIVE = ("queued", "sending", "retry")
TERMINAL = ("sent", "dead", "unknown")


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
                :callback_url, :callback_status, 'queued', 0, :due, :now, :now)
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
            "due": max(job.send_after, now) if job.send_after else now,
            "now": now,
        },
    )
    return job_id, True


# A row is claimable when due, or when its lease lapsed (its worker died). Writes to one contact
# go out in enqueue order: a row waits while an earlier write to the same contact is unfinished.
_CLAIMABLE = """
    SELECT o.id FROM outbox o
    WHERE ((o.status IN ('queued', 'retry') AND o.next_attempt_at <= :now)
           OR (o.status = 'sending' AND o.lease_until < :now))
      {provider_filter}
      AND NOT EXISTS (
          SELECT 1 FROM outbox e
          WHERE o.contact_id IS NOT NULL AND e.contact_id = o.contact_id AND e.provider = o.provider
            AND e.action <> 'send_email' AND o.action <> 'send_email'
            AND e.status IN ('queued', 'sending', 'retry', 'unknown') AND e.seq < o.seq)
    ORDER BY o.next_attempt_at, o.seq
    LIMIT :limit
"""


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
    provider_filter, params = "", {}
    if providers:
        clause, params = in_list("provider", list(providers))
        provider_filter = f"AND o.provider IN {clause}"
    select = _CLAIMABLE.format(provider_filter=provider_filter)
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
            SET outcome_uncertain = (outcome_uncertain OR status = 'sending'), status = 'sending',
                lease_until = :lease_until, lease_owner = :owner, attempts = attempts + 1, updated_at = :now
            WHERE id IN {clause}
            """,
            {"lease_until": lease_until, "owner": owner, "now": now, **id_params},
        )
        return tx.fetchall(f"SELECT * FROM outbox WHERE id IN {clause} ORDER BY seq", id_params)


def mark_sent(
    tx: Transaction, job_id: str, provider_ref: str | None, now: datetime, *, note: str | None = None
) -> None:
    """Done; ``note`` (kept in ``last_error``) says how, e.g. which job's call carried this one."""
    tx.execute(
        "UPDATE outbox SET status = 'sent', provider_ref = :ref, done_at = :now, updated_at = :now, "
        "lease_until = NULL, lease_owner = NULL, outcome_uncertain = FALSE, last_error = :note WHERE id = :id",
        {"id": job_id, "ref": provider_ref, "now": now, "note": note},
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
            "AND action <> 'send_email' AND status IN ('queued', 'sending', 'retry', 'unknown') ORDER BY seq",
            {"provider": row["provider"], "contact_id": row["contact_id"], "seq": row["seq"]},
        )
        run = []
        for job in later:
            if (
                job["action"] != "update_contact"
                or job["status"] not in ("queued", "retry")
                or job["next_attempt_at"] > now
            ):
                break
            run.append(job)
        if not run:
            return []
        clause, params = in_list("id", [job["id"] for job in run])
        tx.execute(
            f"UPDATE outbox SET status = 'sending', lease_owner = :owner, lease_until = :lease_until, "
            f"attempts = attempts + 1, updated_at = :now WHERE id IN {clause}",
            {"owner": owner, "lease_until": lease_until, "now": now, **params},
        )
    return run


def release(tx: Transaction, job_ids: Sequence[str], now: datetime) -> None:
    """Give leased jobs back to the queue as they were (their attempt did not happen)."""
    if not job_ids:
        return
    clause, params = in_list("id", list(job_ids))
    tx.execute(
        f"UPDATE outbox SET status = 'queued', lease_owner = NULL, lease_until = NULL, "
        f"attempts = attempts - 1, updated_at = :now WHERE id IN {clause}",
        {"now": now, **params},
    )


def mark_retry(
    tx: Transaction, job_id: str, error: str, next_attempt_at: datetime, now: datetime, *, uncertain: bool
) -> None:
    """Back to the queue for a later attempt; ``uncertain`` if the vendor may have acted already."""
    tx.execute(
        "UPDATE outbox SET status = 'retry', last_error = :error, next_attempt_at = :due, updated_at = :now, "
        "lease_until = NULL, lease_owner = NULL, outcome_uncertain = :uncertain WHERE id = :id",
        {"id": job_id, "error": error[:2000], "due": next_attempt_at, "now": now, "uncertain": uncertain},
    )


def mark_final(tx: Transaction, job_id: str, status: str, reason: str, now: datetime) -> None:
    """``dead`` (will not be sent; reason says why) or ``unknown`` (a human must check the vendor)."""
    if status not in ("dead", "unknown"):
        raise ValueError(f"mark_final takes dead or unknown, not {status!r}")
    tx.execute(
        "UPDATE outbox SET status = :status, last_error = :reason, done_at = :now, updated_at = :now, "
        "lease_until = NULL, lease_owner = NULL WHERE id = :id",
        {"id": job_id, "status": status, "reason": reason[:2000], "now": now},
    )


def requeue_dead(tx: Transaction, now: datetime, job_ids: Sequence[str] | None = None) -> int:
    """Replay dead jobs (all, or the given ones) from a fresh attempt count."""
    clause, params = in_list("id", list(job_ids)) if job_ids is not None else ("", {})
    return tx.execute(
        "UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = :now, updated_at = :now, "
        f"done_at = NULL WHERE status = 'dead' {'AND id IN ' + clause if clause else ''}",
        {"now": now, **params},
    )


def other_active_writes(tx: Transaction, provider: str, contact_id: str, exclude_id: str) -> int:
    """Unfinished CRM writes to the contact besides ``exclude_id`` (its local row stays pending)."""
    return int(
        tx.scalar(
            "SELECT count(*) FROM outbox WHERE provider = :provider AND contact_id = :contact_id "
            "AND id <> :id AND action <> 'send_email' "
            "AND status IN ('queued', 'sending', 'retry', 'unknown')",
            {"provider": provider, "contact_id": contact_id, "id": exclude_id},
        )
    )


def rejected_writes_while_pending(tx: Transaction, provider: str, contact_id: str) -> list[Row]:
    """CRM writes to the contact that ended ``dead`` since its local row went pending, newest first."""
    return tx.fetchall(
        "SELECT o.* FROM outbox o JOIN contacts c ON c.provider = o.provider AND c.id = o.contact_id "
        "WHERE o.provider = :provider AND o.contact_id = :contact_id AND o.action <> 'send_email' "
        "AND o.status = 'dead' AND c.pending_since IS NOT NULL AND o.created_at >= c.pending_since "
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


def due_count(tx: Transaction, now: datetime) -> int:
    """Rows a drain would claim now (the sensor's question)."""
    return int(
        tx.scalar(
            "SELECT count(*) FROM outbox WHERE (status IN ('queued', 'retry') AND next_attempt_at <= :now) "
            "OR (status = 'sending' AND lease_until < :now)",
            {"now": now},
        )
    )
