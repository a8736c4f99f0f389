"""Agent reads of enrichment: cache-first :func:`enrich`, and :func:`contact_profile`.

Every answer says how fresh it is (``fetched_at``, ``expires_at``) and what it cost (``cost_usd``,
``provider``); ``cached`` says whether this call was served without paying.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from ..enrichment import Enricher
from ..providers.enrichment_keys import domain_key
from ..records import EnrichmentKind
from ..settings import Settings, get_settings
from ..store import Store, ensure_migrated, open_store
from ..store import contact_profiles as profiles_q
from ..store.contacts import Account
from .errors import InvalidRequest
from .outbox import normalize_address

# One enricher per store and settings in a process: its providers' HTTP clients and limiters are
# reused by every call, and its threads share the process's single-flight registry.
_enrichers: dict[tuple[str, Settings], Enricher] = {}
_enrichers_lock = threading.Lock()


def enrich(
    email: str | None = None,
    *,
    domain: str | None = None,
    max_age: timedelta | None = None,
    wait: bool = True,
    store: Store | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """The enrichment of a person (``email``) or a company (``domain=``), cache first.

    A fresh cached answer comes at once; otherwise the configured enricher is asked — once, however
    many agents, processes and runs ask at the same time — and its answer is cached
    (``ENRICHMENT_TTL_DAYS``; "no match" for ``ENRICHMENT_NOT_FOUND_TTL_DAYS``). ``max_age`` asks
    again for an answer older than that. ``wait=False`` answers ``status: "pending"`` at once and
    fetches in the background. ``status`` is ``hit``, ``not_found`` or ``pending``.

    Raises :class:`~sync_pipeline.enrichment.BudgetExceeded` when a paid lookup is needed and
    ``ENRICHMENT_DAILY_BUDGET_USD`` is spent (the key is enriched by a later run),
    :class:`~sync_pipeline.enrichment.EnrichmentFailed` when the enricher failed (nothing cached:
    the next call tries again) and :class:`InvalidRequest` for bad arguments.
    """
    kind, key = _target(email, domain)
    if max_age is not None and (not isinstance(max_age, timedelta) or max_age <= timedelta(0)):
        raise InvalidRequest(f"max_age must be a positive timedelta (e.g. timedelta(days=7)); got {max_age!r}")
    settings = settings or get_settings()
    store = ensure_migrated(store or open_store(settings))
    return _enricher(store, settings).lookup(kind, key, max_age=max_age, wait=wait).as_dict()


def contact_profile(
    contact_id: str, *, store: Store | None = None, settings: Settings | None = None
) -> dict[str, Any] | None:
    """The profile of a live contact: the contact, its latest enrichment, visits of the last 30
    days and outbox history, as ``contact_profiles`` last built it (``as_of``); None when the
    contact is unknown, deleted, or not profiled yet. ``enrichment_fresh`` says whether its
    enrichment is still within its TTL now."""
    settings = settings or get_settings()
    store = ensure_migrated(store or open_store(settings))
    with store.read_transaction() as tx:
        row = profiles_q.get_profile(tx, Account.configured(settings), contact_id)
    if row is None:
        return None
    expires = row["enrichment_expires_at"]
    fresh = expires is not None and datetime.now(UTC) < expires
    return {**row, "as_of": row["built_at"], "enrichment_fresh": fresh}


def _target(email: str | None, domain: str | None) -> tuple[EnrichmentKind, str]:
    if (email is None) == (domain is None):
        raise InvalidRequest("pass an email address, or domain= for a company (not both)")
    if email is not None:
        return "person", normalize_address(email)
    key = domain_key(str(domain))
    if "." not in key or " " in key:
        raise InvalidRequest(f"{domain!r} is not a company domain or website (e.g. acme.com)")
    return "company", key


def close_enrichers() -> None:
    """Finish background lookups and close every enricher this process built (their vendor
    clients flush the call ledger); the next :func:`enrich` builds a new one."""
    with _enrichers_lock:
        enrichers = list(_enrichers.values())
        _enrichers.clear()
    for enricher in enrichers:
        enricher.close()


def _enricher(store: Store, settings: Settings) -> Enricher:
    with _enrichers_lock:
        enricher = _enrichers.get((store.url, settings))
        if enricher is None:
            enricher = _enrichers[(store.url, settings)] = Enricher.configured(settings, store, caller="agent")
        return enricher
