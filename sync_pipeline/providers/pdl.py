"""People Data Labs as the enricher (vendor reference 4.5): one GET per lookup.

* ``GET /v5/person/enrich?email=`` → ``{"status", "likelihood", "data": {…}}``;
* ``GET /v5/company/enrich?website=`` → the company's fields at the top level beside ``status``
  and ``likelihood`` (PDL's company response is not wrapped in ``data``);
* a 404 saying "No records were found" is a real answer, returned as ``Enrichment(found=False)``
  and charged nothing (DOC: charged per match only); any other 404 is an unknown route (a wrong
  ``PDL_BASE_URL``) and raises, so a misconfiguration never reads as "nobody matched";
* cost = ``x-call-credits-spent`` (1 per match when absent) times ``PDL_USD_PER_CREDIT``.

Rate limits (``x-ratelimit-*`` in PDL's ``{'minute': n}`` style), 429 retries, 401 → AuthError and
402 (credits used up) → PermanentVendorError are the transport's, per ``PDL_PROFILE``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import httpx

from ..errors import NotFound
from ..records import Enrichment, EnrichmentKind
from ..settings import PDL_USD_PER_CREDIT, Settings
from ..store import Store
from ..transport import PDL_PROFILE, TransportStats, VendorClient
from .enrichment_keys import domain_key, email_key

_META = ("status", "likelihood")


class PdlEnrichment:
    """:class:`~sync_pipeline.providers.base.EnrichmentProvider` backed by PDL v5 enrichment."""

    name = "pdl"

    def __init__(self, client: VendorClient, *, usd_per_credit: float = PDL_USD_PER_CREDIT) -> None:
        self._client = client
        self._usd_per_credit = usd_per_credit

    @classmethod
    def from_settings(cls, settings: Settings, store: Store) -> Self:
        """Built from ``PDL_BASE_URL``, ``PDL_API_KEY`` and ``PDL_USD_PER_CREDIT``."""
        client = VendorClient.for_profile(PDL_PROFILE, settings, store)
        return cls(client, usd_per_credit=settings.pdl_usd_per_credit)

    def enrich_person(self, email: str) -> Enrichment:
        key = email_key(email)
        return self._enrich("person", key, "/v5/person/enrich", {"email": key})

    def enrich_company(self, domain: str) -> Enrichment:
        key = domain_key(domain)
        return self._enrich("company", key, "/v5/company/enrich", {"website": key})

    def _enrich(self, kind: EnrichmentKind, key: str, path: str, params: Mapping[str, str]) -> Enrichment:
        try:
            response = self._client.request("GET", path, params=params)
        except NotFound:
            return Enrichment(key=key, kind=kind, provider=self.name, found=False)
        body: dict[str, Any] = response.json()
        data = body["data"] if kind == "person" else {k: v for k, v in body.items() if k not in _META}
        data = {**data, "likelihood": body.get("likelihood")}
        credits = _credits_spent(response)
        return Enrichment(
            key=key,
            kind=kind,
            provider=self.name,
            found=True,
            data=data,
            cost_usd=credits * self._usd_per_credit,
            credits=credits,
        )

    def stats(self) -> TransportStats:
        return self._client.stats()

    def close(self) -> None:
        self._client.close()


def _credits_spent(response: httpx.Response) -> float:
    try:
        return float(response.headers.get("x-call-credits-spent", "1"))
    except ValueError:
        return 1.0
