"""GoHighLevel webhook deliveries: contact changes and message events.

GHL retries a delivery only when the receiver answers 429, so anything else we answer is final:
authenticated deliveries are therefore always answered 200 once stored — as an event, or in the
quarantine with the reason when they cannot be used. Unauthenticated requests get 401 and are not
stored. ``ContactDelete`` soft-deletes at once; the other contact events mark the contact dirty,
which wakes ``ghl_contacts_sensor`` for an incremental sync (the sync, not the webhook body, is
the source of truth: webhooks fire for some fields only and may arrive out of order).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..store import Transaction
from ..store import contacts as contacts_q
from ..store import outbox as outbox_q
from ..store import webhooks as webhooks_q
from .answer import Answer
from .delivery import Delivery, Rejected, VendorEvent, json_event
from .ghl_signature import GhlVerifier, SignatureError

log = logging.getLogger(__name__)

CONTACT_EVENTS = ("ContactCreate", "ContactUpdate", "ContactDelete", "ContactTagUpdate", "ContactDndUpdate")
# LCEmailStats carries a Mailgun-style event name; OutboundMessage a message status.
MESSAGE_EVENTS = ("OutboundMessage", "LCEmailStats")


@dataclass(frozen=True)
class GhlEvent(VendorEvent):
    """A signed GHL event, applied once per ``webhookId`` (else per body digest)."""

    provider: str

    def apply(self, tx: Transaction) -> Answer:
        kind, now = self.event["type"], self.received_at
        if kind in CONTACT_EVENTS:
            contact_id = self.event.get("id") or self.event.get("contactId")
            if not isinstance(contact_id, str) or not contact_id:
                return self.quarantine(tx, f"{kind} without a contact id")
            webhooks_q.record_contact_event(tx, self.provider, contact_id, kind, now)
            if kind == "ContactDelete":
                contacts_q.soft_delete(tx, contacts_q.Account(self.provider), [contact_id], now)
            return Answer(200, f"{kind} recorded")
        if kind in MESSAGE_EVENTS:
            ref, status = _delivery(self.event)
            if ref is None or status is None:
                return self.quarantine(tx, f"{kind} without a message id or status")
            matched = outbox_q.record_delivery(tx, self.provider, ref, status, now)
            return Answer(200, f"{kind} {status} for {matched} job(s)")
        log.info("ignored GHL webhook type %s", kind)
        return Answer(200, f"{kind} not used")


def accept_ghl(
    verifier: GhlVerifier,
    body: bytes,
    headers: Mapping[str, str],
    *,
    max_age: timedelta,
    now: datetime | None = None,
    provider: str = "ghl",
) -> Answer | Delivery:
    """A 401 for a bad signature; else the delivery to store: an event, or the body with why it is
    not usable (malformed, or older than ``max_age``: a possible replay)."""
    now = now or datetime.now(UTC)
    try:
        verifier.verify(body, headers)
    except SignatureError as exc:
        log.warning("rejected GHL webhook: %s", exc)
        return Answer(401, str(exc))
    event = json_event("ghl", "GHL", body, "type", now)
    if isinstance(event, Rejected):
        return event
    text = body.decode("utf-8", errors="replace")
    sent_at = _timestamp(event.get("timestamp"))
    if sent_at is not None and now - sent_at > max_age:
        return Rejected("ghl", text, now, f"stale delivery: timestamp {event['timestamp']} is older than {max_age}")
    delivery_id = str(event.get("webhookId") or hashlib.sha256(body).hexdigest())
    return GhlEvent("ghl", text, now, event, delivery_id, provider)


def _delivery(event: dict[str, Any]) -> tuple[str | None, str | None]:
    if event["type"] == "LCEmailStats":
        payload = event.get("webhookPayload") or {}
        headers = (payload.get("message") or {}).get("headers") or {}
        return payload.get("id") or headers.get("message-id"), payload.get("event")
    return event.get("messageId") or event.get("emailMessageId"), event.get("status") or "sent"


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
