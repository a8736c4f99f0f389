"""Conformance: what our providers send to the Instantly and Clay sandboxes, and what the sandboxes
answer (successes and errors), validated against the vendors' published OpenAPI documents."""

from __future__ import annotations

import time

import httpx
import pytest

from sync_pipeline.errors import AuthError
from sync_pipeline.records import OutboundEmail
from sync_pipeline_tests.instantly_clay_pdl_rb2b_fixtures import OutreachSandbox
from sync_pipeline_tests.sandbox.openapi_conformance import validate_exchange


def test_instantly_provider_traffic_conforms(make_instantly, instantly_sandbox: OutreachSandbox) -> None:
    provider = make_instantly(instantly_sandbox)
    first = OutboundEmail("job-1", "ada.lovelace@acme.com", "Quick question", "<p>Hi</p>")
    provider.send(first)
    provider.lookup(first)
    provider.send(OutboundEmail("job-2", "ada.lovelace@acme.com", "Following up", "<p>Again</p>"))
    provider.lookup(OutboundEmail("job-3", "ada.lovelace@acme.com", "Never sent", "<p>No</p>"))

    exchanges = instantly_sandbox.exchanges
    assert {f"{e.method} {e.path}" for e in exchanges} == {
        "POST /api/v2/leads/add",
        "POST /api/v2/leads/list",
        "GET /api/v2/emails",
        "POST /api/v2/emails/reply",
    }
    for exchange in exchanges:
        validate_exchange("instantly", exchange)


def test_instantly_sandbox_answers_conform(instantly_sandbox: OutreachSandbox) -> None:
    url, creds = instantly_sandbox.url, instantly_sandbox.credentials
    auth = {"Authorization": f"Bearer {creds['api_key']}"}
    campaign = creds["campaign_id"]
    httpx.post(f"{url}/api/v2/leads", headers=auth, json={"campaign": campaign, "email": "a@acme.com"})
    httpx.get(f"{url}/api/v2/campaigns", headers=auth, params={"limit": 2})
    httpx.get(f"{url}/api/v2/campaigns/{campaign}", headers=auth)
    httpx.get(f"{url}/api/v2/leads/{'0' * 8}-0000-7000-8000-{'0' * 12}", headers=auth)  # 404 envelope
    httpx.post(f"{url}/api/v2/leads", headers=auth, json={"campaign": campaign})  # 400: email required
    httpx.get(f"{url}/api/v2/emails")  # 401 "Missing Authorization header"
    instantly_sandbox.admin("config", {"plan_active": False})
    httpx.get(f"{url}/api/v2/emails", headers=auth)  # 402

    statuses = [e.status for e in instantly_sandbox.exchanges]
    assert statuses == [200, 200, 200, 404, 400, 401, 402]
    assert instantly_sandbox.exchanges[5].json()["message"] == "Missing Authorization header"
    for exchange in instantly_sandbox.exchanges:
        # Error-provoking requests are deliberately wrong; their answers must still follow the spec.
        validate_exchange("instantly", exchange, request=exchange.status == 200)


def test_instantly_pages_carry_a_cursor_even_when_last(instantly_sandbox: OutreachSandbox) -> None:
    auth = {"Authorization": f"Bearer {instantly_sandbox.credentials['api_key']}"}
    with httpx.Client(base_url=instantly_sandbox.url, headers=auth) as client:
        pages, cursor = [], None
        while True:
            params = {"limit": 3, **({"starting_after": cursor} if cursor else {})}
            page = client.get("/api/v2/campaigns", params=params).json()
            if not page["items"]:
                break
            pages.append(len(page["items"]))
            cursor = page["next_starting_after"]
    assert pages == [3, 1]  # 4 seeded campaigns; the last page still carried a cursor


def test_instantly_emails_listing_allows_20_per_minute(instantly_sandbox: OutreachSandbox) -> None:
    instantly_sandbox.admin("config", {"list_emails_per_minute": 2})
    auth = {"Authorization": f"Bearer {instantly_sandbox.credentials['api_key']}"}
    answers = [httpx.get(f"{instantly_sandbox.url}/api/v2/emails", headers=auth) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json() == {"statusCode": 429, "error": "Too Many Requests", "message": "Rate limit exceeded"}
    assert "retry-after" not in answers[2].headers and not any(h.startswith("x-ratelimit") for h in answers[2].headers)
    validate_exchange("instantly", instantly_sandbox.exchanges[2])


def test_clay_provider_traffic_conforms(make_clay, clay_sandbox: OutreachSandbox) -> None:
    clay = make_clay(clay_sandbox)
    clay.enrich_person("ada.lovelace@northwind.com")
    clay.enrich_companies([f"company{n}.com" for n in range(3)])
    with pytest.raises(AuthError):
        make_clay(clay_sandbox, api_key="wrong").enrich_person("ada.lovelace@northwind.com")

    statuses = {e.status for e in clay_sandbox.exchanges}
    assert statuses >= {200, 202, 401}
    for exchange in clay_sandbox.exchanges:
        validate_exchange("clay", exchange, request=exchange.status != 401)


def test_clay_errors_and_paged_results_conform(clay_sandbox: OutreachSandbox) -> None:
    key = {"clay-api-key": clay_sandbox.credentials["api_key"]}
    routine = clay_sandbox.credentials["person_routine_id"]
    with httpx.Client(base_url=clay_sandbox.url, headers=key) as client:
        items = [{"id": f"row-{n}", "inputs": {"email": f"p{n}@acme.com"}} for n in range(5)]
        run_id = client.post(f"/routines/{routine}/run", json={"items": items}).json()["routine_run_id"]
        client.post(f"/routines/{routine}/run", json={"items": []})  # 400
        client.post("/routines/function:t_missing/run", json={"items": items})  # 404
        early = client.get(f"/routines/run/{run_id}/results")
        time.sleep(0.1)  # past the fixture's 50 ms processing delay
        first = client.get(f"/routines/run/{run_id}/results", params={"limit": 2})
        second = client.get(f"/routines/run/{run_id}/results", params={"limit": 2, "cursor": first.json()["cursor"]})

    assert (early.status_code, early.json()["status"], first.status_code) == (202, "in_progress", 200)
    assert [r["id"] for r in first.json()["data"] + second.json()["data"]] == ["row-0", "row-1", "row-2", "row-3"]
    bodies = [e.json() for e in clay_sandbox.exchanges if e.status in (400, 404)]
    assert all(set(b) == {"message"} for b in bodies) and len(bodies) == 2
    for exchange in clay_sandbox.exchanges:
        validate_exchange("clay", exchange, request=exchange.status in (200, 202))
