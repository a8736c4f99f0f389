"""The MCP server through its real transports: `sync-pipeline mcp` as a stdio child process, and
`sync-pipeline serve` (webhook receiver + /mcp over streamable HTTP) in one ASGI app on loopback,
with and without a bearer token; the bind check for non-loopback hosts."""

from __future__ import annotations

import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from sync_pipeline import cli
from sync_pipeline.agent.enrichment import close_enrichers
from sync_pipeline.agent.mcp_limits import CallLimiter
from sync_pipeline.serve import build_serve_app, check_bind
from sync_pipeline.settings import Settings, SettingsError, get_settings
from sync_pipeline.store import Store
from sync_pipeline_tests.agent.mcp_helpers import EXPECTED_TOOLS, call, error_text, ok, seed_contacts, seed_profiles
from sync_pipeline_tests.instantly_clay_pdl_rb2b_fixtures import OutreachSandbox

TOKEN = "t0ken-for-the-mcp-tests-0123456789"


async def exercise(session: ClientSession) -> None:
    """What every transport must carry: the tool list, reads, an idempotent write, a tool error."""
    assert {t.name for t in (await session.list_tools()).tools} == set(EXPECTED_TOOLS)
    found = ok(await call(session, "contacts_find", query="acme", limit=2))
    assert len(found["contacts"]) == 2 and found["next_cursor"]
    assert ok(await call(session, "contacts_get", contact_id="c01"))["contact"]["email"] == "person01@acme.example"
    assert ok(await call(session, "contacts_profile", contact_id="c01"))["profile"]["contact_id"] == "c01"
    enriched = ok(await call(session, "enrichment_lookup", email="ada.lovelace@northwind.com"))["enrichment"]
    assert (enriched["status"], enriched["data"]["full_name"]) == ("hit", "Ada Lovelace")
    email = {"to": "ann@example.com", "subject": "Hi", "html": "<p>Hi</p>", "idempotency_key": "transport-1"}
    first = ok(await call(session, "outbox_enqueue_email", **email))
    assert ok(await call(session, "outbox_enqueue_email", **email))["jobs"] == first["jobs"]
    status = ok(await call(session, "outbox_job_status", job_ids=[first["jobs"][0]["job_id"]]))
    assert status["jobs"][0]["status"] == "queued"
    update = {"contact_id": "c02", "idempotency_key": "transport-2", "last_name": "Moved", "add_tags": ["vip"]}
    assert [j["action"] for j in ok(await call(session, "contacts_update", **update))["jobs"]] == [
        "update_contact",
        "add_tags",
    ]
    upsert = {"email": "new@acme.example", "idempotency_key": "transport-3", "first_name": "New"}
    assert ok(await call(session, "contacts_upsert", **upsert))["jobs"][0]["action"] == "upsert_contact"
    delete = {"contact_id": "c00", "idempotency_key": "transport-4"}
    assert ok(await call(session, "contacts_delete", **delete))["jobs"][0]["action"] == "delete_contact"
    assert ok(await call(session, "pipeline_status"))["status"]["outbox_by_status"] == {"queued": 5}
    assert ok(await call(session, "visitors_recent"))["visitors"] == []
    assert "search with contacts_find" in error_text(await call(session, "contacts_get", contact_id="nope"))
    assert "limit" in error_text(await call(session, "contacts_find", query="a", limit=0))


# -- stdio -----------------------------------------------------------------------------------------


def seeded(store: Store, clay: OutreachSandbox, **env: str) -> Settings:
    """Three contacts with profiles in ``store``; settings for it and the Clay sandbox, plus ``env``."""
    seed_contacts(store, 3)
    seed_profiles(store)
    return Settings.from_env({**clay.state.environment(clay.url), "SYNC_PIPELINE_DB": store.url, **env})


def test_stdio_server_in_a_child_process(store: Store, clay: OutreachSandbox, tmp_path: Path) -> None:
    seeded(store, clay)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "sync_pipeline.cli", "mcp"],
        env={**clay.state.environment(clay.url), "SYNC_PIPELINE_DB": store.url, "MCP_RATE_LIMIT_PER_MINUTE": "20"},
        cwd=str(tmp_path),
    )

    async def main() -> None:
        with (tmp_path / "server.log").open("w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                await exercise(session)
                # the whole process is one client: it spends its 20 calls a minute here
                while not (result := await call(session, "pipeline_status")).isError:
                    pass
                assert error_text(result).startswith("rate limit: this client may make 20 tool calls per minute")

    anyio.run(main)


def test_stdio_command_with_a_bad_setting_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MCP_RATE_LIMIT_PER_MINUTE", "lots")
    get_settings.cache_clear()
    try:
        assert cli.main(["mcp"]) == 2
    finally:
        get_settings.cache_clear()
    assert capsys.readouterr().err == (
        "sync-pipeline: MCP_RATE_LIMIT_PER_MINUTE must be a positive number; got 'lots'\n"
    )


# -- streamable HTTP -------------------------------------------------------------------------------


@contextmanager
def serving(store: Store, settings: Settings, per_minute: int = 1_000) -> Iterator[str]:
    """`sync-pipeline serve`'s app on a free loopback port, in a thread; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = build_serve_app(store, settings, host="127.0.0.1", limiter=CallLimiter(per_minute))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        close_enrichers()  # flush their vendor call ledgers while the store still exists


def run_http(base: str, scenario: Any, headers: dict[str, str] | None = None, sessions: int = 1) -> None:
    """Run ``scenario(*sessions)`` with that many initialized client sessions to ``base``/mcp."""

    async def main() -> None:
        async with AsyncExitStack() as stack:
            http = await stack.enter_async_context(httpx.AsyncClient(headers=headers or {}, timeout=30))
            live = []
            for _ in range(sessions):
                read, write, _ = await stack.enter_async_context(
                    streamable_http_client(f"{base}/mcp", http_client=http)
                )
                session = await stack.enter_async_context(ClientSession(read, write))
                await session.initialize()
                live.append(session)
            await scenario(*live)

    anyio.run(main)


def test_http_on_loopback_serves_mcp_and_the_webhook_receiver(store: Store, clay: OutreachSandbox) -> None:
    with serving(store, seeded(store, clay)) as base:
        run_http(base, exercise)
        assert httpx.get(f"{base}/healthz").json()["status"] == "ok"  # the receiver, same process and store
        # DNS rebinding: a page on another origin cannot drive the token-less loopback server
        rebound = httpx.post(f"{base}/mcp", headers={"Host": "attacker.example"}, json={})
        assert (rebound.status_code, rebound.text) == (421, "Invalid Host header")
        foreign = httpx.post(f"{base}/mcp", headers={"Origin": "http://attacker.example"}, json={})
        assert (foreign.status_code, foreign.text) == (403, "Invalid Origin header")


def test_http_rate_limit_is_per_session(store: Store) -> None:
    async def scenario(first: ClientSession, second: ClientSession) -> None:
        for _ in range(2):
            ok(await call(first, "pipeline_status"))
        limited = error_text(await call(first, "pipeline_status"))
        assert limited.startswith("rate limit: this client may make 2 tool calls per minute; retry in ")
        ok(await call(second, "pipeline_status"))  # another session has its own allowance

    with serving(store, Settings.from_env({}), per_minute=2) as base:
        run_http(base, scenario, sessions=2)


def test_http_with_a_token_requires_the_bearer_header(store: Store, clay: OutreachSandbox) -> None:
    with serving(store, seeded(store, clay, MCP_TOKEN=TOKEN)) as base:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            refused = httpx.post(f"{base}/mcp", headers=headers, json={})
            assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
            assert TOKEN not in refused.text
        run_http(base, exercise, headers={"Authorization": f"Bearer {TOKEN}"})
        assert httpx.get(f"{base}/healthz").status_code == 200  # webhooks keep their own auth


def test_serve_refuses_a_non_loopback_host_without_a_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SettingsError, match=re.escape("refusing to serve /mcp on 0.0.0.0 without MCP_TOKEN")):
        check_bind("0.0.0.0", Settings.from_env({}))
    check_bind("0.0.0.0", Settings.from_env({"MCP_TOKEN": TOKEN}))
    for loopback in ("127.0.0.1", "localhost", "::1"):
        check_bind(loopback, Settings.from_env({}))
    monkeypatch.delenv("MCP_TOKEN", raising=False)
    get_settings.cache_clear()
    try:
        assert cli.main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert err.startswith("sync-pipeline: refusing to serve /mcp on 0.0.0.0 without MCP_TOKEN") and err.count("\n") == 1
