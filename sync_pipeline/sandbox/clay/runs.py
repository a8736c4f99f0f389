"""Routine runs of the Clay sandbox: what each item yields, and paging through the results.

A run's results are computed when it starts (they are a pure function of the seed and the inputs)
and are served once ``processing_delay_s`` has passed on the sandbox clock. The result columns are
the simulator's contract (vendor reference 4.4 — a Clay table has no fixed schema): every column is
present, the matched ones null on a miss, plus ``_credits_used``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sync_pipeline.sandbox.clay.config import ClayConfig
from sync_pipeline.sandbox.pdl.people import SeededPeople

PERSON_COLUMNS = ("first_name", "last_name", "full_name", "title", "company_name", "company_domain",
                  "linkedin_url", "employee_count", "industry", "phone", "location")  # fmt: skip
COMPANY_COLUMNS = ("name", "website", "industry", "employee_count", "size", "founded", "linkedin_url",
                   "location")  # fmt: skip


@dataclass(frozen=True)
class Run:
    """One routine run: ``items`` are ``RunResultItem`` bodies, in input order."""

    id: str
    started_at: float
    items: tuple[dict[str, Any], ...]
    credits: float


def run_items(
    kind: str, inputs: Sequence[Mapping[str, Any]], people: SeededPeople, config: ClayConfig
) -> tuple[list[dict[str, Any]], float]:
    """The result item of each ``{"id", "inputs"}`` and the credits the run costs."""
    items, credits = [], 0.0
    for item in inputs:
        result_item, cost = _one(kind, item, people, config)
        items.append(result_item)
        credits += cost
    return items, credits


def _one(kind: str, item: Mapping[str, Any], people: SeededPeople, config: ClayConfig) -> tuple[dict[str, Any], float]:
    field = "email" if kind == "person" else "domain"
    value = item["inputs"].get(field)
    if not isinstance(value, str) or not value.strip():
        return {"id": item["id"], "status": "failed", "error": {"message": f"Missing input: {field}"}}, 0.0
    if value.strip().lower().startswith(config.fail_prefix):
        message = "Enrichment provider timed out; re-run the row"
        return {"id": item["id"], "status": "failed", "error": {"message": message}}, 0.0
    if kind == "person":
        found = people.person(value)
        result = {"email": value.strip().lower(), **_person_columns(found)}
        cost = config.credits_per_person if found else config.credits_per_miss
    else:
        found = people.company(value)
        result = {"domain": value, **_company_columns(found)}
        cost = config.credits_per_company if found else config.credits_per_miss
    return {"id": item["id"], "status": "complete", "result": {**result, "_credits_used": cost}}, cost


def _person_columns(person: Mapping[str, Any] | None) -> dict[str, Any]:
    if person is None:
        return dict.fromkeys(PERSON_COLUMNS)
    company = person["company"]
    return {
        "first_name": person["first_name"],
        "last_name": person["last_name"],
        "full_name": person["full_name"],
        "title": person["job_title"],
        "company_name": company["name"],
        "company_domain": company["domain"],
        "linkedin_url": person["linkedin_url"],
        "employee_count": company["employee_count"],
        "industry": company["industry"],
        "phone": person["phone"],
        "location": f"{person['city']}, {person['region']}, {person['country']}",
    }


def _company_columns(company: Mapping[str, Any] | None) -> dict[str, Any]:
    if company is None:
        return dict.fromkeys(COMPANY_COLUMNS)
    return {
        **{k: company[k] for k in COMPANY_COLUMNS if k in company},
        "location": f"{company['city']}, {company['region']}, {company['country']}",
    }
