"""RB2B visitor deliveries.

RB2B disconnects an integration after one answer other than 200 (or none within 15 s), and it
sends no signature: the secret is the ``token`` query parameter of the URL configured in RB2B.
So an authenticated delivery is always answered 200 once stored — landed in ``visitor_events``, or,
when it cannot be a visitor, kept in the quarantine with the reason. RB2B has no delivery id, so a
digest of the body makes repeats land once. A wrong or missing token gets 401 and nothing is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ..errors import InvalidPayload
from ..providers.rb2b import Rb2bVisitors
from ..records import Visitor
from ..settings import Secret, get_settings
from ..store import Store, Transaction
from ..store.contacts import Account
from ..store.visitors import Visit, land_visits
from .answer import Answer
from .delivery import DUPLICATE, Delivery, Rejected
from .group_commit import land_one

_SOURCE = Rb2bVisitors()
LANDED = Answer(200, "visitor landed")


@dataclass(frozen=True)
class Rb2bVisit(Delivery):
    """A visitor to land, matched to a live contact of ``account`` (the configured CRM account)."""

    event_id: str
    visitor: Visitor
    account: Account

    def batch_key(self) -> Hashable:
        return (type(self), self.account)

    @classmethod
    def land(cls, tx: Transaction, deliveries: Sequence[Rb2bVisit]) -> list[Answer]:
        visits = [Visit(d.event_id, d.source, d.visitor, d.received_at) for d in deliveries]
        return [LANDED if landed else DUPLICATE for landed in land_visits(tx, visits, deliveries[0].account)]


def accept_rb2b(
    token: Secret, body: bytes, query_token: str | None, account: Account, now: datetime | None = None
) -> Answer | Delivery:
    """A 401 for a wrong token; else the delivery to store: a visitor, or the body with why it is not one."""
    now = now or datetime.now(UTC)
    if not token or not hmac.compare_digest((query_token or "").encode(), token.reveal().encode()):
        return Answer(401, "missing or wrong token")
    text = body.decode("utf-8", errors="replace")
    try:
        visitor = _SOURCE.normalize(json.loads(body))
    except (ValueError, InvalidPayload) as exc:
        reason = str(exc) if isinstance(exc, InvalidPayload) else f"body is not JSON: {exc}"
        return Rejected("rb2b", text, now, reason)
    return Rb2bVisit("rb2b", text, now, hashlib.sha256(body).hexdigest(), visitor, account)


def handle_rb2b(
    store: Store,
    token: Secret,
    body: bytes,
    query_token: str | None,
    now: datetime | None = None,
    *,
    account: Account | None = None,
) -> Answer:
    """Authenticate and land (or quarantine) one RB2B delivery in a transaction of its own.

    ``account`` is the CRM account visitors are matched to; the configured one by default.
    """
    account = account or Account.configured(get_settings())
    return land_one(store, accept_rb2b(token, body, query_token, account, now))
