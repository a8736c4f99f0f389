"""GoHighLevel as the CRM: contacts read through ``POST /contacts/search``, written through the
contact endpoints (vendor reference section 1.3-1.5).

Paging never uses ``page``: GHL's page/pageLimit window stops at 10,000 results, while
``searchAfter`` (the sort key of the last contact of a page, echoed back without ``page``) pages
through any number. Each search is sorted explicitly because GHL's default order is unspecified.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Self

import orjson

from ..errors import NotFound, PermanentVendorError, TransientVendorError
from ..records import Contact, ContactChanges, ContactPage, IdPage
from ..settings import Settings
from ..store import Store
from ..transport import TransportStats, VendorClient
from .ghl_api import ghl_client
from .ghl_mapping import (
    CURSOR_FIELD,
    PROVIDER,
    UPDATE_FIELDS,
    UPSERT_FIELDS,
    contact_from_ghl,
    ghl_time,
    write_body,
)
from .paging import decode_cursor, page_limit

MAX_PAGE_LIMIT = 500  # hoopai doc: pageLimit max for /contacts/search
CONTACT = "/contacts/{contactId}"
TAGS = "/contacts/{contactId}/tags"


class GhlCRM:
    """:class:`~sync_pipeline.providers.base.CRMProvider` for one GHL location."""

    name = PROVIDER

    def __init__(self, client: VendorClient, location_id: str) -> None:
        self._client = client
        self._location_id = location_id
        self.account = location_id

    @classmethod
    def from_settings(cls, settings: Settings, store: Store) -> Self:
        """Built from ``GHL_BASE_URL``, ``GHL_API_KEY`` and ``GHL_LOCATION_ID``."""
        return cls(ghl_client(settings, store), settings.ghl_location_id)

    # ---- reads --------------------------------------------------------------------------------

    def changed_since(self, since: datetime | None, cursor: str | None = None, *, page_size: int = 100) -> ContactPage:
        """Contacts with ``dateUpdated >= since`` (all when None), oldest change first.

        A naive ``since`` is taken as UTC. ``next_cursor`` is None once a page comes back short.
        """
        filters = [] if since is None else [_range("dateUpdated", gte=ghl_time(since))]
        hits = self._search(filters, "dateUpdated", cursor, page_size)
        return ContactPage([contact_from_ghl(h) for h in hits], _next_cursor(hits, page_size))

    def list_ids(self, cursor: str | None = None, *, page_size: int = MAX_PAGE_LIMIT) -> IdPage:
        """Every contact id, 500 per request (GHL has no cheaper id-only listing).

        Sorted by ``dateAdded``, which never changes, so contacts edited during the scan keep
        their place and none is skipped (a skipped id would look deleted to reconciliation).
        """
        hits = self._search([], "dateAdded", cursor, page_size)
        return IdPage([str(h["id"]) for h in hits], _next_cursor(hits, page_size))

    def get_contact(self, contact_id: str) -> Contact | None:
        """The contact, or None when GHL says it does not exist (400 "... not found" or 404)."""
        try:
            response = self._client.request("GET", CONTACT, path_params={"contactId": contact_id})
        except NotFound:
            return None
        return contact_from_ghl(response.json()["contact"])

    # ---- writes -------------------------------------------------------------------------------

    def upsert_contact(self, changes: ContactChanges) -> Contact:
        """``POST /contacts/upsert``: GHL matches an existing contact per the location's duplicate
        setting (email first), else creates one. Retried after a lost answer only when an email is
        given, since only then does a second call find the first one's contact."""
        body = {"locationId": self._location_id, **write_body(changes, UPSERT_FIELDS)}
        response = self._client.request("POST", "/contacts/upsert", json=body, idempotent=changes.email is not None)
        return contact_from_ghl(response.json()["contact"])

    def update_contact(self, contact_id: str, changes: ContactChanges) -> Contact:
        """``PUT /contacts/{id}`` with the writable fields (tags given replace the contact's tags).

        GHL's PUT rejects ``companyName``, so a company change goes through upsert matched on the
        contact's email; it fails (:class:`PermanentVendorError`) if the contact has no email or
        GHL matches a different contact.
        """
        body = write_body(changes, UPDATE_FIELDS)
        contact = None
        if body or changes.company_name is None:
            response = self._client.request("PUT", CONTACT, path_params={"contactId": contact_id}, json=body)
            contact = contact_from_ghl(response.json()["contact"])
        if changes.company_name is not None:
            contact = self._set_company(contact_id, changes.company_name, contact)
        assert contact is not None  # one of the two branches ran
        return contact

    def add_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        """``POST /contacts/{id}/tags`` (adding a tag twice is harmless, so it may be retried)."""
        if tags:
            self._client.request(
                "POST", TAGS, path_params={"contactId": contact_id}, json={"tags": list(tags)}, idempotent=True
            )

    def remove_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        """``DELETE /contacts/{id}/tags`` with the tags in the body."""
        if tags:
            self._client.request("DELETE", TAGS, path_params={"contactId": contact_id}, json={"tags": list(tags)})

    def delete_contact(self, contact_id: str) -> None:
        """``DELETE /contacts/{id}``; a contact that is already gone is not an error."""
        with contextlib.suppress(NotFound):
            self._client.request("DELETE", CONTACT, path_params={"contactId": contact_id})

    # ---- plumbing -----------------------------------------------------------------------------

    def stats(self) -> TransportStats:
        """Transport counters (calls, 429s, limiter wait) for Dagster metadata."""
        return self._client.stats()

    def close(self) -> None:
        self._client.close()

    def _search(
        self, filters: list[dict[str, Any]], sort_field: str, cursor: str | None, page_size: int
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {
            "locationId": self._location_id,
            "pageLimit": page_limit(page_size, MAX_PAGE_LIMIT),
            "filters": filters,
            "sort": [{"field": sort_field, "direction": "asc"}],
        }
        if cursor is not None:
            body["searchAfter"] = decode_cursor(cursor, "GHL contacts cursor", _search_after)
        response = self._client.request("POST", "/contacts/search", json=body, idempotent=True)
        # orjson: decoding 500-contact pages is a sync's largest CPU cost after writing them
        return list(orjson.loads(response.content).get("contacts") or [])

    def _set_company(self, contact_id: str, company_name: str, current: Contact | None) -> Contact:
        email = current.email if current is not None else None
        if email is None:
            found = self.get_contact(contact_id)
            email = found.email if found is not None else None
        if email is None:
            raise PermanentVendorError(
                PROVIDER,
                "GHL only writes companyName through upsert, which needs the contact's email; "
                f"contact {contact_id} has none (set an email first)",
            )
        contact = self.upsert_contact(ContactChanges(email=email, company_name=company_name))
        if contact.id != contact_id:
            raise PermanentVendorError(
                PROVIDER,
                f"GHL matched contact {contact.id}, not {contact_id}, by email when writing companyName; "
                "the location holds duplicates of that email",
            )
        return contact


def _range(field: str, **bounds: str) -> dict[str, Any]:
    return {"field": field, "operator": "range", "value": bounds}


def _next_cursor(hits: Sequence[Mapping[str, Any]], page_size: int) -> str | None:
    """The last hit's ``searchAfter``, echoed back verbatim, unless this was the last page."""
    if len(hits) < page_limit(page_size, MAX_PAGE_LIMIT):
        return None
    if CURSOR_FIELD not in hits[-1]:
        raise TransientVendorError(
            PROVIDER, "POST /contacts/search returned a full page without searchAfter; cannot page on"
        )
    return json.dumps({CURSOR_FIELD: hits[-1][CURSOR_FIELD]})


def _search_after(cursor: Any) -> list[Any]:
    value = cursor[CURSOR_FIELD]
    if not isinstance(value, list):
        raise TypeError(f"{CURSOR_FIELD} is not a list")
    return value
