"""Instantly webhook deliveries: what became of the emails we sent through it.

Instantly signs nothing; its webhook subscription can carry custom headers, so we ask for
``X-Webhook-Token: <INSTANTLY_WEBHOOK_TOKEN>`` (``?token=`` in the URL works too). Deliveries may
repeat, so each is recorded once by a digest of its body. An event updates the delivery status of
the latest email we sent to that lead; events for emails we did not send are accepted and ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime

from ..settings import Secret
from ..store import Store
from ..store import outbox as outbox_q
from ..store import webhooks as webhooks_q
from .answer import Answer

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


def handle_instantly(
    store: Store,
    token: Secret,
    body: bytes,
    headers: Mapping[str, str],
    query_token: str | None,
    now: datetime | None = None,
) -> Answer:
    """Authenticate, de-duplicate and apply one Instantly delivery."""
    now = now or datetime.now(UTC)
    offered = headers.get(TOKEN_HEADER) or query_token or ""
    if not token or not hmac.compare_digest(offered.encode(), token.reveal().encode()):
        return Answer(401, "missing or wrong webhook token")
    text = body.decode("utf-8", errors="replace")
    with store.transaction() as tx:
        try:
            event = json.loads(body)
            if not isinstance(event, dict) or not isinstance(event.get("event_type"), str):
                raise ValueError("body is not a JSON object with a string 'event_type'")
        except ValueError as exc:
            webhooks_q.quarantine(tx, "instantly", f"malformed Instantly delivery: {exc}", text, now)
            return Answer(200, "quarantined")
        if not webhooks_q.first_receipt(tx, "instantly", hashlib.sha256(body).hexdigest(), now):
            return Answer(200, "duplicate delivery ignored")
        status = DELIVERY_STATUS.get(event["event_type"])
        lead = event.get("lead_email")
        if status is None:
            return Answer(200, f"{event['event_type']} not used")
        if not isinstance(lead, str) or "@" not in lead:
            webhooks_q.quarantine(tx, "instantly", f"{event['event_type']} without a lead_email", text, now)
            return Answer(200, "quarantined")
        matched = outbox_q.record_delivery_to(tx, "instantly", lead.lower(), status, now)
    return Answer(200, f"{event['event_type']} -> {status} for {matched} job(s)")
