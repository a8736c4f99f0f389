"""Retrying what may succeed later, and nothing that could be applied twice.

Retried: 429, 408/425, 500/502/503/504, timeouts and dropped connections, with exponential
backoff and jitter, never sooner than the vendor's ``Retry-After``, within ``max_attempts`` and
the call's deadline. A request that could have reached the vendor and changed something (POST,
PATCH) is retried only when the caller supplied an idempotency guard; a 429 (the vendor refused
it) and a failure to connect (it never left) are safe for every method.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass

import httpx

from .call import CallContext, call_context
from .rate_headers import retry_after_s
from .stats import TransportCounters

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
# The request never reached the server: safe to resend whatever the method.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def backoff_delay(attempt: int, *, base_s: float, cap_s: float, retry_after: float | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based), for any caller that retries.

    ``base_s * 2**(attempt - 1)`` capped at ``cap_s``, the upper half of it jittered so retries from
    many callers spread out; a vendor's ``retry_after`` wins when it is longer.
    """
    ceiling = min(cap_s, base_s * 2 ** max(attempt - 1, 0))
    return max(ceiling / 2 + random.uniform(0, ceiling / 2), retry_after or 0.0)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. ``max_elapsed_s`` bounds the whole call, limiter waits included."""

    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_elapsed_s: float = 120.0

    def backoff(self, retry: int, retry_after: float | None = None) -> float:
        """Delay before retry number ``retry`` (1-based); see :func:`backoff_delay`."""
        return backoff_delay(retry, base_s=self.base_delay_s, cap_s=self.max_delay_s, retry_after=retry_after)


class RetryTransport(httpx.BaseTransport):
    """Outermost transport layer: resends the same request through the layers below."""

    def __init__(self, inner: httpx.BaseTransport, policy: RetryPolicy, counters: TransportCounters) -> None:
        self._inner = inner
        self._policy = policy
        self._counters = counters

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        call = call_context(request)
        while True:
            try:
                response = self._inner.handle_request(request)
            except httpx.TransportError as exc:
                delay = self._retry_delay(call, None, exc)
                if delay is None:
                    raise
                what = type(exc).__name__
            else:
                delay = self._retry_delay(call, response, None)
                if delay is None:
                    return response
                what = f"HTTP {response.status_code}"
                response.read()
                response.close()
            call.retries += 1
            self._counters.add(retries=1)
            log.info("%s %s: %s, retry %d in %.2f s", call.method, call.endpoint, what, call.retries, delay)
            time.sleep(delay)

    def _retry_delay(
        self, call: CallContext, response: httpx.Response | None, exc: httpx.TransportError | None
    ) -> float | None:
        """Seconds to wait before retrying, or None to stop (with the reason on ``call``)."""
        if response is not None and response.status_code not in RETRYABLE_STATUS:
            return None
        safe = call.idempotent or isinstance(exc, NEVER_SENT) or (response is not None and response.status_code == 429)
        if not safe:
            call.not_retried_because = (
                f"{call.method} without an idempotency guard may already have been applied, so it was not "
                "retried (pass idempotency_key= or idempotent=True when a repeat is harmless)"
            )
            return None
        if call.attempts >= self._policy.max_attempts:
            call.not_retried_because = f"gave up after {call.attempts} attempts"
            return None
        retry_after = retry_after_s(response.headers) if response is not None else None
        delay = self._policy.backoff(call.retries + 1, retry_after)
        if time.monotonic() + delay > call.deadline:
            call.not_retried_because = f"the next retry ({delay:.1f} s away) would pass the call's time budget"
            return None
        return delay

    def close(self) -> None:
        self._inner.close()
