"""Paging HubSpot's contact search by ``lastmodifieddate`` past its 10,000-result cap.

One search query pages by offset (``after``) and stops at 10,000 results. When the next page would
cross the cap, the query is restarted with ``lastmodifieddate >= <newest value seen>`` and offset 0;
contacts already returned at exactly that timestamp (the "tail") are skipped on the new query so
nothing is returned twice and nothing is missed. The whole state travels in the opaque cursor.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import PermanentVendorError
from .hubspot_mapping import PROVIDER, parse_hubspot_time
from .paging import decode_cursor

LAST_MODIFIED = "lastmodifieddate"


@dataclass(frozen=True)
class SearchCursor:
    """Where a ``changed_since`` scan stands.

    ``from_ms`` is the lower bound the current query adds to the caller's ``since`` (set by a
    restart), ``offset`` the query's ``after``, ``tail_ms``/``tail_ids`` the newest timestamp
    returned so far and the ids returned with it.
    """

    from_ms: int | None = None
    offset: int = 0
    tail_ms: int | None = None
    tail_ids: tuple[str, ...] = ()

    def encode(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def decode(cls, cursor: str | None) -> SearchCursor:
        if cursor is None:
            return cls()
        return decode_cursor(
            cursor,
            "HubSpot contacts cursor",
            lambda data: cls(data["from_ms"], int(data["offset"]), data["tail_ms"], tuple(data["tail_ids"])),
        )


def search_body(since_ms: int | None, cursor: SearchCursor, limit: int, properties: Sequence[str]) -> dict[str, Any]:
    """The search request for the cursor's query, oldest change first."""
    bounds = [b for b in (since_ms, cursor.from_ms) if b is not None]
    filters = [{"propertyName": LAST_MODIFIED, "operator": "GTE", "value": str(max(bounds))}] if bounds else []
    body: dict[str, Any] = {
        "filterGroups": [{"filters": filters}] if filters else [],
        "sorts": [{"propertyName": LAST_MODIFIED, "direction": "ASCENDING"}],
        "properties": list(properties),
        "limit": limit,
    }
    if cursor.offset:
        body["after"] = str(cursor.offset)
    return body


def advance(
    cursor: SearchCursor, answer: Mapping[str, Any], limit: int, cap: int
) -> tuple[list[Mapping[str, Any]], SearchCursor | None]:
    """The results not returned before, and the cursor of the next page (None after the last)."""
    results = list(answer.get("results") or [])
    seen = set(cursor.tail_ids)
    fresh = [r for r in results if not (str(r["id"]) in seen and _modified_ms(r) == cursor.tail_ms)]
    next_after = ((answer.get("paging") or {}).get("next") or {}).get("after")
    reached = cursor.offset + len(results)
    if next_after is None and results and reached >= cap and int(answer.get("total") or 0) > reached:
        next_after = str(reached)  # at the cap HubSpot may stop offering a next page: restart anyway
    if next_after is None or not results:
        return fresh, None
    tail_ms, tail_ids = cursor.tail_ms, list(cursor.tail_ids)
    for r in results:
        ms = _modified_ms(r)
        if ms != tail_ms:
            tail_ms, tail_ids = ms, []
        if str(r["id"]) not in tail_ids:
            tail_ids.append(str(r["id"]))
    offset = int(next_after)
    if offset + limit <= cap:
        return fresh, SearchCursor(cursor.from_ms, offset, tail_ms, tuple(tail_ids))
    if tail_ms == cursor.from_ms and cursor.offset + len(results) >= cap - limit:
        raise PermanentVendorError(
            PROVIDER,
            f"more than {cap} contacts share lastmodifieddate {tail_ms}; HubSpot search cannot page past them. "
            "Use list_ids/get_contact for this range",
        )
    return fresh, SearchCursor(tail_ms, 0, tail_ms, tuple(tail_ids))


def _modified_ms(result: Mapping[str, Any]) -> int | None:
    props = result.get("properties") or {}
    instant = parse_hubspot_time(props.get(LAST_MODIFIED) or result.get("updatedAt"))
    return round(instant.timestamp() * 1000) if instant else None
