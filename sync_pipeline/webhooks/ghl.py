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
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ..store import Store
from ..store import contacts as contacts_q
from ..store import outbox as outbox_q
from ..store import webhooks as webhooks_q
from .answer import Answer
from .ghl_signature import GhlVerifier, SignatureError

log = logging.getLogger(__name__)

CONTACT_EVENTS = ("ContactCreate", "ContactUpdate", "ContactDelete", "ContactTagUpdate", "ContactDndUpdate")
# LCEmailStats carries a Mailgun-style event name; OutboundMessage a message status.
MESSAGE_EVENTS = ("OutboundMessage", "LCEmailStats")


def handle_ghl(
    store: Store,
    verifier: GhlVerifier,
    body: bytes,
    headers: Mapping[str, str],
    *,
    max_age: timedelta,
    now: datetime | None = None,
    provider: str = "ghl",
) -> Answer:
    """Authenticate, de-duplicate and apply one GHL delivery."""
    now = now or datetime.now(UTC)
    try:
        verifier.verify(body, headers)
    except SignatureError as exc:
        log.warning("rejected GHL webhook: %s", exc)
        return Answer(401, str(exc))
    text = body.decode("utf-8", errors="replace")
    try:
        event = json.loads(body)
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise ValueError("body is not a JSON object with a string 'type'")
    except ValueError as exc:
        return _quarantine(store, f"malformed GHL delivery: {exc}", text, now)

    sent_at = _timestamp(event.get("timestamp"))
    if sent_at is not None and now - sent_at > max_age:
        return _quarantine(store, f"stale delivery: timestamp {event['timestamp']} is older than {max_age}", text, now)
    delivery_id = str(event.get("webhookId") or hashlib.sha256(body).hexdigest())
    kind = event["type"]
    with store.transaction() as tx:
        if not webhooks_q.first_receipt(tx, "ghl", delivery_id, now):
            return Answer(200, "duplicate delivery ignored")
        if kind in CONTACT_EVENTS:
            contact_id = event.get("id") or event.get("contactId")
            if not isinstance(contact_id, str) or not contact_id:
                webhooks_q.quarantine(tx, "ghl", f"{kind} without a contact id", text, now)
                return Answer(200, "quarantined")
            webhooks_q.record_contact_event(tx, provider, contact_id, kind, now)
            if kind == "ContactDelete":
                contacts_q.soft_delete(tx, contacts_q.Account(provider), [contact_id], now)
            return Answer(200, f"{kind} recorded")
        if kind in MESSAGE_EVENTS:
            ref, status = _delivery(event)
            if ref is None or status is None:
                webhooks_q.quarantine(tx, "ghl", f"{kind} without a message id or status", text, now)
                return Answer(200, "quarantined")
            matched = outbox_q.record_delivery(tx, provider, ref, status, now)
            return Answer(200, f"{kind} {status} for {matched} job(s)")
    log.info("ignored GHL webhook type %s", kind)
    return Answer(200, f"{kind} not used")


def _quarantine(store: Store, reason: str, body: str, now: datetime) -> Answer:
    with store.transaction() as tx:
        webhooks_q.quarantine(tx, "ghl", reason, body, now)
    return Answer(200, "quarantined")


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
