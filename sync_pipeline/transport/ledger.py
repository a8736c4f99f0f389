"""The ``api_calls`` ledger: one row per request attempt, written in batches.

Rows wait in memory and go to the store in one ``executemany`` when the buffer reaches
``batch_size``, when the oldest row is ``max_age_s`` old (a timer thread), on :meth:`flush` /
:meth:`close`, and at process exit, so bookkeeping never costs a transaction per call. A failing
flush is logged and never fails the vendor call that triggered it.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import httpx

from ..store import Store
from ..store import api_calls as api_calls_q
from .call import call_context
from .stats import TransportCounters

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallRecord:
    """One attempt as the ledger stores it; ``endpoint`` is a path template, never a concrete path."""

    provider: str
    account: str | None
    method: str
    endpoint: str
    status_code: int | None
    latency_ms: float
    cost_usd: float
    rate_limited: bool
    error: str | None
    at: datetime


class CallLedger:
    """A buffered writer of :class:`CallRecord` rows; thread-safe, flushes when its store closes and at
    exit."""

    def __init__(self, store: Store, *, batch_size: int = 200, max_age_s: float = 2.0) -> None:
        self._store = store
        self._batch_size = batch_size
        self._max_age_s = max_age_s
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one flush at a time keeps rows in order
        self._buffer: list[CallRecord] = []
        self._timer: threading.Timer | None = None
        atexit.register(self.flush)
        self._cancel_close_hook = store.before_close(self.flush)  # the store's close flushes us first

    def record(self, record: CallRecord) -> None:
        with self._lock:
            self._buffer.append(record)
            full = len(self._buffer) >= self._batch_size
            if not full and self._timer is None:
                self._timer = threading.Timer(self._max_age_s, self.flush)
                self._timer.daemon = True
                self._timer.start()
        if full:
            self.flush()

    def flush(self) -> None:
        """Write every buffered row now."""
        with self._flush_lock:
            with self._lock:
                rows, self._buffer = self._buffer, []
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
            if not rows:
                return
            try:
                with self._store.transaction() as tx:
                    api_calls_q.record_calls(tx, [asdict(r) for r in rows])
            except Exception as exc:  # the ledger is bookkeeping: never fail a vendor call over it
                log.warning("api_calls ledger: dropped %d row(s), the store refused them: %s", len(rows), exc)

    def close(self) -> None:
        """Flush and stop flushing at exit (the store may be closed after this)."""
        self.flush()
        atexit.unregister(self.flush)
        self._cancel_close_hook()


class LedgerTransport(httpx.BaseTransport):
    """Transport layer next to the network: reads and times each attempt, and records it."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        ledger: CallLedger,
        counters: TransportCounters,
        *,
        provider: str,
        account: str | None,
    ) -> None:
        self._inner = inner
        self._ledger = ledger
        self._counters = counters
        self._provider = provider
        self._account = account

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        call = call_context(request)
        call.attempts += 1
        started = time.perf_counter()
        try:
            response = self._inner.handle_request(request)
            # Read here, so a connection dropped mid-body is an attempt the retry layer sees.
            response.read()
        except httpx.TransportError as exc:
            self._record(call.method, call.endpoint, started, None, 0.0, type(exc).__name__)
            self._counters.add(attempts=1, failed_attempts=1)
            raise
        status = response.status_code
        limited = status == 429
        call.rate_limited += limited
        ok = 200 <= status < 300
        error = None if ok else f"HTTP {status} {response.reason_phrase}".strip()
        self._record(call.method, call.endpoint, started, status, call.cost_usd if ok else 0.0, error)
        self._counters.add(attempts=1, rate_limited=int(limited), failed_attempts=int(not ok))
        return response

    def _record(
        self,
        method: str,
        endpoint: str,
        started: float,
        status: int | None,
        cost_usd: float,
        error: str | None,
    ) -> None:
        self._ledger.record(
            CallRecord(
                provider=self._provider,
                account=self._account,
                method=method,
                endpoint=endpoint,
                status_code=status,
                latency_ms=(time.perf_counter() - started) * 1000,
                cost_usd=cost_usd,
                rate_limited=status == 429,
                error=error,
                at=datetime.now(UTC),
            )
        )

    def close(self) -> None:
        self._inner.close()
