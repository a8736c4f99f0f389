"""Pages fetched ahead of a slow writer come to it in order, grouped, and never more than the
writer's limit ahead; a failed fetch is raised after the pages before it; a writer that stops
stops the fetcher."""

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
    for group in fetch_ahead(listing, None, limit=lambda: 4):
        seen.extend(group.pages)
        time.sleep(0.001)
    assert [p.next_cursor for p in seen] == [*(str(n) for n in range(1, 12)), None]
    assert listing.cursors == [None, *(str(n) for n in range(1, 12))]


@pytest.mark.parametrize("limit", [1, 5])
def test_pages_that_arrived_during_a_slow_write_come_together_never_more_than_the_limit_ahead(limit: int) -> None:
    listing = Listing(40)
    groups, consumed, ahead = [], 0, []
    for group in fetch_ahead(listing, "0", limit=lambda: limit):
        groups.append(len(group.pages))
        consumed += len(group.pages)
        time.sleep(0.02)  # a write slower than the vendor: the fetcher fills the room meanwhile
        ahead.append(listing.fetched - consumed)
    assert sum(groups) == 40 and max(groups) == limit
    # At most ``limit`` pages wait, and one more may be in the fetcher's hands.
    assert max(ahead) <= limit + 1
    if limit > 1:
        assert len(groups) < 40 / 2


def test_the_limit_is_the_writers_at_each_moment() -> None:
    listing, schedule = Listing(40), [1, 1, 2, 3, 4]
    groups: list[int] = []

    def limit() -> int:  # grows as the writer stores groups, as it does with the table
        return schedule[min(len(groups), len(schedule) - 1)]

    for group in fetch_ahead(listing, "0", limit=limit):
        groups.append(len(group.pages))
        time.sleep(0.02)
    assert sum(groups) == 40
    assert groups[:4] == [1, 1, 2, 3] and max(groups) == 4


def test_a_failed_fetch_is_raised_after_the_pages_before_it() -> None:
    listing = Listing(10, fail_at=6)
    seen = []
    with pytest.raises(ConnectionError, match="page 6 failed"):
        for group in fetch_ahead(listing, None, limit=lambda: 3):
            time.sleep(0.01)
            seen.extend(_number(p) for p in group.pages)
    assert seen == [0, 1, 2, 3, 4, 5]


def test_a_writer_that_stops_stops_the_fetcher() -> None:
    listing = Listing(1_000)
    groups = fetch_ahead(listing, None, limit=lambda: 2)
    taken = len(next(groups).pages)
    time.sleep(0.05)
    groups.close()  # the writer failed: the with/for that held it is gone
    fetched = listing.fetched
    time.sleep(0.1)
    assert listing.fetched == fetched <= taken + 2 + 1  # two waiting and one in the fetcher's hands
    assert not any(t.name == "contacts-fetch-ahead" for t in threading.enumerate())
