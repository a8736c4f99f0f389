"""HubSpot CRM v3 as the CRM (vendor reference section 5.1): the drop-in alternative to GHL.

Reads: ``changed_since`` uses the search endpoint (the only one that filters on
``lastmodifieddate``) and works around its 10,000-result cap (:mod:`.hubspot_search`);
``list_ids`` uses the plain listing, 100 ids per call at the general rate, which is faster than
search's 200 per call at its 4-per-second limit. Writes: create, ``PATCH``, archive. Tags are the
``sync_tags`` multiple-checkbox property (see :data:`.hubspot_api.TAGS_PROPERTY`); HubSpot refuses
a value that is not one of its options, so a write with a new tag first adds the option (the
properties API replaces the whole list, so the current list is read first, and a write refused
with ``INVALID_OPTION`` because another client replaced it meanwhile is retried once).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, Self, TypeVar

from ..errors import NotFound, PermanentVendorError
from ..records import Contact, ContactChanges, ContactPage, IdPage
from ..settings import Settings
from ..store import Store
from ..transport import TransportStats
from .hubspot_api import SEARCH_RESULT_CAP, TAGS_PROPERTY, HubSpotClients, hubspot_clients
from .hubspot_mapping import (
    PROVIDER,
    contact_from_hubspot,
    epoch_ms,
    format_tags,
    properties_from_changes,
    properties_to_read,
)
from .hubspot_search import SearchCursor, advance, search_body
from .paging import decode_cursor, page_limit

CONTACTS = "/crm/v3/objects/contacts"
CONTACT = "/crm/v3/objects/contacts/{contactId}"
SEARCH = "/crm/v3/objects/contacts/search"
PROPERTY = "/crm/v3/properties/contacts/{propertyName}"
MAX_SEARCH_LIMIT = 200
MAX_LIST_LIMIT = 100
# OBS/3P: a create whose email exists answers 409 "Contact already exists. Existing ID: 6001".
_EXISTING_ID = re.compile(r"Existing ID: (\d+)")
_OPTION_FIELDS = ("label", "value", "description", "displayOrder", "hidden")
T = TypeVar("T")


class HubSpotCRM:
    """:class:`~sync_pipeline.providers.base.CRMProvider` for one HubSpot portal."""

    name = PROVIDER

    def __init__(
        self,
        clients: HubSpotClients,
        *,
        tags_property: str = TAGS_PROPERTY,
        search_result_cap: int = SEARCH_RESULT_CAP,
        portal_id: str | None = None,
    ) -> None:
        self._clients = clients
        self._portal_id = portal_id
        self.account = portal_id or ""
        self._tags_property = tags_property
        self._cap = search_result_cap
        self._properties = properties_to_read(tags_property)
        self._tag_options: set[str] | None = None  # the property's options as last read or written
        self._options_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, store: Store) -> Self:
        """Built from ``HUBSPOT_BASE_URL``, ``HUBSPOT_TOKEN`` and ``HUBSPOT_PORTAL_ID``."""
        return cls(hubspot_clients(settings, store), portal_id=settings.hubspot_portal_id or None)

    # ---- reads --------------------------------------------------------------------------------

    def changed_since(self, since: datetime | None, cursor: str | None = None, *, page_size: int = 100) -> ContactPage:
        """Contacts with ``lastmodifieddate >= since`` (all when None), oldest change first.

        A page can hold fewer than ``page_size`` contacts (even none) while more follow: after a
        restart past the result cap, contacts already returned are dropped. Only a None
        ``next_cursor`` ends the scan.
        """
        state = SearchCursor.decode(cursor)
        limit = page_limit(page_size, MAX_SEARCH_LIMIT)
        since_ms = epoch_ms(since) if since is not None else None
        body = search_body(since_ms, state, limit, self._properties)
        answer = self._clients.search.request("POST", SEARCH, json=body, idempotent=True).json()
        results, next_state = advance(state, answer, limit, self._cap)
        contacts = [self._contact(r) for r in results]
        return ContactPage(contacts, next_state.encode() if next_state else None)

    def list_ids(self, cursor: str | None = None, *, page_size: int = MAX_LIST_LIMIT) -> IdPage:
        """Every live contact id, 100 per call, in id order (``after`` is HubSpot's own cursor)."""
        params: dict[str, Any] = {"limit": page_limit(page_size, MAX_LIST_LIMIT), "properties": "hs_object_id"}
        if cursor is not None:
            params["after"] = decode_cursor(cursor, "HubSpot id cursor", lambda data: str(data["after"]))
        answer = self._clients.api.request("GET", CONTACTS, params=params).json()
        after = ((answer.get("paging") or {}).get("next") or {}).get("after")
        return IdPage(
            [str(r["id"]) for r in answer.get("results") or []], json.dumps({"after": after}) if after else None
        )

    def get_contact(self, contact_id: str) -> Contact | None:
        """The live contact, or None when HubSpot has no such id (or archived it)."""
        try:
            response = self._clients.api.request(
                "GET", CONTACT, path_params={"contactId": contact_id}, params={"properties": ",".join(self._properties)}
            )
        except NotFound:
            return None
        return self._contact(response.json())

    # ---- writes -------------------------------------------------------------------------------

    def upsert_contact(self, changes: ContactChanges) -> Contact:
        """Create; when the email exists (409 naming the existing id), update that contact instead.

        Safe to retry after a lost answer when an email is given: the second create meets the 409.
        """
        properties = properties_from_changes(changes, self._tags_property)
        try:
            response = self._with_tag_options(
                changes.tags,
                lambda: self._clients.api.request(
                    "POST", CONTACTS, json={"properties": properties}, idempotent=changes.email is not None
                ),
            )
        except PermanentVendorError as exc:
            match = _EXISTING_ID.search(str(exc)) if exc.status == 409 else None
            if match is None:
                raise
            return self.update_contact(match.group(1), changes)
        return self._contact(response.json())

    def update_contact(self, contact_id: str, changes: ContactChanges) -> Contact:
        """``PATCH`` the given properties (tags given replace the contact's tags)."""
        response = self._with_tag_options(
            changes.tags,
            lambda: self._clients.api.request(
                "PATCH",
                CONTACT,
                path_params={"contactId": contact_id},
                json={"properties": properties_from_changes(changes, self._tags_property)},
                idempotent=True,
            ),
        )
        return self._contact(response.json())

    def add_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        """Read the tags property, add ``tags``, write it back (HubSpot has no atomic append)."""
        self._retag(contact_id, lambda current: [*current, *tags])

    def remove_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        """Read the tags property, drop ``tags``, write it back."""
        removed = set(tags)
        self._retag(contact_id, lambda current: [t for t in current if t not in removed])

    def delete_contact(self, contact_id: str) -> None:
        """Archive (HubSpot's delete); an id that is already gone is not an error."""
        with contextlib.suppress(NotFound):
            self._clients.api.request("DELETE", CONTACT, path_params={"contactId": contact_id})

    # ---- plumbing -----------------------------------------------------------------------------

    def stats(self) -> TransportStats:
        """Both clients' counters added up; windows of the search client are prefixed ``search_``."""
        api, search = self._clients.api.stats(), self._clients.search.stats()
        return _combined(api, search)

    def close(self) -> None:
        self._clients.api.close()
        self._clients.search.close()

    def _contact(self, obj: dict[str, Any]) -> Contact:
        return contact_from_hubspot(obj, self._tags_property, self._portal_id)

    def _retag(self, contact_id: str, change: Callable[[list[str]], list[str]]) -> None:
        contact = self.get_contact(contact_id)
        if contact is None:
            raise NotFound(PROVIDER, f"contact {contact_id} does not exist in HubSpot; cannot change its tags")
        tags = change(list(contact.tags))
        if format_tags(tags) != format_tags(contact.tags):
            self._with_tag_options(
                tags,
                lambda: self._clients.api.request(
                    "PATCH",
                    CONTACT,
                    path_params={"contactId": contact_id},
                    json={"properties": {self._tags_property: format_tags(tags)}},
                    idempotent=True,
                ),
            )

    def _with_tag_options(self, tags: Sequence[str] | None, write: Callable[[], T]) -> T:
        """Run ``write`` once every tag is an option; again once if HubSpot still says one is not."""
        if not tags:
            return write()
        self._ensure_tag_options(tags, reread=False)
        try:
            return write()
        except PermanentVendorError as exc:
            if exc.status != 400 or "INVALID_OPTION" not in str(exc):
                raise
            self._ensure_tag_options(tags, reread=True)  # another client replaced the options meanwhile
            return write()

    def _ensure_tag_options(self, tags: Iterable[str], *, reread: bool) -> None:
        wanted = [t for t in dict.fromkeys(tags) if t]
        with self._options_lock:
            if not reread and self._tag_options is not None and self._tag_options.issuperset(wanted):
                return
            path = {"propertyName": self._tags_property}
            options = self._clients.api.request("GET", PROPERTY, path_params=path).json().get("options") or []
            known = {str(o["value"]) for o in options}
            missing = [t for t in wanted if t not in known]
            if missing:
                added = [
                    {"label": t, "value": t, "displayOrder": len(options) + i, "hidden": False}
                    for i, t in enumerate(missing)
                ]
                kept = [{k: o[k] for k in _OPTION_FIELDS if k in o} for o in options]
                answer = self._clients.api.request(
                    "PATCH", PROPERTY, path_params=path, json={"options": kept + added}, idempotent=True
                ).json()
                known = {str(o["value"]) for o in answer.get("options") or []}
            self._tag_options = known


def _combined(api: TransportStats, search: TransportStats) -> TransportStats:
    numbers = {
        f.name: getattr(api, f.name) + getattr(search, f.name)
        for f in fields(TransportStats)
        if f.name not in ("vendor_remaining", "windows")
    }
    return TransportStats(
        **numbers,
        vendor_remaining={**api.vendor_remaining, **{f"search_{k}": v for k, v in search.vendor_remaining.items()}},
        windows={**api.windows, **{f"search_{k}": v for k, v in search.windows.items()}},
    )
