"""What the receiver stores: an authenticated delivery, parsed, that lands in a store transaction.

Each vendor module turns a request into a :class:`Delivery` (or an :class:`Answer` when it is
refused before anything is stored); the group committer lands deliveries in batches, so one
class method per kind of delivery lands many with a few batched queries.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from ..store import Transaction
from ..store import webhooks as webhooks_q
from .answer import Answer

DUPLICATE = Answer(200, "duplicate delivery ignored")
# The answer that makes a vendor deliver again, for when nothing could be stored: GHL retries only
# after a 429; the others are sent a 503.
_RETRY_STATUS = {"ghl": 429}


@dataclass(frozen=True)
class Delivery(ABC):
    """An authenticated delivery from ``source``: its ``body`` as received (kept verbatim if it has to
    be quarantined) and when it arrived."""

    source: str
    body: str
    received_at: datetime

    def batch_key(self) -> Hashable:
        """Deliveries with equal keys land together, in one call of :meth:`land`."""
        return type(self)

    @classmethod
    @abstractmethod
    def land(cls, tx: Transaction, deliveries: Sequence[Self]) -> list[Answer]:
        """Store ``deliveries`` (equal :meth:`batch_key`, in arrival order) in ``tx``; one answer each."""

    def unavailable(self, why: str) -> Answer:
        """The answer when this delivery could not be stored at all."""
        return Answer(_RETRY_STATUS.get(self.source, 503), f"not stored: {why}, deliver again later")

    def rejected(self, reason: str) -> Rejected:
        """This delivery, to be kept in the quarantine with ``reason``."""
        return Rejected(self.source, self.body, self.received_at, reason)

    def quarantine(self, tx: Transaction, reason: str) -> Answer:
        """Keep this delivery in the quarantine with ``reason``, in ``tx``."""
        return Rejected.land(tx, [self.rejected(reason)])[0]


@dataclass(frozen=True)
class Rejected(Delivery):
    """A delivery kept in the quarantine with the reason it could not be used."""

    reason: str

    @classmethod
    def land(cls, tx: Transaction, deliveries: Sequence[Rejected]) -> list[Answer]:
        webhooks_q.quarantine(
            tx, [webhooks_q.Quarantined(d.source, d.reason, d.body, d.received_at) for d in deliveries]
        )
        return [Answer(200, "quarantined")] * len(deliveries)


@dataclass(frozen=True)
class VendorEvent(Delivery):
    """A vendor's JSON event, applied once per ``receipt_id`` (its delivery id, or a body digest)."""

    event: dict[str, Any]
    receipt_id: str

    @classmethod
    def land(cls, tx: Transaction, deliveries: Sequence[VendorEvent]) -> list[Answer]:
        receipts = [webhooks_q.Receipt(d.receipt_id, d.received_at) for d in deliveries]
        first = webhooks_q.first_receipts(tx, deliveries[0].source, receipts)
        return [d.apply(tx) if new else DUPLICATE for d, new in zip(deliveries, first, strict=True)]

    @abstractmethod
    def apply(self, tx: Transaction) -> Answer:
        """Apply the first delivery of this event in ``tx``."""


def json_event(source: str, vendor: str, body: bytes, kind_field: str, now: datetime) -> dict[str, Any] | Rejected:
    """The body as a JSON object with a string ``kind_field`` (its event type), else the delivery to
    quarantine as malformed (``vendor`` names the sender in the reason)."""
    try:
        event = json.loads(body)
        if not isinstance(event, dict) or not isinstance(event.get(kind_field), str):
            raise ValueError(f"body is not a JSON object with a string '{kind_field}'")
    except ValueError as exc:
        return Rejected(source, body.decode("utf-8", errors="replace"), now, f"malformed {vendor} delivery: {exc}")
    return event
