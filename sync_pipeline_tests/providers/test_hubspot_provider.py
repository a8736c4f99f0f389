"""HubSpot-specific behaviour: the result-cap workaround, tags, and the sandbox's wire format."""

from __future__ import annotations

import pytest

from sync_pipeline.providers.hubspot import HubSpotCRM
from sync_pipeline.providers.hubspot_api import hubspot_clients
from sync_pipeline.providers.hubspot_search import SearchCursor, advance
from sync_pipeline.records import ContactChanges
from sync_pipeline.sandbox.hubspot.config import HubSpotConfig
from sync_pipeline.settings import Secret, Settings
from sync_pipeline.store import Store
from sync_pipeline_tests.sandbox_fixtures import HubSpotSandboxFactory, HubSpotSandboxHandle

from .conftest import FAST_SANDBOX_WINDOWS, use_fast_limits


def hit(contact_id: str, modified: str) -> dict[str, object]:
    return {"id": contact_id, "properties": {"lastmodifieddate": modified}}


T1, T2 = "2025-01-01T00:00:00.001Z", "2025-01-01T00:00:00.002Z"
MS2 = 1735689600002


def test_a_restart_at_the_cap_skips_what_was_returned_at_the_boundary_timestamp() -> None:
    answer = {"total": 50, "results": [hit("1", T1), hit("2", T2), hit("3", T2)], "paging": {"next": {"after": "9"}}}
    fresh, cursor = advance(SearchCursor(offset=6), answer, limit=3, cap=10)
    assert [r["id"] for r in fresh] == ["1", "2", "3"]
    assert cursor == SearchCursor(from_ms=MS2, offset=0, tail_ms=MS2, tail_ids=("2", "3"))

    restarted = {"total": 40, "results": [hit("2", T2), hit("3", T2), hit("4", T2)], "paging": {"next": {"after": "3"}}}
    fresh, cursor = advance(cursor, restarted, limit=3, cap=10)
    assert [r["id"] for r in fresh] == ["4"]
    assert cursor is not None and cursor.tail_ids == ("2", "3", "4") and cursor.offset == 3


def test_a_contact_modified_again_is_not_taken_for_the_tail() -> None:
    cursor = SearchCursor(from_ms=None, offset=3, tail_ms=MS2 - 1, tail_ids=("1",))
    fresh, _ = advance(cursor, {"total": 4, "results": [hit("1", T2)]}, limit=3, cap=10)
    assert [r["id"] for r in fresh] == ["1"]


def test_reaching_the_cap_without_a_next_page_still_restarts() -> None:
    answer = {"total": 20, "results": [hit("9", T1), hit("10", T2)]}
    _, cursor = advance(SearchCursor(offset=8), answer, limit=2, cap=10)
    assert cursor is not None and cursor.from_ms == MS2 and cursor.offset == 0


def test_paging_across_several_restarts_over_http(
    hubspot_sandbox_factory: HubSpotSandboxFactory, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_fast_limits(monkeypatch)
    config = HubSpotConfig(search_result_cap=250, rate_windows=FAST_SANDBOX_WINDOWS, search_per_second=10_000)
    sandbox = hubspot_sandbox_factory(contacts=900, vendor_configs={"hubspot": config})
    settings = Settings(hubspot_base_url=sandbox.url, hubspot_token=Secret(sandbox.token))
    crm = HubSpotCRM(hubspot_clients(settings, store), search_result_cap=250)
    ids, cursor = [], None
    try:
        while True:
            page = crm.changed_since(None, cursor, page_size=100)
            ids.extend(c.id for c in page.contacts)
            cursor = page.next_cursor
            if cursor is None:
                break
    finally:
        crm.close()
    assert ids == [str(10_001 + i) for i in range(900)]
    assert sandbox.state.stats.snapshot()["requests"]["POST /crm/v3/objects/contacts/search"] == {"200": 10}


# ---- the sandbox's wire format ------------------------------------------------------------------


def test_errors_use_hubspot_bodies_and_every_response_has_rate_headers(hubspot_sandbox: HubSpotSandboxHandle) -> None:
    with hubspot_sandbox.client() as http:
        missing = http.get("/crm/v3/objects/contacts/999999999")
        invalid = http.post("/crm/v3/objects/contacts", json={"properties": {"nosuchprop": "x"}})
        existing = http.get("/crm/v3/objects/contacts/10001").json()["properties"]["email"]
        conflict = http.post("/crm/v3/objects/contacts", json={"properties": {"email": existing}})
        capped = http.post("/crm/v3/objects/contacts/search", json={"after": "10000", "limit": 10})
    with hubspot_sandbox.client(headers={"Authorization": "Bearer wrong"}) as http:
        unauthorized = http.get("/crm/v3/objects/contacts")
    for response, status, category in (
        (missing, 404, "OBJECT_NOT_FOUND"),
        (invalid, 400, "VALIDATION_ERROR"),
        (conflict, 409, "CONFLICT"),
        (capped, 400, "VALIDATION_ERROR"),
        (unauthorized, 401, "INVALID_AUTHENTICATION"),
    ):
        body = response.json()
        assert (response.status_code, body["status"], body["category"]) == (status, "error", category)
        assert body["correlationId"] and body["message"]
        assert response.headers["X-HubSpot-RateLimit-Max"] == "100"
        assert response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert "X-HubSpot-RateLimit-Daily-Remaining" in response.headers
    assert "Existing ID: 10001" in conflict.json()["message"]


def test_search_has_its_own_per_second_limit(hubspot_sandbox_factory: HubSpotSandboxFactory) -> None:
    sandbox = hubspot_sandbox_factory(contacts=10, vendor_configs={"hubspot": HubSpotConfig(search_per_second=2)})
    with sandbox.client() as http:
        answers = [http.post("/crm/v3/objects/contacts/search", json={"limit": 1}) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    body = answers[2].json()
    assert (body["policyName"], body["errorType"], body["category"]) == ("SECONDLY", "RATE_LIMIT", "RATE_LIMITS")
    assert answers[0].json()["paging"]["next"]["after"] == "1"


# ---- tags: options of the tags property --------------------------------------------------------

PROPERTY = "/crm/v3/properties/contacts/sync_tags"


def _crm(sandbox: HubSpotSandboxHandle, store: Store) -> HubSpotCRM:
    return HubSpotCRM(
        hubspot_clients(Settings(hubspot_base_url=sandbox.url, hubspot_token=Secret(sandbox.token)), store)
    )


def _options(sandbox: HubSpotSandboxHandle) -> list[str]:
    with sandbox.client() as http:
        return [o["value"] for o in http.get(PROPERTY).raise_for_status().json()["options"]]


def test_hubspot_refuses_a_tag_that_is_not_an_option_of_the_property(hubspot_sandbox: HubSpotSandboxHandle) -> None:
    with hubspot_sandbox.client() as http:
        refused = http.patch("/crm/v3/objects/contacts/10001", json={"properties": {"sync_tags": "lead;brand-new"}})
        accepted = http.patch("/crm/v3/objects/contacts/10001", json={"properties": {"sync_tags": "lead;customer"}})
    assert refused.status_code == 400 and refused.json()["category"] == "VALIDATION_ERROR"
    assert "INVALID_OPTION" in refused.json()["message"]
    assert "brand-new was not one of the allowed options" in refused.json()["message"]
    assert accepted.status_code == 200


def test_a_new_tag_is_added_to_the_options_once_keeping_the_others(
    hubspot_sandbox: HubSpotSandboxHandle, store: Store
) -> None:
    before = _options(hubspot_sandbox)
    crm = _crm(hubspot_sandbox, store)
    try:
        crm.add_tags("10001", ["brand-new"])
        crm.add_tags("10002", ["brand-new"])  # known now: no second look at the property
        assert crm.get_contact("10002") is not None and "brand-new" in crm.get_contact("10002").tags
    finally:
        crm.close()

    assert _options(hubspot_sandbox) == [*before, "brand-new"]
    requests = hubspot_sandbox.state.stats.snapshot()["requests"]
    assert sum(requests[k].get("200", 0) for k in requests if k.startswith("PATCH /crm/v3/properties")) == 1
    # one read by the provider, two by this test
    assert sum(requests[k].get("200", 0) for k in requests if k.startswith("GET /crm/v3/properties")) == 3


def test_options_replaced_by_another_client_are_restored_when_a_write_is_refused(
    hubspot_sandbox: HubSpotSandboxHandle, store: Store
) -> None:
    crm = _crm(hubspot_sandbox, store)
    try:
        crm.update_contact("10001", ContactChanges(tags=("vip",)))
        seed_only = [{"label": v, "value": v} for v in _options(hubspot_sandbox) if v != "vip"]
        with hubspot_sandbox.client() as http:  # someone else edits the property in HubSpot
            http.patch(PROPERTY, json={"options": seed_only}).raise_for_status()
        updated = crm.update_contact("10002", ContactChanges(tags=("vip",)))  # refused once, then retried
    finally:
        crm.close()

    assert updated.tags == ("vip",) and "vip" in _options(hubspot_sandbox)


def test_the_portal_id_keys_the_rate_buckets_and_fills_location_id(
    hubspot_sandbox: HubSpotSandboxHandle, store: Store
) -> None:
    portal = hubspot_sandbox.state.portal_id
    settings = Settings.from_env({**hubspot_sandbox.running.env, "SYNC_PIPELINE_DB": store.url})
    crm = HubSpotCRM.from_settings(settings, store)
    try:
        contact = crm.get_contact("10001")
        buckets = {crm._clients.api.limiter.bucket, crm._clients.search.limiter.bucket}
    finally:
        crm.close()
    assert contact is not None and contact.location_id == portal
    assert buckets == {f"hubspot:{portal}", f"hubspot:{portal}:search"}
