"""``POST /contacts/search`` (and the deprecated ``GET /contacts/`` listing) over seeded + stored contacts.

Results are ordered by ``(sort field in ms, id)``. Seeded contacts are ordered by *i* for both date
fields, so the engine merges two ordered streams — seeded indices (skipping those replaced by stored
versions) and the stored contacts sorted in memory — and only builds the records it returns.
Top-level ``range`` filters on a date narrow the seeded indices by binary search; ``id``/``email``
``eq`` filters narrow them to one index. Other filters and ``query`` are evaluated per record, so
on a huge seed they cost a full scan (as would a real index without that field).
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sync_pipeline.sandbox.ghl.contacts import ContactBook, Record
from sync_pipeline.sandbox.ghl.errors import GhlRequestError
from sync_pipeline.sandbox.ghl.seed import SeededContacts
from sync_pipeline.sandbox.ghl.timestamps import ms_from_iso, ms_from_value
from sync_pipeline.sandbox.overlay import merge_overlay

SORT_FIELDS = ("dateUpdated", "dateAdded")
DATE_FIELDS = frozenset(SORT_FIELDS)
FILTER_FIELDS = frozenset(
    {"id", "email", "phone", "firstNameLowerCase", "lastNameLowerCase", "companyName", "businessName",
     "tags", "dnd", "type", "source", "city", "state", "country", "postalCode", "assignedTo", "dateAdded",
     "dateUpdated"}
)  # fmt: skip
OPERATORS = frozenset({"eq", "not_eq", "contains", "not_contains", "exists", "not_exists", "range"})
RANGE_BOUNDS = frozenset({"gt", "gte", "lt", "lte"})
MAX_TEXT = 75  # GHL's limit on a filter value and on ``query``

SortKey = tuple[int, str]
Predicate = Callable[[Record], bool]


class SearchError(GhlRequestError):
    """A search request GHL would refuse: ``status`` 400 (message text) or 422 (message list)."""


@dataclass(frozen=True)
class SearchRequest:
    """A validated search. ``search_after`` is the ``[ms, id]`` of the last contact already seen."""

    page_limit: int
    page: int | None = None
    search_after: SortKey | None = None
    filters: tuple[Mapping[str, Any], ...] = ()
    sort_field: str = "dateUpdated"
    descending: bool = False
    query: str | None = None


@dataclass(frozen=True)
class SearchPage:
    """One page: records with their sort keys (the ``searchAfter`` values) and the total match
    count; ``remaining`` counts the matches after this page (None unless asked for)."""

    records: list[tuple[SortKey, Record]]
    total: int
    remaining: int | None


def parse_search_body(
    body: Mapping[str, Any], *, max_page_limit: int, page_window: int, default_sort: tuple[str, str]
) -> SearchRequest:
    """Validate a ``POST /contacts/search`` body (``locationId`` is checked by the caller)."""
    errors = []
    if not isinstance(body.get("locationId"), str) or not body.get("locationId"):
        errors += ["locationId must be a string", "locationId should not be empty"]
    limit = body.get("pageLimit")
    if isinstance(limit, bool) or not isinstance(limit, int):
        errors += [
            "pageLimit must not be less than 1",
            "pageLimit must be a number conforming to the specified constraints",
        ]
    elif limit < 1:
        errors.append("pageLimit must not be less than 1")
    elif limit > max_page_limit:
        errors.append(f"pageLimit must not be greater than {max_page_limit}")
    query = body.get("query")
    if query is not None and (not isinstance(query, str) or len(query) > MAX_TEXT):
        errors.append(f"query must be a string shorter than or equal to {MAX_TEXT} characters")
    page = body.get("page")
    if page is not None and (isinstance(page, bool) or not isinstance(page, int) or page < 1):
        errors.append("page must not be less than 1")
    if errors:
        raise SearchError(422, errors)
    filters = body.get("filters") or []
    if not isinstance(filters, list):
        raise SearchError(422, ["filters must be an array"])
    for item in filters:
        _check_filter(item)
    sort_field, direction = _parse_sort(body.get("sort"), default_sort)
    search_after = _parse_search_after(body.get("searchAfter"))
    if search_after is not None and page is not None:
        raise SearchError(400, "page cannot be combined with searchAfter; send searchAfter without page")
    if search_after is None and (page or 1) * limit > page_window:
        raise SearchError(
            400,
            f"Result window is too large, page * pageLimit must be less than or equal to {page_window}; "
            "use searchAfter to paginate further",
        )
    return SearchRequest(
        page_limit=limit,
        page=page if search_after is None else None,
        search_after=search_after,
        filters=tuple(filters),
        sort_field=sort_field,
        descending=direction == "desc",
        query=query or None,
    )


def run_search(
    book: ContactBook, request: SearchRequest, *, visible_at_ms: float | None, count_remaining: bool = False
) -> SearchPage:
    """One page of matches as search sees the book at ``visible_at_ms`` (None: latest writes).

    ``count_remaining`` also counts the matches after the page (a second pass when filters need
    records, so only the deprecated listing, which reports page numbers, asks for it).
    """
    seeded = book.seeded
    where = _predicate(request)
    stored, shadowed = book.overlay(visible_at_ms)
    field = request.sort_field
    stored_matches = sorted(
        ((_record_key(r, field), r) for r in stored if where(r)),
        key=itemgetter(0),
        reverse=request.descending,
    )
    seeded_range = _seeded_range(seeded, request.filters)
    seeded_where = None if _seeded_filters_are_ranges(request) else where
    total = _count(seeded, seeded_range, shadowed, seeded_where, len(stored_matches))

    if request.search_after is not None:
        stored_matches = [m for m in stored_matches if _after(m[0], request.search_after, request.descending)]
        seeded_range = _seeded_after(seeded, seeded_range, field, request.search_after, request.descending)
    ordered = merge_overlay(
        stored_matches,
        seeded_range,
        shadowed,
        key_of=lambda i: (seeded.ms_of(field, i), seeded.id_of(i)),
        record_of=seeded.record,
        where=seeded_where,
        descending=request.descending,
    )
    skip = ((request.page or 1) - 1) * request.page_limit
    records = list(itertools.islice(ordered, skip, skip + request.page_limit))
    remaining = None
    if count_remaining:
        after_cursor = total
        if request.search_after is not None:
            after_cursor = len(stored_matches) + _count(seeded, seeded_range, shadowed, seeded_where, 0)
        remaining = max(0, after_cursor - skip - len(records))
    return SearchPage(records, total, remaining)


# ---- validation ---------------------------------------------------------------------------------


def _check_filter(item: Any) -> None:
    if not isinstance(item, dict):
        raise SearchError(422, ["each value in filters must be an object"])
    if "group" in item:
        if item["group"] not in ("AND", "OR") or not isinstance(item.get("filters"), list):
            raise SearchError(400, 'a filter group needs "group": "AND"|"OR" and a "filters" array')
        for inner in item["filters"]:
            _check_filter(inner)
        return
    field, operator, value = item.get("field"), item.get("operator"), item.get("value")
    if field not in FILTER_FIELDS:
        raise SearchError(400, f"Invalid field {field}")
    if operator not in OPERATORS:
        raise SearchError(400, f"Invalid operator {operator}")
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise SearchError(422, [f"value must be shorter than or equal to {MAX_TEXT} characters"])
    if operator == "range":
        if not isinstance(value, dict) or not value or set(value) - RANGE_BOUNDS:
            raise SearchError(400, f"range filter on {field} needs a value object with gt, gte, lt or lte")
        for bound in value.values():
            _comparable(field, bound)
    elif operator not in ("exists", "not_exists") and value is None:
        raise SearchError(400, f"filter on {field} with operator {operator} needs a value")


def _comparable(field: str, value: Any) -> Any:
    try:
        return ms_from_value(value) if field in DATE_FIELDS else value
    except ValueError:
        raise SearchError(400, f"{value!r} is not a valid date for {field}") from None


def _parse_sort(sort: Any, default: tuple[str, str]) -> tuple[str, str]:
    if not sort:
        return default
    if not isinstance(sort, list) or not all(isinstance(s, dict) for s in sort):
        raise SearchError(422, ["sort must be an array of objects"])
    field, direction = sort[0].get("field"), sort[0].get("direction", "asc")
    if field not in SORT_FIELDS:
        raise SearchError(400, f"Invalid sort field {field}; the sandbox sorts by {' or '.join(SORT_FIELDS)}")
    if direction not in ("asc", "desc"):
        raise SearchError(422, ["direction must be one of the following values: asc, desc"])
    return field, direction


def _parse_search_after(value: Any) -> SortKey | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2 or not isinstance(value[1], str):
        raise SearchError(422, ["searchAfter must be the searchAfter array of the last contact of the previous page"])
    try:
        return ms_from_value(value[0]), value[1]
    except ValueError:
        raise SearchError(422, ["searchAfter must start with a timestamp in milliseconds"]) from None


# ---- matching -----------------------------------------------------------------------------------


def _predicate(request: SearchRequest) -> Predicate:
    checks = [_compile(f) for f in request.filters]
    if request.query:
        checks.append(_full_text(request.query))
    return lambda record: all(check(record) for check in checks)


def _compile(item: Mapping[str, Any]) -> Predicate:
    if "group" in item:
        inner = [_compile(f) for f in item["filters"]]
        combine = any if item["group"] == "OR" else all
        return lambda record: combine(check(record) for check in inner)
    field, operator, value = item["field"], item["operator"], item.get("value")
    if operator == "range":
        bounds = {k: _comparable(field, v) for k, v in value.items()}
        return lambda record: _in_range(_value(record, field), bounds)
    if operator in ("exists", "not_exists"):
        wanted = operator == "exists"
        return lambda record: (_value(record, field) not in (None, "", [])) == wanted
    negate = operator.startswith("not_")
    wanted = _normal(_comparable(field, value))
    contains = operator.endswith("contains")

    def check(record: Record) -> bool:
        actual = _value(record, field)
        items = actual if isinstance(actual, list) else [actual]
        hit = any((wanted in _normal(a)) if contains else (_normal(a) == wanted) for a in items if a is not None)
        return hit != negate

    return check


def _full_text(query: str) -> Predicate:
    needle = query.lower()
    fields = ("fullNameLowerCase", "emailLowerCase", "phone", "companyName")
    return lambda record: any(needle in str(record.get(f) or "").lower() for f in fields)


def _value(record: Record, field: str) -> Any:
    if field in DATE_FIELDS:
        return ms_from_iso(record[field])
    if field == "email":
        return record.get("emailLowerCase")
    return record.get(field)


def _normal(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _in_range(actual: Any, bounds: Mapping[str, Any]) -> bool:
    if actual is None:
        return False
    try:
        return (
            ("gt" not in bounds or actual > bounds["gt"])
            and ("gte" not in bounds or actual >= bounds["gte"])
            and ("lt" not in bounds or actual < bounds["lt"])
            and ("lte" not in bounds or actual <= bounds["lte"])
        )
    except TypeError:
        return False


# ---- ordering -----------------------------------------------------------------------------------


def _record_key(record: Record, field: str) -> SortKey:
    return ms_from_iso(record[field]), record["id"]


def _after(key: SortKey, cursor: SortKey, descending: bool) -> bool:
    return key < cursor if descending else key > cursor


def _seeded_filters_are_ranges(request: SearchRequest) -> bool:
    """True when :func:`_seeded_range` alone decides which seeded contacts match."""
    return not request.query and all(
        "group" not in f and f["operator"] == "range" and f["field"] in DATE_FIELDS for f in request.filters
    )


def _seeded_range(seeded: SeededContacts, filters: Sequence[Mapping[str, Any]]) -> range:
    """Seeded indices that can match the top-level (AND) filters: dates bound *i*, ids/emails pin it."""
    lo, hi = 0, seeded.count
    for f in filters:
        if "group" in f:
            continue
        field, operator, value = f["field"], f["operator"], f.get("value")
        if operator == "range" and field in DATE_FIELDS:
            for bound, ms in ((k, ms_from_value(v)) for k, v in value.items()):
                if bound in ("gt", "gte"):
                    lo = max(lo, seeded.first_index(field, ms, inclusive=bound == "gte"))
                else:
                    hi = min(hi, seeded.first_index(field, ms, inclusive=bound == "lt"))
        elif operator == "eq" and field in ("id", "email") and isinstance(value, str):
            i = seeded.index_of(value) if field == "id" else seeded.index_of_email(value)
            lo, hi = (max(lo, i), min(hi, i + 1)) if i is not None else (0, 0)
    return range(lo, max(lo, hi))


def _seeded_after(seeded: SeededContacts, indices: range, field: str, cursor: SortKey, descending: bool) -> range:
    def key(i: int) -> SortKey:
        return seeded.ms_of(field, i), seeded.id_of(i)

    if descending:
        return indices[: bisect_left(indices, cursor, key=key)]
    return indices[bisect_right(indices, cursor, key=key) :]


def _count(
    seeded: SeededContacts, indices: range, shadowed: frozenset[int], where: Predicate | None, stored: int
) -> int:
    if where is None:
        return stored + len(indices) - sum(1 for i in shadowed if i in indices)
    return stored + sum(1 for i in indices if i not in shadowed and where(seeded.record(i)))
