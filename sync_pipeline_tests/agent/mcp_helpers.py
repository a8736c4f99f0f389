"""Helpers for the MCP tests: a seeded store, and calls through a real MCP client session."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from mcp import ClientSession
from mcp.shared.memory import create_connected_server_and_client_session
from mcp.types import CallToolResult

from sync_pipeline.records import Contact
from sync_pipeline.store import Store
from sync_pipeline.store import contact_profiles as profiles_q
from sync_pipeline.store import contacts as contacts_q
from sync_pipeline.store.contacts import Account

EXPECTED_TOOLS = {
    # name: (readOnlyHint, destructiveHint, idempotentHint, openWorldHint)
    "contacts_find": (True, False, True, False),
    "contacts_get": (True, False, True, True),
    "contacts_profile": (True, False, True, False),
    "visitors_recent": (True, False, True, False),
    "enrichment_lookup": (False, False, True, True),
    "outbox_enqueue_email": (False, False, True, True),
    "contacts_upsert": (False, False, True, True),
    "contacts_update": (False, False, True, True),
    "contacts_delete": (False, True, True, True),
    "outbox_job_status": (True, False, True, False),
    "pipeline_status": (True, False, True, False),
}


def seed_contacts(store: Store, n: int = 25, **extra: Any) -> list[str]:
    """``n`` live GHL contacts ``c00``… at Acme; returns their ids."""
    now = datetime.now(UTC)
    contacts = [
        Contact(
            id=f"c{i:02d}",
            provider="ghl",
            email=f"person{i:02d}@acme.example",
            first_name=f"Person{i:02d}",
            last_name="Tester",
            phone="+15550100",
            company_name="Acme",
            tags=("lead",),
            date_updated=now,
            **extra,
        )
        for i in range(n)
    ]
    with store.transaction() as tx:
        contacts_q.upsert_contacts(tx, contacts, now)
    return [c.id for c in contacts]


def seed_profiles(store: Store) -> None:
    """``contact_profiles`` built from what the store holds now (as the asset would)."""
    now = datetime.now(UTC)
    with store.transaction() as tx:
        profiles_q.rebuild(tx, Account("ghl"), now=now, visits_since=now - timedelta(days=30))


async def call(session: ClientSession, tool: str, **arguments: Any) -> CallToolResult:
    return await session.call_tool(tool, arguments)


def error_text(result: CallToolResult) -> str:
    assert result.isError, f"expected a tool error, got {result.structuredContent}"
    text = result.content[0].text  # type: ignore[union-attr]
    assert "Traceback" not in text
    return text


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.isError, result.content[0].text  # type: ignore[union-attr]
    assert result.structuredContent is not None
    # The text copy is the same answer, for clients that read only content.
    assert json.loads(result.content[0].text) == result.structuredContent  # type: ignore[union-attr]
    return result.structuredContent


def in_memory(server: Any, scenario: Callable[[ClientSession], Awaitable[None]]) -> None:
    """Run ``scenario`` against ``server`` through a connected in-memory client session."""

    async def main() -> None:
        async with create_connected_server_and_client_session(server) as session:
            await scenario(session)

    anyio.run(main)
