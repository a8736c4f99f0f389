"""Per-client limits on MCP tool calls (the MCP spec asks servers to rate-limit tool invocations).

A client is an MCP session over HTTP (its ``Mcp-Session-Id``) or the whole process over stdio (one
process serves one client there). Each may make at most ``per_minute`` calls in any 60 s: a log of
its recent call times, so a burst is allowed up to the limit and the answer to an over-limit call
says exactly when the next one will be accepted. The state lives in the serving process: the limit
protects this server and the store it shares, not the vendors (their limits are the transport's,
shared through the store by every process).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 60.0
# Clients whose newest call left the window are forgotten once this many are tracked.
_PRUNE_ABOVE = 1_000


class CallLimited(Exception):
    """The client made too many tool calls in the last minute; retry after ``retry_after`` seconds."""

    def __init__(self, limit: int, retry_after: float) -> None:
        self.limit = limit
        self.retry_after = retry_after
        super().__init__(
            f"rate limit: this client may make {limit} tool calls per minute; "
            f"retry in {math.ceil(retry_after)} s (calls are not queued: call again then)"
        )


class CallLimiter:
    """At most ``per_minute`` calls per client key in any 60-second window."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self._clock = clock
        self._calls: dict[str, deque[float]] = {}
        # Tool calls over HTTP and stdio run on one event loop, but a lock keeps this honest
        # if a transport ever calls from worker threads.
        self._lock = threading.Lock()

    def acquire(self, client: str) -> None:
        """Count one call by ``client``, or raise :class:`CallLimited` (the call is not counted)."""
        now = self._clock()
        with self._lock:
            log = self._calls.setdefault(client, deque())
            while log and log[0] <= now - WINDOW_S:
                log.popleft()
            if len(log) >= self.per_minute:
                raise CallLimited(self.per_minute, log[0] + WINDOW_S - now)
            log.append(now)
            if len(self._calls) > _PRUNE_ABOVE:
                self._prune(now)

    def _prune(self, now: float) -> None:
        idle = [key for key, log in self._calls.items() if not log or log[-1] <= now - WINDOW_S]
        for key in idle:
            del self._calls[key]
