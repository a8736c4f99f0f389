"""RB2B visitor deliveries.

RB2B disconnects an integration after one answer other than 200 (or none within 15 s), and it
sends no signature: the secret is the ``token`` query parameter of the URL configured in RB2B.
So an authenticated delivery is always answered 200 at once — landed in ``visitor_events``, or,
when it cannot be a visitor, kept in the quarantine with the reason. RB2B has no delivery id, so a
digest of the body makes repeats land once. A wrong or missing token gets 401 and nothing is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

from ..errors import InvalidPayload
from ..providers.rb2b import Rb2bVisitors
from ..settings import Secret
from ..store import Store
from ..store import webhooks as webhooks_q
from ..store.visitors import land_visitor
from .answer import Answer

_SOURCE = Rb2bVisitors()


def handle_rb2b(
    store: Store, token: Secret, body: bytes, query_token: str | None, now: datetime | None = None
) -> Answer:
    """Authenticate and land (or quarantine) one RB2B delivery."""
    now = now or datetime.now(UTC)
    if not token or not hmac.compare_digest((query_token or "").encode(), token.reveal().encode()):
        return Answer(401, "missing or wrong token")
    text = body.decode("utf-8", errors="replace")
    with store.transaction() as tx:
        try:
            visitor = _SOURCE.normalize(json.loads(body))
        except (ValueError, InvalidPayload) as exc:
            reason = str(exc) if isinstance(exc, InvalidPayload) else f"body is not JSON: {exc}"
            webhooks_q.quarantine(tx, "rb2b", reason, text, now)
            return Answer(200, "quarantined")
        landed = land_visitor(tx, hashlib.sha256(body).hexdigest(), "rb2b", visitor, now)
    return Answer(200, "visitor landed" if landed else "duplicate delivery ignored")
