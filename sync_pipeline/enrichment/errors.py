"""Errors of the enrichment cache: each says what happened and what to do."""

from __future__ import annotations

from datetime import datetime


class EnrichmentError(Exception):
    """A lookup found no cached answer and could not get one now."""


class BudgetExceeded(EnrichmentError):
    """``ENRICHMENT_DAILY_BUDGET_USD`` is spent for the UTC day: no new paid lookup until it resets.

    Cached answers are still served; the key is kept (``enrichment_requests``) and enriched by a
    later run once the budget allows.
    """

    def __init__(
        self, *, budget_usd: float, spent_usd: float, resets_at: datetime, in_flight_usd: float = 0.0, keys: int = 1
    ) -> None:
        self.budget_usd = budget_usd
        self.spent_usd = spent_usd
        self.resets_at = resets_at
        committed = f" and ${in_flight_usd:,.2f} held by lookups in flight" if in_flight_usd > 0.005 else ""
        kept = "this key is" if keys == 1 else f"these {keys} keys are"
        super().__init__(
            f"daily enrichment budget reached: ${spent_usd:,.2f} spent{committed} of ENRICHMENT_DAILY_BUDGET_USD="
            f"${budget_usd:,.2f}; paid lookups resume at {resets_at:%Y-%m-%d %H:%M} UTC. Cached answers are still "
            f"served, and {kept} kept and enriched by a later clay_enrichments run (or raise the budget)"
        )


class EnrichmentFailed(EnrichmentError):
    """The enricher answered with an error; nothing was cached, so the next call tries again."""


class EnrichmentWaitTimeout(EnrichmentError):
    """Another caller has been fetching the key for longer than this caller may wait."""
