"""HubSpot contact objects to :class:`Contact`, and :class:`ContactChanges` to HubSpot properties."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..records import Contact, ContactChanges

PROVIDER = "hubspot"

# ContactChanges field -> HubSpot contact property.
FIELDS = {
    "email": "email",
    "phone": "phone",
    "first_name": "firstname",
    "last_name": "lastname",
    "company_name": "company",
}
SYSTEM_PROPERTIES = frozenset({"hs_object_id", "createdate", "lastmodifieddate"})


def properties_to_read(tags_property: str) -> list[str]:
    """The properties every read asks for (HubSpot returns only the ones named)."""
    return [*FIELDS.values(), tags_property, *sorted(SYSTEM_PROPERTIES)]


def contact_from_hubspot(obj: Mapping[str, Any], tags_property: str, portal_id: str | None = None) -> Contact:
    """Map a HubSpot contact object to a :class:`Contact`; other set properties become custom fields.

    ``portal_id`` becomes ``location_id``: the account the contact lives in, as GHL's location does.
    """
    props = obj.get("properties") or {}
    email = props.get("email")
    known = {*FIELDS.values(), tags_property, *SYSTEM_PROPERTIES}
    return Contact(
        id=str(obj["id"]),
        provider=PROVIDER,
        location_id=portal_id,
        email=email.strip().lower() if email else None,
        phone=props.get("phone") or None,
        first_name=props.get("firstname") or None,
        last_name=props.get("lastname") or None,
        company_name=props.get("company") or None,
        tags=parse_tags(props.get(tags_property)),
        custom_fields={k: v for k, v in props.items() if k not in known and v is not None},
        date_added=parse_hubspot_time(obj.get("createdAt") or props.get("createdate")),
        date_updated=parse_hubspot_time(obj.get("updatedAt") or props.get("lastmodifieddate")),
        raw=dict(obj),
    )


def properties_from_changes(changes: ContactChanges, tags_property: str) -> dict[str, Any]:
    """HubSpot properties for the set fields of ``changes``; custom fields are property names."""
    props: dict[str, Any] = {
        hs: getattr(changes, ours) for ours, hs in FIELDS.items() if getattr(changes, ours) is not None
    }
    if changes.tags is not None:
        props[tags_property] = format_tags(changes.tags)
    props.update(changes.custom_fields or {})
    return props


def parse_tags(value: str | None) -> tuple[str, ...]:
    return tuple(t for t in (value or "").split(";") if t)


def format_tags(tags: Sequence[str]) -> str:
    """A multiple-checkbox value; the empty string clears the property."""
    return ";".join(dict.fromkeys(t for t in tags if t))


def parse_hubspot_time(value: Any) -> datetime | None:
    """HubSpot timestamps: ISO-8601 in objects, epoch milliseconds in some properties."""
    if not value:
        return None
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def epoch_ms(instant: datetime) -> int:
    """Epoch milliseconds of an aware (or UTC-naive) datetime, as search filters take them."""
    aware = instant if instant.tzinfo else instant.replace(tzinfo=UTC)
    return round(aware.timestamp() * 1000)
