"""Agent reads of contacts, served from the local store in milliseconds.

Every answer carries ``synced_at`` (when we last saw the contact at the CRM) and ``pending``
(an agent's change is applied locally but not yet confirmed by the CRM), so an agent can judge
freshness itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ..providers import registry
from ..providers.lifecycle import close_provider
from ..settings import Settings, get_settings
from ..store import Row, Store, ensure_migrated, open_store
from ..store import contacts as contacts_q


def get_contact(
    contact_id: str,
    *,
    max_age: timedelta | None = None,
    store: Store | None = None,
    settings: Settings | None = None,
) -> dict[str, Any] | None:
    """The live contact with this CRM id, or None (unknown or deleted).

    With ``max_age``, a contact last synced longer ago than that (or not held locally) is read
    through from the CRM first — one call through the shared rate limiter — and stored. A contact
    with an agent's change pending is answered locally: the CRM does not have that change yet.
    """
    settings = settings or get_settings()
    store = ensure_migrated(store or open_store(settings))
    account = contacts_q.Account.configured(settings)
    with store.read_transaction() as tx:
        row = contacts_q.get_contact(tx, account, contact_id)
    stale = max_age is not None and (row is None or datetime.now(UTC) - row["synced_at"] > max_age)
    if stale and (row is None or row["pending_since"] is None):
        row = _read_through(store, settings, account, contact_id)
    return None if row is None or row["deleted_at"] is not None else _answer(row)


def _read_through(store: Store, settings: Settings, account: contacts_q.Account, contact_id: str) -> Row | None:
    crm = registry.crm_provider(settings, store)
    try:
        fresh = crm.get_contact(contact_id)
    finally:
        close_provider(crm)
    now = datetime.now(UTC)
    with store.transaction() as tx:
        if fresh is None:
            contacts_q.soft_delete(tx, account, [contact_id], now)
        else:
            contacts_q.upsert_contacts(tx, [fresh], now)
            # an unchanged contact is not rewritten, but it has just been seen at the CRM
            contacts_q.mark_seen(tx, account, contact_id, now)
        return contacts_q.get_contact(tx, account, contact_id)


def find_contacts(
    *,
    email: str | None = None,
    query: str | None = None,
    tag: str | None = None,
    limit: int = 50,
    store: Store | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Live contacts matching every given criterion: exact email, text in name/email/company, or a tag."""
    if email is None and not query and not tag:
        raise ValueError("pass email=, query= or tag=")
    settings = settings or get_settings()
    store = ensure_migrated(store or open_store(settings))
    with store.read_transaction() as tx:
        rows = contacts_q.find_contacts(
            tx, contacts_q.Account.configured(settings), email=email, query=query, tag=tag, limit=limit
        )
    return [_answer(r) for r in rows]


def _answer(row: Row) -> dict[str, Any]:
    return {**{k: row[k] for k in contacts_q.READ_COLUMNS}, "pending": row["pending_since"] is not None}
