"""Pages fetched ahead of the writer, handed over in groups: every page that arrived while the
previous group was being written.

Why: the writer's cost per statement is not all per row. DuckDB 2.0 plans ``INSERT … ON CONFLICT``
as a join against a scan of the whole table, so writing page by page costs one scan of the table per
page, and the sync slows as the table grows (own page writes at 1,000,000 contacts ran at half the
rows/s of 100,000). When writes fall behind the vendor, pages queue up here and the next write takes
several at once (as many as the writer allows): the per-statement cost is spread over more rows
exactly when it has grown, and the vendor's pace, not the table's size, sets the sync's. When the
vendor is the slower side (its rate limit, in production), each group is the one page that arrived.

Memory stays bounded: at most ``depth`` pages wait, whatever the CRM's size. The writer says how
many pages a group may hold (see ``sync_contacts``: it grows with the table).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..records import ContactPage

# How often a fetcher blocked on a full queue checks whether the writer has gone.
_POLL_S = 0.05


@dataclass(frozen=True)
class PageGroup:
    """Pages in the vendor's order, and how long the writer waited for the first of them."""

    pages: list[ContactPage]
    waited_s: float

    @property
    def last(self) -> ContactPage:
        return self.pages[-1]


def fetch_ahead(
    fetch: Callable[[str | None], ContactPage],
    cursor: str | None,
    *,
    depth: int,
    group_limit: Callable[[], int] | None = None,
) -> Iterator[PageGroup]:
    """Fetch pages from ``cursor`` on in a thread, at most ``depth`` ahead of the writer, and yield them
    grouped: each group at most ``group_limit()`` pages (asked before each group; ``depth`` without
    it), the last group ending with the page that has no next cursor. A fetch's error is raised here
    after the pages fetched before it were yielded. Closing the iterator stops the fetcher."""
    fetched: queue.Queue[ContactPage | BaseException] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: ContactPage | BaseException) -> bool:
        while not stop.is_set():
            try:
                fetched.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        next_cursor = cursor
        while True:
            try:
                page = fetch(next_cursor)
            except BaseException as error:  # handed to the writer, raised there
                put(error)
                return
            if not put(page) or page.next_cursor is None:
                return
            next_cursor = page.next_cursor

    fetcher = threading.Thread(target=run, name="contacts-fetch-ahead", daemon=True)
    fetcher.start()
    try:
        error: BaseException | None = None
        while error is None:
            waiting = time.monotonic()
            first = fetched.get()
            waited = time.monotonic() - waiting
            if isinstance(first, BaseException):
                raise first
            group, limit = [first], min(depth, group_limit()) if group_limit else depth
            while group[-1].next_cursor is not None and len(group) < limit:
                try:
                    item = fetched.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, BaseException):
                    error = item
                    break
                group.append(item)
            yield PageGroup(group, waited)
            if group[-1].next_cursor is None:
                return
        raise error
    finally:
        stop.set()
        fetcher.join()
