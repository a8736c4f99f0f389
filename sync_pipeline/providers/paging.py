"""Page sizes and page cursors, read the same way for every CRM that pages.

A page's ``next_cursor`` is opaque to callers: JSON holding the vendor's own paging state (GHL's
``searchAfter`` values, HubSpot's ``after`` or its search restart state). A cursor that is not one
a provider made fails here with one message saying what to pass instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def page_limit(page_size: int, maximum: int) -> int:
    """``page_size`` capped at the vendor's ``maximum`` page; ValueError below 1."""
    if page_size < 1:
        raise ValueError(f"page_size must be >= 1; got {page_size}")
    return min(page_size, maximum)


def decode_cursor(cursor: str, what: str, read: Callable[[Any], T]) -> T:
    """``read`` applied to the cursor's decoded JSON.

    ``read`` raises ``KeyError``, ``TypeError`` or ``ValueError`` when the JSON is not the cursor it
    expects; that, or a cursor that is not JSON, raises ``ValueError`` naming ``what``.
    """
    try:
        return read(json.loads(cursor))
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"not a {what}: {cursor[:80]!r}; pass the next_cursor of a page") from None
