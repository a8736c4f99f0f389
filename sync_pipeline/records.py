"""Records crossing the provider boundary: what a CRM, an email sender, an enricher and a visitor
source hand to the rest of the system, with no vendor named.

They sit at the bottom of the layers so the store can persist them without importing providers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal


@dataclass(frozen=True)
class Contact:
    """A CRM contact as the local ``contacts`` table holds it."""

    id: str
    provider: str
    email: str | None = None  # lower-cased
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = None
    tags: tuple[str, ...] = ()
    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    location_id: str | None = None
    date_added: datetime | None = None
    date_updated: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ContactChanges:
    """Fields an agent wants written to a CRM contact; ``None`` means "leave as is"."""

    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = None
    tags: tuple[str, ...] | None = None
    custom_fields: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ContactPage:
    """One page of contacts changed since a point in time, oldest change first.

    ``next_cursor`` is opaque (the provider's own paging state, JSON text); None on the last page.
    """

    contacts: Sequence[Contact]
    next_cursor: str | None


@dataclass(frozen=True)
class IdPage:
    """One page of every contact id the CRM holds (for deletion reconciliation)."""

    ids: Sequence[str]
    next_cursor: str | None


@dataclass(frozen=True)
class OutboundEmail:
    """One email an agent asked us to send.

    ``idempotency_key`` is stable across retries of the same outbox row; providers pass it to the
    vendor where the vendor supports one and use it to look up lost outcomes.
    """

    idempotency_key: str
    to_email: str
    subject: str
    html: str
    contact_id: str | None = None
    reply_to_ref: str | None = None  # vendor id of the message this one replies to, if any


@dataclass(frozen=True)
class SendResult:
    """The vendor accepted a send; ``provider_ref`` is its message (or lead) id."""

    provider_ref: str
    status: str = "accepted"
    raw: Mapping[str, Any] = field(default_factory=dict)


EnrichmentKind = Literal["person", "company"]


@dataclass(frozen=True)
class Enrichment:
    """One enrichment answer. ``found=False`` is a real answer (cached as ``not_found``)."""

    key: str  # normalized email or domain
    kind: EnrichmentKind
    provider: str
    found: bool
    data: Mapping[str, Any] = field(default_factory=dict)
    cost_usd: float = 0.0
    credits: float = 0.0  # what the vendor charged, in its own unit; cost_usd is it priced


@dataclass(frozen=True)
class Visitor:
    """An identified website visitor (RB2B), normalized from the vendor's payload."""

    seen_at: datetime | None
    captured_url: str | None
    linkedin_url: str | None = None
    business_email: str | None = None  # lower-cased
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    company_name: str | None = None
    website: str | None = None
    industry: str | None = None
    employee_count: str | None = None
    employee_count_min: int | None = None
    employee_count_max: int | None = None
    estimate_revenue: str | None = None
    city: str | None = None
    state: str | None = None
    zipcode: str | None = None
    referrer: str | None = None
    tags: tuple[str, ...] = ()
    is_repeat_visit: bool | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_company_only(self) -> bool:
        return not (self.linkedin_url or self.business_email or self.first_name or self.last_name)
