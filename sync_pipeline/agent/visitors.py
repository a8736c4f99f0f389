"""Agent reads of RB2B website visitors, served from the local ``visitor_days`` rows.

Each answer says how fresh it is: ``last_seen_at`` (the visitor's latest visit that day),
``as_of`` (when ``rb2b_visitors`` last counted events) and ``uncounted_events`` (deliveries landed
since, not yet in any row — they show up after the next run).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ..settings import Settings, get_settings
from ..store import Store, ensure_migrated, open_store
from ..store import sync_state as state_q
from ..store import visitor_days as days_q
from .errors import InvalidRequest

MAX_LIMIT = 500


def recent_visitors(
    since: datetime | timedelta | None = None,
    matched: bool | None = None,
    limit: int = 50,
    *,
    store: Store | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Visitors last seen at or after ``since`` (a time, or how long ago), newest first; one entry
    per person (or company-only profile) and day.

    ``matched=True`` keeps visitors matched to a CRM contact (``contact_id``, ``matched_by`` email
    or linkedin), ``False`` those with none (``kind`` person or company), None both.
    """
    if isinstance(since, timedelta):
        since = datetime.now(UTC) - since
    if since is not None and since.tzinfo is None:
        raise InvalidRequest("since must be timezone-aware (e.g. datetime.now(UTC) - timedelta(days=1))")
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be an integer from 1 to {MAX_LIMIT}; got {limit!r}")
    store = ensure_migrated(store or open_store(settings or get_settings()))
    with store.read_transaction() as tx:
        rows = days_q.recent(tx, since=since, matched=matched, limit=limit)
        as_of = state_q.load(tx, days_q.STREAM).updated_at
        uncounted, _ = days_q.uncounted(tx)
    return [{**row, "as_of": as_of, "uncounted_events": uncounted} for row in rows]
