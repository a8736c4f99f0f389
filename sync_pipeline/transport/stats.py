"""Counters a caller reports as Dagster metadata: what the transport did, across calls."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields, replace


@dataclass(frozen=True)
class TransportStats:
    """A snapshot of one client's counters since it was created.

    ``limiter_wait_s`` is time requests slept because a rate window was full; ``limiter_store_s`` the
    time spent reserving their slots in the store (see :mod:`~sync_pipeline.transport.limiter`).

    ``vendor_remaining`` is the last ``remaining`` each vendor window advertised (e.g.
    ``{"burst": 87, "daily": 199_412}``); ``windows`` the limits in force, vendor-adopted ones included.
    """

    calls: int = 0
    attempts: int = 0
    retries: int = 0
    rate_limited: int = 0
    failed_attempts: int = 0
    limiter_wait_s: float = 0.0  # sleeping for a slot: a window was full
    limiter_store_s: float = 0.0  # reserving slots in the store (its transactions, waits for it)
    vendor_remaining: dict[str, int] = field(default_factory=dict)
    windows: dict[str, str] = field(default_factory=dict)

    def as_metadata(self) -> dict[str, int | float | str]:
        """Flat values for ``MaterializeResult(metadata=...)``; holds no secrets."""
        flat: dict[str, int | float | str] = {
            f"api_{f.name}": getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("vendor_remaining", "windows")
        }
        flat["api_limiter_wait_s"] = round(self.limiter_wait_s, 3)
        flat["api_limiter_store_s"] = round(self.limiter_store_s, 3)
        flat.update({f"api_remaining_{name}": value for name, value in self.vendor_remaining.items()})
        flat.update({f"api_window_{name}": value for name, value in self.windows.items()})
        return flat


class TransportCounters:
    """Thread-safe accumulation of :class:`TransportStats`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stats = TransportStats()

    def add(self, **deltas: float) -> None:
        with self._lock:
            self._stats = replace(
                self._stats, **{name: getattr(self._stats, name) + value for name, value in deltas.items()}
            )

    def saw_remaining(self, window: str, remaining: int) -> None:
        with self._lock:
            self._stats = replace(self._stats, vendor_remaining={**self._stats.vendor_remaining, window: remaining})

    def snapshot(self, windows: dict[str, str]) -> TransportStats:
        with self._lock:
            return replace(self._stats, windows=dict(windows))
