"""How MCP tool answers are shaped: paged with opaque cursors, concise by default, capped in size.

Agents pay for every token a tool returns (and Claude Code refuses a tool result over 25,000
tokens), so lists come a page at a time, items carry a few fields unless ``detailed`` is asked for,
and an answer that would still be too large is cut at an item boundary with a cursor to go on.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic_core import to_json

from .errors import InvalidRequest

# Serialized (compact JSON) size one answer may reach: ~7,500 tokens, and about twice that once the
# SDK repeats it as indented text beside the structured copy — well under 25,000 tokens.
MAX_RESULT_CHARS = 30_000
# Longest string value kept in one field of a single-object answer (a huge custom field, say).
MAX_FIELD_CHARS = 2_000

CONTACT_CONCISE = ("id", "name", "email", "company_name", "tags", "synced_at", "pending")
VISITOR_CONCISE = (
    "profile_key",
    "name",
    "title",
    "company_name",
    "business_email",
    "visits",
    "last_page",
    "last_seen_at",
    "contact_id",
)
PROFILE_CONCISE = (
    "contact_id",
    "name",
    "email",
    "company_name",
    "tags",
    "enrichment_status",
    "enrichment",
    "enrichment_fresh",
    "visits_30d",
    "last_visit_at",
    "emails_sent",
    "emails_pending",
    "jobs_failed",
    "last_job_status",
)
ENRICHMENT_CONCISE = ("kind", "key", "status", "found", "data", "provider", "cost_usd", "cached", "fetched_at")
JOB_CONCISE = ("id", "action", "status", "attempts", "contact_id", "to_email", "last_error", "done_at")


def size_of(value: Any) -> int:
    """Characters ``value`` takes as compact JSON (what the cap counts)."""
    return len(to_json(value, fallback=str))


def jsonable(value: Any) -> Any:
    """``value`` with dates, decimals and other non-JSON types turned into JSON values."""
    return json.loads(to_json(value, fallback=str))


def with_name(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row plus ``name``: first and last name joined ("" when neither is known)."""
    name = " ".join(str(part) for part in (row.get("first_name"), row.get("last_name")) if part)
    return {**row, "name": name}


def shape(row: Mapping[str, Any], concise: Sequence[str], detailed: bool) -> dict[str, Any]:
    """Every field of ``row`` when ``detailed``, else the ``concise`` ones it has."""
    full = with_name(row) if "first_name" in row else dict(row)
    return jsonable(full if detailed else {k: full.get(k) for k in concise if k in full})


def clip_strings(value: Any, limit: int = MAX_FIELD_CHARS) -> Any:
    """``value`` with every string longer than ``limit`` cut, saying how much was left out."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]}… [{len(value) - limit} more characters not shown]"
    if isinstance(value, Mapping):
        return {k: clip_strings(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [clip_strings(v, limit) for v in value]
    return value


def clip_lists(value: Any, keep: int) -> Any:
    """``value`` with every list cut to its first ``keep`` entries, saying how many were left out."""
    if isinstance(value, Mapping):
        return {k: clip_lists(v, keep) for k, v in value.items()}
    if isinstance(value, list):
        kept = [clip_lists(v, keep) for v in value[:keep]]
        return kept + ([f"… {len(value) - keep} more not shown"] if len(value) > keep else [])
    return value


def fit_single(item: dict[str, Any], budget: int = MAX_RESULT_CHARS) -> dict[str, Any]:
    """One object within the size budget: long strings clipped, then long lists cut, while it is over."""
    if size_of(item) <= budget:
        return item
    item = clip_strings(item)
    for keep in (50, 20, 5, 1):
        if size_of(item) <= budget:
            break
        item = clip_lists(item, keep)
    return item


def fit_page(items: list[dict[str, Any]], budget: int = MAX_RESULT_CHARS) -> list[dict[str, Any]]:
    """The longest prefix of ``items`` within the size budget (at least one item, clipped if need be)."""
    kept: list[dict[str, Any]] = []
    used = 0
    for item in items:
        item = fit_single(item, budget)
        used += size_of(item) + 1
        if kept and used > budget:
            break
        kept.append(item)
    return kept


def concise_profile(item: dict[str, Any]) -> dict[str, Any]:
    """A profile or enrichment without its bulk: nested lists cut to 3 entries, raw payloads dropped."""
    out: dict[str, Any] = {}
    for key, value in item.items():
        if key in ("raw", "data_raw"):
            continue
        if isinstance(value, list) and len(value) > 3:
            out[key] = value[:3]
            out[f"{key}_more"] = len(value) - 3
        elif isinstance(value, dict):
            out[key] = concise_profile(value)
        else:
            out[key] = value
    return out


def concise_status(status: dict[str, Any]) -> dict[str, Any]:
    """What :func:`~sync_pipeline.status.collect_status` says, in the few lines an agent acts on."""
    return {
        "providers": status.get("providers"),
        "store": {k: status.get("store", {}).get(k) for k in ("backend", "migrations_pending")},
        "contacts_by_account": status.get("contacts_by_account"),
        "outbox_by_status": status.get("outbox_by_status"),
        "outbox_oldest_due": status.get("outbox_oldest_due"),
        "outbox_blocked": len(status.get("outbox_blocked") or []),
        "sync_state": [{k: s.get(k) for k in ("stream", "updated_at")} for s in status.get("sync_state", [])],
        "quarantine_last_day": sum(q.get("count", 0) for q in status.get("quarantine_last_day", [])),
    }


class Cursor:
    """An opaque page position bound to the search it came from.

    It holds the offset of the next item and a fingerprint of the search's arguments, so a cursor
    passed with other arguments is refused instead of silently paging another result; ``pinned``
    keeps values that must not move between pages (e.g. a "since" time fixed at the first page).
    """

    def __init__(self, search: Mapping[str, Any], offset: int = 0, pinned: Mapping[str, Any] | None = None) -> None:
        self.fingerprint = hashlib.sha256(json.dumps(search, sort_keys=True, default=str).encode()).hexdigest()[:16]
        self.offset = offset
        self.pinned = dict(pinned or {})

    def encode(self, offset: int) -> str:
        state = {"o": offset, "f": self.fingerprint, "p": self.pinned}
        return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")

    @classmethod
    def resume(cls, token: str | None, search: Mapping[str, Any], pinned: Mapping[str, Any]) -> Cursor:
        """The position ``token`` names for this search, or the first page when ``token`` is None."""
        fresh = cls(search, 0, pinned)
        if token is None:
            return fresh
        try:
            state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            offset, fingerprint, kept = int(state["o"]), state["f"], dict(state["p"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise InvalidRequest(
                "cursor is not one this server issued; pass next_cursor from the previous page unchanged, "
                "or call again without cursor to start over"
            ) from None
        if fingerprint != fresh.fingerprint or offset < 0:
            raise InvalidRequest(
                "cursor belongs to a search with other arguments; repeat the same arguments with it, "
                "or call again without cursor to start over"
            )
        return cls(search, offset, kept)


def page_of(
    fetch: Callable[[int], list[dict[str, Any]]],
    shape_item: Callable[[dict[str, Any]], dict[str, Any]],
    cursor: Cursor,
    limit: int,
    window: int,
    narrow_hint: str,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of shaped items from ``fetch(n)`` (the first n matches), and the next page's cursor.

    The page ends early when the size budget is reached; the cursor then resumes right after the
    last item shown. The local reads page by count, so a page reads the matches before it again:
    fine for the few hundred an agent can use, and ``window`` stops paging deeper than that with
    ``narrow_hint``.
    """
    start = cursor.offset
    if start >= window:
        raise InvalidRequest(f"paging stops after {window} results; {narrow_hint}")
    end = min(start + limit, window)
    rows = fetch(min(end + 1, window))
    items = fit_page([shape_item(row) for row in rows[start:end]])
    shown = start + len(items)
    more = len(rows) > shown or len(rows) >= window
    return items, (cursor.encode(shown) if more and items else None)
