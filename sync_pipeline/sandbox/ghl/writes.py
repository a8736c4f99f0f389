"""Checking and applying contact write bodies (create, upsert, update) the way GHL's validator does.

GHL validates bodies with NestJS class-validator and ``forbidNonWhitelisted``: a property that is
not in the operation's DTO answers 422 ``property X should not exist`` (that is how the read-only
``additionalEmails`` and ``companyName`` on PUT are rejected). The property sets below are the
``CreateContactDto`` / ``UpsertContactDto`` / ``UpdateContactDto`` of the vendor's OpenAPI spec.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sync_pipeline.sandbox.ghl.seed import CustomFieldDef, dnd_settings

_STRING_PROPERTIES = (
    "firstName", "lastName", "name", "email", "locationId", "gender", "phone", "address1", "city", "state",
    "postalCode", "website", "timezone", "source", "country", "companyName", "assignedTo",
)  # fmt: skip
CREATE_PROPERTIES = frozenset(
    (*_STRING_PROPERTIES, "dnd", "dndSettings", "inboundDndSettings", "tags", "customFields", "dateOfBirth")
)
UPSERT_PROPERTIES = CREATE_PROPERTIES | {"createNewIfDuplicateAllowed"}
UPDATE_PROPERTIES = CREATE_PROPERTIES - {"locationId", "gender", "companyName"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Written as given; everything else in the internal record is derived or server-owned.
_COPIED = ("phone", "address1", "city", "state", "postalCode", "website", "timezone", "source", "country",
           "companyName", "assignedTo", "dateOfBirth", "dnd")  # fmt: skip


def validation_errors(body: Mapping[str, Any], allowed: frozenset[str]) -> list[str]:
    """class-validator style messages for ``body``; empty when it is acceptable."""
    errors = [f"property {key} should not exist" for key in body if key not in allowed]
    for key in _STRING_PROPERTIES:
        if key in body and body[key] is not None and not isinstance(body[key], str):
            errors.append(f"{key} must be a string")
    email = body.get("email")
    if isinstance(email, str) and email and not _EMAIL.match(email.strip()):
        errors.append("email must be an email")
    for key in ("dnd", "createNewIfDuplicateAllowed"):
        if key in body and not isinstance(body[key], bool):
            errors.append(f"{key} must be a boolean value")
    tags = body.get("tags")
    if "tags" in body and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        errors.append("tags must be an array of strings")
    fields = body.get("customFields")
    if "customFields" in body and not (isinstance(fields, list) and all(isinstance(f, dict) for f in fields)):
        errors.append("customFields must be an array of objects")
    for key in ("dndSettings", "inboundDndSettings"):
        if key in body and not isinstance(body[key], dict):
            errors.append(f"{key} must be an object")
    return errors


def normalize_tags(tags: Sequence[str]) -> list[str]:
    """GHL stores tags trimmed and lower-cased, without repeats, in the order given."""
    return list(dict.fromkeys(t.strip().lower() for t in tags if t.strip()))


def apply_write(
    record: Mapping[str, Any], body: Mapping[str, Any], custom_fields: Sequence[CustomFieldDef]
) -> dict[str, Any]:
    """A copy of ``record`` with an already validated write ``body`` applied.

    PUT and upsert replace ``tags`` wholesale (GHL behaviour integrators trip over); ``customFields``
    merge by id, given as ``{"id"|"key", "field_value"|"value"}``; unknown custom fields are ignored.
    """
    out = dict(record)
    for key in _COPIED:
        if key in body:
            out[key] = body[key]
    first, last = body.get("firstName", out.get("firstName")), body.get("lastName", out.get("lastName"))
    if "name" in body and "firstName" not in body and "lastName" not in body and body["name"]:
        first, _, rest = body["name"].strip().partition(" ")
        last = rest or None
    out["firstName"], out["lastName"] = first, last
    out["firstNameLowerCase"] = first.lower() if first else None
    out["lastNameLowerCase"] = last.lower() if last else None
    full = " ".join(p for p in (first, last) if p) or None
    out["name"], out["fullNameLowerCase"] = full, full.lower() if full else None
    if "email" in body:
        email = body["email"].strip() if body["email"] else None
        out["email"], out["emailLowerCase"] = email, email.lower() if email else None
    if "tags" in body:
        out["tags"] = normalize_tags(body["tags"])
    if "dnd" in body and "dndSettings" not in body:
        out["dndSettings"] = dnd_settings(bool(body["dnd"]))
    if "dndSettings" in body:
        out["dndSettings"] = body["dndSettings"]
    if "customFields" in body:
        out["customFields"] = _merge_custom_fields(out.get("customFields") or [], body["customFields"], custom_fields)
    return out


def _merge_custom_fields(
    current: Sequence[Mapping[str, Any]],
    changes: Sequence[Mapping[str, Any]],
    known: Sequence[CustomFieldDef],
) -> list[dict[str, Any]]:
    by_key = {f.key: f.id for f in known}
    known_ids = {f.id for f in known}
    merged = {f["id"]: f.get("value") for f in current}
    for change in changes:
        field_id = change.get("id") or by_key.get(str(change.get("key")))
        if field_id not in known_ids:
            continue
        merged[field_id] = change.get("field_value", change.get("value"))
    return [{"id": k, "value": v} for k, v in merged.items() if v is not None]
