"""Pages fetched ahead of a slow writer come to it in order, grouped, and never more than the bound
ahead; a failed fetch is raised after the pages before it; a writer that stops stops the fetcher."""

from __future__ import annotations

import threading
import time

import pytest

from sync_pipeline.records import ContactPage
from sync_pipeline.sync.fetch_ahead import fetch_ahead


class Listing:
    """A vendor listing of ``pages`` pages whose cursors are their numbers; counts the fetches."""

    def __init__(self, pages: int, *, fail_at: int | None = None) -> None:
        self.pages, self.fail_at = pages, fail_at
        self.cursors: list[str | None] = []
        self.lock = threading.Lock()

    def __call__(self, cursor: str | None) -> ContactPage:
        number = int(cursor or 0)
        with self.lock:
            self.cursors.append(cursor)
        if number == self.fail_at:
            raise ConnectionError(f"page {number} failed")
        return ContactPage([], str(number + 1) if number + 1 < self.pages else None)

    @property
    def fetched(self) -> int:
        with self.lock:
            return len(self.cursors)


def _number(page: ContactPage) -> int:
    return int(page.next_cursor) - 1 if page.next_cursor else -1


def test_a_writer_that_keeps_up_gets_every_page_once_in_order() -> None:
    listing = Listing(12)
    seen = []
    for group in fetch_ahead(listing, None, depth=4):
        seen.extend(group.pages)
        time.sleep(0.001)
    assert [p.next_cursor for p in seen] == [*(str(n) for n in range(1, 12)), None]
    assert listing.cursors == [None, *(str(n) for n in range(1, 12))]


def test_pages_that_arrived_during_a_slow_write_come_together_never_more_than_depth_ahead() -> None:
    listing = Listing(40)
    groups, consumed, ahead = [], 0, []
    for group in fetch_ahead(listing, "0", depth=5):
        groups.append(len(group.pages))
        consumed += len(group.pages)
        time.sleep(0.02)  # a write slower than the vendor: the fetcher fills the queue meanwhile
        ahead.append(listing.fetched - consumed)
    assert sum(groups) == 40
    assert max(groups) == 5 and len(groups) < 40 / 2
    # The queue holds at most depth pages, and one more may be in the fetcher's hands.
    assert max(ahead) <= 5 + 1


def test_a_group_holds_no_more_pages_than_the_writer_allows_at_that_moment() -> None:
    listing, allowed = Listing(40), iter([1, 1, 2, 3, *[4] * 40])
    limits, groups = [], []

    def group_limit() -> int:
        limits.append(next(allowed))
        return limits[-1]

    for group in fetch_ahead(listing, "0", depth=5, group_limit=group_limit):
        groups.append(len(group.pages))
        time.sleep(0.02)
    assert sum(groups) == 40
    assert all(size <= limit for size, limit in zip(groups, limits, strict=True))
    assert groups[:4] == [1, 1, 2, 3]


def test_a_failed_fetch_is_raised_after_the_pages_before_it() -> None:
    listing = Listing(10, fail_at=6)
    seen = []
    with pytest.raises(ConnectionError, match="page 6 failed"):
        for group in fetch_ahead(listing, None, depth=3):
            time.sleep(0.01)
            seen.extend(_number(p) for p in group.pages)
    assert seen == [0, 1, 2, 3, 4, 5]


def test_a_writer_that_stops_stops_the_fetcher() -> None:
    listing = Listing(1_000)
    groups = fetch_ahead(listing, None, depth=2)
    taken = len(next(groups).pages)
    time.sleep(0.05)
    groups.close()  # the writer failed: the with/for that held it is gone
    fetched = listing.fetched
    time.sleep(0.1)
    assert listing.fetched == fetched <= taken + 2 + 1  # the queue's two and one held by the fetcher
    assert not any(t.name == "contacts-fetch-ahead" for t in threading.enumerate())
