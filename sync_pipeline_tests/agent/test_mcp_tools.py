"""The MCP tools through a real client session (in memory): the tool list, every tool, paging,
concise/detailed answers, size caps, idempotent writes, the per-client rate limit and the errors
an agent gets for bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from mcp import ClientSession

from sync_pipeline import agent
from sync_pipeline.agent import mcp_server
from sync_pipeline.agent.enrichment import close_enrichers
from sync_pipeline.agent.mcp_limits import CallLimited, CallLimiter
from sync_pipeline.agent.mcp_results import CONTACT_CONCISE, MAX_RESULT_CHARS, PROFILE_CONCISE, fit_single, size_of
from sync_pipeline.settings import Settings
from sync_pipeline.store import Store
from sync_pipeline.store.contacts import Account
from sync_pipeline.sync.visitors import update_visitors
from sync_pipeline_tests.agent.mcp_helpers import (
    EXPECTED_TOOLS,
    call,
    error_text,
    in_memory,
    ok,
    seed_contacts,
    seed_profiles,
)
from sync_pipeline_tests.enrichment.conftest import rows_processed
from sync_pipeline_tests.instantly_clay_pdl_rb2b_fixtures import OutreachSandbox
from sync_pipeline_tests.visitors.conftest import TOKEN, land, visit

SETTINGS = Settings.from_env({})


def server(store: Store, per_minute: int = 1_000) -> mcp_server.AgentMCP:
    return mcp_server.build_server(SETTINGS, store=store, limiter=CallLimiter(per_minute))


def test_tool_list_is_small_namespaced_annotated_and_bounded(store: Store) -> None:
    async def scenario(session: ClientSession) -> None:
        tools = (await session.list_tools()).tools
        assert {t.name for t in tools} == set(EXPECTED_TOOLS)
        # the whole list costs a few thousand tokens of an agent's context, not tens of thousands
        assert len(json.dumps([t.model_dump(mode="json", exclude_none=True) for t in tools])) < 30_000
        for tool in tools:
            hints = tool.annotations
            assert hints is not None
            assert (hints.readOnlyHint, hints.destructiveHint, hints.idempotentHint, hints.openWorldHint) == (
                EXPECTED_TOOLS[tool.name]
            ), tool.name
            assert tool.description and len(tool.description) > 80, tool.name
            assert tool.outputSchema and "freshness" in tool.outputSchema["properties"], tool.name
            assert "title" not in tool.inputSchema["properties"].get("limit", {})
        schemas = {t.name: t.inputSchema["properties"] for t in tools}
        assert schemas["contacts_find"]["limit"]["maximum"] == 50
        assert schemas["outbox_enqueue_email"]["subject"]["maxLength"] == 998
        assert schemas["outbox_job_status"]["job_ids"]["maxItems"] == 20
        writes = [name for name, hints in EXPECTED_TOOLS.items() if not hints[0] and name != "enrichment_lookup"]
        for name in writes:
            assert "idempotency_key" in next(t for t in tools if t.name == name).inputSchema["required"]

    in_memory(server(store), scenario)


def test_contacts_find_pages_with_cursors_and_is_concise_by_default(store: Store) -> None:
    ids = seed_contacts(store, 25)

    async def scenario(session: ClientSession) -> None:
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = ok(await call(session, "contacts_find", query="acme", limit=10, cursor=cursor))
            pages += 1
            assert all(set(c) == set(CONTACT_CONCISE) for c in page["contacts"])
            seen += [c["id"] for c in page["contacts"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert (pages, sorted(seen)) == (3, ids)
        first = ok(await call(session, "contacts_find", query="acme", limit=1))["contacts"][0]
        assert first["name"].endswith(" Tester") and first["pending"] is False
        detailed = ok(await call(session, "contacts_find", email="PERSON03@acme.example", detailed=True))
        [contact] = detailed["contacts"]
        assert (contact["id"], contact["phone"], contact["tags"]) == ("c03", "+15550100", ["lead"])
        freshness = detailed["freshness"]
        assert freshness["source"] == "local store (contacts)" and freshness["data_as_of"] is not None
        assert freshness["age_seconds"] < 60 and "15 min" in freshness["note"]

        acme = ok(await call(session, "contacts_find", query="acme", limit=5))["next_cursor"]
        other = await call(session, "contacts_find", query="other", cursor=acme)
        assert "cursor belongs to a search with other arguments" in error_text(other)
        bad = await call(session, "contacts_find", query="acme", cursor="not-a-cursor")
        assert "cursor is not one this server issued" in error_text(bad)

    in_memory(server(store), scenario)


def test_bad_input_gets_a_tool_error_saying_what_to_do(store: Store) -> None:
    seed_contacts(store, 2)

    async def scenario(session: ClientSession) -> None:
        email = {"subject": "s", "html": "h", "idempotency_key": "k"}
        update = {"contact_id": "c00", "idempotency_key": "k"}
        cases = [
            ("contacts_find", {"query": "a", "limit": 500}, "invalid arguments: limit: Input should be less than or"),
            ("contacts_find", {}, "pass at least one of query"),
            ("contacts_get", {"contact_id": "nope"}, "no contact with id 'nope' in the local store (unknown or del"),
            ("contacts_get", {}, "invalid arguments: contact_id: Field required"),
            ("outbox_enqueue_email", {**email, "to": "not-an-address"}, "is not a valid email address"),
            ("outbox_enqueue_email", email, "pass to= (an email address) or contact_id="),
            ("outbox_enqueue_email", {**email, "to": "a@b.co", "send_after": "2030-01-01T09:00"}, "needs a timezone"),
            ("contacts_update", {**update, "contact_id": "nope", "last_name": "X"}, "no live ghl contact with id"),
            ("contacts_update", update, "nothing to change"),
            ("contacts_update", {**update, "add_tags": [""]}, "add_tags.0: String should have at least 1 character"),
            ("outbox_job_status", {"job_ids": ["nope"]}, "no outbox job with id 'nope'"),
            ("outbox_job_status", {"job_ids": []}, "job_ids: List should have at least 1 item"),
            ("visitors_recent", {"since_hours": 0}, "since_hours: Input should be greater than or equal to 1"),
            ("enrichment_lookup", {}, "pass exactly one of email (a person) or domain (a company)"),
            ("no_such_tool", {}, "Unknown tool: no_such_tool; the tools this server has are in tools/list"),
        ]
        for tool, arguments, expected in cases:
            text = error_text(await call(session, tool, **arguments))
            assert expected in text, (tool, text)
        unknown = error_text(await call(session, "contacts_delete", contact_id="gone", idempotency_key="k-del"))
        assert unknown.endswith("find the contact's id with contacts_find")

    in_memory(server(store), scenario)


def test_writes_are_queued_once_per_idempotency_key(store: Store) -> None:
    seed_contacts(store, 3)

    async def scenario(session: ClientSession) -> None:
        email = {"contact_id": "c01", "subject": "Hello", "html": "<p>Hi</p>", "idempotency_key": "welcome-c01"}
        first = ok(await call(session, "outbox_enqueue_email", **email))
        again = ok(await call(session, "outbox_enqueue_email", **email))
        assert first["jobs"] == again["jobs"] and len(first["jobs"]) == 1
        assert (first["already_queued"], again["already_queued"]) == (False, True)
        assert first["jobs"][0]["status"] == "queued" and first["jobs"][0]["job_id"] in first["next_step"]

        update = {
            "contact_id": "c02",
            "idempotency_key": "rename-c02",
            "first_name": "Renamed",
            "add_tags": ["vip"],
            "remove_tags": ["lead"],
        }
        queued = ok(await call(session, "contacts_update", **update))
        assert [j["action"] for j in queued["jobs"]] == ["update_contact", "add_tags", "remove_tags"]
        assert [j["idempotency_key"] for j in queued["jobs"]] == [
            "rename-c02",
            "rename-c02:add_tags",
            "rename-c02:remove_tags",
        ]
        assert ok(await call(session, "contacts_update", **update))["jobs"] == queued["jobs"]
        contact = ok(await call(session, "contacts_get", contact_id="c02"))["contact"]
        assert (contact["name"], contact["tags"], contact["pending"]) == ("Renamed Tester", ["vip"], True)

        reused = await call(session, "contacts_delete", contact_id="c02", idempotency_key="welcome-c01")
        assert "idempotency_key 'welcome-c01' was already used for a send_email job" in error_text(reused)
        deleted = ok(await call(session, "contacts_delete", contact_id="c00", idempotency_key="drop-c00"))
        assert deleted["jobs"][0]["action"] == "delete_contact"
        assert "no contact with id 'c00'" in error_text(await call(session, "contacts_get", contact_id="c00"))
        upserted = ok(
            await call(session, "contacts_upsert", email="new@acme.example", first_name="New", idempotency_key="new-1")
        )
        assert upserted["jobs"][0]["action"] == "upsert_contact"

        ids = [j["job_id"] for j in first["jobs"] + queued["jobs"]] + ["missing-job"]
        status = ok(await call(session, "outbox_job_status", job_ids=ids))
        assert [j["status"] for j in status["jobs"]] == ["queued"] * 4 and status["not_found"] == ["missing-job"]
        assert status["jobs"][0]["to_email"] == "person01@acme.example"
        assert "provider_ref" in ok(await call(session, "outbox_job_status", job_ids=ids[:1], detailed=True))["jobs"][0]

    in_memory(server(store), scenario)
    # the same key through the Python API is the same job: MCP and Python agents share the outbox
    job = agent.enqueue_email(
        subject="Hello",
        html="<p>Hi</p>",
        contact_id="c01",
        idempotency_key="welcome-c01",
        store=store,
        settings=SETTINGS,
    )
    assert agent.job_status(job, store=store, settings=SETTINGS)["status"] == "queued"


def test_visitors_and_status_say_how_fresh_they_are(store: Store) -> None:
    seed_contacts(store, 1)
    settings = Settings.from_env({"RB2B_WEBHOOK_TOKEN": TOKEN})
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for n in range(3):
        land(store, visit(f"https://www.linkedin.com/in/p{n}", f"p{n}@visitors.example", Seen_At=now))
    update_visitors(store, Account("ghl"))
    land(store, visit("https://www.linkedin.com/in/late", "late@visitors.example", Seen_At=now))

    async def scenario(session: ClientSession) -> None:
        page = ok(await call(session, "visitors_recent", limit=2))
        assert len(page["visitors"]) == 2 and page["next_cursor"] and page["uncounted_events"] == 1
        assert {"name", "last_seen_at", "contact_id"} <= set(page["visitors"][0])
        assert "pages" not in page["visitors"][0]
        rest = ok(await call(session, "visitors_recent", limit=2, cursor=page["next_cursor"]))
        assert len(rest["visitors"]) == 1 and rest["next_cursor"] is None
        assert page["freshness"]["data_as_of"] is not None and "rb2b_visitors" in page["freshness"]["note"]
        assert "pages" in ok(await call(session, "visitors_recent", detailed=True))["visitors"][0]

        status = ok(await call(session, "pipeline_status"))
        assert status["status"]["providers"]["crm"] == "ghl" and "freshness" in status
        detailed = ok(await call(session, "pipeline_status", detailed=True))["status"]
        assert "rows" in detailed and "url" in detailed["store"]

    in_memory(mcp_server.build_server(settings, store=store, limiter=CallLimiter(100)), scenario)


def test_large_answers_are_cut_with_a_cursor_to_go_on(store: Store) -> None:
    ids = seed_contacts(store, 50, custom_fields={"notes": "x" * 1_500})
    big = "y" * 100_000
    agent.update_contact("c00", custom_fields={"notes": big}, store=store, settings=SETTINGS)

    async def scenario(session: ClientSession) -> None:
        seen: list[str] = []
        cursor = None
        while True:
            result = await call(session, "contacts_find", query="acme", limit=50, detailed=True, cursor=cursor)
            page = ok(result)
            assert len(result.content[0].text) < 2 * MAX_RESULT_CHARS  # type: ignore[union-attr]
            seen += [c["id"] for c in page["contacts"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == ids  # cut short, nothing lost
        one = ok(await call(session, "contacts_get", contact_id="c00", detailed=True))["contact"]
        assert one["custom_fields"]["notes"].endswith("[98000 more characters not shown]")

    in_memory(server(store), scenario)


def test_one_large_object_is_cut_to_the_budget() -> None:
    profile = {"contact": {"id": "c1"}, "visits": [{"page": "x" * 500} for _ in range(400)], "note": "y" * 5_000}
    fitted = fit_single(profile)
    assert size_of(fitted) <= MAX_RESULT_CHARS and fitted["contact"] == {"id": "c1"}
    assert fitted["visits"][-1].endswith("more not shown") and fitted["note"].endswith("more characters not shown]")


def test_tool_calls_are_rate_limited_per_client(store: Store) -> None:
    async def scenario(session: ClientSession) -> None:
        for _ in range(3):
            ok(await call(session, "pipeline_status"))
        text = error_text(await call(session, "pipeline_status"))
        assert text.startswith("rate limit: this client may make 3 tool calls per minute; retry in ")

    in_memory(server(store, per_minute=3), scenario)


def test_the_limiter_counts_each_client_in_a_sliding_minute() -> None:
    now = [1_000.0]
    limiter = CallLimiter(2, clock=lambda: now[0])
    limiter.acquire("a")
    limiter.acquire("a")
    limiter.acquire("b")  # another client has its own allowance
    now[0] += 45
    with pytest.raises(CallLimited) as refused:
        limiter.acquire("a")
    assert refused.value.retry_after == pytest.approx(15)
    now[0] += 15
    limiter.acquire("a")  # the oldest call left the window; refused calls were not counted


def test_unexpected_failures_are_reported_without_their_details(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(**kwargs: object) -> None:
        raise RuntimeError("internal detail: postgresql://user:pw@db")

    monkeypatch.setattr(agent, "find_contacts", broken)

    async def scenario(session: ClientSession) -> None:
        text = error_text(await call(session, "contacts_find", query="a"))
        assert "contacts_find failed unexpectedly (server log ref " in text and "pw@db" not in text

    in_memory(server(store), scenario)
    assert "internal detail" in caplog.text  # the operator has it, with the traceback


def test_contacts_profile_answers_the_built_profile(store: Store) -> None:
    seed_contacts(store, 2)
    agent.enqueue_email(subject="Hi", html="<p>x</p>", contact_id="c01", store=store, settings=SETTINGS)
    seed_profiles(store)
    seed_contacts(store, 3)  # c02 is synced after the profiles were built

    async def scenario(session: ClientSession) -> None:
        answer = ok(await call(session, "contacts_profile", contact_id="c01"))
        profile = answer["profile"]
        assert (profile["contact_id"], profile["name"], profile["emails_pending"]) == ("c01", "Person01 Tester", 1)
        assert set(profile) <= set(PROFILE_CONCISE)
        assert answer["freshness"]["source"] == "local store (contact_profiles)"
        assert answer["freshness"]["data_as_of"] is not None
        detailed = ok(await call(session, "contacts_profile", contact_id="c01", detailed=True))["profile"]
        assert {"last_email_subject", "contact_synced_at", "as_of"} <= set(detailed)
        missing = error_text(await call(session, "contacts_profile", contact_id="c02"))
        assert "no profile for contact id 'c02'" in missing and "contacts_get" in missing

    in_memory(server(store), scenario)


def test_enrichment_lookup_pays_once_then_answers_from_the_cache(store: Store, clay: OutreachSandbox) -> None:
    env = {**clay.state.environment(clay.url), "SYNC_PIPELINE_DB": store.url, "CLAY_MAX_WAIT_SECONDS": "10"}
    settings = Settings.from_env(env)
    lookup = {"email": "Ada.Lovelace@Northwind.com"}

    async def scenario(session: ClientSession) -> None:
        first = ok(await call(session, "enrichment_lookup", **lookup))
        answer = first["enrichment"]
        assert (answer["status"], answer["cached"], answer["key"]) == ("hit", False, "ada.lovelace@northwind.com")
        assert answer["data"]["full_name"] == "Ada Lovelace" and answer["cost_usd"] > 0
        assert first["freshness"]["source"] == "enrichment vendor (asked just now)"
        again = ok(await call(session, "enrichment_lookup", **lookup, detailed=True))
        assert again["enrichment"]["cached"] is True and "expires_at" in again["enrichment"]
        assert again["freshness"]["source"] == "enrichment cache" and again["freshness"]["age_seconds"] < 60
        company = ok(await call(session, "enrichment_lookup", domain="https://www.northwind.com/about"))
        assert (company["enrichment"]["kind"], company["enrichment"]["key"]) == ("company", "northwind.com")
        bad = error_text(await call(session, "enrichment_lookup", domain="localhost"))
        assert "is not a company domain or website" in bad

    try:
        in_memory(mcp_server.build_server(settings, store=store, limiter=CallLimiter(100)), scenario)
    finally:
        close_enrichers()  # flush the vendor call ledger while the store still exists
    assert rows_processed(clay) == 2
