"""One rate limit per vendor account, shared by every process that uses the same store.

Design: a GCRA reservation per (bucket, window) in the ``rate_limits`` table. Each request runs
one short transaction: read the bucket's hold and the database clock, then one atomic
``INSERT … ON CONFLICT DO UPDATE SET tat = GREATEST(tat, start) + interval RETURNING tat`` for all
of the profile's windows; it then sleeps *outside* the transaction until the latest reserved slot.
Paced windows space requests ``period * (1 + margin) / (limit - 1)`` apart, so no stretch of one
period ever holds more than ``limit - 1`` of our requests whatever the vendor's window phase (a
token bucket would allow ``2 * limit - 1``); that still runs at ``(limit - 1) / limit / (1 + margin)``
of the ceiling (96 % of GHL's 100 per 10 s, 92 % of 20 per s). Unpaced
windows (daily budgets) are token buckets spent as fast as the paced windows allow. Times are on
the database clock, so processes on different hosts agree. A hold (``429`` + ``Retry-After``, or a
vendor window advertised as exhausted) is one more row that every later reservation starts from.

Why not pyrate-limiter (evaluated 4.5.1): its cross-process buckets are SQLite, Redis and a
Postgres bucket that needs psycopg 3 + psycopg_pool (we carry psycopg2); nothing runs on our
DuckDB file, so the embedded default would need a second database. Its Postgres bucket keeps a
row per request in a table per bucket and takes ``LOCK TABLE … NOWAIT``, rejecting under
contention instead of queueing; and it has no notion of vendor headers or shared holds, which we
would still write. The reservation here is three portable SQL statements on the store we already
have, identical on both backends, with one transaction per request (a DuckDB handoff is ~12 ms).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

import httpx

from ..providers.base import RateLimited
from ..store import Store
from .call import call_context
from .profiles import BUDGET_PERIOD_S, Window
from .rate_headers import HeaderWindow, Observation, read_observations, retry_after_s
from .stats import TransportCounters

log = logging.getLogger(__name__)

HOLD_WINDOW = "~hold"
# No vendor asks for more than a day; a larger Retry-After is a vendor bug, not an instruction.
MAX_HOLD_S = 86_400.0
DEFAULT_MARGIN = 0.03

_NOW = "CAST(EXTRACT(EPOCH FROM now()) AS DOUBLE PRECISION)"
_READ_CLOCK_AND_HOLD = (
    f"SELECT {_NOW} AS now_s, "
    f"(SELECT tat FROM rate_limits WHERE bucket = :bucket AND window_name = '{HOLD_WINDOW}') AS hold_s"
)
_EXTEND_HOLD = (
    "INSERT INTO rate_limits (bucket, window_name, tat, interval_s) "
    f"VALUES (:bucket, '{HOLD_WINDOW}', {_NOW} + :seconds, 0) "
    "ON CONFLICT (bucket, window_name) DO UPDATE SET tat = GREATEST(rate_limits.tat, excluded.tat)"
)


@lru_cache(maxsize=8)
def _reserve_sql(windows: int) -> str:
    values = ", ".join(f"(:bucket, :w{i}, :start + :i{i}, :i{i})" for i in range(windows))
    return (
        f"INSERT INTO rate_limits (bucket, window_name, tat, interval_s) VALUES {values} "
        "ON CONFLICT (bucket, window_name) DO UPDATE SET "
        "tat = GREATEST(rate_limits.tat, :start) + excluded.interval_s, interval_s = excluded.interval_s "
        "RETURNING window_name, tat"
    )


@dataclass(frozen=True)
class _Pace:
    """GCRA parameters of one window: emission interval and burst tolerance, in seconds."""

    interval_s: float
    tolerance_s: float

    @classmethod
    def of(cls, window: Window, margin: float) -> _Pace:
        if window.paced:
            return cls(window.period_s * (1 + margin) / max(window.limit - 1, 1), 0.0)
        interval = window.period_s / window.limit
        return cls(interval, window.period_s - interval)


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
        margin: float = DEFAULT_MARGIN,
    ) -> None:
        if any(w.name == HOLD_WINDOW for w in windows):
            raise ValueError(f"{HOLD_WINDOW!r} is reserved for holds")
        self.provider = provider
        self.bucket = f"{provider}:{account}"
        self._store = store
        self._rate_headers = rate_headers
        self._counters = counters
        self._margin = margin
        self._lock = threading.Lock()
        self._windows = {w.name: w for w in windows}
        # Holds this process set, so requests already sleeping towards a slot re-reserve after it.
        self._hold_generation = 0
        self._local_hold_until = 0.0

    def windows(self) -> dict[str, str]:
        """The limits in force, e.g. ``{"burst": "100/10s"}``."""
        with self._lock:
            return {w.name: f"{w.limit}/{w.period_s:g}s" for w in self._windows.values()}

    def acquire(self, deadline: float) -> float:
        """Wait until every window has a slot for one request; return the seconds waited.

        Raises :class:`RateLimited` (nothing reserved) when the slot lies beyond ``deadline``.
        """
        waited = 0.0
        while True:
            generation = self._hold_generation
            wait = self._reserve(deadline)
            if wait > 0:
                time.sleep(wait)
                waited += wait
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
        with self._store.transaction() as tx:
            tx.execute(_EXTEND_HOLD, {"bucket": self.bucket, "seconds": seconds})
        with self._lock:
            self._local_hold_until = max(self._local_hold_until, time.monotonic() + seconds)
            self._hold_generation += 1

    def _reserve(self, deadline: float) -> float:
        with self._lock:
            names = list(self._windows)
            paces = [_Pace.of(self._windows[name], self._margin) for name in names]
        params: dict[str, object] = {"bucket": self.bucket}
        for i, (name, pace) in enumerate(zip(names, paces, strict=True)):
            params[f"w{i}"], params[f"i{i}"] = name, pace.interval_s
        with self._store.transaction() as tx:
            clock = tx.fetchone(_READ_CLOCK_AND_HOLD, {"bucket": self.bucket}) or {}
            now = float(clock["now_s"])
            start = max(now, float(clock["hold_s"] or now))
            self._check_budget(start - now, deadline)  # raising here rolls the reservation back
            params["start"] = start
            reserved = {row["window_name"]: float(row["tat"]) for row in tx.fetchall(_reserve_sql(len(names)), params)}
            slot = max(
                [start] + [reserved[n] - p.interval_s - p.tolerance_s for n, p in zip(names, paces, strict=True)]
            )
            self._check_budget(slot - now, deadline)
        return slot - now

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
            paced = current.paced if current is not None else observation.period_s < BUDGET_PERIOD_S
            adopted = Window(observation.window, observation.limit, observation.period_s, paced=paced)
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
        call.limiter_wait_s += waited
        self._counters.add(limiter_wait_s=waited)
        response = self._inner.handle_request(request)
        self._limiter.observe(response)
        return response

    def close(self) -> None:
        self._inner.close()
