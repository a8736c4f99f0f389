"""RB2B identified-visitor webhooks → :class:`~sync_pipeline.records.Visitor` (vendor reference 3).

RB2B posts one JSON object per visitor with Title-Case keys ("First Name", "Seen At"); each is mapped
explicitly below. Lenient where RB2B's own documentation is loose, strict where a body cannot be a
visitor:

* ``Seen At`` is ISO-8601 in principle, but RB2B's example is ``2024-01-01T12:34:56:00.00+00.00``
  (an extra ``:00``, a ``+00.00`` offset): date, hour, minute and second are read from the front,
  a fraction and an offset (``:`` or ``.`` separated) from the back; naive times are UTC. Epoch
  seconds or milliseconds are accepted too;
* ``Employee Count`` is an integer or a string: ``"60"``, ``"1-10"``, ``"10,001+"`` → min/max
  (``+`` means no upper bound); other text is kept without bounds;
* ``Tags`` is a comma-separated string (a list is accepted);
* company-only profiles (3P: person keys null or absent) are visitors; ``is_repeat_visit`` (3P) is
  read when present; the business email is lower-cased; empty strings mean absent.

:class:`InvalidPayload` (the quarantine reason) for: a body that is not an object, a field of the
wrong type, an unreadable ``Seen At``, no ``Captured URL`` and no ``Seen At``, or nobody to identify
(no LinkedIn URL, email, name, company name or website).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from ..errors import InvalidPayload
from ..records import Visitor

TEXT_FIELDS = {
    "LinkedIn URL": "linkedin_url",
    "First Name": "first_name",
    "Last Name": "last_name",
    "Title": "title",
    "Company Name": "company_name",
    "Business Email": "business_email",
    "Website": "website",
    "Industry": "industry",
    "Estimate Revenue": "estimate_revenue",
    "City": "city",
    "State": "state",
    "Zipcode": "zipcode",
    "Referrer": "referrer",
    "Captured URL": "captured_url",
}
IDENTITY_FIELDS = ("linkedin_url", "business_email", "first_name", "last_name", "company_name", "website")

_SEEN_AT = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(?::\d{2})*"
    r"(?:[.,](\d+))?\s*(Z|[+-]\d{2}(?:[:.]?\d{2})?)?\s*$",
    re.IGNORECASE,
)
_RANGE = re.compile(r"^\s*([\d,]+)\s*(?:(-|\u2013|to)\s*([\d,]+)|(\+))?\s*$")
_EPOCH_MS = 100_000_000_000


class Rb2bVisitors:
    """:class:`~sync_pipeline.providers.base.VisitorSource` for RB2B's webhook payloads."""

    name = "rb2b"

    def normalize(self, payload: Mapping[str, Any]) -> Visitor:
        """One delivery as a :class:`Visitor`; raises :class:`InvalidPayload` saying what is wrong."""
        if not isinstance(payload, Mapping):
            raise InvalidPayload(f"body must be a JSON object with RB2B's visitor fields, got {_kind(payload)}")
        fields: dict[str, Any] = {attr: _text(payload, key) for key, attr in TEXT_FIELDS.items()}
        if fields["business_email"]:
            fields["business_email"] = fields["business_email"].lower()
        seen_at = parse_seen_at(payload.get("Seen At"))
        if seen_at is None and not fields["captured_url"]:
            raise InvalidPayload("neither 'Captured URL' nor 'Seen At' is present: not a page visit")
        if not any(fields[name] for name in IDENTITY_FIELDS):
            raise InvalidPayload(
                "no one to identify: LinkedIn URL, Business Email, names, Company Name and Website are all empty"
            )
        count, low, high = parse_employee_count(payload.get("Employee Count"))
        repeat = payload.get("is_repeat_visit")
        if repeat is not None and not isinstance(repeat, bool):
            raise InvalidPayload(f"'is_repeat_visit' must be true or false, got {_kind(repeat)}")
        return Visitor(
            seen_at=seen_at,
            employee_count=count,
            employee_count_min=low,
            employee_count_max=high,
            tags=parse_tags(payload.get("Tags")),
            is_repeat_visit=repeat,
            raw=dict(payload),
            **fields,
        )


def parse_seen_at(value: Any) -> datetime | None:
    """RB2B's ``Seen At`` as an aware datetime (see the module docstring); None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidPayload(f"'Seen At' must be a timestamp, got {_kind(value)}")
    if isinstance(value, int | float):
        seconds = value / 1000 if value >= _EPOCH_MS else value
        return datetime.fromtimestamp(seconds, tz=UTC)
    if not isinstance(value, str):
        raise InvalidPayload(f"'Seen At' must be a timestamp, got {_kind(value)}")
    match = _SEEN_AT.match(value)
    if match is None:
        raise InvalidPayload(f"'Seen At' is not a timestamp: {value[:60]!r}")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=_offset(offset),
        )
    except ValueError as exc:
        raise InvalidPayload(f"'Seen At' is not a valid date/time: {value[:60]!r} ({exc})") from None


def parse_employee_count(value: Any) -> tuple[str | None, int | None, int | None]:
    """``(as text, min, max)``: ``60`` → (60, 60), ``"1-10"`` → (1, 10), ``"10,001+"`` → (10001, None)."""
    if value is None or value == "":
        return None, None, None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidPayload(f"'Employee Count' must be a number or a range such as '1-10', got {_kind(value)}")
    if isinstance(value, int):
        return str(value), value, value
    match = _RANGE.match(value)
    if match is None:
        return value.strip(), None, None
    low = int(match.group(1).replace(",", ""))
    if match.group(4):
        return value.strip(), low, None
    high = int(match.group(3).replace(",", "")) if match.group(3) else low
    return value.strip(), low, high


def parse_tags(value: Any) -> tuple[str, ...]:
    """``"Hot Pages, Hot Leads"`` → ``("Hot Pages", "Hot Leads")``."""
    if value is None:
        return ()
    if isinstance(value, str):
        parts: list[Any] = value.split(",")
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        parts = value
    else:
        raise InvalidPayload(f"'Tags' must be a comma-separated string, got {_kind(value)}")
    return tuple(p.strip() for p in parts if p.strip())


def _text(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and key == "Zipcode":
        return str(value)
    if not isinstance(value, str):
        raise InvalidPayload(f"'{key}' must be a string, got {_kind(value)}")
    return value.strip() or None


def _offset(text: str | None) -> timezone:
    if not text or text.upper() == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = re.sub(r"\D", "", text[1:])
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)
