"""Cache-first enrichment with single flight across processes, a cost ledger and a daily budget.

A lookup of a batch of keys (one agent's key, or a run's 100):

1. **Read** the entries: a fresh one is answered at once and its hit is written to the ledger
   (with the dollars it saved). XFetch may pick a fresh entry for early renewal.
2. **Single flight.** Each key that needs a lookup is taken first inside this process
   (:mod:`.flights`: other threads wait on an event), then in the store with a claim row
   (``enrichment_claims``) that exactly one caller of any process wins. The winner re-reads the
   entry (another caller may just have stored it), asks the budget how many lookups may start,
   fetches, stores the answer and drops the claim in one transaction. The others poll the store
   for the answer (bounded by ``wait_timeout_s``, then :class:`EnrichmentWaitTimeout`); a failed
   fetch leaves its error on the claim for them, and the next call tries again. A claim past its
   lease (its owner died) is taken over.
3. **Waterfall.** ``ENRICHMENT_PROVIDER=clay,pdl`` asks the next enricher only for keys the
   previous one did not find; the entry says who found it and keeps each attempt's cost, and the
   ledger gets a row per attempt.

Errors are never cached; "no match" is, with its own TTL. Over the budget the key is kept in
``enrichment_requests`` for a later run and the caller gets :class:`BudgetExceeded`.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import VendorError
from ..providers import registry
from ..providers.base import EnrichmentProvider
from ..providers.lifecycle import close_provider
from ..records import Enrichment, EnrichmentKind
from ..settings import Settings
from ..store import Store, Transaction
from ..store import enrichment_cache as cache_q
from ..store import enrichment_claims as claims_q
from ..store import enrichment_ledger as ledger_q
from .budget import DailyBudget, budget_day
from .entries import Attempt, Entry, cache_key
from .errors import EnrichmentError, EnrichmentFailed, EnrichmentWaitTimeout
from .flights import FLIGHTS, LocalFlights
from .policy import CachePolicy
from .waterfall import ask

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# How long a caller waits for another caller's fetch of the same key (a Clay run polls up to
# CLAY_MAX_WAIT_SECONDS, 120 s by default), and how often it looks.
WAIT_TIMEOUT_S = 180.0
POLL_FIRST_S = 0.01
POLL_MAX_S = 0.25
# Keys claimed and fetched together: one Clay routine run.
CHUNK = 100


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Answer:
    """The answer to one key: ``hit`` / ``not_found`` with its entry, or ``pending``."""

    kind: EnrichmentKind
    key: str
    status: str  # hit | not_found | pending
    entry: Entry | None = None
    paid: bool = False  # this call paid for it; False: served from the cache (or another's fetch)
    refreshed_early: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The agent-facing shape: the answer with its freshness and what it cost."""
        entry = self.entry
        return {
            "kind": self.kind,
            "key": self.key,
            "status": self.status,
            "found": None if entry is None else entry.found,
            "data": None if entry is None else dict(entry.data),
            "provider": None if entry is None else entry.provider,
            "cost_usd": None if entry is None else round(entry.cost_usd, 6),
            "credits": None if entry is None else entry.credits,
            "attempts": [] if entry is None else [asdict(a) for a in entry.attempts],
            "fetched_at": None if entry is None else entry.fetched_at,
            "expires_at": None if entry is None else entry.expires_at,
            "cached": not self.paid and entry is not None,
            "refreshed_early": self.refreshed_early,
        }


@dataclass
class LookupStats:
    """What an :class:`Enricher` did: the run metadata of ``clay_enrichments``."""

    hits: int = 0  # answers served without this caller paying (cache, or a fetch another caller paid)
    misses: int = 0  # keys this caller looked up at a vendor
    paid_calls: int = 0  # answered vendor attempts (a waterfall may make two for one key)
    credits: float = 0.0
    spent_usd: float = 0.0
    avoided_usd: float = 0.0  # what the served entries had cost
    not_found: int = 0
    early_refreshes: int = 0
    failed: int = 0
    over_budget: int = 0
    pending: int = 0
    timeouts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **amounts: float) -> None:
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    @property
    def hit_rate(self) -> float:
        looked_up = self.hits + self.misses
        return self.hits / looked_up if looked_up else 0.0

    def as_metadata(self) -> dict[str, float]:
        values = {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
        return {
            **values,
            "spent_usd": round(self.spent_usd, 4),
            "avoided_usd": round(self.avoided_usd, 4),
            "hit_rate": round(self.hit_rate, 4),
        }


@dataclass(frozen=True)
class _Call:
    """One lookup call's terms, carried through its steps."""

    kind: EnrichmentKind
    max_age: timedelta | None
    wait: bool
    early: Mapping[str, Entry] = field(default_factory=dict)  # fresh entries XFetch picked: renewed, still served


class Enricher:
    """Cache-first lookups over one store and a waterfall of enrichers. Thread-safe."""

    def __init__(
        self,
        store: Store,
        providers: Sequence[EnrichmentProvider],
        *,
        policy: CachePolicy | None = None,
        budget_usd: float | None = None,
        caller: str = "agent",
        clock: Clock = utc_now,
        draw: Callable[[], float] = random.random,
        wait_timeout_s: float = WAIT_TIMEOUT_S,
        flights: LocalFlights = FLIGHTS,
    ) -> None:
        if not providers:
            raise ValueError("an Enricher needs at least one enrichment provider")
        self.store = store
        self.providers = tuple(providers)
        self.policy = policy or CachePolicy()
        self.budget = DailyBudget(budget_usd, store.dialect)
        self.caller = caller
        self.now = clock
        self._draw = draw
        self._wait_timeout_s = wait_timeout_s
        self._flights = flights
        self.stats = LookupStats()
        self._background: list[threading.Thread] = []

    @classmethod
    def configured(cls, settings: Settings, store: Store, *, caller: str, **options: Any) -> Enricher:
        """The enrichers of ``ENRICHMENT_PROVIDER`` in order, with the configured TTLs and budget."""
        providers = [registry.enrichment_provider(settings, store, name) for name in settings.enrichment_providers]
        return cls(
            store,
            providers,
            policy=CachePolicy.configured(settings),
            budget_usd=settings.enrichment_daily_budget_usd,
            caller=caller,
            **options,
        )

    def close(self) -> None:
        """Wait for lookups started with ``wait=False``, then close the providers' clients."""
        for thread in self._background:
            thread.join()
        for provider in self.providers:
            close_provider(provider)

    # -- public lookups --------------------------------------------------------------------------

    def lookup(
        self, kind: EnrichmentKind, value: str, *, max_age: timedelta | None = None, wait: bool = True
    ) -> Answer:
        """The answer for one email (``person``) or domain (``company``); raises :class:`EnrichmentError`."""
        key = cache_key(kind, value)
        outcome = self.lookup_many(kind, [key], max_age=max_age, wait=wait)[key]
        if isinstance(outcome, EnrichmentError):
            raise outcome
        return outcome

    def lookup_many(
        self, kind: EnrichmentKind, keys: Iterable[str], *, max_age: timedelta | None = None, wait: bool = True
    ) -> dict[str, Answer | EnrichmentError]:
        """An answer or an error per key (keys normalized with :func:`~.entries.cache_key`).

        ``wait=False`` answers ``pending`` for keys not cached and fetches them in the background
        (kept in ``enrichment_requests`` until answered, should this process end first).
        """
        unique = list(dict.fromkeys(cache_key(kind, k) for k in keys))
        outcomes: dict[str, Answer | EnrichmentError] = {}
        for start in range(0, len(unique), CHUNK):
            outcomes.update(self._lookup_chunk(kind, unique[start : start + CHUNK], max_age, wait))
        return outcomes

    # -- one chunk -------------------------------------------------------------------------------

    def _lookup_chunk(
        self, kind: EnrichmentKind, keys: list[str], max_age: timedelta | None, wait: bool
    ) -> dict[str, Answer | EnrichmentError]:
        deadline = time.monotonic() + self._wait_timeout_s
        outcomes: dict[str, Answer | EnrichmentError] = {}
        todo = keys
        while todo:
            joined = self._read_and_resolve(kind, todo, max_age, wait, outcomes)
            todo = []
            for key, flight in joined.items():
                if not wait:
                    outcomes[key] = self._pending(kind, key)
                elif not flight.done.wait(max(0.0, deadline - time.monotonic())):
                    outcomes[key] = self._timeout(kind, key, "another thread of this process")
                elif isinstance(flight.error, EnrichmentFailed):
                    outcomes[key] = flight.error
                else:
                    todo.append(key)  # read again: the answer is stored now (or the budget says no)
        return outcomes

    def _read_and_resolve(
        self,
        kind: EnrichmentKind,
        keys: list[str],
        max_age: timedelta | None,
        wait: bool,
        outcomes: dict[str, Answer | EnrichmentError],
    ) -> dict[str, Any]:
        """Serve what is fresh, resolve what this thread owns; return the flights of other threads."""
        now = self.now()
        scope = (self.store.url, kind)
        stale: list[str] = []
        early: dict[str, Entry] = {}
        with self.store.transaction() as tx:
            entries = self._entries(tx, kind, keys)
            served: list[Entry] = []
            for key in keys:
                entry = entries.get(key)
                if entry is None or not self.policy.is_fresh(entry, now, max_age):
                    stale.append(key)
                elif self.policy.refresh_early(entry, now, self._draw()):
                    early[key] = entry
                else:
                    served.append(entry)
            owned, joined = self._flights.start(scope, [*stale, *early])
            # an early refresh somebody here already does: keep serving the entry meanwhile
            served += [early.pop(key) for key in list(early) if key in joined]
            self._record_hits(tx, served, now)
        outcomes.update({e.key: self._served(e) for e in served})
        joined = {key: flight for key, flight in joined.items() if key in stale}
        if not owned:
            return joined
        resolved: dict[str, Answer | EnrichmentError] = {}
        try:
            resolved = self._resolve(_Call(kind, max_age, wait, early), owned)
        finally:
            errors = {k: v for k, v in resolved.items() if isinstance(v, EnrichmentError)}
            self._flights.finish(scope, owned, errors)
        outcomes.update(resolved)
        return joined

    def _resolve(self, call: _Call, keys: list[str]) -> dict[str, Answer | EnrichmentError]:
        """Claim and fetch ``keys``, waiting (by polling the store) for those another process holds."""
        kind = call.kind
        outcomes: dict[str, Answer | EnrichmentError] = {}
        deadline = time.monotonic() + self._wait_timeout_s
        todo, waiting = list(keys), {}
        delay = POLL_FIRST_S
        while todo or waiting:
            if todo:
                done, held, again = self._claim_and_fetch(call, todo)
                outcomes.update(done)
                if not call.wait:
                    outcomes.update({key: self._pending(kind, key) for key in [*held, *again]})
                    held, again = {}, []
                todo, waiting = again, {**waiting, **held}
                continue
            if time.monotonic() >= deadline:
                for key, owner in waiting.items():
                    outcomes[key] = self._timeout(kind, key, f"claim owner {owner}")
                break
            time.sleep(delay)
            delay = min(delay * 1.5, POLL_MAX_S)
            done, todo = self._poll(call, waiting)
            outcomes.update(done)
            for key in [*done, *todo]:
                waiting.pop(key, None)
        return outcomes

    def _claim_and_fetch(
        self, call: _Call, keys: list[str]
    ) -> tuple[dict[str, Answer | EnrichmentError], dict[str, str], list[str]]:
        """Claim what nobody holds and fetch it within the budget.

        Returns the outcomes, the keys other callers hold (with their owner), and the keys to claim
        again: under a budget, a provider's first lookup goes alone, to learn its price.
        """
        kind, early, max_age, wait = call.kind, call.early, call.max_age, call.wait
        now = self.now()
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        outcomes: dict[str, Answer | EnrichmentError] = {}
        held: dict[str, str] = {}
        with self.store.transaction() as tx:
            self.budget.lock(tx)
            price = self.budget.price(tx, self.providers[0].name, now)
            claimed = claims_q.claim(
                tx, kind, keys, owner=owner, now=now, lease_until=now + self.policy.lease, reserved_usd=price or 0.0
            )
            others = (
                claims_q.claims_of(tx, kind, [k for k in keys if k not in claimed]) if len(claimed) < len(keys) else {}
            )
            served = [early[k] for k in keys if k not in claimed and k in early]
            held = {k: others.get(k, {}).get("owner", "") for k in keys if k not in claimed and k not in early}
            # Another caller may have stored the answer between our read and our claim.
            entries = self._entries(tx, kind, claimed)
            to_fetch: list[str] = []
            for key in sorted(claimed):
                if self._answered_meanwhile(entries.get(key), early.get(key), now, max_age):
                    served.append(entries[key])
                else:
                    to_fetch.append(key)
            allowed = self.budget.allowance(tx, len(to_fetch), now, owner=owner, price=price)
            to_fetch, over = to_fetch[:allowed], to_fetch[allowed:]
            again = [k for k in over if k not in early] if price is None and to_fetch else []
            over = [k for k in over if k not in again]
            claims_q.release(tx, kind, [k for k in claimed if k not in to_fetch], owner)
            served += [early[k] for k in over if k in early]
            refused = [k for k in over if k not in early]
            if refused:
                cache_q.add_requests(tx, kind, refused, now, "over_budget")
                exceeded = self.budget.exceeded(tx, now, len(refused))
                outcomes.update(dict.fromkeys(refused, exceeded))
                self.stats.add(over_budget=len(refused))
            if not wait:
                scheduled = [*[k for k in [*to_fetch, *again] if k not in early], *held]
                cache_q.add_requests(tx, kind, scheduled, now, "scheduled")
                served += [early[k] for k in to_fetch if k in early]  # renewed in the background
            self._record_hits(tx, served, now)
        outcomes.update({e.key: self._served(e) for e in served})
        if to_fetch and wait:
            outcomes.update(self._fetch(call, to_fetch, owner))
        elif to_fetch:
            thread = threading.Thread(
                target=self._fetch_in_background, args=(call, to_fetch, owner), name="enrich-background"
            )
            self._background = [t for t in self._background if t.is_alive()] + [thread]
            thread.start()
            outcomes.update({key: self._pending(kind, key) for key in to_fetch if key not in early})
        return outcomes, held, again

    def _poll(self, call: _Call, waiting: dict[str, str]) -> tuple[dict[str, Answer | EnrichmentError], list[str]]:
        """One look at keys other processes fetch: (outcomes settled, keys to claim again)."""
        kind, max_age = call.kind, call.max_age
        now = self.now()
        outcomes: dict[str, Answer | EnrichmentError] = {}
        retry: list[str] = []
        with self.store.transaction() as tx:
            entries = self._entries(tx, kind, waiting)
            claims = claims_q.claims_of(tx, kind, waiting)
            served = []
            for key, seen in waiting.items():
                entry, claim = entries.get(key), claims.get(key)
                if entry is not None and self.policy.is_fresh(entry, now, max_age):
                    served.append(entry)
                elif claim is not None and claim["error"] is not None and claim["owner"] == seen:
                    outcomes[key] = EnrichmentFailed(f"{kind} {key}: {claim['error']}")
                    self.stats.add(failed=1)
                elif claim is None or claim["lease_until"] <= now:
                    retry.append(key)  # released without an answer, failed before we looked, or abandoned
                else:
                    waiting[key] = claim["owner"]  # a new owner took over: wait for that one
            self._record_hits(tx, served, now)
        outcomes.update({e.key: self._served(e) for e in served})
        return outcomes, retry

    # -- fetching --------------------------------------------------------------------------------

    def _fetch_in_background(self, call: _Call, keys: list[str], owner: str) -> None:
        try:
            self._fetch(call, keys, owner)
        except Exception:
            log.exception("background enrichment of %d %s key(s) failed; they stay requested", len(keys), call.kind)

    def _fetch(self, call: _Call, keys: list[str], owner: str) -> dict[str, Answer | EnrichmentError]:
        """Ask the waterfall for ``keys`` (claimed by ``owner``), storing answers as they come."""
        kind, early = call.kind, call.early
        started = self.now()
        self.stats.add(misses=sum(1 for key in keys if key not in early))
        attempts: dict[str, list[Attempt]] = {key: [] for key in keys}
        outcomes: dict[str, Answer | EnrichmentError] = {}
        remaining = list(keys)
        try:
            for step, provider in enumerate(self.providers):
                if step:
                    remaining = self._within_budget(call, provider.name, remaining, owner, outcomes)
                if not remaining:
                    break
                answers = ask(provider, kind, remaining)
                last = step == len(self.providers) - 1
                remaining = self._store_answers(call, provider.name, answers, attempts, owner, started, last, outcomes)
        except BaseException as exc:
            # A bug or an interrupt: tell the waiters now rather than when the lease lapses.
            unsettled = [k for k in keys if k not in outcomes]
            with self.store.transaction() as tx:
                claims_q.fail(tx, kind, unsettled, owner, f"{type(exc).__name__}: {exc}", self.now())
            raise
        return outcomes

    def _store_answers(
        self,
        call: _Call,
        provider: str,
        answers: Mapping[str, Enrichment | VendorError],
        attempts: dict[str, list[Attempt]],
        owner: str,
        started: datetime,
        last: bool,
        outcomes: dict[str, Answer | EnrichmentError],
    ) -> list[str]:
        """Store one provider's answers; return the keys it did not find, for the next provider."""
        kind, early = call.kind, call.early
        now = self.now()
        entries: list[Entry] = []
        failed: dict[str, VendorError] = {}
        ledger: list[dict[str, Any]] = []
        not_found: list[str] = []
        for key, answer in answers.items():
            if isinstance(answer, VendorError):
                failed[key] = answer
                ledger.append(self._ledger_row(now, kind, key, provider, "paid", "error"))
                continue
            outcome = "found" if answer.found else "not_found"
            attempt = Attempt(provider, outcome, float(answer.credits), float(answer.cost_usd))
            attempts[key].append(attempt)
            ledger.append(
                self._ledger_row(
                    now, kind, key, provider, "paid", outcome, credits=attempt.credits, cost=attempt.cost_usd
                )
            )
            if answer.found or last:
                entries.append(self._entry(kind, key, provider, answer, attempts[key], started, now))
            else:
                not_found.append(key)
        served = [early[key] for key in failed if key in early]  # a failed early refresh keeps the entry
        with self.store.transaction() as tx:
            cache_q.put_entries(tx, [e.as_row() for e in entries])
            ledger_q.record(tx, ledger)
            claims_q.release(tx, kind, [e.key for e in entries], owner)
            for key, error in failed.items():
                claims_q.fail(tx, kind, [key], owner, str(error), now)
            self._record_hits(tx, served, now)
        for entry in entries:
            outcomes[entry.key] = Answer(
                kind, entry.key, entry.status, entry, paid=True, refreshed_early=entry.key in early
            )
        outcomes.update({e.key: self._served(e) for e in served})
        for key, error in failed.items():
            if key not in early:
                outcomes[key] = EnrichmentFailed(f"{kind} {key}: {error}")
        paid = [a for a in answers.values() if not isinstance(a, VendorError)]
        self.stats.add(
            paid_calls=len(paid),
            credits=sum(a.credits for a in paid),
            spent_usd=sum(a.cost_usd for a in paid),
            not_found=sum(1 for e in entries if not e.found),
            early_refreshes=sum(1 for e in entries if e.key in early),
            failed=sum(1 for k in failed if k not in early),
        )
        return not_found

    def _within_budget(
        self, call: _Call, provider: str, keys: list[str], owner: str, outcomes: dict[str, Answer | EnrichmentError]
    ) -> list[str]:
        """The keys the next enricher of the waterfall may still be paid for; the rest are given up."""
        if not self.budget.enabled:
            return keys
        kind, early = call.kind, call.early
        now = self.now()
        with self.store.transaction() as tx:
            self.budget.lock(tx)
            allowed = self.budget.allowance(tx, len(keys), now, owner=owner, price=self.budget.price(tx, provider, now))
            over = keys[allowed:]
            if over:
                claims_q.release(tx, kind, over, owner)
                refused = [k for k in over if k not in early]
                cache_q.add_requests(tx, kind, refused, now, "over_budget")
                exceeded = self.budget.exceeded(tx, now, len(refused))
                outcomes.update(dict.fromkeys(refused, exceeded))
                self._record_hits(tx, [early[k] for k in over if k in early], now)
                outcomes.update({k: self._served(early[k]) for k in over if k in early})
                self.stats.add(over_budget=len(refused))
        return keys[:allowed]

    # -- helpers ---------------------------------------------------------------------------------

    def _answered_meanwhile(
        self, entry: Entry | None, renewing: Entry | None, now: datetime, max_age: timedelta | None
    ) -> bool:
        """Whether the entry read after claiming answers the caller: fresh, or — for an early
        renewal of ``renewing`` — already renewed by someone else."""
        if entry is None:
            return False
        if renewing is not None:
            return entry.fetched_at > renewing.fetched_at
        return self.policy.is_fresh(entry, now, max_age)

    def _entry(
        self,
        kind: EnrichmentKind,
        key: str,
        provider: str,
        answer: Enrichment,
        attempts: list[Attempt],
        started: datetime,
        now: datetime,
    ) -> Entry:
        return Entry(
            kind=kind,
            key=key,
            provider=provider,
            found=answer.found,
            fetched_at=now,
            expires_at=self.policy.expires_at(kind, key, answer.found, now),
            data=dict(answer.data) if answer.found else {},
            attempts=tuple(attempts),
            fetch_seconds=max(0.0, (now - started).total_seconds()),
        )

    def _entries(self, tx: Transaction, kind: EnrichmentKind, keys: Iterable[str]) -> dict[str, Entry]:
        return {key: Entry.from_row(row) for key, row in cache_q.get_entries(tx, kind, keys).items()}

    def _record_hits(self, tx: Transaction, entries: Sequence[Entry], now: datetime) -> None:
        """A ledger row per served entry: the dollars it saved, and its expiry (checked later)."""
        if not entries:
            return
        ledger_q.record(
            tx,
            [
                self._ledger_row(
                    now,
                    e.kind,
                    e.key,
                    e.provider,
                    "hit",
                    "found" if e.found else "not_found",
                    avoided=e.cost_usd,
                    expires_at=e.expires_at,
                )
                for e in entries
            ],
        )
        self.stats.add(hits=len(entries), avoided_usd=sum(e.cost_usd for e in entries))

    def _ledger_row(
        self,
        now: datetime,
        kind: str,
        key: str,
        provider: str,
        event: str,
        outcome: str,
        *,
        credits: float = 0.0,
        cost: float = 0.0,
        avoided: float = 0.0,
        expires_at: datetime | None = None,
    ) -> dict[str, Any]:
        return {
            "recorded_at": now,
            "budget_day": budget_day(now),
            "kind": kind,
            "key": key,
            "provider": provider,
            "event": event,
            "outcome": outcome,
            "credits": credits,
            "cost_usd": cost,
            "avoided_usd": avoided,
            "entry_expires_at": expires_at,
            "caller": self.caller,
        }

    def _served(self, entry: Entry) -> Answer:
        return Answer(entry.kind, entry.key, entry.status, entry)

    def _pending(self, kind: EnrichmentKind, key: str) -> Answer:
        self.stats.add(pending=1)
        return Answer(kind, key, "pending")

    def _timeout(self, kind: EnrichmentKind, key: str, holder: str) -> EnrichmentWaitTimeout:
        self.stats.add(timeouts=1)
        return EnrichmentWaitTimeout(
            f"{kind} {key}: still being looked up by {holder} after {self._wait_timeout_s:g} s; "
            "nothing was paid for by this call — try again shortly"
        )
