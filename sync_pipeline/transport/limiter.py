"""One rate limit per vendor account, shared by every process that uses the same store.

Design: each request runs one short transaction that reserves a send time (a *slot*) on the
database clock, then sleeps *outside* the transaction until that slot.

* **Burst windows** (the vendor's short windows, e.g. GHL's 100 per 10 s) keep a log of
  reserved slots in ``rate_limit_slots``. A request may go once the window's ``(limit - 1)``-th most
  recent slot lies a period plus an allowance behind it, so no stretch of one period ever holds
  more than ``limit - 1`` of our requests, whatever the phase of the vendor's window (rolling or
  fixed) and however late a request leaves, up to the allowance. Within that, requests go as
  soon as they come: a sync that pauses to write a page, or a store that stalls, loses nothing,
  and a run of ``n`` requests ends after ``(n - 1) // (limit - 1)`` windows instead of ``n - 1``
  evenly spaced intervals. Steady throughput is ``(limit - 1) / (period + allowance)``: 98 % of
  GHL's ceiling (the allowance is ``ALLOWANCE_SHARE * period``, at least 50 ms: the send jitter
  a loaded host and the network add). The one-request headroom means the vendor's ``remaining``
  reaching 0 says someone else shares the window.
* **Budget windows** (daily limits) are GCRA token buckets in ``rate_limits``, spent as fast as
  the burst windows allow.
* A **hold** (``429`` + ``Retry-After``, or a vendor window advertised as exhausted) is one more
  ``rate_limits`` row that every later reservation starts from. Its row is also the bucket's lock:
  the reservation's first statement upserts it, so reservations on one bucket are serialized on
  Postgres (and on DuckDB by its side lane, below).
* Reservations run as the store's **side transactions**: on DuckDB a second connection beside the
  one that writes pages, so a request never waits for a page write to commit (it did: half of an
  unthrottled sync's time was reported as limiter wait). What a reservation costs is reported as
  ``limiter_store_s``, apart from ``limiter_wait_s``, the time a full window made a request wait.

Times are on the database clock (``clock_timestamp()`` on Postgres, so a reservation that waited
for the lock reads the time it got it), so processes on different hosts agree. The statements are
in :mod:`sync_pipeline.store.rate_limits`.

Why not pyrate-limiter (evaluated 4.5.1): its cross-process buckets are SQLite, Redis and a
Postgres bucket that needs psycopg 3 + psycopg_pool (we carry psycopg2); nothing runs on our
DuckDB file, so the embedded default would need a second database. Its Postgres bucket keeps a
row per request in a table per bucket and takes ``LOCK TABLE … NOWAIT``, rejecting under
contention instead of queueing; and it has no notion of vendor headers or shared holds, which we
would still write. The reservation here is a few portable SQL statements on the store we already
have, identical on both backends, in one transaction per request.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace

import httpx

from ..errors import RateLimited
from ..store import Store
from ..store import rate_limits as rate_limits_q
from ..store.rate_limits import HOLD_WINDOW
from .call import call_context
from .profiles import BUDGET_PERIOD_S, Window, WindowKind
from .rate_headers import HeaderWindow, Observation, read_observations, retry_after_s
from .stats import TransportCounters

log = logging.getLogger(__name__)

# No vendor asks for more than a day; a larger Retry-After is a vendor bug, not an instruction.
MAX_HOLD_S = 86_400.0
# A burst window's allowance: how late a request may leave after its slot without crowding the
# next window, as a share of the window's period and, however short the window, at least this much.
ALLOWANCE_SHARE = 0.01
MIN_ALLOWANCE_S = 0.05
# Old slots only make the log longer, never a reservation wrong: forget them on a process's first
# reservation and every this many after it, not on each one (a DELETE costs DuckDB ~0.7 ms).
FORGET_EVERY = 32


@dataclass
class Waited:
    """How long one request waited for its slot: ``rate_s`` because a window was full (sleeping
    until the slot), ``store_s`` for the reservation itself (the store's transaction, and any wait
    for the store) — apart, so a slow store never reads as a vendor's rate limit."""

    rate_s: float = 0.0
    store_s: float = 0.0


@dataclass(frozen=True)
class _Burst:
    """A burst window as a sliding log: ``count`` requests per ``span_s`` (period plus allowance)."""

    name: str
    count: int
    span_s: float

    @classmethod
    def of(cls, window: Window) -> _Burst:
        allowance = max(window.period_s * ALLOWANCE_SHARE, MIN_ALLOWANCE_S)
        return cls(window.name, max(window.limit - 1, 1), window.period_s + allowance)


@dataclass(frozen=True)
class _Budget:
    """A budget window as a GCRA token bucket: emission interval and burst tolerance, in seconds."""

    name: str
    interval_s: float
    tolerance_s: float

    @classmethod
    def of(cls, window: Window) -> _Budget:
        interval = window.period_s / window.limit
        return cls(window.name, interval, window.period_s - interval)


class SharedRateLimiter:
    """The limits of one vendor account (``bucket``), enforced across processes through ``store``.

    Starts from the profile's windows and tightens them from what the vendor's headers advertise.
    """

    def __init__(
        self,
        store: Store,
        *,
        provider: str,
        account: str,
        windows: tuple[Window, ...],
        rate_headers: tuple[HeaderWindow, ...],
        counters: TransportCounters,
    ) -> None:
        if any(w.name == HOLD_WINDOW for w in windows):
            raise ValueError(f"{HOLD_WINDOW!r} is reserved for holds")
        self.provider = provider
        self.bucket = f"{provider}:{account}"
        self._store = store
        self._rate_headers = rate_headers
        self._counters = counters
        self._lock = threading.Lock()
        self._windows = {w.name: w for w in windows}
        # Holds this process set, so requests already sleeping towards a slot re-reserve after it.
        self._hold_generation = 0
        self._local_hold_until = 0.0
        self._reservations = 0

    def windows(self) -> dict[str, str]:
        """The limits in force, e.g. ``{"burst": "100/10s"}``."""
        with self._lock:
            return {w.name: f"{w.limit}/{w.period_s:g}s" for w in self._windows.values()}

    def acquire(self, deadline: float) -> Waited:
        """Wait until every window has a slot for one request; return how long, and on what.

        Raises :class:`RateLimited` (nothing reserved) when the slot lies beyond ``deadline``.
        """
        waited = Waited()
        while True:
            generation = self._hold_generation
            started = time.monotonic()
            slot = self._reserve(deadline)
            reserved = time.monotonic()
            waited.store_s += reserved - started
            if slot > reserved:
                time.sleep(slot - reserved)
                waited.rate_s += time.monotonic() - reserved
            if generation == self._hold_generation or self._local_hold_until <= time.monotonic():
                return waited

    def observe(self, response: httpx.Response) -> None:
        """Learn from the vendor's rate headers: adopt the advertised windows, hold when told to wait."""
        hold_s, reason = 0.0, ""
        for observation in read_observations(response.headers, self._rate_headers):
            if observation.remaining is not None:
                self._counters.saw_remaining(observation.window, observation.remaining)
            self._adopt(observation)
            if observation.exhausted:
                # Without a reset time, the vendor's window can have passed one full period from now.
                seconds = observation.reset_s if observation.reset_s is not None else observation.period_s
                hold_s, reason = (
                    max(hold_s, seconds or self._shortest_period()),
                    f"{observation.window} exhausted",
                )
        retry_after = retry_after_s(response.headers)
        if retry_after is not None and retry_after >= hold_s:
            hold_s, reason = retry_after, f"Retry-After on {response.status_code}"
        elif response.status_code == 429 and hold_s == 0:
            hold_s, reason = self._shortest_period(), "429 without Retry-After"
        if hold_s > 0:
            self.hold(min(hold_s, MAX_HOLD_S), reason)

    def hold(self, seconds: float, reason: str) -> None:
        """Send nothing on this bucket, from any process, for ``seconds``."""
        log.info("rate limit %s: holding every process for %.2f s (%s)", self.bucket, seconds, reason)
        with self._store.side_transaction() as tx:
            rate_limits_q.extend_hold(tx, self._store.dialect, self.bucket, seconds)
        with self._lock:
            self._local_hold_until = max(self._local_hold_until, time.monotonic() + seconds)
            self._hold_generation += 1

    def _reserve(self, deadline: float) -> float:
        """Reserve the earliest slot every window allows; return it on this process's monotonic clock."""
        with self._lock:
            windows = list(self._windows.values())
        bursts = [_Burst.of(w) for w in windows if w.kind == "burst"]
        budgets = [_Budget.of(w) for w in windows if w.kind == "budget"]
        bucket = self.bucket
        with self._store.side_transaction() as tx:
            now, hold = rate_limits_q.lock_and_read_hold(tx, self._store.dialect, bucket)
            local_now = time.monotonic()
            slot = max(now, hold)
            for burst in bursts:
                anchor = rate_limits_q.nth_recent_slot(tx, bucket, burst.name, burst.count)
                if anchor is not None:
                    slot = max(slot, anchor + burst.span_s)
            self._check_budget(slot - now, deadline)  # raising here rolls the reservation back
            start = slot
            for budget in budgets:
                tat = rate_limits_q.spend_budget(tx, bucket, budget.name, start, budget.interval_s)
                slot = max(slot, tat - budget.interval_s - budget.tolerance_s)
            self._check_budget(slot - now, deadline)
            if bursts:
                if self._reservations % FORGET_EVERY == 0:
                    for burst in bursts:
                        rate_limits_q.forget_slots(tx, bucket, burst.name, now - burst.span_s)
                rate_limits_q.log_slots(tx, bucket, [burst.name for burst in bursts], slot)
        with self._lock:
            self._reservations += 1
        return local_now + (slot - now)

    def _check_budget(self, wait: float, deadline: float) -> None:
        if wait > deadline - time.monotonic():
            raise RateLimited(
                self.provider,
                f"rate limit {self.bucket}: the next free slot is {wait:.1f} s away, beyond this call's time "
                "budget; nothing was sent",
                retry_after=wait,
                status=None,
            )

    def _adopt(self, observation: Observation) -> None:
        if observation.limit is None or observation.period_s is None:
            return
        with self._lock:
            current = self._windows.get(observation.window)
            # The vendor's own headers are the authority on its limit for this account, in both
            # directions: a tighter one avoids 429s, a looser one (e.g. a higher plan) is throughput.
            if current is not None and (current.limit, current.period_s) == (observation.limit, observation.period_s):
                return
            if current is not None:
                adopted = replace(current, limit=observation.limit, period_s=observation.period_s)
            else:
                kind: WindowKind = "burst" if observation.period_s < BUDGET_PERIOD_S else "budget"
                adopted = Window(observation.window, observation.limit, observation.period_s, kind=kind)
            self._windows[observation.window] = adopted
        log.info(
            "rate limit %s: vendor advertises %s %d/%gs, adopting it (was %s)",
            self.bucket,
            adopted.name,
            adopted.limit,
            adopted.period_s,
            f"{current.limit}/{current.period_s:g}s" if current else "not configured",
        )

    def _shortest_period(self) -> float:
        with self._lock:
            return min(w.period_s for w in self._windows.values())


class RateLimitTransport(httpx.BaseTransport):
    """Transport layer: take a shared slot before each attempt, learn from each response."""

    def __init__(self, inner: httpx.BaseTransport, limiter: SharedRateLimiter, counters: TransportCounters) -> None:
        self._inner = inner
        self._limiter = limiter
        self._counters = counters

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        call = call_context(request)
        waited = self._limiter.acquire(call.deadline)
        call.limiter_wait_s += waited.rate_s
        self._counters.add(limiter_wait_s=waited.rate_s, limiter_store_s=waited.store_s)
        response = self._inner.handle_request(request)
        self._limiter.observe(response)
        return response

    def close(self) -> None:
        self._inner.close()
