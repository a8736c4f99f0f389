"""Seeded RB2B visitor payloads in the DOC's Title-Case shape, cycling through the variants a
receiver must accept: a person, a company-only profile (3P, person keys null), a repeat visit
(``is_repeat_visit``, 3P), the DOC's own non-ISO ``Seen At`` and an ``Employee Count`` range string."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sync_pipeline.sandbox.pdl.people import SeededPeople

VARIANTS = ("person", "company_only", "repeat_visit", "malformed_seen_at", "employee_range")
PAGES = ("https://sandbox-vendor.example/pricing", "https://sandbox-vendor.example/demo",
         "https://sandbox-vendor.example/blog/outbound", "https://sandbox-vendor.example/")  # fmt: skip
PERSON_KEYS = ("LinkedIn URL", "First Name", "Last Name", "Title", "Business Email")
SEEN_FROM = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)


def visitor_payload(people: SeededPeople, index: int) -> dict[str, Any]:
    """Payload ``index``; its variant is ``VARIANTS[index % len(VARIANTS)]``."""
    variant = VARIANTS[index % len(VARIANTS)]
    person = people.person(people.identity(index))
    assert person is not None  # identities always match
    company = person["company"]
    seen = SEEN_FROM + timedelta(minutes=7 * index)
    payload: dict[str, Any] = {
        "LinkedIn URL": person["linkedin_url"] + "/",
        "First Name": person["first_name"],
        "Last Name": person["last_name"],
        "Title": person["job_title"],
        "Company Name": company["name"],
        "Business Email": person["email"].title() if index % 2 else person["email"],
        "Website": company["website"],
        "Industry": company["industry"].title(),
        "Employee Count": company["employee_count"],
        "Estimate Revenue": f"${company['employee_count'] // 10 + 1}M rev",
        "City": person["city"],
        "State": person["region"],
        "Zipcode": f"{73301 + index % 500}",
        "Seen At": seen.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "Referrer": "https://www.google.com/",
        "Captured URL": PAGES[index % len(PAGES)],
        "Tags": "Hot Pages, Hot Leads" if index % 3 == 0 else "Hot Pages",
    }
    if variant == "company_only":
        payload.update(dict.fromkeys(PERSON_KEYS))
    elif variant == "repeat_visit":
        payload["is_repeat_visit"] = True
    elif variant == "malformed_seen_at":
        # DOC example shape: an extra ":00" and a "+00.00" offset.
        payload["Seen At"] = seen.strftime("%Y-%m-%dT%H:%M:%S") + ":00.00+00.00"
    elif variant == "employee_range":
        payload["Employee Count"] = company["size"]
    return payload
