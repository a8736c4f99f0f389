"""Provider interfaces: what agents and assets need from a CRM, an email sender, an enricher and a
visitor source, with no vendor named.

Swapping GoHighLevel for HubSpot, or Instantly for GHL email, is a configuration change
(``CRM_PROVIDER``, ``EMAIL_PROVIDER``, ``ENRICHMENT_PROVIDER``): code above this layer only sees
these protocols, the records in :mod:`sync_pipeline.records` and the errors in
:mod:`sync_pipeline.errors`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from ..records import Contact, ContactChanges, ContactPage, Enrichment, IdPage, OutboundEmail, SendResult, Visitor


@runtime_checkable
class CRMProvider(Protocol):
    """A CRM holding contacts (GoHighLevel, HubSpot)."""

    name: str
    account: str  # the location (GHL) or portal (HubSpot) its contacts live in; "" when not known

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
