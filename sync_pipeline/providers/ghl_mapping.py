"""GoHighLevel contact objects to :class:`Contact`, and :class:`ContactChanges` to GHL write bodies.

One place for the field names, so search results, GET/PUT/upsert answers and every write agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..records import Contact, ContactChanges

PROVIDER = "ghl"

# ContactChanges field -> GHL property. ``companyName`` is not in GHL's UpdateContactDto (PUT answers
# 422 "property companyName should not exist"); only create/upsert accept it.
UPDATE_FIELDS = {"email": "email", "phone": "phone", "first_name": "firstName", "last_name": "lastName"}
UPSERT_FIELDS = {**UPDATE_FIELDS, "company_name": "companyName"}
# A search hit carries its own paging cursor; it is not contact data and would make hashes unstable.
CURSOR_FIELD = "searchAfter"


def contact_from_ghl(obj: Mapping[str, Any]) -> Contact:
    """Map a GHL contact (search hit, GET, PUT or upsert answer) to a :class:`Contact`."""
    email = obj.get("email")
    return Contact(
        id=str(obj["id"]),
        provider=PROVIDER,
        email=email.strip().lower() if email else None,
        phone=obj.get("phone") or None,
        first_name=obj.get("firstName") or None,
        last_name=obj.get("lastName") or None,
        company_name=obj.get("companyName") or None,
        tags=tuple(obj.get("tags") or ()),
        # Reads say "value"; writes say "field_value" (SPEC), so accept either.
        custom_fields={
            str(f["id"]): f.get("value", f.get("field_value")) for f in obj.get("customFields") or () if "id" in f
        },
        location_id=obj.get("locationId"),
        date_added=parse_ghl_time(obj.get("dateAdded")),
        date_updated=parse_ghl_time(obj.get("dateUpdated")),
        raw={k: v for k, v in obj.items() if k != CURSOR_FIELD},
    )


def write_body(changes: ContactChanges, fields: Mapping[str, str]) -> dict[str, Any]:
    """The GHL properties for the set fields of ``changes`` among ``fields`` (plus tags, custom fields).

    ``tags`` replace the contact's tags (GHL's PUT and upsert semantics); custom fields are written
    as ``[{id, field_value}]`` and merge by id.
    """
    body: dict[str, Any] = {
        ghl: getattr(changes, ours) for ours, ghl in fields.items() if getattr(changes, ours) is not None
    }
    if changes.tags is not None:
        body["tags"] = list(changes.tags)
    if changes.custom_fields is not None:
        body["customFields"] = [{"id": k, "field_value": v} for k, v in changes.custom_fields.items()]
    return body


def parse_ghl_time(value: Any) -> datetime | None:
    """GHL's ISO-8601 timestamps (``2024-06-06T18:54:57.221Z``) as aware datetimes."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def ghl_time(instant: datetime) -> str:
    """An aware (or UTC-naive) datetime as GHL writes timestamps, for date range filters."""
    aware = instant if instant.tzinfo else instant.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
