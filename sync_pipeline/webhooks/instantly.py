"""Instantly webhook deliveries: what became of the emails we sent through it.

Instantly signs nothing; its webhook subscription can carry custom headers, so we ask for
``X-Webhook-Token: <INSTANTLY_WEBHOOK_TOKEN>`` (``?token=`` in the URL works too). Deliveries may
repeat, so each is recorded once by a digest of its body. An event updates the delivery status of
the latest email we sent to that lead; events for emails we did not send are accepted and ignored.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ..settings import Secret
from ..store import Transaction
from ..store import outbox as outbox_q
from .answer import Answer
from .delivery import Delivery, Rejected, VendorEvent, json_event

TOKEN_HEADER = "x-webhook-token"
# Payload event names (which can differ from subscription names) → our delivery status.
DELIVERY_STATUS = {
    "email_sent": "sent",
    "email_opened": "opened",
    "link_clicked": "clicked",
    "email_link_clicked": "clicked",
    "email_bounced": "bounced",
    "reply_received": "replied",
    "auto_reply_received": "auto_replied",
    "lead_unsubscribed": "unsubscribed",
}


@dataclass(frozen=True)
class InstantlyEvent(VendorEvent):
    """An Instantly event, applied once per body digest (Instantly sends no delivery id)."""

    def apply(self, tx: Transaction) -> Answer:
        kind = self.event["event_type"]
        status = DELIVERY_STATUS.get(kind)
        lead = self.event.get("lead_email")
        if status is None:
            return Answer(200, f"{kind} not used")
        if not isinstance(lead, str) or "@" not in lead:
            return self.quarantine(tx, f"{kind} without a lead_email")
        matched = outbox_q.record_delivery_to(tx, "instantly", lead.lower(), status, self.received_at)
        return Answer(200, f"{kind} -> {status} for {matched} job(s)")


def accept_instantly(
    token: Secret, body: bytes, headers: Mapping[str, str], query_token: str | None, now: datetime | None = None
) -> Answer | Delivery:
    """A 401 for a wrong token; else the delivery to store: an event, or the body with why it is not one."""
    now = now or datetime.now(UTC)
    offered = headers.get(TOKEN_HEADER) or query_token or ""
    if not token or not hmac.compare_digest(offered.encode(), token.reveal().encode()):
        return Answer(401, "missing or wrong webhook token")
    event = json_event("instantly", "Instantly", body, "event_type", now)
    if isinstance(event, Rejected):
        return event
    text = body.decode("utf-8", errors="replace")
    return InstantlyEvent("instantly", text, now, event, hashlib.sha256(body).hexdigest())
