"""TTL jitter and XFetch early refresh: the pure policy, then a hot key renewed once on both stores."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

from sync_pipeline.enrichment import CachePolicy, Entry
from sync_pipeline.store import Store
from sync_pipeline_tests.enrichment.conftest import T0, MakeEnricher, SimClock, clay_provider, rows_processed
from sync_pipeline_tests.instantly_clay_pdl_rb2b_fixtures import OutreachSandbox

POLICY = CachePolicy(ttl=timedelta(days=30), not_found_ttl=timedelta(days=7), jitter=0.1)


def entry(found: bool = True, fetch_seconds: float = 10.0) -> Entry:
    return Entry(
        kind="person",
        key="ada@northwind.com",
        provider="clay",
        found=found,
        fetched_at=T0,
        expires_at=POLICY.expires_at("person", "ada@northwind.com", found, T0),
        fetch_seconds=fetch_seconds,
    )


def test_a_bulk_import_expires_over_three_days_never_before_the_ttl() -> None:
    expiries = [POLICY.expires_at("person", f"p{n}@acme.com", True, T0) - T0 for n in range(2_000)]
    missing = [POLICY.expires_at("person", f"p{n}@acme.com", False, T0) - T0 for n in range(2_000)]

    assert min(expiries) >= timedelta(days=30) and max(expiries) < timedelta(days=33)
    assert max(expiries) - min(expiries) > timedelta(days=2.9)  # spread, not one burst
    assert len({e.days for e in expiries}) == 3 and len({round(e.total_seconds() / 3600) for e in expiries}) > 60
    assert min(missing) >= timedelta(days=7) and max(missing) < timedelta(days=7.7)
    assert POLICY.expires_at("person", "p1@acme.com", True, T0) == T0 + expiries[1]  # deterministic


def test_xfetch_never_refreshes_within_the_ttl_and_grows_likelier_towards_expiry() -> None:
    e = entry()
    rng = random.Random(7)

    def share(before_expiry: timedelta) -> float:
        now = e.expires_at - before_expiry
        return sum(POLICY.refresh_early(e, now, 1 - rng.random()) for _ in range(20_000)) / 20_000

    assert not POLICY.refresh_early(e, T0 + timedelta(days=29, hours=23), 1e-300)  # within the TTL: never
    assert not POLICY.refresh_early(entry(fetch_seconds=0.0), e.expires_at - timedelta(seconds=1), 1e-9)
    # P(refresh) = exp(-gap / (delta * beta)): e^-5, e^-1, ~1 at 50, 10 and 0.1 seconds (delta 10 s)
    assert (
        share(timedelta(seconds=50))
        < 0.02
        < 0.3
        < share(timedelta(seconds=10))
        < 0.45
        < 0.98
        < share(timedelta(seconds=0.1))
    )


def test_a_hot_key_is_renewed_early_once_while_every_other_reader_is_served(
    store: Store, clay: OutreachSandbox, make_enricher: MakeEnricher
) -> None:
    clock = SimClock(step=timedelta(seconds=1))  # every clock read is a second later: lookups take time
    enricher = make_enricher(clay_provider(store, clay), clock=clock, draw=lambda: 1e-9)
    first = enricher.lookup("person", "ada.lovelace@northwind.com")
    assert first.entry.fetch_seconds > 0
    clock.now, clock.step = first.entry.expires_at - timedelta(seconds=5), timedelta(0)

    answers = []
    barrier = threading.Barrier(12)

    def reader() -> None:
        barrier.wait()
        answers.append(enricher.lookup("person", "ada.lovelace@northwind.com"))

    threads = [threading.Thread(target=reader) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    renewed = [a for a in answers if a.paid]
    assert len(renewed) == 1 and renewed[0].refreshed_early
    assert renewed[0].entry.expires_at > first.entry.expires_at
    assert all(a.status == "hit" for a in answers)  # nobody missed
    assert rows_processed(clay) == 2
    assert enricher.stats.early_refreshes == 1
