"""When a failed job is tried again: the transport's jittered exponential backoff, on the outbox's scale."""

from __future__ import annotations

from dataclasses import dataclass

from ..transport.retries import backoff_delay


@dataclass(frozen=True)
class Backoff:
    """``base_s * 2**(attempt-1)``, capped, jittered; a vendor's Retry-After wins when longer."""

    base_s: float = 30.0
    cap_s: float = 3600.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before the job is tried again after its ``attempt``-th failure (see :func:`backoff_delay`)."""
        return backoff_delay(attempt, base_s=self.base_s, cap_s=self.cap_s, retry_after=retry_after)
