"""Request rate limits measured on the sandbox's own clock.

A vendor declares its limits as :class:`RateWindow` values (GHL: 100 per 10 s rolling and 200,000
per day); a test compresses them (e.g. 20 per 1 s) by passing other windows. Each request that is
admitted counts against every window of its key; a refused request counts against none, so a client
that waits as told gets through.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sync_pipeline.sandbox.clock import Clock
from sync_pipeline.sandbox.config import SandboxConfigError


@dataclass(frozen=True)
class RateWindow:
    """At most ``limit`` requests per ``seconds``.

    ``rolling`` windows count the requests of the last ``seconds``; fixed windows reset at multiples
    of ``seconds`` since the epoch (for a day: UTC midnight).
    """

    name: str
    limit: int
    seconds: float
    rolling: bool = True

    def __post_init__(self) -> None:
        if self.limit < 1 or self.seconds <= 0:
            raise SandboxConfigError(f"rate window {self.name!r} needs limit >= 1 and seconds > 0")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RateWindow:
        """Parse ``{"name", "limit", "seconds", "rolling"?}`` as sent to ``POST /_sandbox/rate-limits``."""
        try:
            return cls(str(data["name"]), int(data["limit"]), float(data["seconds"]), bool(data.get("rolling", True)))
        except (KeyError, TypeError, ValueError) as exc:
            raise SandboxConfigError(f"a rate window needs name, limit and seconds; got {data!r}") from exc


@dataclass(frozen=True)
class WindowState:
    """One window after a decision: ``remaining`` requests left, the window frees up in ``reset_in_s``."""

    window: RateWindow
    remaining: int
    reset_in_s: float


@dataclass(frozen=True)
class RateDecision:
    """Whether a request was admitted, and every window's state for the vendor's headers."""

    allowed: bool
    windows: Mapping[str, WindowState]

    @property
    def retry_after_s(self) -> float:
        """Seconds until every exhausted window admits a request again (0 when allowed)."""
        waits = [s.reset_in_s for s in self.windows.values() if s.remaining <= 0]
        return max(waits) if waits and not self.allowed else 0.0

    @property
    def retry_after_header(self) -> str:
        """``Retry-After`` value for the limiter's wait."""
        return retry_after_value(self.retry_after_s)


def retry_after_value(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


class _Counter:
    """The admitted requests of one key in one window."""

    def __init__(self, window: RateWindow) -> None:
        self.window = window
        self.times: deque[float] = deque()  # rolling windows: admission times
        self.fixed_start = -math.inf
        self.fixed_count = 0

    def state(self, now: float) -> WindowState:
        w = self.window
        if w.rolling:
            while self.times and self.times[0] <= now - w.seconds:
                self.times.popleft()
            reset = (self.times[0] + w.seconds - now) if self.times else w.seconds
            return WindowState(w, w.limit - len(self.times), reset)
        start = math.floor(now / w.seconds) * w.seconds
        if start != self.fixed_start:
            self.fixed_start, self.fixed_count = start, 0
        return WindowState(w, w.limit - self.fixed_count, start + w.seconds - now)

    def admit(self, now: float) -> None:
        if self.window.rolling:
            self.times.append(now)
        else:
            self.fixed_count += 1


class RateLimiter:
    """Counts requests per key (e.g. per GHL location) against a set of windows; thread-safe."""

    def __init__(self, windows: Iterable[RateWindow], clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: tuple[RateWindow, ...] = ()
        self._counters: dict[str, list[_Counter]] = {}
        self.configure(windows)

    @property
    def windows(self) -> tuple[RateWindow, ...]:
        return self._windows

    def configure(self, windows: Iterable[RateWindow]) -> None:
        """Replace the windows and forget every count."""
        windows = tuple(windows)
        if len({w.name for w in windows}) != len(windows):
            raise SandboxConfigError("rate window names must be unique")
        with self._lock:
            self._windows = windows
            self._counters = {}

    def acquire(self, key: str) -> RateDecision:
        """Admit one request of ``key`` if every window has room; say how much room is left."""
        now = self._clock.now()
        with self._lock:
            counters = self._counters.setdefault(key, [_Counter(w) for w in self._windows])
            states = [c.state(now) for c in counters]
            allowed = all(s.remaining > 0 for s in states)
            if allowed:
                for counter in counters:
                    counter.admit(now)
                states = [WindowState(s.window, s.remaining - 1, s.reset_in_s) for s in states]
            return RateDecision(allowed, {s.window.name: s for s in states})
