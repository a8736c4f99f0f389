"""Provider interfaces: what agents and assets need from a CRM, an email sender, an enricher and a
visitor source, with no vendor named.

Swapping GoHighLevel for HubSpot, or Instantly for GHL email, is a configuration change
(``CRM_PROVIDER``, ``EMAIL_PROVIDER``, ``ENRICHMENT_PROVIDER``): code above this layer only sees
these protocols, the records below and the errors below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

# --------------------------------------------------------------------------------------------
# Errors. Every vendor failure reaching code above the transport is one of these.
# --------------------------------------------------------------------------------------------


class VendorError(Exception):
    """A vendor call failed. ``provider`` and ``status`` say where; the message says what to do."""

    def __init__(self, provider: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.status = status


class RateLimited(VendorError):
    """The vendor answered 429 (or we would exceed its limit); retry after ``retry_after`` seconds."""

    def __init__(self, provider: str, message: str, *, retry_after: float | None, status: int | None = 429) -> None:
        super().__init__(provider, message, status=status)
        self.retry_after = retry_after


class TransientVendorError(VendorError):
    """5xx, timeout or dropped connection: the same call may succeed later."""


class PermanentVendorError(VendorError):
    """The vendor rejected the call (4xx other than 429): retrying the same call cannot help."""


class AuthError(PermanentVendorError):
    """401/403: the key is missing, wrong or lacks a scope. Never retried."""


class NotFound(PermanentVendorError):
    """The record does not exist at the vendor (any more)."""


class InvalidPayload(ValueError):
    """An inbound payload (webhook) cannot be accepted; the message is the quarantine reason."""


# --------------------------------------------------------------------------------------------
# Records crossing the provider boundary.
# --------------------------------------------------------------------------------------------


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
    text: str | None = None
    from_email: str | None = None
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


# --------------------------------------------------------------------------------------------
# Protocols.
# --------------------------------------------------------------------------------------------


@runtime_checkable
class CRMProvider(Protocol):
    """A CRM holding contacts (GoHighLevel, HubSpot)."""

    name: str

    def changed_since(self, since: datetime | None, cursor: str | None = None, *, page_size: int = 100) -> ContactPage:
        """Contacts updated at or after ``since`` (all when None), oldest first; resume with ``cursor``."""
        ...

    def list_ids(self, cursor: str | None = None, *, page_size: int = 500) -> IdPage:
        """Every contact id, cheapest way the vendor allows; resume with ``cursor``."""
        ...

    def get_contact(self, contact_id: str) -> Contact | None:
        """One contact, or None when the CRM no longer has it."""
        ...

    def upsert_contact(self, changes: ContactChanges) -> Contact:
        """Create a contact or update the one matching its email (the vendor's dedupe rule)."""
        ...

    def update_contact(self, contact_id: str, changes: ContactChanges) -> Contact:
        """Write the given fields of an existing contact."""
        ...

    def add_tags(self, contact_id: str, tags: Sequence[str]) -> None: ...

    def remove_tags(self, contact_id: str, tags: Sequence[str]) -> None: ...

    def delete_contact(self, contact_id: str) -> None:
        """Delete; deleting a contact that is already gone is not an error."""
        ...


@runtime_checkable
class EmailProvider(Protocol):
    """Something that sends one email on an agent's behalf (GHL conversations, Instantly)."""

    name: str

    def send(self, email: OutboundEmail) -> SendResult:
        """Send once. Raise :class:`RateLimited`, :class:`TransientVendorError` or a permanent error."""
        ...

    def lookup(self, email: OutboundEmail) -> SendResult | None:
        """After a lost answer: the earlier send's result, None if the vendor has no record of it.

        Raise :class:`OutcomeUnknown` when the vendor cannot tell either way.
        """
        ...


class OutcomeUnknown(VendorError):
    """The vendor cannot tell whether an earlier send went out; a human must review it."""


@runtime_checkable
class EnrichmentProvider(Protocol):
    """A paid enricher (Clay, People Data Labs). Callers cache every answer, found or not."""

    name: str

    def enrich_person(self, email: str) -> Enrichment: ...

    def enrich_company(self, domain: str) -> Enrichment: ...


@runtime_checkable
class VisitorSource(Protocol):
    """A pushed source of identified visitors (RB2B)."""

    name: str

    def normalize(self, payload: Mapping[str, Any]) -> Visitor:
        """Map one delivery to a :class:`Visitor`; raise :class:`InvalidPayload` with the reason."""
        ...
