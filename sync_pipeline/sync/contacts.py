"""Incremental contact sync from any :class:`CRMProvider` into the local ``contacts`` table.

Why this shape:
* only contacts changed since the stored cursor are fetched, starting ``overlap`` before it, because
  the vendor's search index lags writes by seconds and several contacts can share a timestamp —
  re-reading a few is cheap, and the content hash makes re-reads write nothing;
* every page is stored in the same transaction as the checkpoint that follows it, so a sync killed
  mid-way resumes after the last stored page instead of starting over, and never skips one;
* pages are streamed: memory stays bounded by ``WRITE_AHEAD_CONTACTS`` fetched ahead of the
  writer, whatever the CRM's size.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from ..providers.base import CRMProvider
from ..records import ContactPage
from ..store import Store
from ..store import sync_state as state_q
from ..store.contacts import (
    UPSERT_STATEMENT_ROWS,
    Account,
    UpsertCounts,
    refresh_statistics,
    table_rows,
    upsert_contacts,
)
from .fetch_ahead import fetch_ahead

Progress = Callable[[str], None]


# A sync that wrote this many rows refreshes the planner's statistics (see refresh_statistics).
REFRESH_STATISTICS_AFTER_ROWS = 1_000
# At most this many contacts are fetched ahead of the writer and stored by one write: one upsert
# statement, whose cost on DuckDB includes a scan of the table (see fetch_ahead), and few enough
# that memory stays small (ten pages of 500).
WRITE_AHEAD_CONTACTS = UPSERT_STATEMENT_ROWS
# Pages fetched ahead and written together: at most one contact per this many in the table (and at
# least a page). The scan a statement costs on DuckDB grows with the table, and so do the rows that
# share it, so its cost per row stays flat. Up to 100,000 contacts a write is one page, as short as
# it can be: on a hosted DuckDB the receiver's and the outbox's commits wait for it (a
# 20,000-contact sync writing 5,000 contacts at once took the receiver from 64 to 16 deliveries/s
# in bench_under_load).
TABLE_ROWS_PER_WRITTEN_ROW = 200


@dataclass
class SyncReport:
    """What one run did; becomes Dagster materialization metadata."""

    stream: str
    mode: str  # full | incremental | resumed
    since: str | None
    cursor_before: str | None
    cursor_after: str | None = None
    pages: int = 0
    writes: int = 0  # store transactions that wrote pages: fewer than pages when writes fell behind
    contacts_seen: int = 0
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    duration_s: float = 0.0
    # Where the time went: waiting for the vendor's next page (its latency and rate limit) versus
    # writing pages to the store (our own work; the next page is fetched meanwhile).
    vendor_wait_s: float = 0.0
    writing_s: float = 0.0
    # The longest page write: on DuckDB a write that crosses the WAL's checkpoint threshold also
    # checkpoints, and readers in other processes wait that long.
    slowest_write_s: float = 0.0

    def as_metadata(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "pages": self.pages,
            "writes": self.writes,
            "contacts_seen": self.contacts_seen,
            **{f"rows_{k}": v for k, v in asdict(self.counts).items()},
            "cursor": self.cursor_after or "",
            "duration_s": round(self.duration_s, 3),
            "vendor_wait_s": round(self.vendor_wait_s, 3),
            "writing_s": round(self.writing_s, 3),
            "slowest_write_s": round(self.slowest_write_s, 3),
        }


def crm_account(crm: CRMProvider) -> Account:
    """The account a CRM provider reads: its sync position and rows are kept apart from others'."""
    return Account(crm.name, crm.account)


def sync_contacts(
    store: Store,
    crm: CRMProvider,
    *,
    full: bool = False,
    overlap: timedelta = timedelta(minutes=5),
    page_size: int = 100,
    progress: Progress | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SyncReport:
    """Bring the local contacts up to date with ``crm``; resume an interrupted run if there is one."""
    started = time.monotonic()
    stream = crm_account(crm).stream
    with store.transaction() as tx:
        state = state_q.load(tx, stream)
        table_rows_before = table_rows(tx)
    checkpoint = state.checkpoint or {}
    if checkpoint.get("page_cursor") and not full:
        mode, since, page_cursor = "resumed", checkpoint.get("since"), checkpoint["page_cursor"]
        max_seen = checkpoint.get("max_seen")
    else:
        page_cursor, max_seen = None, None
        if full or state.cursor is None:
            mode, since = "full", None
        else:
            mode, since = "incremental", (datetime.fromisoformat(state.cursor) - overlap).isoformat()
    report = SyncReport(stream=stream, mode=mode, since=since, cursor_before=state.cursor)

    since_at = datetime.fromisoformat(since) if since else None

    # Pages are fetched while earlier ones are written: the vendor's rate limit, not our writes, sets
    # the pace (GHL's cursor is on the page we already hold, so fetching ahead is safe). Pages that
    # arrived during a write are stored together by the next one (see fetch_ahead).
    def write_ahead_pages() -> int:
        rows = (table_rows_before + report.counts.inserted) // TABLE_ROWS_PER_WRITTEN_ROW
        return max(1, min(rows, WRITE_AHEAD_CONTACTS) // page_size)

    def fetch(cursor: str | None) -> ContactPage:
        return crm.changed_since(since_at, cursor, page_size=page_size)

    for group in fetch_ahead(fetch, page_cursor, limit=write_ahead_pages):
        report.vendor_wait_s += group.waited_s
        contacts = [contact for page in group.pages for contact in page.contacts]
        newest = max((c.date_updated for c in contacts if c.date_updated), default=None)
        if newest is not None and (max_seen is None or newest.astimezone(UTC).isoformat() > max_seen):
            max_seen = newest.astimezone(UTC).isoformat()
        now = clock()
        writing = time.monotonic()
        with store.transaction() as tx:
            tx.asynchronous_commit()  # a page lost with its checkpoint is fetched again
            report.counts.add(upsert_contacts(tx, contacts, now))
            if group.last.next_cursor:
                progress_state = {"since": since, "page_cursor": group.last.next_cursor, "max_seen": max_seen}
                state_q.save(tx, stream, cursor=state.cursor, checkpoint=progress_state, at=now)
            else:
                report.cursor_after = max(filter(None, (state.cursor, max_seen)), default=None)
                state_q.save(tx, stream, cursor=report.cursor_after, checkpoint=None, at=now)
        written = time.monotonic() - writing
        report.writing_s += written
        report.slowest_write_s = max(report.slowest_write_s, written)
        pages_before = report.pages
        report.pages += len(group.pages)
        report.writes += 1
        report.contacts_seen += len(contacts)
        if progress and report.pages // 10 > pages_before // 10:
            counts = json.dumps(asdict(report.counts))
            progress(f"{stream}: {report.pages} pages, {report.contacts_seen} contacts, {counts}")
    if report.counts.inserted + report.counts.updated >= REFRESH_STATISTICS_AFTER_ROWS:
        with store.transaction() as tx:
            refresh_statistics(tx, store.dialect)
    report.duration_s = time.monotonic() - started
    return report
