"""The daily budget on both stores: paid lookups stop at the limit, cached answers go on, nothing is
lost — the keys it refused are enriched on the following days, each paid for once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync_pipeline.enrichment import BudgetExceeded
from sync_pipeline.enrichment.refresh import refresh_due
from sync_pipeline.settings import CLAY_USD_PER_CREDIT
from sync_pipeline.store import Store
from sync_pipeline.store import enrichment_cache as cache_q
from sync_pipeline.store import enrichment_ledger as ledger_q
from sync_pipeline.store.contacts import Account
from sync_pipeline_tests.enrichment.conftest import MakeEnricher, SimClock, clay_provider, rows_processed
from sync_pipeline_tests.instantly_clay_pdl_rb2b_fixtures import OutreachSandbox

PRICE = 5 * CLAY_USD_PER_CREDIT  # a found person at the Clay sandbox: $0.25
EMAILS = [f"lead{n}@budget.example" for n in range(12)]


def test_budget_stops_paid_calls_at_the_limit_and_the_rest_follow_on_later_days(
    store: Store, clay: OutreachSandbox, make_enricher: MakeEnricher
) -> None:
    clay.admin("config", {"miss_rate": 0.0})
    clock = SimClock()  # Monday 09:00 UTC
    enricher = make_enricher(clay_provider(store, clay), clock=clock, budget_usd=1.0, caller="clay_enrichments")

    day1 = enricher.lookup_many("person", EMAILS)

    paid = [k for k, v in day1.items() if not isinstance(v, Exception)]
    refused = [v for v in day1.values() if isinstance(v, BudgetExceeded)]
    assert (len(paid), len(refused)) == (4, 8)  # one alone to learn the price, then three more fit
    assert "$0.25 spent and $0.75 held by lookups in flight of ENRICHMENT_DAILY_BUDGET_USD=$1.00" in str(refused[0])
    assert "resume at 2026-03-03 00:00 UTC" in str(refused[0])
    assert enricher.lookup("person", paid[0]).paid is False  # cached reads go on
    with pytest.raises(BudgetExceeded):
        enricher.lookup("person", "one.more@budget.example")
    with store.transaction() as tx:
        assert ledger_q.spent_usd(tx, "2026-03-02") == pytest.approx(4 * PRICE)
        assert cache_q.pending_requests(tx) == {"over_budget": 9}

    spent_by_day, runs = {}, []
    for day in ("2026-03-03", "2026-03-04", "2026-03-05"):
        clock.advance(days=1)
        report = refresh_due(enricher, Account("ghl", "none"), batch_size=5)  # the kept requests
        runs.append((report.candidates, report.enriched, report.over_budget))
        with store.transaction() as tx:
            spent_by_day[day] = ledger_q.spent_usd(tx, day)

    assert runs == [(9, 4, 5), (5, 4, 1), (1, 1, 0)]
    assert spent_by_day == {d: pytest.approx(1.0) for d in ("2026-03-03", "2026-03-04")} | {
        "2026-03-05": pytest.approx(PRICE)
    }
    assert rows_processed(clay) == 13  # every key paid for exactly once, none lost
    with store.transaction() as tx:
        assert set(ledger_q.paid_keys(tx, "person").values()) == {1}
        assert cache_q.pending_requests(tx) == {}


def test_budget_counts_lookups_in_flight_elsewhere(
    store: Store, clay: OutreachSandbox, make_enricher: MakeEnricher
) -> None:
    """Dollars held by another caller's claim count: two callers cannot both spend the last dollar."""
    from sync_pipeline.store import enrichment_claims as claims_q

    clay.admin("config", {"miss_rate": 0.0})
    clock = SimClock()
    enricher = make_enricher(clay_provider(store, clay), clock=clock, budget_usd=0.5)
    enricher.lookup("person", EMAILS[0])  # learns the price: $0.25 spent
    with store.transaction() as tx:  # another process is fetching one key right now
        claims_q.claim(
            tx,
            "person",
            ["elsewhere@budget.example"],
            owner="other",
            now=clock.now,
            lease_until=clock.now + timedelta(minutes=5),
            reserved_usd=PRICE,
        )

    with pytest.raises(BudgetExceeded):
        enricher.lookup("person", EMAILS[1])
    assert rows_processed(clay) == 1
