"""Agent reads of contacts, served from the local store in milliseconds.

Every answer carries ``synced_at`` (when we last saw the contact at the CRM) and ``pending``
(an agent's change is applied locally but not yet confirmed by the CRM), so an agent can judge
freshness itself.
"""

from __future__ import annotations

from typing import Any

from ..settings import Settings, get_settings
from ..store import Row, Store, ensure_migrated, open_store
from ..store import contacts as contacts_q

_FIELDS = (
    "id",
    "provider",
    "email",
    "phone",
    "first_name",
    "last_name",
    "company_name",
    "tags",
    "custom_fields",
    "date_added",
    "date_updated",
    "synced_at",
)


def get_contact(
    contact_id: str, *, store: Store | None = None, settings: Settings | None = None
) -> dict[str, Any] | None:
    """The live contact with this CRM id, or None (unknown or deleted)."""
    settings = settings or get_settings()
    store = ensure_migrated(store or open_store(settings))
    with store.transaction() as tx:
        row = contacts_q.get_contact(tx, settings.crm_provider, contact_id)
    return None if row is None or row["deleted_at"] is not None else _answer(row)


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
    with store.transaction() as tx:
        rows = contacts_q.find_contacts(
            tx, settings.crm_provider, email=email, query=query, tag=tag, limit=limit
        )
    return [_answer(r) for r in rows]


def _answer(row: Row) -> dict[str, Any]:
    return {**{k: row[k] for k in _FIELDS}, "pending": row["pending_since"] is not None}
