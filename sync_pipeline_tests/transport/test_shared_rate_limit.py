"""The shared rate limiter against a vendor that enforces a fixed window: no 429s, near the ceiling,
one limit for every process and every client on the same store."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from sync_pipeline.errors import RateLimited
from sync_pipeline.store import Store, connect
from sync_pipeline.transport import RetryPolicy, Window
from sync_pipeline.transport.limiter import FORGET_EVERY, MIN_ALLOWANCE_S, SharedRateLimiter
from sync_pipeline.transport.stats import TransportCounters

from .conftest import ClientFactory
from .fake_vendor import FakeVendor, Fault
from .ghl_client import LIMIT, PERIOD_S, build_client, get_contact

CEILING = LIMIT / PERIOD_S


def test_burst_makes_no_429s_and_runs_near_the_ceiling(
    vendor: tuple[FakeVendor, str], make_client: ClientFactory
) -> None:
    fake, _ = vendor
    client = make_client()
    n = 2 * LIMIT + 1
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda i: get_contact(client, f"c{i}"), range(n)))

    assert statuses == [200] * n
    assert fake.statuses() == {200: n}, "the vendor answered something other than 200"
    assert fake.max_in_any_period() <= LIMIT
    arrivals = sorted(a.at for a in fake.arrivals)
    rate = (n - 1) / (arrivals[-1] - arrivals[0])
    assert rate >= 0.9 * CEILING, f"ran at {rate:.1f}/s, below 90 % of {CEILING:.0f}/s"
    stats = client.stats()
    assert (stats.calls, stats.attempts, stats.rate_limited, stats.retries) == (n, n, 0, 0)
    assert stats.limiter_wait_s > 0 and stats.vendor_remaining["burst"] >= 0


def test_requests_go_at_once_up_to_one_short_of_the_limit_then_wait_for_the_window(
    store: Store, vendor: tuple[FakeVendor, str], make_client: ClientFactory
) -> None:
    fake, _ = vendor
    client = make_client()
    # Three windows of LIMIT - 1: the log forgets old slots every FORGET_EVERY reservations, and
    # whichever of the first window's slots that drops, two windows' worth stay to be checked.
    for i in range(3 * (LIMIT - 1)):
        assert get_contact(client, f"c{i}") == 200

    arrivals = [a.at for a in fake.arrivals]
    # Nothing is spaced out within the window (a caller pausing between requests loses no slot)...
    assert arrivals[LIMIT - 2] - arrivals[0] < PERIOD_S / 2, "requests within the limit were held back"
    # ...and one request of headroom is kept: no period holds more than LIMIT - 1 reserved sends.
    assert arrivals[LIMIT - 1] - arrivals[0] >= PERIOD_S
    with store.transaction() as tx:
        rows = tx.fetchall("SELECT slot FROM rate_limit_slots WHERE bucket = 'ghl:loc-test' AND window_name = 'burst'")
    slots = sorted(r["slot"] for r in rows)
    assert len(slots) > LIMIT and all(b - a >= PERIOD_S for a, b in zip(slots, slots[LIMIT - 1 :], strict=False))
    # At the vendor, send jitter beyond the allowance on a busy host can move a request, never past the limit.
    assert fake.max_in_any_period() <= LIMIT
    assert client.stats().rate_limited == 0


def _worker(db_url: str, base_url: str, count: int, barrier: threading.Barrier, results: mp.Queue) -> None:
    """One Dagster-like process: its own store connection and client, four threads of calls."""
    try:
        store = connect(db_url, lock_timeout_s=20)
        client = build_client(store, base_url)
        barrier.wait(timeout=60)
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(lambda i: get_contact(client, f"p{i}"), range(count)))
        client.close()
        store.close()
        results.put((statuses, None))
    except Exception as exc:  # reported to the parent, which fails the test with it
        results.put(([], f"{type(exc).__name__}: {exc}"))


@pytest.mark.slow
def test_two_processes_share_one_limit(store: Store, db_url: str, vendor: tuple[FakeVendor, str]) -> None:
    fake, base_url = vendor
    store.close()  # let the workers have the DuckDB file
    ctx = mp.get_context("spawn")
    results: mp.Queue = ctx.Queue()
    barrier = ctx.Barrier(2)
    count = LIMIT
    procs = [ctx.Process(target=_worker, args=(db_url, base_url, count, barrier, results)) for _ in range(2)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=90) for _ in procs]
    for p in procs:
        p.join(timeout=30)

    assert [err for _, err in outcomes if err] == []
    assert [statuses for statuses, _ in outcomes] == [[200] * count] * 2
    # Both processes together wanted 2 x LIMIT at once; the vendor saw them one limit at a time.
    assert fake.statuses() == {200: 2 * count}
    assert fake.max_in_any_period() <= LIMIT
    assert max(fake.per_window().values()) <= LIMIT


def test_a_429_with_retry_after_holds_every_client_of_the_account(
    vendor: tuple[FakeVendor, str], make_client: ClientFactory
) -> None:
    fake, _ = vendor
    fake.script.append(Fault.answer(429, {"statusCode": 429, "message": "Too Many Requests"}, **{"Retry-After": "1"}))
    first, other = make_client(), make_client()  # two limiters on one store, as in two processes

    def other_caller() -> None:
        while not fake.arrivals:
            time.sleep(0.005)
        time.sleep(0.05)  # the 429 has reached the first client by now
        get_contact(other, "b")

    thread = threading.Thread(target=other_caller)
    thread.start()
    assert get_contact(first, "a") == 200
    thread.join(timeout=10)

    refused, *later = fake.arrivals
    assert refused.status == 429
    assert [a.status for a in later] == [200, 200]
    assert all(a.at - refused.at >= 0.95 for a in later), "a request went out during the Retry-After hold"
    assert first.stats().rate_limited == 1 and first.stats().retries == 1
    assert other.stats().limiter_wait_s >= 0.5


def test_a_smaller_advertised_window_is_adopted(vendor: tuple[FakeVendor, str], make_client: ClientFactory) -> None:
    fake, _ = vendor
    client = make_client(windows=(Window("burst", 5 * LIMIT, PERIOD_S),))  # configured 5x too generous
    for i in range(LIMIT + 5):
        assert get_contact(client, f"c{i}") == 200

    assert client.stats().windows["burst"] == f"{LIMIT}/{PERIOD_S:g}s"
    assert fake.statuses() == {200: LIMIT + 5}
    assert fake.max_in_any_period() <= LIMIT


def test_a_hold_beyond_the_call_budget_raises_without_sending(
    vendor: tuple[FakeVendor, str], make_client: ClientFactory
) -> None:
    fake, _ = vendor
    fake.script.append(Fault.answer(429, **{"Retry-After": "30"}))
    client = make_client(retry=RetryPolicy(max_elapsed_s=1.0))

    with pytest.raises(RateLimited) as first:
        get_contact(client, "a")
    assert first.value.retry_after is not None and first.value.retry_after > 25
    with pytest.raises(RateLimited, match="nothing was sent"):
        get_contact(client, "b")
    assert len(fake.arrivals) == 1


def test_a_window_the_vendor_says_is_spent_holds_until_it_can_have_passed(
    vendor: tuple[FakeVendor, str], make_client: ClientFactory
) -> None:
    fake, _ = vendor
    # Another app on the same location used the window up: the vendor says 0 remaining.
    fake.script.append(Fault.answer(200, {"ok": True}, **{"X-RateLimit-Remaining": "0"}))
    client = make_client()
    get_contact(client, "a")
    get_contact(client, "b")

    first, second = fake.arrivals
    assert second.at - first.at >= 0.95 * PERIOD_S
    assert fake.statuses() == {200: 2}
    metadata = client.stats().as_metadata()
    assert metadata["api_calls"] == 2 and metadata["api_rate_limited"] == 0
    assert metadata["api_remaining_burst"] >= 0 and metadata["api_window_burst"] == "20/1s"
    assert metadata["api_limiter_wait_s"] >= 0.9


def test_the_slot_log_forgets_what_has_left_every_window(store: Store) -> None:
    """Slots that left the window are forgotten at the next every-FORGET_EVERY-th reservation.

    (Counting what stays while reservations race a 0.05-s window depended on how fast the store
    was: a quick Postgres kept more than the bound. Here the old slots have surely left first.)
    """
    window = Window("burst", 1_000, 0.05)  # never makes a request wait: only the log's length is tested
    limiter = SharedRateLimiter(
        store, provider="ghl", account="log", windows=(window,), rate_headers=(), counters=TransportCounters()
    )
    for _ in range(400):
        limiter.acquire(time.monotonic() + 5)
    time.sleep(window.period_s + MIN_ALLOWANCE_S + 0.05)  # every slot so far has left the window
    for _ in range(FORGET_EVERY):  # one of these is a multiple of FORGET_EVERY: it forgets
        limiter.acquire(time.monotonic() + 5)

    with store.transaction() as tx:
        kept = tx.scalar("SELECT count(*) FROM rate_limit_slots WHERE bucket = 'ghl:log'")
    assert kept <= FORGET_EVERY, f"{kept} of {400 + FORGET_EVERY} slots kept; only the latest window's should stay"


def test_a_reservation_does_not_wait_behind_a_page_write_and_is_not_reported_as_a_rate_limit_wait(
    store: Store,
) -> None:
    """A sync thread writing a page holds a store transaction; the prefetch thread's next request
    must still get its slot at once (on DuckDB it used to queue behind the write), and the time a
    reservation takes is the store's, never the vendor's limit."""
    counters = TransportCounters()
    limiter = SharedRateLimiter(
        store,
        provider="ghl",
        account="lanes",
        windows=(Window("burst", 100, 10.0),),
        rate_headers=(),
        counters=counters,
    )
    limiter.acquire(time.monotonic() + 5)  # the file is open and the bucket exists
    writing, written = threading.Event(), threading.Event()

    def write_a_page() -> None:
        with store.transaction() as tx:
            tx.execute("INSERT INTO sync_state (stream, cursor, updated_at) VALUES ('lanes', NULL, now())")
            writing.set()
            written.wait(5)

    writer = threading.Thread(target=write_a_page)
    writer.start()
    try:
        assert writing.wait(5)
        started = time.monotonic()
        waited = limiter.acquire(time.monotonic() + 5)
        took = time.monotonic() - started
    finally:
        written.set()
        writer.join()
    assert took < 0.5, f"the reservation took {took:.2f} s: it waited for the page write"
    assert waited.rate_s == 0.0 and waited.store_s == pytest.approx(took, abs=0.05)
