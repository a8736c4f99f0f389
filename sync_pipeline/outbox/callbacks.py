"""Telling an agent how its job ended: POST the result to the job's ``callback_url``.

A callback is not a vendor call (it goes to the agent's own endpoint), so it bypasses the vendor
transport; it is retried on later drains until delivered or ``MAX_ATTEMPTS`` is reached.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx

from ..store import Store
from ..store import outbox as outbox_q

MAX_ATTEMPTS = 5
log = logging.getLogger(__name__)


def deliver_callbacks(store: Store, *, client: httpx.Client | None = None, limit: int = 200) -> dict[str, int]:
    """POST every finished job's result to its callback URL; return counts by outcome."""
    with store.transaction() as tx:
        rows = outbox_q.pending_callbacks(tx, limit)
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    own_client = client is None
    client = client or httpx.Client(timeout=10.0)
    try:
        for row in rows:
            body = {
                "job_id": row["id"],
                "action": row["action"],
                "status": row["status"],
                "provider_ref": row["provider_ref"],
                "error": row["last_error"],
                "done_at": row["done_at"].isoformat() if row["done_at"] else None,
            }
            try:
                ok = client.post(row["callback_url"], json=body).is_success
            except httpx.HTTPError as exc:
                log.warning("callback for job %s failed: %s", row["id"], type(exc).__name__)
                ok = False
            attempts = row["callback_attempts"] + 1
            outcome = "delivered" if ok else ("failed" if attempts >= MAX_ATTEMPTS else "retry")
            counts[outcome] += 1
            with store.transaction() as tx:
                status = "pending" if outcome == "retry" else outcome
                outbox_q.record_callback(tx, row["id"], attempts=attempts, status=status, now=datetime.now(UTC))
    finally:
        if own_client:
            client.close()
    return counts
