"""Pages fetched ahead of the writer, handed over in groups: every page that arrived while the
previous group was being written.

Why: the writer's cost per statement is not all per row. DuckDB 2.0 plans ``INSERT … ON CONFLICT``
as a join against a scan of the whole table, so writing page by page costs one scan of the table per
page, and the sync slows as the table grows (own page writes at 1,000,000 contacts ran at half the
rows/s of 100,000). When writes fall behind the vendor, pages queue up here and the next write takes
several at once (as many as the writer allows): the per-statement cost is spread over more rows
exactly when it has grown, and the vendor's pace, not the table's size, sets the sync's. When the
vendor is the slower side (its rate limit, in production), each group is the one page that arrived.

The writer says how many pages may wait and be written together (``sync_contacts``: it grows with
the table, one page below 100,000 contacts, as many as 5,000 contacts at 1,000,000). Fetching no
further ahead than a write can take keeps memory bounded, and keeps a small table's sync as it was
(one page ahead): each fetch reserves its request in the store's rate limiter, and on a DuckDB file
that processes take turns at, a fetcher always busy left fewer idle moments to hand the file over
to a reader (p99 674 ms against 276 ms in bench_agent_reads, no host).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..records import ContactPage

# How often a fetcher waiting for room checks whether the writer has gone or allows more.
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
    fetch: Callable[[str | None], ContactPage], cursor: str | None, *, limit: Callable[[], int]
) -> Iterator[PageGroup]:
    """Fetch pages from ``cursor`` on in a thread and yield them grouped, in order, the last group
    ending with the page that has no next cursor. ``limit()`` bounds both how many pages may wait
    and how many a group holds: with 1 the fetcher stays one page ahead of the writer. A fetch's
    error is raised here after the pages fetched before it were yielded. Closing the iterator stops
    the fetcher."""
    waiting: deque[ContactPage | BaseException] = deque()
    changed = threading.Condition()
    stop = threading.Event()

    def put(item: ContactPage | BaseException) -> bool:
        with changed:
            while not stop.is_set() and len(waiting) >= max(1, limit()):
                changed.wait(_POLL_S)
            if stop.is_set():
                return False
            waiting.append(item)
            changed.notify_all()
            return True

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

    def take() -> tuple[list[ContactPage], BaseException | None]:
        """The pages waiting (at least one, at most ``limit()``), and the error that came after them."""
        with changed:
            changed.wait_for(lambda: waiting)
            group: list[ContactPage] = []
            most = max(1, limit())
            while waiting and len(group) < most and (not group or group[-1].next_cursor is not None):
                item = waiting.popleft()
                if isinstance(item, BaseException):
                    return group, item
                group.append(item)
            changed.notify_all()
            return group, None

    fetcher = threading.Thread(target=run, name="contacts-fetch-ahead", daemon=True)
    fetcher.start()
    try:
        while True:
            started = time.monotonic()
            group, error = take()
            if group:
                yield PageGroup(group, time.monotonic() - started)
            if error is not None:
                raise error
            if group[-1].next_cursor is None:
                return
    finally:
        stop.set()
        with changed:
            changed.notify_all()
        fetcher.join()
