"""Reading a vendor's own rate-limit headers, declared as data per vendor.

Every vendor says the same few things (the window's size and length, what is left, when it resets)
under different header names and value formats. A :class:`HeaderWindow` names the headers of one
advertised window; :func:`read_observations` turns any vendor's headers into :class:`Observation`
records, so the limiter has one rule for all of them.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

# Header values shaped like PDL's "{'minute': 99, 'day': 4000}".
_DICT_ENTRY = re.compile(r"""['"]?(\w+)['"]?\s*:\s*(-?\d+(?:\.\d+)?)""")
# A reset value above this is an epoch time rather than a number of seconds.
_EPOCH_SECONDS = 1_000_000_000
_EPOCH_MILLISECONDS = 1_000_000_000_000


@dataclass(frozen=True)
class HeaderWindow:
    """The headers one vendor uses to advertise one window.

    ``window`` is the name of the profile window it describes (an advertised window the profile
    lacks is added). The window length comes from ``period_ms_header`` or the fixed ``period_s``.
    ``key`` picks one entry from dict-shaped values such as PDL's ``{'minute': 99}``.
    """

    window: str
    limit: str | None = None
    remaining: str | None = None
    period_ms_header: str | None = None
    period_s: float | None = None
    reset: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class Observation:
    """What one response said about one window; None where the vendor did not say."""

    window: str
    limit: int | None
    remaining: int | None
    period_s: float | None
    reset_s: float | None  # seconds from now until the window resets

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


def read_observations(headers: httpx.Headers, specs: tuple[HeaderWindow, ...]) -> list[Observation]:
    """Every window the response advertises, per the vendor's header declarations."""
    observations = []
    for spec in specs:
        limit = _number(headers.get(spec.limit), spec.key) if spec.limit else None
        remaining = _number(headers.get(spec.remaining), spec.key) if spec.remaining else None
        period_ms = _number(headers.get(spec.period_ms_header), spec.key) if spec.period_ms_header else None
        reset = _seconds_until(headers.get(spec.reset), spec.key) if spec.reset else None
        if limit is None and remaining is None and reset is None:
            continue
        period_s = period_ms / 1000 if period_ms else spec.period_s
        observations.append(
            Observation(
                window=spec.window,
                limit=int(limit) if limit is not None and limit > 0 else None,
                remaining=int(remaining) if remaining is not None else None,
                period_s=period_s,
                reset_s=reset,
            )
        )
    return observations


def retry_after_s(headers: httpx.Headers) -> float | None:
    """``Retry-After`` in seconds from now, whether sent as seconds or as an HTTP date."""
    return _seconds_until(headers.get("retry-after"), None)


def _number(raw: str | None, key: str | None) -> float | None:
    if raw is None:
        return None
    raw = raw.strip()
    if raw.startswith("{"):
        entries = {name: value for name, value in _DICT_ENTRY.findall(raw)}
        chosen = entries.get(key) if key else next(iter(entries.values()), None)
        return float(chosen) if chosen is not None else None
    try:
        return float(raw)
    except ValueError:
        return None


def _seconds_until(raw: str | None, key: str | None) -> float | None:
    """Seconds from now: a plain number of seconds, an epoch time (s or ms), or an HTTP date."""
    if raw is None:
        return None
    value = _number(raw, key)
    if value is None:
        try:
            return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
        except (TypeError, ValueError, IndexError):
            return None
    if value >= _EPOCH_MILLISECONDS:
        return max(0.0, value / 1000 - time.time())
    if value >= _EPOCH_SECONDS:
        return max(0.0, value - time.time())
    return max(0.0, value)
