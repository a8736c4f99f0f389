"""What a vendor sandbox saw, served as ``GET /_sandbox/stats``.

The shape is the same for every vendor so tests and the demo read one format::

    {"vendor": "ghl",
     "requests_total": 12,
     "requests": {"POST /contacts/search": {"200": 10, "429": 2}},   # endpoint template -> status
     "first_request_at": 1796070427.2,     # when the first and the last request arrived (Unix s, on
     "last_request_at": 1796070431.9,      #   the sandbox clock), null before any: the pace it saw
     "rate_limited": 2,                    # 429s served (limiter and injected bursts)
     "faults": {"drop": 1, "timeout": 0, ...},
     "emails_accepted": 3,                 # sends the vendor accepted (duplicates included)
     "duplicate_sends": 1,                 # accepted sends that repeat an earlier one
     "duplicate_sends_by_reason": {"idempotency_key": 1, "same_content": 0},
     "enrichment_credits": 0.0,            # credits an enrichment vendor charged
     "webhooks": {"emitted": 4, "delivered": 3, "retried": 1, "failed": 0, "no_target": 0},
     "counters": {...}}                    # vendor-specific extras

Dropped or timed-out requests appear under status ``"dropped"``.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from typing import Any

DUPLICATE_REASONS = ("idempotency_key", "same_content")
WEBHOOK_OUTCOMES = ("emitted", "delivered", "retried", "failed", "no_target")


class SandboxStats:
    """Thread-safe counters of one vendor sandbox."""

    def __init__(self, vendor: str) -> None:
        self.vendor = vendor
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests: defaultdict[str, Counter[str]] = defaultdict(Counter)
            self._faults: Counter[str] = Counter()
            self._duplicates: Counter[str] = Counter({r: 0 for r in DUPLICATE_REASONS})
            self._webhooks: Counter[str] = Counter({o: 0 for o in WEBHOOK_OUTCOMES})
            self._counters: Counter[str] = Counter()
            self._rate_limited = 0
            self._emails_accepted = 0
            self._credits = 0.0
            self._first_arrival: float | None = None
            self._last_arrival: float | None = None

    def record_request(self, endpoint: str, status: int | str, arrived_at: float) -> None:
        """One vendor request answered (or dropped) at ``endpoint`` (``"METHOD /path/{template}"``),
        arrived at ``arrived_at`` (Unix seconds)."""
        with self._lock:
            if self._first_arrival is None or arrived_at < self._first_arrival:
                self._first_arrival = arrived_at
            if self._last_arrival is None or arrived_at > self._last_arrival:
                self._last_arrival = arrived_at
            self._requests[endpoint][str(status)] += 1
            if status == 429:
                self._rate_limited += 1

    def record_fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def record_send(self, duplicate_reason: str | None) -> None:
        """One accepted send; ``duplicate_reason`` says why it repeats an earlier one, if it does."""
        with self._lock:
            self._emails_accepted += 1
            if duplicate_reason is not None:
                self._duplicates[duplicate_reason] += 1

    def charge_credits(self, credits: float) -> None:
        with self._lock:
            self._credits += credits

    def record_webhook(self, outcome: str) -> None:
        with self._lock:
            self._webhooks[outcome] += 1

    def increment(self, counter: str, amount: int = 1) -> None:
        """A vendor-specific counter, reported under ``counters``."""
        with self._lock:
            self._counters[counter] += amount

    def snapshot(self) -> dict[str, Any]:
        """The stats as the JSON document described in the module docstring."""
        with self._lock:
            requests = {endpoint: dict(statuses) for endpoint, statuses in sorted(self._requests.items())}
            return {
                "vendor": self.vendor,
                "requests_total": sum(sum(s.values()) for s in self._requests.values()),
                "requests": requests,
                "first_request_at": self._first_arrival,
                "last_request_at": self._last_arrival,
                "rate_limited": self._rate_limited,
                "faults": dict(self._faults),
                "emails_accepted": self._emails_accepted,
                "duplicate_sends": sum(self._duplicates.values()),
                "duplicate_sends_by_reason": dict(self._duplicates),
                "enrichment_credits": self._credits,
                "webhooks": dict(self._webhooks),
                "counters": dict(self._counters),
            }
