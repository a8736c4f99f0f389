"""Rb2bVisitors.normalize over every payload shape RB2B sends, and the bodies it must refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from sync_pipeline.errors import InvalidPayload
from sync_pipeline.providers.rb2b import Rb2bVisitors
from sync_pipeline.sandbox.pdl.people import SeededPeople
from sync_pipeline.sandbox.rb2b.payloads import VARIANTS, visitor_payload

# The DOC's own example, verbatim (its Seen At is not valid ISO-8601).
DOC_EXAMPLE = {
    "LinkedIn URL": "https://www.linkedin.com/in/retentionadam/",
    "First Name": "Adam",
    "Last Name": "Robinson",
    "Title": "CEO @ Retention.com. We help Ecomm brands grow & monetize their first-party audience",
    "Company Name": "Retention.com",
    "Business Email": "Adam@Retention.com",
    "Website": "https://retention.com",
    "Industry": "Internet Technology & Services",
    "Employee Count": 60,
    "Estimate Revenue": "$22M rev",
    "City": "Austin",
    "State": "Texas",
    "Zipcode": "73301",
    "Seen At": "2024-01-01T12:34:56:00.00+00.00",
    "Referrer": "https://retention.com",
    "Captured URL": "https://rb2b.com/pricing",
    "Tags": "Hot Pages, Hot Leads",
}
PERSON_KEYS = ("LinkedIn URL", "First Name", "Last Name", "Title", "Business Email")


def variant(**changes: Any) -> dict[str, Any]:
    return {**DOC_EXAMPLE, **changes}


VALID = {
    "doc example": (DOC_EXAMPLE, {"seen_at": datetime(2024, 1, 1, 12, 34, 56, tzinfo=UTC),
                                  "business_email": "adam@retention.com", "employee_count_min": 60,
                                  "employee_count_max": 60, "tags": ("Hot Pages", "Hot Leads"),
                                  "is_repeat_visit": None, "is_company_only": False}),
    "iso with Z": (variant(**{"Seen At": "2026-01-05T14:00:00.123Z"}),
                   {"seen_at": datetime(2026, 1, 5, 14, 0, 0, 123000, tzinfo=UTC)}),
    "offset and no seconds": (variant(**{"Seen At": "2026-01-05 09:30-05:00"}),
                              {"seen_at": datetime(2026, 1, 5, 9, 30, tzinfo=timezone(timedelta(hours=-5)))}),
    "naive is utc": (variant(**{"Seen At": "2026-01-05T14:00:00"}), {"seen_at": datetime(2026, 1, 5, 14, tzinfo=UTC)}),
    "epoch ms": (variant(**{"Seen At": 1767621600000}), {"seen_at": datetime(2026, 1, 5, 14, tzinfo=UTC)}),
    "range count": (variant(**{"Employee Count": "1-10"}),
                    {"employee_count": "1-10", "employee_count_min": 1, "employee_count_max": 10}),
    "open range": (variant(**{"Employee Count": "10,001+"}),
                   {"employee_count": "10,001+", "employee_count_min": 10001, "employee_count_max": None}),
    "unparsed count text": (variant(**{"Employee Count": "about fifty"}),
                            {"employee_count": "about fifty", "employee_count_min": None}),
    "company only": (variant(**dict.fromkeys(PERSON_KEYS)),
                     {"is_company_only": True, "company_name": "Retention.com", "business_email": None}),
    "company only, keys absent": ({k: v for k, v in DOC_EXAMPLE.items() if k not in PERSON_KEYS},
                                  {"is_company_only": True, "linkedin_url": None}),
    "repeat visit": (variant(is_repeat_visit=True), {"is_repeat_visit": True}),
    "no tags, empty strings": (variant(Tags=None, Referrer="", Industry="  "),
                               {"tags": (), "referrer": None, "industry": None}),
    "captured url only": (variant(**{"Seen At": None}), {"seen_at": None, "captured_url": "https://rb2b.com/pricing"}),
}  # fmt: skip

INVALID = {
    "not an object": ([DOC_EXAMPLE], "must be a JSON object"),
    "no visit": (variant(**{"Seen At": None, "Captured URL": None}), "neither 'Captured URL' nor 'Seen At'"),
    "nobody": (
        {k: None for k in DOC_EXAMPLE if k not in ("Seen At", "Captured URL", "City")}
        | {"Seen At": "2024-01-01T10:00:00Z"},
        "no one to identify",
    ),
    "seen at garbage": (variant(**{"Seen At": "yesterday"}), "'Seen At' is not a timestamp"),
    "seen at without a time": (variant(**{"Seen At": "2024-01-01"}), "'Seen At' is not a timestamp"),
    "seen at impossible": (variant(**{"Seen At": "2024-13-45T99:00:00Z"}), "not a valid date/time"),
    "email not a string": (variant(**{"Business Email": ["a@b.com"]}), "'Business Email' must be a string"),
    "count a boolean": (variant(**{"Employee Count": True}), "'Employee Count' must be a number"),
    "tags an object": (variant(Tags={"a": 1}), "'Tags' must be a comma-separated string"),
    "repeat flag a string": (variant(is_repeat_visit="yes"), "'is_repeat_visit' must be true or false"),
}


@pytest.mark.parametrize("payload, expected", VALID.values(), ids=VALID.keys())
def test_valid_payloads_normalize(payload: dict[str, Any], expected: dict[str, Any]) -> None:
    visitor = Rb2bVisitors().normalize(payload)
    assert {name: getattr(visitor, name) for name in expected} == expected
    assert visitor.raw == payload


@pytest.mark.parametrize("payload, reason", INVALID.values(), ids=INVALID.keys())
def test_invalid_payloads_say_why(payload: Any, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason.replace("(", r"\(")):
        Rb2bVisitors().normalize(payload)


def test_every_variant_the_sandbox_sends_normalizes() -> None:
    people = SeededPeople(seed=1, miss_rate=0.0)
    visitors = [Rb2bVisitors().normalize(visitor_payload(people, i)) for i in range(len(VARIANTS))]

    by_variant = dict(zip(VARIANTS, visitors, strict=True))
    assert not by_variant["person"].is_company_only and by_variant["company_only"].is_company_only
    assert by_variant["repeat_visit"].is_repeat_visit is True
    assert by_variant["malformed_seen_at"].seen_at is not None
    assert by_variant["employee_range"].employee_count_max is not None
    assert all(v.business_email is None or v.business_email == v.business_email.lower() for v in visitors)
