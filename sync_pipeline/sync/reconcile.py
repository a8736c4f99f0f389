"""Deletion reconciliation: soft-delete local contacts the CRM no longer has.

GHL retries a webhook only when the receiver answered 429, so a lost ``ContactDelete`` is never
sent again; a periodic full id listing catches it. The listing must finish completely before
anything is deleted: a partial listing (error, timeout, rate limit) deletes nothing.

Memory is bounded by the CRM's size in bytes, not in Python objects: the listing is kept as one
sorted array of encoded ids (a million 24-character ids: 24 MB, against ~100 MB as a set of
strings), and local ids are compared a page at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from ..providers.base import CRMProvider
from ..store import Store
from ..store.contacts import live_ids_synced_before, row_counts, soft_delete
from .contacts import crm_account

# Local ids compared with the listing per query, and soft-deleted per transaction.
_LOCAL_PAGE = 10_000
_DELETE_CHUNK = 500


@dataclass(frozen=True)
class ReconcileReport:
    crm_ids: int
    local_live_before: int
    deleted: int
    pages: int
    duration_s: float

    def as_metadata(self) -> dict[str, object]:
        return {
            "crm_ids": self.crm_ids,
            "local_live_before": self.local_live_before,
            "deleted": self.deleted,
            "pages": self.pages,
            "duration_s": round(self.duration_s, 3),
        }


def reconcile_deletions(
    store: Store,
    crm: CRMProvider,
    *,
    page_size: int = 500,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ReconcileReport:
    """List every CRM contact id, then soft-delete local live rows that are not among them.

    Rows synced after the listing started are kept: they may be contacts created meanwhile.
    """
    started, listing_started = time.monotonic(), clock()
    listed: list[np.ndarray] = []
    cursor, pages = None, 0
    while True:
        page = crm.list_ids(cursor, page_size=page_size)
        listed.append(_encoded(page.ids))
        pages += 1
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    crm_ids = _sorted_unique(listed)
    del listed
    account = crm_account(crm)
    with store.transaction() as tx:
        local_live = row_counts(tx, account)["live"]
    # Rows synced after the listing started are not compared: they may be contacts created meanwhile.
    gone: list[str] = []
    after: str | None = None
    while True:
        with store.transaction() as tx:
            local = live_ids_synced_before(tx, account, listing_started, after_id=after, limit=_LOCAL_PAGE)
        if not local:
            break
        gone.extend(np.asarray(local, dtype=object)[~_listed(crm_ids, _encoded(local))])
        after = local[-1]
    deleted = 0
    for start in range(0, len(gone), _DELETE_CHUNK):
        with store.transaction() as tx:
            deleted += soft_delete(tx, account, gone[start : start + _DELETE_CHUNK], clock())
    return ReconcileReport(len(crm_ids), local_live, deleted, pages, time.monotonic() - started)


def _sorted_unique(pages: list[np.ndarray]) -> np.ndarray:
    """The listed ids as one sorted array without repeats, in place: ``np.unique`` holds three
    copies at once (at 1,000,000 contacts the reconciliation's peak RSS rose by 87 MiB there);
    this holds the pages and one copy, and a second only if the listing repeated an id."""
    if not pages:
        return _encoded([])
    ids = np.concatenate(pages)
    pages.clear()
    ids.sort()
    repeated = ids[1:] == ids[:-1]
    return np.delete(ids, np.flatnonzero(repeated) + 1) if repeated.any() else ids


def _encoded(ids: Iterable[str]) -> np.ndarray:
    """Ids as a numpy array of UTF-8 bytes (one fixed-width cell each, as wide as the longest)."""
    return np.array([i.encode() for i in ids], dtype=np.bytes_)


def _listed(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Which of ``ids`` are in ``sorted_ids`` (a binary search each). Both are compared at the wider
    width: searching at the listing's would cut a longer local id short and could match it."""
    if len(sorted_ids) == 0:
        return np.zeros(len(ids), dtype=bool)
    width = np.promote_types(sorted_ids.dtype, ids.dtype)
    sorted_ids, ids = sorted_ids.astype(width, copy=False), ids.astype(width, copy=False)
    at = np.searchsorted(sorted_ids, ids).clip(max=len(sorted_ids) - 1)
    return sorted_ids[at] == ids
