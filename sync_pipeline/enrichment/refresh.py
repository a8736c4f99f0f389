"""What ``clay_enrichments`` runs: enrich every contact, visitor and requested key that has no
fresh entry, within the daily budget, in runs of the first enricher's batch size.

Keys whose entry is fresh are not looked up again (they count as hits, saving what they cost);
entries past their TTL and "no match" answers past theirs are; a key the budget refused is left
for the next run (``enrichment_requests`` keeps agents' keys, contacts and visitors are candidates
anyway), so nothing is lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime

from ..records import EnrichmentKind
from ..store import Store
from ..store import enrichment_cache as cache_q
from ..store.contacts import Account
from .enricher import Answer, Enricher
from .entries import Entry, cache_key
from .errors import BudgetExceeded, EnrichmentError
from .policy import CachePolicy


@dataclass
class RefreshReport:
    """One run: what was fresh, what was looked up, and what it all cost."""

    candidates: int = 0
    fresh: int = 0  # already cached and fresh: not looked up (a hit each)
    fresh_avoided_usd: float = 0.0
    enriched: int = 0  # answered this run (found or not)
    failed: int = 0
    over_budget: int = 0
    errors: list[str] = field(default_factory=list)  # the first few, for the run log

    def as_metadata(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if k != "errors"}


def candidate_keys(store: Store, account: Account) -> dict[EnrichmentKind, list[str]]:
    """The keys worth an answer, per kind: contacts, visitors and requests, normalized (values that
    are no email address or domain are left out), fresh or not."""
    with store.transaction() as tx:
        values: dict[EnrichmentKind, list[str]] = {
            "person": cache_q.person_candidates(tx, account),
            "company": cache_q.company_candidates(tx),
        }
    return {
        kind: sorted({k for k in (cache_key(kind, v) for v in raw) if _valid(kind, k)}) for kind, raw in values.items()
    }


def split_fresh(
    store: Store, policy: CachePolicy, kind: EnrichmentKind, keys: list[str], now: datetime
) -> tuple[list[Entry], list[str]]:
    """``keys`` as (entries fresh at ``now``, keys without a fresh entry)."""
    with store.transaction() as tx:
        entries = {k: Entry.from_row(r) for k, r in cache_q.get_entries(tx, kind, keys).items()}
    fresh = [entries[k] for k in keys if k in entries and policy.is_fresh(entries[k], now)]
    fresh_keys = {e.key for e in fresh}
    return fresh, [k for k in keys if k not in fresh_keys]


def backlog(store: Store, policy: CachePolicy, account: Account, now: datetime) -> int:
    """Keys worth an answer that have no fresh entry at ``now``."""
    return sum(
        len(split_fresh(store, policy, kind, keys, now)[1]) for kind, keys in candidate_keys(store, account).items()
    )


def refresh_due(
    enricher: Enricher,
    account: Account,
    *,
    batch_size: int = 100,
    parallel: int = 2,
    log: Callable[[str], None] | None = None,
) -> RefreshReport:
    """Enrich what has no fresh entry; ``parallel`` runs at once (Clay runs take seconds each)."""
    report = RefreshReport()
    stop = threading.Event()  # the budget is spent: skip the remaining batches
    for kind, keys in candidate_keys(enricher.store, account).items():
        report.candidates += len(keys)
        fresh, due = split_fresh(enricher.store, enricher.policy, kind, keys, enricher.now())
        report.fresh += len(fresh)
        report.fresh_avoided_usd += sum(e.cost_usd for e in fresh)
        batches = [due[i : i + batch_size] for i in range(0, len(due), batch_size)]

        def run(batch: list[str], kind: EnrichmentKind = kind) -> dict[str, Answer | EnrichmentError] | None:
            return None if stop.is_set() else enricher.lookup_many(kind, batch)

        with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="enrich") as pool:
            for batch, outcomes in zip(batches, pool.map(run, batches), strict=True):
                if outcomes is None:
                    report.over_budget += len(batch)
                    continue
                _tally(report, outcomes, stop)
    if log and report.errors:
        log(f"{report.failed} lookup(s) failed, e.g. {report.errors[0]}")
    return report


def _tally(report: RefreshReport, outcomes: dict[str, Answer | EnrichmentError], stop: threading.Event) -> None:
    for outcome in outcomes.values():
        if isinstance(outcome, BudgetExceeded):
            report.over_budget += 1
            stop.set()
        elif isinstance(outcome, EnrichmentError):
            report.failed += 1
            if len(report.errors) < 5:
                report.errors.append(str(outcome))
        elif outcome.paid:
            report.enriched += 1


def _valid(kind: EnrichmentKind, key: str) -> bool:
    if kind == "person":
        local, _, domain = key.partition("@")
        return bool(local) and "." in domain
    return "." in key and " " not in key
