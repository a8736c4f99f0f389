"""Deciding, request by request, which injected latency and fault a vendor request gets.

The settings are :class:`~sync_pipeline.sandbox.config.FaultConfig` and
:class:`~sync_pipeline.sandbox.config.LatencyConfig`; this module only draws from them. The pipeline
in :mod:`sync_pipeline.sandbox.pipeline` carries the decision out.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sync_pipeline.sandbox.config import FaultConfig, LatencyConfig, updated


class FaultKind(StrEnum):
    ERROR = "error"
    BURST_429 = "burst_429"
    TIMEOUT = "timeout"
    DROP = "drop"
    LOST_RESPONSE = "lost_response"


# Order in which the deterministic "next N" counters are consumed, with the FaultConfig field of each.
_NEXT_COUNTERS = (
    (FaultKind.DROP, "drop_next"),
    (FaultKind.TIMEOUT, "timeout_next"),
    (FaultKind.LOST_RESPONSE, "lost_response_next"),
    (FaultKind.BURST_429, "burst_429"),
    (FaultKind.ERROR, "error_next"),
)
_RATES = (
    (FaultKind.DROP, "drop_rate"),
    (FaultKind.TIMEOUT, "timeout_rate"),
    (FaultKind.LOST_RESPONSE, "lost_response_rate"),
    (FaultKind.ERROR, "error_rate"),
)


@dataclass(frozen=True)
class FaultPlan:
    """What to do to one request: wait ``latency_s``, then inject ``fault`` (None: handle normally)."""

    latency_s: float
    fault: FaultKind | None
    faults: FaultConfig  # the settings the plan was drawn from (timeouts, statuses, Retry-After)


class FaultInjector:
    """Holds the current fault and latency settings and draws a :class:`FaultPlan` per request."""

    def __init__(self, faults: FaultConfig, latency: LatencyConfig, seed: int) -> None:
        self._initial = (faults, latency)
        self._seed = seed
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Back to the settings given at construction, with a freshly seeded generator."""
        with self._lock:
            self._faults, self._latency = self._initial
            self._random = random.Random(self._seed)

    @property
    def faults(self) -> FaultConfig:
        return self._faults

    @property
    def latency(self) -> LatencyConfig:
        return self._latency

    def update_faults(self, changes: Mapping[str, Any]) -> FaultConfig:
        with self._lock:
            self._faults = updated(self._faults, changes)
            return self._faults

    def update_latency(self, changes: Mapping[str, Any]) -> LatencyConfig:
        with self._lock:
            self._latency = updated(self._latency, changes)
            return self._latency

    def plan(self) -> FaultPlan:
        """Draw latency and at most one fault for the next vendor request."""
        with self._lock:
            faults, latency = self._faults, self._latency
            delay_ms = self._random.uniform(latency.min_ms, latency.max_ms) if latency.max_ms > 0 else 0.0
            for kind, name in _NEXT_COUNTERS:
                remaining = getattr(faults, name)
                if remaining > 0:
                    self._faults = dataclasses.replace(faults, **{name: remaining - 1})
                    return FaultPlan(delay_ms / 1000.0, kind, faults)
            for kind, name in _RATES:
                rate = getattr(faults, name)
                if rate > 0 and self._random.random() < rate:
                    return FaultPlan(delay_ms / 1000.0, kind, faults)
            return FaultPlan(delay_ms / 1000.0, None, faults)
