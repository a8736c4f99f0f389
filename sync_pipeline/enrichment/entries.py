"""What the cache holds: one :class:`Entry` per person (email) or company (domain)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from ..providers.enrichment_keys import domain_key, email_key
from ..records import EnrichmentKind
from ..store import Row

KINDS: tuple[EnrichmentKind, ...] = ("person", "company")


def cache_key(kind: EnrichmentKind, value: str) -> str:
    """The key a value is cached under: a trimmed lower-cased email, or a registrable domain."""
    return email_key(value) if kind == "person" else domain_key(value)


@dataclass(frozen=True)
class Attempt:
    """One enricher asked for one key: what it answered and what that cost."""

    provider: str
    outcome: str  # found | not_found | error
    credits: float = 0.0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class Entry:
    """A cached answer. ``found=False`` is a real answer ("no match"), cached with its own TTL."""

    kind: EnrichmentKind
    key: str
    provider: str  # who found it; for "no match" the last enricher asked
    found: bool
    fetched_at: datetime
    expires_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    attempts: tuple[Attempt, ...] = ()
    fetch_seconds: float = 0.0  # how long the lookup took: XFetch's delta

    @property
    def status(self) -> str:
        return "hit" if self.found else "not_found"

    @property
    def credits(self) -> float:
        return sum(a.credits for a in self.attempts)

    @property
    def cost_usd(self) -> float:
        """What the answer cost, every attempt of a waterfall together: what a hit saves."""
        return sum(a.cost_usd for a in self.attempts)

    @classmethod
    def from_row(cls, row: Row) -> Entry:
        found = row["status"] == "hit"
        attempts = tuple(Attempt(**a) for a in row["attempts"] or ())
        if not attempts and row["cost_usd"]:  # a row carried over from before attempts were kept
            outcome = "found" if found else "not_found"
            attempts = (Attempt(row["provider"], outcome, float(row["credits"] or 0), float(row["cost_usd"])),)
        return cls(
            kind=row["kind"],
            key=row["key"],
            provider=row["provider"],
            found=found,
            fetched_at=row["fetched_at"],
            expires_at=row["expires_at"],
            data=row["data"] or {},
            attempts=attempts,
            fetch_seconds=float(row["fetch_seconds"] or 0.0),
        )

    def as_row(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "provider": self.provider,
            "status": self.status,
            "data": dict(self.data) if self.found else None,
            "attempts": [asdict(a) for a in self.attempts],
            "credits": self.credits,
            "cost_usd": self.cost_usd,
            "fetch_seconds": self.fetch_seconds,
            "fetched_at": self.fetched_at,
            "expires_at": self.expires_at,
        }
