"""The enrichment cache: pay for each person or company at most once per TTL.

:class:`Enricher` is the cache-first lookup (single flight across processes, cost ledger, daily
budget, provider waterfall); :mod:`.refresh` is what the ``clay_enrichments`` asset runs.
"""

from .enricher import Answer, Enricher, LookupStats
from .entries import Attempt, Entry, cache_key
from .errors import BudgetExceeded, EnrichmentError, EnrichmentFailed, EnrichmentWaitTimeout
from .policy import CachePolicy

__all__ = [
    "Answer",
    "Attempt",
    "BudgetExceeded",
    "CachePolicy",
    "Enricher",
    "EnrichmentError",
    "EnrichmentFailed",
    "EnrichmentWaitTimeout",
    "Entry",
    "LookupStats",
    "cache_key",
]
