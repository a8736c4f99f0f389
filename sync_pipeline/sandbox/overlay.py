"""Walking seeded records and stored ones in one sort order, for the CRM sandboxes' searches.

Seeded records are computed on demand and ordered by their index for every sortable field, while
stored records (created or changed since) are few and sorted in memory; merging the two ordered
streams lets a search build only the seeded records it reaches.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any, TypeVar

K = TypeVar("K")
R = TypeVar("R")


def merge_overlay(
    stored: Sequence[tuple[K, R]],
    indices: range,
    shadowed: frozenset[int],
    *,
    key_of: Callable[[int], K],
    record_of: Callable[[int], R],
    where: Callable[[R], bool] | None,
    descending: bool,
) -> Iterator[tuple[K, R]]:
    """``stored`` (``(key, record)`` already in order) and the seeded ``indices`` not ``shadowed`` by a
    stored version, in one order; a seeded record is built only when reached and kept when ``where``
    accepts it (None: every seeded index in range matches)."""
    seeded_keys = ((key_of(i), i) for i in (reversed(indices) if descending else indices) if i not in shadowed)
    merged: Iterator[tuple[K, Any]] = heapq.merge(stored, seeded_keys, key=itemgetter(0), reverse=descending)
    for key, item in merged:
        if isinstance(item, int):
            record = record_of(item)
            if where is not None and not where(record):
                continue
            yield key, record
        else:
            yield key, item
