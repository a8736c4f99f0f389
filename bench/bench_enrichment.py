"""What the enrichment cache saves: paid lookups and dollars over 60 simulated days.

100,000 lookups of 10,000 people: popularity is Zipf-skewed (a few leads are looked up daily,
most a few times), traffic follows US business hours on weekdays (a third of it at weekends), and
a lookup often comes in a burst — an agent, a second agent and the MCP server asking for the same
lead within the same second (1 caller 70 %, 2: 15 %, 3: 8 %, 4: 4 %, 6: 3 %). A burst's lookups
run at once on threads; the simulated clock stands still while they do.

Measured in one run against the same trace:

* **no cache** — every lookup is a paid call;
* **naive TTL cache** — the seed's read-through cache: read the entry, on a miss call the vendor
  and store the answer; same TTLs, no single flight;
* **sync_pipeline** — :class:`sync_pipeline.enrichment.Enricher` on a real store (claims, ledger,
  waterfall code path);

and the **theoretical minimum** for the TTLs: a clairvoyant cache that pays only when a lookup
finds no unexpired entry, with the same per-entry expiries (TTL plus the deterministic jitter).
The enricher must equal it exactly. The vendor is an in-process fake priced like the Clay sandbox
(a found person 5 credits, a miss 1, $0.05 a credit; 20 % of people unknown) that takes
``--latency-ms`` of real time per call, so a burst's callers overlap as they would. The clock is
simulated, so a lookup takes no simulated time and XFetch's early refresh (which needs the
lookup's duration) has nothing to act on here; ``test_policy.py`` tests it.

    .venv/bin/python -m bench.bench_enrichment [--lookups 100000 --people 10000 --days 60]
        [--db postgres|duckdb] [--pg URL] [--seed 7]

Scratch schemas (Postgres) or files (DuckDB) are removed at the end. The last line is the headline.
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import itertools
import random
import shutil
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from bench.scratch_db import pg_schema_url
from sync_pipeline.enrichment import CachePolicy, Enricher, Entry
from sync_pipeline.records import Enrichment, EnrichmentKind
from sync_pipeline.store import Store, connect, ensure_migrated
from sync_pipeline.store import enrichment_cache as cache_q

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
USD_PER_CREDIT = 0.05
CREDITS_FOUND, CREDITS_MISS = 5.0, 1.0
MISS_SHARE = 0.2
BURSTS = ((1, 0.70), (2, 0.15), (3, 0.08), (4, 0.04), (6, 0.03))


# -- the vendor ----------------------------------------------------------------------------------


class FakeVendor:
    """A paid enricher: deterministic answers, Clay-like prices, ``latency_s`` of real time per call."""

    name = "clay"
    max_batch = 100

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.calls = 0
        self.dollars = 0.0
        self._lock = threading.Lock()

    @staticmethod
    def found(key: str) -> bool:
        return hashlib.blake2b(key.encode(), digest_size=2).digest()[0] / 256 >= MISS_SHARE

    @classmethod
    def price(cls, key: str) -> float:
        return (CREDITS_FOUND if cls.found(key) else CREDITS_MISS) * USD_PER_CREDIT

    def enrich_batch(self, kind: EnrichmentKind, keys: Sequence[str]) -> list[Enrichment]:
        time.sleep(self.latency_s)
        with self._lock:
            self.calls += len(keys)
            self.dollars += sum(self.price(k) for k in keys)
        return [self._answer(kind, k) for k in keys]

    def enrich_person(self, email: str) -> Enrichment:
        return self.enrich_batch("person", [email])[0]

    def enrich_company(self, domain: str) -> Enrichment:
        return self.enrich_batch("company", [domain])[0]

    def _answer(self, kind: EnrichmentKind, key: str) -> Enrichment:
        found = self.found(key)
        credits = CREDITS_FOUND if found else CREDITS_MISS
        data = {"full_name": key.split("@")[0].title()} if found else {}
        return Enrichment(key, kind, self.name, found, data, credits * USD_PER_CREDIT, credits)


# -- the trace -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Burst:
    at: datetime
    key: str
    callers: int


def make_trace(lookups: int, people: int, days: int, seed: int) -> list[Burst]:
    """``lookups`` lookups as bursts, in time order (see the module docstring)."""
    rng = random.Random(seed)
    emails = [f"person{n}@company{n % 997}.example" for n in range(people)]
    rng.shuffle(emails)  # rank 1 is a random person
    popularity = list(itertools.accumulate(1.0 / rank for rank in range(1, people + 1)))  # Zipf, s = 1
    day_weights = list(itertools.accumulate(0.3 if (START + timedelta(days=d)).weekday() >= 5 else 1.0
                                            for d in range(days)))  # fmt: skip
    sizes, size_weights = zip(*BURSTS, strict=True)
    bursts, total = [], 0
    while total < lookups:
        callers = min(rng.choices(sizes, size_weights)[0], lookups - total)
        day = bisect.bisect_left(day_weights, rng.random() * day_weights[-1])
        at = START + timedelta(days=day, hours=13 + rng.random() * 10)  # 08:00-18:00 US Eastern
        key = emails[bisect.bisect_left(popularity, rng.random() * popularity[-1])]
        bursts.append(Burst(at, key, callers))
        total += callers
    return sorted(bursts, key=lambda b: b.at)


def theoretical_minimum(trace: Sequence[Burst], policy: CachePolicy) -> tuple[int, float]:
    """Paid lookups and dollars of a clairvoyant cache with ``policy``'s per-entry expiries."""
    expires: dict[str, datetime] = {}
    paid, dollars = 0, 0.0
    for burst in trace:
        if burst.key not in expires or burst.at >= expires[burst.key]:
            paid += 1
            dollars += FakeVendor.price(burst.key)
            expires[burst.key] = policy.expires_at("person", burst.key, FakeVendor.found(burst.key), burst.at)
    return paid, dollars


# -- the caches ----------------------------------------------------------------------------------


class SimClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class NaiveCache:
    """The seed's read-through TTL cache: read; on a miss, call the vendor and store. No single flight."""

    def __init__(self, store: Store, vendor: FakeVendor, policy: CachePolicy, clock: SimClock) -> None:
        self.store, self.vendor, self.policy, self.clock = store, vendor, policy, clock

    def lookup(self, key: str) -> Entry:
        now = self.clock()
        with self.store.transaction() as tx:
            row = cache_q.get_entries(tx, "person", [key]).get(key)
        if row is not None and now < row["expires_at"]:
            return Entry.from_row(row)
        answer = self.vendor.enrich_person(key)
        entry = Entry(
            "person", key, answer.provider, answer.found, now, self.policy.expires_at("person", key, answer.found, now),
            dict(answer.data),
        )  # fmt: skip
        with self.store.transaction() as tx:
            cache_q.put_entries(tx, [entry.as_row()])
        return entry


def replay(trace: Sequence[Burst], clock: SimClock, lookup: Callable[[str], object], threads: int) -> float:
    """Run every burst's lookups at once, burst after burst; return the seconds it took."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for burst in trace:
            clock.now = burst.at
            if burst.callers == 1:
                lookup(burst.key)
            else:
                for future in [pool.submit(lookup, burst.key) for _ in range(burst.callers)]:
                    future.result()
    return time.perf_counter() - started


@contextmanager
def scratch_store(db: str, pg: str, name: str) -> Iterator[Store]:
    """A migrated store of its own, dropped afterwards (Postgres schema, or DuckDB directory)."""
    if db == "duckdb":
        directory = Path(tempfile.mkdtemp(prefix=f"bench_{name}_"))
        store = ensure_migrated(connect(f"duckdb:///{directory / 'bench.duckdb'}"))
        try:
            yield store
        finally:
            store.close()
            shutil.rmtree(directory, ignore_errors=True)
        return
    import psycopg2

    url = pg_schema_url(pg)
    schema = unquote(parse_qs(urlsplit(url).query)["options"][0]).split("=", 1)[1]
    store = ensure_migrated(connect(url))
    try:
        yield store
    finally:
        store.close()
        with psycopg2.connect(pg) as conn, conn.cursor() as cur:
            cur.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()


# -- the run -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--db", choices=("postgres", "duckdb"), default="postgres")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--latency-ms", type=float, default=1.0, help="real time each vendor call takes")
    args = parser.parse_args()

    policy = CachePolicy()  # 30 days (no match: 7) plus up to 10 % jitter
    trace = make_trace(args.lookups, args.people, args.days, args.seed)
    threads = max(b.callers for b in trace)
    per_person = defaultdict(int)
    for burst in trace:
        per_person[burst.key] += burst.callers
    busiest = sorted(per_person.values(), reverse=True)
    print(
        f"trace: {args.lookups:,} lookups of {len(per_person):,} of {args.people:,} people over {args.days} days "
        f"in {len(trace):,} bursts, {sum(b.callers for b in trace if b.callers > 1) / args.lookups:.0%} of them "
        f"with 2-6 callers at once (busiest person {busiest[0]:,} lookups, median {busiest[len(busiest) // 2]}); "
        f"store {args.db}"
    )
    no_cache_calls = args.lookups
    no_cache_usd = sum(FakeVendor.price(b.key) * b.callers for b in trace)
    minimum, minimum_usd = theoretical_minimum(trace, policy)
    exact_ttl, _ = theoretical_minimum(trace, CachePolicy(jitter=0.0))

    clock = SimClock()
    naive_vendor = FakeVendor(args.latency_ms / 1000)
    with scratch_store(args.db, args.pg, "naive") as store:
        naive_s = replay(trace, clock, NaiveCache(store, naive_vendor, policy, clock).lookup, threads)

    ours_vendor = FakeVendor(args.latency_ms / 1000)
    with scratch_store(args.db, args.pg, "ours") as store:
        enricher = Enricher(store, [ours_vendor], policy=policy, clock=clock, caller="bench")
        ours_s = replay(trace, clock, lambda key: enricher.lookup("person", key), threads)
        stats = enricher.stats

    rows = [
        ("no cache", no_cache_calls, no_cache_usd, "-"),
        ("naive TTL cache (no single flight)", naive_vendor.calls, naive_vendor.dollars, f"{naive_s:.0f} s"),
        ("sync_pipeline Enricher", ours_vendor.calls, ours_vendor.dollars, f"{ours_s:.0f} s"),
        ("theoretical minimum for the TTLs", minimum, minimum_usd, "-"),
    ]
    print(f"{'':36} {'paid calls':>11} {'dollars':>11} {'vs no cache':>12} {'run':>6}")
    for name, calls, dollars, took in rows:
        print(f"{name:36} {calls:>11,} {dollars:>11,.2f} {calls / no_cache_calls:>11.1%} {took:>6}")
    print(
        f"enricher ledger: {stats.hits:,} hits ({stats.hit_rate:.1%}), {stats.misses:,} misses, "
        f"${stats.avoided_usd:,.2f} avoided; {ours_s / args.lookups * 1000:.2f} ms per lookup on {args.db}"
    )
    print(f"(an exact 30-day TTL without jitter would need {exact_ttl:,} paid calls: jitter only lengthens entries)")
    verdict = "= the theoretical minimum" if ours_vendor.calls == minimum else f"!= the minimum {minimum:,} (BUG)"
    print(
        f"enrichment cache: {ours_vendor.calls:,} paid lookups for {args.lookups:,} ({verdict}); "
        f"${ours_vendor.dollars:,.2f} instead of ${no_cache_usd:,.2f} without a cache "
        f"({1 - ours_vendor.dollars / no_cache_usd:.1%} saved) and ${naive_vendor.dollars:,.2f} with a naive TTL cache "
        f"({1 - ours_vendor.dollars / naive_vendor.dollars:.1%} less)"
    )


if __name__ == "__main__":
    main()
