"""Clay as the enricher, through its Public API v0 routines (vendor reference 4.2).

One routine per kind, configured by id: a person routine taking ``{"email"}`` and a company
routine taking ``{"domain"}``. A lookup is::

    POST /routines/{routine_id}/run {"items": [{"id", "inputs"}]}  → 202 {"routine_run_id"}
    GET  /routines/run/{routine_run_id}/results?limit=100          → 202 while in progress, then
                                                                     200 {"data": [...], "cursor"?}

polled every ``poll_interval_s`` for at most ``max_wait_s``. A Clay table has no fixed output
schema: a row whose output columns (everything but the input and ``_``-prefixed meta columns) are
all null is a miss → ``Enrichment(found=False)``; a ``failed`` row raises
:class:`TransientVendorError` (nothing to cache). Cost = the row's ``_credits_used`` column
(UNCONFIRMED: a column the routine must expose; 0 when absent) times
``CLAY_USD_PER_CREDIT``. The run POST is never retried after an ambiguous failure: Clay has no
idempotency key and a second run is charged again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Self

from ..errors import TransientVendorError
from ..records import Enrichment, EnrichmentKind
from ..settings import CLAY_USD_PER_CREDIT, Settings, require
from ..store import Store
from ..transport import CLAY_PROFILE, TransportStats, VendorClient
from .enrichment_keys import domain_key, email_key

MAX_ITEMS = 100
INPUT_FIELD: dict[EnrichmentKind, str] = {"person": "email", "company": "domain"}


class ClayEnrichment:
    """:class:`~sync_pipeline.providers.base.EnrichmentProvider` backed by two Clay routines."""

    name = "clay"
    max_batch = MAX_ITEMS  # items per routine run

    def __init__(
        self,
        client: VendorClient,
        *,
        person_routine_id: str,
        company_routine_id: str,
        usd_per_credit: float = CLAY_USD_PER_CREDIT,
        poll_interval_s: float = 0.5,
        max_wait_s: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._routines: dict[EnrichmentKind, str] = {"person": person_routine_id, "company": company_routine_id}
        self._usd_per_credit = usd_per_credit
        self._poll_interval_s = poll_interval_s
        self._max_wait_s = max_wait_s
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: Settings, store: Store) -> Self:
        """Built from ``CLAY_BASE_URL``, ``CLAY_API_KEY``, ``CLAY_PERSON_ROUTINE_ID``,
        ``CLAY_COMPANY_ROUTINE_ID``, ``CLAY_USD_PER_CREDIT`` and ``CLAY_MAX_WAIT_SECONDS``."""
        purpose = "Clay enrichment runs a routine by id (Clay app → the routine's API settings)"
        return cls(
            VendorClient.for_profile(CLAY_PROFILE, settings, store),
            person_routine_id=require(settings, "clay_person_routine_id", purpose),
            company_routine_id=require(settings, "clay_company_routine_id", purpose),
            usd_per_credit=settings.clay_usd_per_credit,
            max_wait_s=settings.clay_max_wait_s,
        )

    def enrich_person(self, email: str) -> Enrichment:
        return self.enrich_people([email])[0]

    def enrich_company(self, domain: str) -> Enrichment:
        return self.enrich_companies([domain])[0]

    def enrich_people(self, emails: Sequence[str]) -> list[Enrichment]:
        """One answer per email, in order; up to 100 emails per routine run."""
        return self._enrich_many("person", [email_key(e) for e in emails])

    def enrich_companies(self, domains: Sequence[str]) -> list[Enrichment]:
        """One answer per domain, in order; up to 100 domains per routine run."""
        return self._enrich_many("company", [domain_key(d) for d in domains])

    def enrich_batch(self, kind: EnrichmentKind, keys: Sequence[str]) -> list[Enrichment | TransientVendorError]:
        """One routine run over up to ``max_batch`` keys: an answer per key, in order, with a failed
        row as its error instead of raising — the run is paid for as a whole, so one failed row
        must not lose the others' answers. A run that does not finish raises for all of them."""
        if len(keys) > MAX_ITEMS:
            raise ValueError(f"a Clay routine run takes at most {MAX_ITEMS} items; got {len(keys)}")
        normalized = [(email_key if kind == "person" else domain_key)(k) for k in keys]
        rows = self._run(kind, normalized)
        return [self._answer_or_error(kind, key, rows.get(str(n))) for n, key in enumerate(normalized)]

    def stats(self) -> TransportStats:
        return self._client.stats()

    def close(self) -> None:
        self._client.close()

    # ---- one run ------------------------------------------------------------------------------

    def _enrich_many(self, kind: EnrichmentKind, keys: list[str]) -> list[Enrichment]:
        answers: list[Enrichment] = []
        for start in range(0, len(keys), MAX_ITEMS):
            chunk = keys[start : start + MAX_ITEMS]
            rows = self._run(kind, chunk)
            answers += [self._answer(kind, key, rows.get(str(n))) for n, key in enumerate(chunk)]
        return answers

    def _run(self, kind: EnrichmentKind, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Start a run over ``keys`` (row ids are their positions) and return its rows by id."""
        items = [{"id": str(n), "inputs": {INPUT_FIELD[kind]: key}} for n, key in enumerate(keys)]
        started = self._client.request(
            "POST",
            "/routines/{routine_id}/run",
            path_params={"routine_id": self._routines[kind]},
            json={"items": items},
            idempotent=False,
        )
        run_id = str(started.json()["routine_run_id"])
        return {str(row["id"]): row for row in self._results(run_id)}

    def _results(self, run_id: str) -> Iterable[dict[str, Any]]:
        """Every result row of a run, waiting (bounded) while it is in progress."""
        deadline = time.monotonic() + self._max_wait_s
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": MAX_ITEMS, **({"cursor": cursor} if cursor else {})}
            response = self._client.request(
                "GET", "/routines/run/{routine_run_id}/results", path_params={"routine_run_id": run_id}, params=params
            )
            if response.status_code == 202:
                if time.monotonic() + self._poll_interval_s > deadline:
                    raise TransientVendorError(
                        self.name,
                        f"routine run {run_id} still in progress after {self._max_wait_s:g} s; "
                        "raise CLAY_MAX_WAIT_SECONDS or retry later (the run is already paid for)",
                    )
                self._sleep(self._poll_interval_s)
                continue
            page = response.json()
            yield from page.get("data") or ()
            cursor = page.get("cursor")
            if not cursor:
                return

    def _answer_or_error(
        self, kind: EnrichmentKind, key: str, row: dict[str, Any] | None
    ) -> Enrichment | TransientVendorError:
        try:
            return self._answer(kind, key, row)
        except TransientVendorError as exc:
            return exc

    def _answer(self, kind: EnrichmentKind, key: str, row: dict[str, Any] | None) -> Enrichment:
        if row is None:
            raise TransientVendorError(self.name, f"routine run returned no row for {kind} {key!r}")
        if row.get("status") != "complete":
            message = (row.get("error") or {}).get("message") or f"status {row.get('status')!r}"
            raise TransientVendorError(self.name, f"Clay could not enrich {kind} {key!r}: {message}")
        result: dict[str, Any] = row.get("result") or {}
        data = {k: v for k, v in result.items() if v is not None and not k.startswith("_") and k != INPUT_FIELD[kind]}
        credits = float(result.get("_credits_used") or 0.0)
        return Enrichment(
            key=key,
            kind=kind,
            provider=self.name,
            found=bool(data),
            data=data,
            cost_usd=credits * self._usd_per_credit,
            credits=credits,
        )
