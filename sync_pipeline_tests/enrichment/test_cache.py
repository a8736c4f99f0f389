"""Cache semantics on both stores against the Clay and PDL sandboxes: a hit costs nothing, "no
match" is cached with its own TTL, errors are never cached, the waterfall records each attempt,
and a Clay run that never completes leaves nothing behind."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync_pipeline.enrichment import CachePolicy, EnrichmentFailed
from sync_pipeline.settings import CLAY_USD_PER_CREDIT, PDL_USD_PER_CREDIT
from sync_pipeline.store import Store
from sync_pipeline.store import enrichment_cache as cache_q
from sync_pipeline.store import enrichment_claims as claims_q
from sync_pipeline.store import enrichment_ledger as ledger_q
from sync_pipeline_tests.enrichment.conftest import MakeEnricher, SimClock, clay_provider, pdl_provider, rows_processed
from sync_pipeline_tests.instantly_clay_pdl_rb2b_fixtures import OutreachSandbox

ADA, NOBODY = "ada.lovelace@northwind.com", "nobody@northwind.com"


def test_a_miss_pays_once_then_every_read_is_a_hit(store: Store, clay: OutreachSandbox, make_enricher: MakeEnricher):
    clock = SimClock()
    enricher = make_enricher(clay_provider(store, clay), clock=clock)

    first = enricher.lookup("person", "  Ada.Lovelace@Northwind.COM ")
    clock.advance(days=29)
    again = enricher.lookup("person", ADA)

    assert (first.key, first.status, first.paid) == (ADA, "hit", True)
    assert first.entry.data["full_name"] == "Ada Lovelace" and first.entry.provider == "clay"
    assert first.entry.cost_usd == pytest.approx(5 * CLAY_USD_PER_CREDIT)
    assert timedelta(days=30) <= first.entry.expires_at - first.entry.fetched_at <= timedelta(days=33)
    assert (again.paid, again.as_dict()["cached"], again.entry.fetched_at) == (False, True, first.entry.fetched_at)
    assert rows_processed(clay) == 1
    stats = enricher.stats
    assert (stats.hits, stats.misses, stats.paid_calls) == (1, 1, 1)
    assert stats.avoided_usd == pytest.approx(5 * CLAY_USD_PER_CREDIT) == stats.spent_usd
    with store.transaction() as tx:
        assert ledger_q.totals(tx, clock.now - timedelta(days=60))["hits"] == 1


def test_an_entry_past_its_ttl_is_fetched_again(store: Store, clay: OutreachSandbox, make_enricher: MakeEnricher):
    clock = SimClock()
    enricher = make_enricher(clay_provider(store, clay), clock=clock)
    first = enricher.lookup("person", ADA)

    clock.now = first.entry.expires_at
    renewed = enricher.lookup("person", ADA)

    assert renewed.paid and renewed.entry.fetched_at == first.entry.expires_at
    assert rows_processed(clay) == 2


def test_no_match_is_cached_for_its_own_ttl(store: Store, clay: OutreachSandbox, make_enricher: MakeEnricher):
    clock = SimClock()
    policy = CachePolicy(not_found_ttl=timedelta(days=7))
    enricher = make_enricher(clay_provider(store, clay), clock=clock, policy=policy)

    miss = enricher.lookup("person", NOBODY)
    clock.advance(days=6, hours=23)
    cached = enricher.lookup("person", NOBODY)
    clock.now = miss.entry.expires_at
    asked_again = enricher.lookup("person", NOBODY)

    assert (miss.status, miss.entry.found, miss.paid) == ("not_found", False, True)
    assert timedelta(days=7) <= miss.entry.expires_at - miss.entry.fetched_at < timedelta(days=7.71)
    assert (cached.status, cached.paid) == ("not_found", False)
    assert asked_again.paid
    assert rows_processed(clay) == 2


def test_an_error_is_never_cached_and_the_next_call_tries_again(
    store: Store, clay: OutreachSandbox, make_enricher: MakeEnricher
):
    enricher = make_enricher(clay_provider(store, clay))

    with pytest.raises(EnrichmentFailed, match="timed out"):
        enricher.lookup("person", "failing@acme.com")
    with store.transaction() as tx:
        assert cache_q.get_entries(tx, "person", ["failing@acme.com"]) == {}
    with pytest.raises(EnrichmentFailed):
        enricher.lookup("person", "failing@acme.com")

    assert rows_processed(clay) == 2  # asked again, not answered from a cached error
    assert enricher.stats.failed == 2


def test_a_failed_row_does_not_lose_the_rest_of_its_run(
    store: Store, clay: OutreachSandbox, make_enricher: MakeEnricher
):
    enricher = make_enricher(clay_provider(store, clay))

    outcomes = enricher.lookup_many("person", [ADA, "failing@acme.com", NOBODY])

    assert outcomes[ADA].status == "hit" and outcomes[NOBODY].status == "not_found"
    assert isinstance(outcomes["failing@acme.com"], EnrichmentFailed)
    assert clay.stats()["requests"]["POST /routines/{routine_id}/run"] == {"202": 1}
    assert enricher.lookup("person", ADA).paid is False


def test_a_run_that_never_completes_is_a_clear_error_and_caches_nothing(
    store: Store, clay: OutreachSandbox, make_enricher: MakeEnricher
):
    clay.admin("config", {"processing_delay_s": 60.0})
    enricher = make_enricher(clay_provider(store, clay, max_wait_s=0.2))

    outcomes = enricher.lookup_many("person", [ADA, NOBODY])

    for key in (ADA, NOBODY):
        assert isinstance(outcomes[key], EnrichmentFailed)
        assert "still in progress" in str(outcomes[key]) and "CLAY_MAX_WAIT_SECONDS" in str(outcomes[key])
    with store.transaction() as tx:
        assert cache_q.get_entries(tx, "person", [ADA, NOBODY]) == {}
        claims = claims_q.claims_of(tx, "person", [ADA, NOBODY])
    assert all(c["error"] for c in claims.values())  # lapsed with the reason, for anyone who waited
    clay.admin("config", {"processing_delay_s": 0.02})
    assert enricher.lookup("person", ADA).paid  # the next call takes the lapsed claim over


def test_companies_are_keyed_by_registrable_domain(store: Store, clay: OutreachSandbox, make_enricher: MakeEnricher):
    enricher = make_enricher(clay_provider(store, clay))

    first = enricher.lookup("company", "https://www.Northwind.com/pricing")
    second = enricher.lookup("company", "app.eu.northwind.com")

    assert first.key == second.key == "northwind.com" and first.entry.data["name"] == "Northwind"
    assert (first.paid, second.paid) == (True, False)


def test_waterfall_asks_the_next_provider_only_for_what_the_first_did_not_find(
    store: Store, clay: OutreachSandbox, pdl: OutreachSandbox, make_enricher: MakeEnricher
):
    # Clay misses every local part starting "x", PDL only those starting "xy"; nothing else misses.
    clay.admin("config", {"miss_rate": 0.0, "miss_prefix": "x"})
    pdl.admin("config", {"miss_rate": 0.0, "miss_prefix": "xy"})
    enricher = make_enricher(clay_provider(store, clay), pdl_provider(store, pdl))

    outcomes = enricher.lookup_many("person", [ADA, "xavier@northwind.com", "xyla@northwind.com"])

    by_clay, by_pdl = outcomes[ADA].entry, outcomes["xavier@northwind.com"].entry
    assert (by_clay.provider, [a.provider for a in by_clay.attempts]) == ("clay", ["clay"])
    assert (by_pdl.provider, [(a.provider, a.outcome) for a in by_pdl.attempts]) == (
        "pdl",
        [("clay", "not_found"), ("pdl", "found")],
    )
    assert by_pdl.cost_usd == pytest.approx(1 * CLAY_USD_PER_CREDIT + 1 * PDL_USD_PER_CREDIT)
    nobody = outcomes["xyla@northwind.com"].entry
    assert (nobody.found, nobody.provider) == (False, "pdl")
    assert pdl.stats()["requests"]["GET /v5/person/enrich"] == {"200": 1, "404": 1}  # not asked for ADA
    with store.transaction() as tx:
        assert ledger_q.paid_keys(tx, "person") == {
            ADA: 1,
            "xavier@northwind.com": 2,
            "xyla@northwind.com": 2,
        }


def test_max_age_asks_again_for_an_older_answer(store: Store, clay: OutreachSandbox, make_enricher: MakeEnricher):
    clock = SimClock()
    enricher = make_enricher(clay_provider(store, clay), clock=clock)
    enricher.lookup("person", ADA)
    clock.advance(days=3)

    assert enricher.lookup("person", ADA, max_age=timedelta(days=5)).paid is False
    assert enricher.lookup("person", ADA, max_age=timedelta(days=1)).paid is True


def test_wait_false_answers_pending_and_stores_the_answer_in_the_background(
    store: Store, clay: OutreachSandbox, make_enricher: MakeEnricher
):
    enricher = make_enricher(clay_provider(store, clay))

    pending = enricher.lookup("person", ADA, wait=False)
    enricher.close()  # waits for the background fetch

    assert pending.status == "pending" and pending.as_dict()["found"] is None
    answer = enricher.lookup("person", ADA, wait=False)
    assert (answer.status, answer.paid) == ("hit", False)
    with store.transaction() as tx:
        assert cache_q.pending_requests(tx) == {}  # the request was settled by the stored answer
