"""Which contact fields each GHL response carries, and under which names.

The sandbox keeps one internal record per contact; every endpoint answers a projection of it
matching that endpoint's schema in the vendor's OpenAPI spec (``None`` fields are omitted, as GHL
omits unset fields):

* ``SEARCH`` — ``Contact`` of ``POST /contacts/search`` (spec rev 7f7c8a6); no ``dndSettings``
  (observed: search results omit it), ``address1`` renamed ``address``; ``searchAfter`` is added
  by the handler;
* ``GET`` — ``GetContectByIdSchema`` of ``GET/PUT /contacts/{id}`` and upsert;
* ``CREATE`` — ``CreateContactSchema`` of ``POST /contacts/``;
* ``LEGACY_LIST`` — items of the deprecated ``GET /contacts/``;
* ``WEBHOOK`` — the ``ContactCreate/Update/Delete/TagUpdate`` event fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Projection = tuple[tuple[str, str], ...]  # (name on the wire, internal field)


def _fields(*names: str, renamed: Mapping[str, str] | None = None) -> Projection:
    return tuple((name, name) for name in names) + tuple((renamed or {}).items())


SEARCH = _fields(
    "id", "locationId", "firstName", "lastName", "firstNameLowerCase", "lastNameLowerCase", "email", "phone",
    "phoneLabel", "companyName", "type", "source", "dnd", "tags", "customFields", "additionalEmails",
    "additionalPhones", "dateAdded", "dateUpdated", "dateOfBirth", "city", "state", "country", "postalCode",
    "assignedTo", "followers", "validEmail",
    renamed={"address": "address1"},
)  # fmt: skip
GET = _fields(
    "id", "name", "locationId", "firstName", "lastName", "email", "emailLowerCase", "timezone", "companyName",
    "phone", "dnd", "dndSettings", "type", "source", "assignedTo", "address1", "city", "state", "country",
    "postalCode", "website", "tags", "dateOfBirth", "dateAdded", "dateUpdated", "firstNameLowerCase",
    "fullNameLowerCase", "lastNameLowerCase", "customFields", "attributionSource",
)  # fmt: skip
CREATE = _fields(
    "id", "dateAdded", "dateUpdated", "deleted", "tags", "type", "customFields", "locationId", "firstName",
    "firstNameLowerCase", "fullNameLowerCase", "lastName", "lastNameLowerCase", "email", "emailLowerCase",
    "bounceEmail", "unsubscribeEmail", "dnd", "dndSettings", "phone", "address1", "city", "state", "country",
    "postalCode", "website", "source", "companyName", "dateOfBirth", "assignedTo",
)  # fmt: skip
LEGACY_LIST = _fields(
    "id", "locationId", "firstName", "lastName", "companyName", "email", "phone", "dnd", "type", "source",
    "assignedTo", "city", "state", "postalCode", "address1", "dateAdded", "dateUpdated", "dateOfBirth",
    "tags", "country", "website", "timezone", "customFields", "followers",
    renamed={"contactName": "fullNameLowerCase"},
)  # fmt: skip
WEBHOOK = _fields(
    "id", "locationId", "address1", "city", "state", "companyName", "country", "source", "dateAdded",
    "dateOfBirth", "dnd", "email", "name", "firstName", "lastName", "phone", "postalCode", "tags", "website",
    "assignedTo", "customFields",
)  # fmt: skip


def project(record: Mapping[str, Any], projection: Projection) -> dict[str, Any]:
    """The fields of ``projection`` that ``record`` has a value for, under their wire names."""
    return {wire: record[field] for wire, field in projection if record.get(field) is not None}
