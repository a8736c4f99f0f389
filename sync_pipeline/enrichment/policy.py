"""When a cached answer is fresh, when it expires, and when a hot one is renewed early.

* **TTL with jitter.** An answer lives ``ENRICHMENT_TTL_DAYS`` (a "no match" answer
  ``ENRICHMENT_NOT_FOUND_TTL_DAYS``) plus up to ``jitter`` of that again, spread by a hash of the
  key and fetch time, so the entries of one bulk import come due over days, not in one burst.
  The jitter only lengthens: nobody is paid for twice within the TTL. It is deterministic, so a
  benchmark can compute the least any cache with these expiries must pay.
* **Probabilistic early expiration** (Vattani, Chierichetti, Lowenstein, PVLDB 2015, "XFetch"): a
  reader of a fresh entry refreshes it when ``now - delta * beta * ln(rand) >= expires_at``, with
  ``delta`` how long the entry's own lookup took. The closer the expiry and the slower the
  lookup, the likelier; a popular entry is renewed by one of its many readers shortly before it
  expires, while the others keep reading it. Never before the TTL itself has passed.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..settings import Settings
from .entries import Entry

TTL_DAYS = 30
NOT_FOUND_TTL_DAYS = 7
JITTER = 0.10  # at most this share of the TTL is added, so 30-day entries expire over days 30-33
XFETCH_BETA = 1.0  # the paper's default; > 1 favours earlier refreshes
# A claim (a fetch in flight) older than this is taken for abandoned: longer than any lookup takes
# (Clay's results polling gives up after CLAY_MAX_WAIT_SECONDS, 120 s by default).
CLAIM_LEASE = timedelta(minutes=10)


@dataclass(frozen=True)
class CachePolicy:
    """TTLs, jitter, XFetch's beta and the single-flight lease."""

    ttl: timedelta = timedelta(days=TTL_DAYS)
    not_found_ttl: timedelta = timedelta(days=NOT_FOUND_TTL_DAYS)
    jitter: float = JITTER
    beta: float = XFETCH_BETA
    lease: timedelta = CLAIM_LEASE

    @classmethod
    def configured(cls, settings: Settings) -> CachePolicy:
        return cls(
            ttl=timedelta(days=settings.enrichment_ttl_days),
            not_found_ttl=timedelta(days=settings.enrichment_not_found_ttl_days),
        )

    def lifetime(self, found: bool) -> timedelta:
        return self.ttl if found else self.not_found_ttl

    def expires_at(self, kind: str, key: str, found: bool, fetched_at: datetime) -> datetime:
        """``fetched_at`` plus the TTL plus this entry's share of the jitter."""
        spread = hashlib.blake2b(f"{kind}\0{key}\0{fetched_at.isoformat()}".encode(), digest_size=8).digest()
        share = int.from_bytes(spread, "big") / 2**64
        return fetched_at + self.lifetime(found) * (1 + self.jitter * share)

    def is_fresh(self, entry: Entry, now: datetime, max_age: timedelta | None = None) -> bool:
        """Served as it is: not expired, and no older than the caller's ``max_age``."""
        return now < entry.expires_at and (max_age is None or now - entry.fetched_at <= max_age)

    def refresh_early(self, entry: Entry, now: datetime, draw: float) -> bool:
        """XFetch's test for a fresh entry, with ``draw`` uniform in (0, 1]."""
        if entry.fetch_seconds <= 0 or now < entry.fetched_at + self.lifetime(entry.found):
            return False
        gap = -entry.fetch_seconds * self.beta * math.log(max(draw, 1e-300))
        return now + timedelta(seconds=gap) >= entry.expires_at
