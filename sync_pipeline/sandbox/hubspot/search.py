"""``POST /crm/v3/objects/contacts/search`` and the ``GET /crm/v3/objects/contacts`` listing.

Results are ordered by ``(sort value, id)``. Seeded contacts are ordered by their index for every
sortable property, so the engine merges two ordered streams — seeded indices (skipping those with
stored versions) and stored contacts sorted in memory — and builds only the records it returns.
Range filters on sortable properties narrow the seeded indices by binary search when they are the
only filter group; everything else is evaluated per record (a full scan, as an unindexed query).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sync_pipeline.sandbox.ghl.timestamps import ms_from_value
from sync_pipeline.sandbox.hubspot.config import HubSpotConfig
from sync_pipeline.sandbox.hubspot.errors import HubSpotRequestError
from sync_pipeline.sandbox.hubspot.records import ORDERED_PROPERTIES, ContactStore, Record, property_key
from sync_pipeline.sandbox.overlay import merge_overlay

OPERATORS = frozenset(
    {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY",
     "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
)  # fmt: skip
_RANGE_OPS = frozenset({"EQ", "LT", "LTE", "GT", "GTE", "BETWEEN"})
DEFAULT_SORT = "hs_object_id"  # UNCONFIRMED: HubSpot's order without "sorts"

SortKey = tuple[int, int]
Predicate = Callable[[Record], bool]


def validation_error(message: str) -> HubSpotRequestError:
    return HubSpotRequestError(400, message, "VALIDATION_ERROR")


@dataclass(frozen=True)
class Query:
    """A validated search (or listing): filter groups (OR of ANDs), one sort, offset paging."""

    groups: tuple[tuple[Mapping[str, Any], ...], ...]
    sort: str
    descending: bool
    limit: int
    offset: int


@dataclass(frozen=True)
class Page:
    records: list[Record]
    total: int
    next_offset: int | None


def parse_search(body: Mapping[str, Any], config: HubSpotConfig) -> Query:
    """Validate a search body the way HubSpot does (400 VALIDATION_ERROR with the reason)."""
    groups = body.get("filterGroups") or []
    if not isinstance(groups, list) or len(groups) > config.max_filter_groups:
        raise validation_error(f"filterGroups must be a list of at most {config.max_filter_groups} groups")
    parsed = []
    for group in groups:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list) or len(filters) > config.max_filters_per_group:
            raise validation_error(
                f"each filter group needs a filters list of at most {config.max_filters_per_group} filters"
            )
        for f in filters:
            _check_filter(f)
        parsed.append(tuple(filters))
    if sum(len(g) for g in parsed) > config.max_filters_total:
        raise validation_error(f"a search may use at most {config.max_filters_total} filters in all")
    sort, descending = _parse_sorts(body.get("sorts"))
    limit = body.get("limit", config.default_limit)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= config.search_limit_max:
        raise validation_error(f"limit must be between 1 and {config.search_limit_max}; got {limit!r}")
    offset = _offset(body.get("after"))
    if offset >= config.search_result_cap:
        raise validation_error(
            f"Search results are limited to {config.search_result_cap} per query; paging to result "
            f"{offset} is not allowed. Narrow the query (e.g. a lastmodifieddate filter) instead."
        )
    return Query(tuple(parsed), sort, descending, min(limit, config.search_result_cap - offset), offset)


def run(store: ContactStore, query: Query, *, cap: int | None = None) -> Page:
    """One page of matches; ``cap`` stops paging at HubSpot's result cap (searches only)."""
    where = _predicate(query.groups)
    stored, shadowed = store.overlay()
    stored_matches = sorted(
        ((_key(r, query.sort), r) for r in stored if where(r)), key=itemgetter(0), reverse=query.descending
    )
    indices = _seeded_range(store, query.groups)
    seeded_where = None if _ranges_decide(query.groups) else where
    if seeded_where is None:
        total = len(stored_matches) + len(indices) - sum(1 for i in shadowed if i in indices)
    else:
        total = len(stored_matches) + sum(1 for _, r in store.seeded_records(indices, shadowed) if seeded_where(r))
    indices, skip = _skip_seeded_prefix(query, indices, shadowed, len(stored_matches), seeded_where is None)
    ordered = merge_overlay(
        stored_matches,
        indices,
        shadowed,
        key_of=lambda i: (store.key_of_index(query.sort, i), store.key_of_index("hs_object_id", i)),
        record_of=store.record_of_index,
        where=seeded_where,
        descending=query.descending,
    )
    records = [r for _, r in itertools.islice(ordered, skip, skip + query.limit)]
    end = query.offset + len(records)
    # Like HubSpot, the page that reaches the cap still offers paging.next; requesting it is a 400.
    return Page(records, total, end if end < total and (cap is None or query.offset < cap) else None)


def list_query(after: str | None, limit: int) -> Query:
    """The listing: every live contact by id, from the id in ``after`` on."""
    start = _offset(after)
    group = ({"propertyName": "hs_object_id", "operator": "GTE", "value": str(start)},) if start else ()
    return Query((group,) if group else (), "hs_object_id", False, limit, 0)


# ---- validation ---------------------------------------------------------------------------------


def _check_filter(f: Any) -> None:
    if not isinstance(f, dict) or not isinstance(f.get("propertyName"), str):
        raise validation_error("each filter needs a propertyName")
    operator = f.get("operator")
    if operator not in OPERATORS:
        raise validation_error(f"Invalid operator {operator!r}; one of {', '.join(sorted(OPERATORS))}")
    if operator in ("IN", "NOT_IN"):
        if not isinstance(f.get("values"), list):
            raise validation_error(f"operator {operator} needs a values list")
    elif operator not in ("HAS_PROPERTY", "NOT_HAS_PROPERTY") and f.get("value") is None:
        raise validation_error(f"filter on {f['propertyName']} with operator {operator} needs a value")
    if operator == "BETWEEN" and f.get("highValue") is None:
        raise validation_error("operator BETWEEN needs value and highValue")
    if f["propertyName"] in ORDERED_PROPERTIES and operator in _RANGE_OPS:
        for bound in (f.get("value"), f.get("highValue")):
            if bound is not None:
                _number(f["propertyName"], bound)


def _number(prop: str, value: Any) -> int:
    try:
        return int(value) if prop == "hs_object_id" else ms_from_value(value)
    except (TypeError, ValueError):
        raise validation_error(f"{value!r} is not a valid value for {prop}") from None


def _parse_sorts(sorts: Any) -> tuple[str, bool]:
    if not sorts:
        return DEFAULT_SORT, False
    if not isinstance(sorts, list) or len(sorts) > 1 or not isinstance(sorts[0], dict):
        raise validation_error("sorts takes one sort: [{propertyName, direction}]")
    prop, direction = sorts[0].get("propertyName"), sorts[0].get("direction", "ASCENDING")
    if prop not in ORDERED_PROPERTIES:
        raise validation_error(f"the sandbox sorts by {', '.join(ORDERED_PROPERTIES)}; not {prop!r}")
    if direction not in ("ASCENDING", "DESCENDING"):
        raise validation_error("direction must be ASCENDING or DESCENDING")
    return prop, direction == "DESCENDING"


def _offset(after: Any) -> int:
    if after in (None, ""):
        return 0
    if not str(after).isdigit():
        raise validation_error(f"after must be the paging.next.after of the previous page; got {after!r}")
    return int(after)


# ---- matching -----------------------------------------------------------------------------------


def _predicate(groups: Sequence[Sequence[Mapping[str, Any]]]) -> Predicate:
    if not groups:
        return lambda record: True
    compiled = [[_compile(f) for f in group] for group in groups]
    return lambda record: any(all(check(record) for check in group) for group in compiled)


def _compile(f: Mapping[str, Any]) -> Predicate:
    prop, operator = f["propertyName"], f["operator"]
    if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        wanted = operator == "HAS_PROPERTY"
        return lambda r: (r["properties"].get(prop) is not None) == wanted
    if operator in ("IN", "NOT_IN"):
        values = {_normal(prop, v) for v in f["values"]}
        negate = operator == "NOT_IN"
        return lambda r: (_value(r, prop) in values) != negate
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        token = str(f["value"]).lower().strip("*")
        negate = operator.startswith("NOT")
        return lambda r: (token in str(r["properties"].get(prop) or "").lower()) != negate
    low, high = _normal(prop, f["value"]), _normal(prop, f.get("highValue"))

    def check(record: Record) -> bool:
        actual = _value(record, prop)
        if actual is None:
            return operator == "NEQ"
        try:
            return {
                "EQ": lambda: actual == low,
                "NEQ": lambda: actual != low,
                "LT": lambda: actual < low,
                "LTE": lambda: actual <= low,
                "GT": lambda: actual > low,
                "GTE": lambda: actual >= low,
                "BETWEEN": lambda: low <= actual <= high,
            }[operator]()
        except TypeError:
            return False

    return check


def _normal(prop: str, value: Any) -> Any:
    if value is None:
        return None
    return _number(prop, value) if prop in ORDERED_PROPERTIES else str(value).lower()


def _value(record: Record, prop: str) -> Any:
    if prop in ORDERED_PROPERTIES:
        return property_key(record, prop)
    value = record["properties"].get(prop)
    return value.lower() if isinstance(value, str) else value


# ---- ordering -----------------------------------------------------------------------------------


def _key(record: Record, prop: str) -> SortKey:
    return property_key(record, prop) or 0, int(record["id"])


def _ranges_decide(groups: Sequence[Sequence[Mapping[str, Any]]]) -> bool:
    """True when the seeded index range alone decides which seeded contacts match."""
    return len(groups) <= 1 and all(
        f["propertyName"] in ORDERED_PROPERTIES and f["operator"] in _RANGE_OPS - {"EQ"}
        for group in groups
        for f in group
    )


def _seeded_range(store: ContactStore, groups: Sequence[Sequence[Mapping[str, Any]]]) -> range:
    lo, hi = 0, store.seeded.count
    if len(groups) != 1:
        return range(lo, hi)
    for f in groups[0]:
        prop, operator = f["propertyName"], f["operator"]
        if prop == "email" and operator == "EQ":
            i = store.seeded.index_of_email(str(f["value"]).strip().lower())
            lo, hi = (max(lo, i), min(hi, i + 1)) if i is not None else (0, 0)
            continue
        if prop not in ORDERED_PROPERTIES or operator not in _RANGE_OPS:
            continue
        low, high = _number(prop, f["value"]), f.get("highValue")
        if operator in ("GT", "GTE", "EQ", "BETWEEN"):
            lo = max(lo, store.first_index(prop, low, inclusive=operator != "GT"))
        if operator in ("LT", "LTE", "EQ"):
            hi = min(hi, store.first_index(prop, low, inclusive=operator == "LT"))
        if operator == "BETWEEN":
            hi = min(hi, store.first_index(prop, _number(prop, high), inclusive=False))
    return range(lo, max(lo, hi))


def _skip_seeded_prefix(
    query: Query, indices: range, shadowed: frozenset[int], stored: int, seeded_decided: bool
) -> tuple[range, int]:
    """Drop seeded indices that certainly precede the page, so deep offsets cost no walk.

    The first ``offset - stored`` seeded positions lie before the page whatever the stored records
    are; what remains to skip is the offset minus the live seeded records dropped. Only when the
    index range alone decides the seeded matches (else dropped positions may not all match).
    """
    if not seeded_decided or query.descending:
        return indices, query.offset
    drop = max(0, min(len(indices), query.offset - stored))
    dropped = indices[:drop]
    live_dropped = drop - sum(1 for i in shadowed if i in dropped)
    return indices[drop:], query.offset - live_dropped
