"""Deletion reconciliation: soft-delete local contacts the CRM no longer has.

GHL retries a webhook only when the receiver answered 429, so a lost ``ContactDelete`` is never
sent again; a periodic full id listing catches it. The listing must finish completely before
anything is deleted: a partial listing (error, timeout, rate limit) deletes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ..providers.base import CRMProvider
from ..store import Store
from ..store.contacts import ids_synced_since, live_ids, soft_delete
from .contacts import crm_account


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
    crm_ids: set[str] = set()
    cursor, pages = None, 0
    while True:
        page = crm.list_ids(cursor, page_size=page_size)
        crm_ids.update(page.ids)
        pages += 1
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    account = crm_account(crm)
    with store.transaction() as tx:
        local = live_ids(tx, account)
        fresh = ids_synced_since(tx, account, listing_started)
    gone = sorted(local - crm_ids - fresh)
    deleted = 0
    for start in range(0, len(gone), 500):
        with store.transaction() as tx:
            deleted += soft_delete(tx, account, gone[start : start + 500], clock())
    return ReconcileReport(len(crm_ids), len(local), deleted, pages, time.monotonic() - started)
