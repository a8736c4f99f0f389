"""When a failed job is tried again: exponential backoff with full jitter, honouring Retry-After."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """``base_s * 2**(attempt-1)``, capped, jittered; a vendor's Retry-After wins when longer."""

    base_s: float = 30.0
    cap_s: float = 3600.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        ceiling = min(self.cap_s, self.base_s * 2 ** max(attempt - 1, 0))
        jittered = ceiling / 2 + random.random() * ceiling / 2
        return max(jittered, retry_after or 0.0)
