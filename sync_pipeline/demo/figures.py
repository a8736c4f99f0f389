"""What the demo measures, and the checks that tie each figure to the store's and the sandbox's own
counts (the demo exits non-zero when any disagrees)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Latency:
    """p50/p99 of a set of timed calls, in milliseconds."""

    label: str
    samples_ms: tuple[float, ...]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p99(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]

    def describe(self) -> str:
        return f"{self.label}: p50 {self.p50:,.1f} ms, p99 {self.p99:,.1f} ms over {len(self.samples_ms)} calls"


def timed(label: str, calls: Sequence[Callable[[], T]]) -> tuple[Latency, list[T]]:
    """Run each call once, timing it; returns the latencies and the results."""
    samples, results = [], []
    for call in calls:
        started = perf_counter()
        results.append(call())
        samples.append((perf_counter() - started) * 1000)
    return Latency(label, tuple(samples)), results


@dataclass(frozen=True)
class Check:
    """One figure the report states, beside what the store or the sandbox counted itself."""

    what: str
    reported: Any
    counted: Any
    counted_by: str

    @property
    def ok(self) -> bool:
        return bool(self.reported == self.counted)


@dataclass
class Figures:
    """Everything the report prints and plots."""

    contacts: int = 0  # live at the end
    contacts_full_rows: int = 0
    contacts_full_calls: int = 0
    contacts_incremental_calls: int = 0
    crm_changes: str = ""
    reconciled_deletes: int = 0
    visitors_sent: int = 0
    visitor_people: int = 0
    visitor_companies: int = 0
    visitors_matched: int = 0
    visitors_quarantined: int = 0
    enrichment_passes: list[dict[str, float]] = field(default_factory=list)
    reads: list[Latency] = field(default_factory=list)
    enqueues: list[Latency] = field(default_factory=list)
    vendor_calls_made: int = 0
    vendor_calls_avoided: dict[str, int] = field(default_factory=dict)
    rate_limited: int = 0
    outbox: dict[str, int] = field(default_factory=dict)
    drain_seconds: float = 0.0
    direct_sends: int = 0
    checks: list[Check] = field(default_factory=list)

    def check(self, what: str, reported: Any, counted: Any, counted_by: str) -> None:
        self.checks.append(Check(what, reported, counted, counted_by))

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)
