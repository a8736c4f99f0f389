"""The daily enrichment budget (``ENRICHMENT_DAILY_BUDGET_USD``), enforced across processes.

The budget's day is the UTC calendar day; it resets at 00:00 UTC. Spent dollars are the paid
rows of the ledger for that day; dollars *reserved* are held by fetches in flight (their claims),
each at the provider's average price over the last 30 days. Deciding how many lookups may start
happens under one lock (the store's own exclusivity on DuckDB, an advisory lock on PostgreSQL),
so processes deciding at once cannot both spend the last dollars. A lookup starts only while
its average price still fits under the limit; a provider with no history yet gets one lookup at
a time until its price is known. Cached answers never count against the budget.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from ..store import Transaction
from ..store import enrichment_claims as claims_q
from ..store import enrichment_ledger as ledger_q
from .errors import BudgetExceeded

PRICE_HISTORY = timedelta(days=30)


def budget_day(at: datetime) -> str:
    """The UTC day ``at`` counts against, ``YYYY-MM-DD``."""
    return at.astimezone(UTC).date().isoformat()


def resets_at(at: datetime) -> datetime:
    """When the budget day of ``at`` ends: the next 00:00 UTC."""
    day = at.astimezone(UTC).date() + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=UTC)


class DailyBudget:
    """``limit_usd`` per UTC day, or no budget at all when it is None."""

    def __init__(self, limit_usd: float | None, dialect: str) -> None:
        self.limit_usd = limit_usd
        self._dialect = dialect

    @property
    def enabled(self) -> bool:
        return self.limit_usd is not None

    def lock(self, tx: Transaction) -> None:
        """Serialize budget decisions until ``tx`` ends (take it before claiming)."""
        if self.enabled:
            ledger_q.lock_budget(tx, self._dialect)

    def price(self, tx: Transaction, provider: str, now: datetime) -> float | None:
        """What one lookup at ``provider`` costs on average lately; None when it has no history."""
        return ledger_q.average_cost(tx, provider, now - PRICE_HISTORY) if self.enabled else 0.0

    def allowance(self, tx: Transaction, wanted: int, now: datetime, *, owner: str, price: float | None) -> int:
        """How many of ``wanted`` lookups at ``price`` each may start now (call under :meth:`lock`)."""
        if self.limit_usd is None or wanted == 0:
            return wanted
        room = self.limit_usd - self.spent(tx, now) - claims_q.reserved_usd(tx, now, other_than=owner)
        if room <= 0:
            return 0
        if price is None:
            return 1
        if price <= 0:
            return wanted
        return min(wanted, int(room // price))

    def spent(self, tx: Transaction, now: datetime) -> float:
        return ledger_q.spent_usd(tx, budget_day(now))

    def exceeded(self, tx: Transaction, now: datetime, keys: int) -> BudgetExceeded:
        """The error for ``keys`` refused now, saying what is spent and held, and when it resets."""
        assert self.limit_usd is not None
        return BudgetExceeded(
            budget_usd=self.limit_usd,
            spent_usd=self.spent(tx, now),
            in_flight_usd=claims_q.reserved_usd(tx, now, other_than=""),
            resets_at=resets_at(now),
            keys=keys,
        )
