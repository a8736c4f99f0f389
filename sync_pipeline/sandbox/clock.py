"""The sandbox's own clock.

Rate-limit windows, search-index lag, duplicate-send windows and every timestamp a sandbox writes are
read from one :class:`Clock`, so a test can compress or freeze time without touching the system clock.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Seconds since the Unix epoch, as the sandbox sees them."""

    def now(self) -> float: ...


class SystemClock:
    """Wall-clock time (the default)."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to; thread-safe, for deterministic tests."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
