"""One outbox job, start to finish: call the provider, then record ``sent``/``retry``/``dead``/``unknown``.

No duplicate sends: the job's idempotency key goes to the vendor where it supports one, and a job
whose earlier attempt may have reached the vendor (its lease lapsed mid-send, or the answer was
lost to a timeout) first asks the provider whether that send happened. When the vendor cannot
tell, the job becomes ``unknown`` for a person to review instead of being sent twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import NotFound, OutcomeUnknown, PermanentVendorError, RateLimited, TransientVendorError
from ..providers.base import CRMProvider, EmailProvider
from ..records import ContactChanges, OutboundEmail
from ..store import Row, Store
from ..store import outbox as outbox_q
from ..store.outbox import JobStatus
from . import local_changes
from .backoff import Backoff


@dataclass(frozen=True)
class Outcome:
    """What became of one attempt: ``sent``, ``retry``, ``dead`` or ``unknown``, and why (the reason
    stored in ``last_error``; None when sent)."""

    status: JobStatus
    reason: str | None = None


@dataclass
class OutboxWorker:
    """Processes claimed rows with the configured providers (one per vendor name)."""

    store: Store
    email: Mapping[str, EmailProvider]
    crm: Mapping[str, CRMProvider]
    max_attempts: int = 8
    backoff: Backoff = field(default_factory=Backoff)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def providers(self) -> list[Any]:
        """Every provider this worker sends through (for their transport counters)."""
        return [*self.email.values(), *self.crm.values()]

    def process(self, row: Row) -> Outcome:
        """Run one claimed job and record its outcome; never raises for a vendor failure."""
        try:
            ref = self._send_email(row) if row["action"] == "send_email" else self._write_crm(row)
        except OutcomeUnknown as exc:
            return self._finish(row, JobStatus.UNKNOWN, f"vendor cannot tell whether it was sent: {exc}")
        except RateLimited as exc:
            return self._retry(row, exc, retry_after=exc.retry_after, uncertain=False)
        except TransientVendorError as exc:
            # A send may have reached the vendor before the failure: look it up before resending.
            return self._retry(row, exc, retry_after=None, uncertain=row["action"] == "send_email")
        except PermanentVendorError as exc:
            return self._finish(row, JobStatus.DEAD, f"rejected: {exc}")
        except (KeyError, ValueError) as exc:
            return self._finish(row, JobStatus.DEAD, f"job cannot be sent as queued: {type(exc).__name__}: {exc}")
        with self.store.transaction() as tx:
            outbox_q.mark_sent(tx, row["id"], ref, self.clock())
        return Outcome(JobStatus.SENT)

    # -- email -----------------------------------------------------------------------------------

    def _send_email(self, row: Row) -> str:
        provider = self._provider(self.email, row)
        payload = row["payload"]
        email = OutboundEmail(
            idempotency_key=row["idempotency_key"],
            to_email=payload["to_email"],
            subject=payload["subject"],
            html=payload["html"],
            contact_id=payload.get("contact_id"),
            reply_to_ref=payload.get("reply_to_ref"),
        )
        if row["outcome_uncertain"]:
            earlier = provider.lookup(email)
            if earlier is not None:
                return earlier.provider_ref
        return provider.send(email).provider_ref

    # -- CRM writes ------------------------------------------------------------------------------

    def _write_crm(self, row: Row) -> str | None:
        crm = self._provider(self.crm, row)
        action, contact_id = row["action"], row["contact_id"]
        changes: dict[str, Any] = row["payload"].get("changes", {})
        fresh = None
        try:
            if action == "update_contact":
                fresh = self._update_coalesced(crm, row, changes)
            elif action == "upsert_contact":
                fresh = crm.upsert_contact(ContactChanges(**changes))
                contact_id = fresh.id
            elif action == "add_tags":
                crm.add_tags(contact_id, changes["tags"])
            elif action == "remove_tags":
                crm.remove_tags(contact_id, changes["tags"])
            elif action == "delete_contact":
                crm.delete_contact(contact_id)
            else:
                raise ValueError(f"unknown outbox action {action!r}")
        except NotFound:
            if action != "delete_contact":
                raise
        self._settle(row, contact_id, fresh=fresh)
        return fresh.id if fresh is not None else contact_id

    def _update_coalesced(self, crm: CRMProvider, row: Row, changes: dict[str, Any]) -> Any:
        """One vendor call for this update and the updates queued right behind it for the contact.

        The later jobs are leased with this one and finish with it: ``sent`` when the call succeeds,
        back in the queue (untouched) when it fails, so their own attempt decides their fate.
        """
        now = self.clock()
        followers = outbox_q.lease_following_updates(
            self.store,
            row,
            owner=row["lease_owner"] or "worker",
            now=now,
            lease_until=row["lease_until"] or now,  # the claim's own heartbeat renews these with it
        )
        merged = dict(changes)
        for job in followers:
            merged.update(job["payload"].get("changes", {}))
        try:
            fresh = crm.update_contact(row["contact_id"], ContactChanges(**merged))
        except BaseException:
            with self.store.transaction() as tx:
                outbox_q.release(tx, [job["id"] for job in followers], self.clock())
            raise
        with self.store.transaction() as tx:
            for job in followers:
                outbox_q.mark_sent(tx, job["id"], fresh.id, self.clock(), note=f"coalesced into job {row['id']}")
        return fresh

    def _settle(self, row: Row, contact_id: str | None, *, fresh: Any = None) -> None:
        local_changes.settle(self.store, row, contact_id, self.crm.get(row["provider"]), now=self.clock(), fresh=fresh)

    # -- outcomes --------------------------------------------------------------------------------

    def _retry(self, row: Row, exc: Exception, *, retry_after: float | None, uncertain: bool) -> Outcome:
        uncertain = uncertain or bool(row["outcome_uncertain"])
        if row["attempts"] >= self.max_attempts:
            if uncertain:
                return self._finish(
                    row,
                    JobStatus.UNKNOWN,
                    f"gave up after {row['attempts']} attempts, the last of which may have reached the vendor: {exc}",
                )
            return self._finish(row, JobStatus.DEAD, f"gave up after {row['attempts']} attempts: {exc}")
        now = self.clock()
        due = now + timedelta(seconds=self.backoff.delay(row["attempts"], retry_after))
        error = f"{type(exc).__name__}: {exc}"
        with self.store.transaction() as tx:
            outbox_q.mark_retry(tx, row["id"], error, due, now, uncertain=uncertain)
        return Outcome(JobStatus.RETRY, error)

    def _finish(self, row: Row, status: JobStatus, reason: str) -> Outcome:
        with self.store.transaction() as tx:
            outbox_q.mark_final(tx, row["id"], status, reason, self.clock())
        if status == JobStatus.DEAD and row["action"] != "send_email":
            self._settle(row, row["contact_id"])
        return Outcome(status, reason)

    @staticmethod
    def _provider(providers: Mapping[str, Any], row: Row) -> Any:
        try:
            return providers[row["provider"]]
        except KeyError:
            raise PermanentVendorError(
                row["provider"], f"no provider {row['provider']!r} is configured for {row['action']}"
            ) from None
