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
from ..store import contacts as contacts_q
from ..store import outbox as outbox_q
from .backoff import Backoff

Outcome = str  # sent | retry | dead | unknown
_GONE = object()  # the CRM no longer has the contact


@dataclass
class OutboxWorker:
    """Processes claimed rows with the configured providers (one per vendor name)."""

    store: Store
    email: Mapping[str, EmailProvider]
    crm: Mapping[str, CRMProvider]
    max_attempts: int = 8
    backoff: Backoff = field(default_factory=Backoff)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def process(self, row: Row) -> Outcome:
        """Run one claimed job and record its outcome; never raises for a vendor failure."""
        try:
            ref = self._send_email(row) if row["action"] == "send_email" else self._write_crm(row)
        except OutcomeUnknown as exc:
            return self._finish(row, "unknown", f"vendor cannot tell whether it was sent: {exc}")
        except RateLimited as exc:
            return self._retry(row, exc, retry_after=exc.retry_after, uncertain=False)
        except TransientVendorError as exc:
            # A send may have reached the vendor before the failure: look it up before resending.
            return self._retry(row, exc, retry_after=None, uncertain=row["action"] == "send_email")
        except PermanentVendorError as exc:
            return self._finish(row, "dead", f"rejected: {exc}")
        except (KeyError, ValueError) as exc:
            return self._finish(row, "dead", f"job cannot be sent as queued: {type(exc).__name__}: {exc}")
        with self.store.transaction() as tx:
            outbox_q.mark_sent(tx, row["id"], ref, self.clock())
        return "sent"

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
            lease_until=row["lease_until"] or now + timedelta(minutes=10),
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
        """The last queued write to a contact to finish brings its local row back in line.

        While later writes are queued the local row (showing all of them) is left alone. The last
        one to finish writes the vendor's copy when it has one; when any write of the run was
        rejected, the vendor's copy is read back (a rejected change must not linger locally), and
        if the vendor cannot be asked, the rejected writes' ``before`` snapshots are put back.
        """
        if contact_id is None:
            return
        provider = row["provider"]
        with self.store.transaction() as tx:
            if outbox_q.other_active_writes(tx, provider, contact_id, row["id"]):
                return
            rejected = outbox_q.rejected_writes_while_pending(tx, provider, contact_id)
        restore = None
        if rejected and fresh is None:
            fresh, restore = self._vendor_copy(row, contact_id, rejected)
        with self.store.transaction() as tx:
            if fresh is _GONE:
                contacts_q.soft_delete(tx, provider, [contact_id], self.clock())
                fresh = None
            contacts_q.settle_pending(tx, provider, contact_id, now=self.clock(), fresh=fresh, restore=restore)

    def _vendor_copy(self, row: Row, contact_id: str, rejected: list[Row]) -> tuple[Any, dict | None]:
        """``(contact, None)`` from the CRM; else ``(_GONE or None, the values before the run)``."""
        snapshot: dict[str, Any] = {}
        for job in rejected:  # newest first, so the oldest, holding the value before the run, wins
            snapshot.update(job["payload"].get("before") or {})
        try:
            found = self._provider(self.crm, row).get_contact(contact_id)
        except (TransientVendorError, PermanentVendorError):
            return None, snapshot
        return (found, None) if found is not None else (_GONE, snapshot)

    # -- outcomes --------------------------------------------------------------------------------

    def _retry(self, row: Row, exc: Exception, *, retry_after: float | None, uncertain: bool) -> Outcome:
        uncertain = uncertain or bool(row["outcome_uncertain"])
        if row["attempts"] >= self.max_attempts:
            if uncertain:
                return self._finish(
                    row,
                    "unknown",
                    f"gave up after {row['attempts']} attempts, the last of which may have reached the vendor: {exc}",
                )
            return self._finish(row, "dead", f"gave up after {row['attempts']} attempts: {exc}")
        now = self.clock()
        due = now + timedelta(seconds=self.backoff.delay(row["attempts"], retry_after))
        with self.store.transaction() as tx:
            outbox_q.mark_retry(tx, row["id"], f"{type(exc).__name__}: {exc}", due, now, uncertain=uncertain)
        return "retry"

    def _finish(self, row: Row, status: str, reason: str) -> Outcome:
        with self.store.transaction() as tx:
            outbox_q.mark_final(tx, row["id"], status, reason, self.clock())
        if status == "dead" and row["action"] != "send_email":
            self._settle(row, row["contact_id"])
        return status

    @staticmethod
    def _provider(providers: Mapping[str, Any], row: Row) -> Any:
        try:
            return providers[row["provider"]]
        except KeyError:
            raise PermanentVendorError(
                row["provider"], f"no provider {row['provider']!r} is configured for {row['action']}"
            ) from None
