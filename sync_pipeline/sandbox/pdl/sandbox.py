"""The People Data Labs v5 sandbox: person and company enrichment (vendor reference section 4.5).

* ``GET /v5/person/enrich?email=`` → 200 ``{"status": 200, "likelihood", "data": {…}}``; no match →
  404 ``{"status": 404, "error": {"type": "not_found", "message": …}}`` (a real answer, not charged).
* ``GET /v5/company/enrich?website=`` → 200 with the company fields at the top level next to
  ``status`` and ``likelihood`` (PDL's company response is not wrapped in ``data``; UNCONFIRMED by
  the reference, which only shows the person response).
* ``X-Api-Key`` auth; every response carries ``x-ratelimit-limit``/``-remaining`` in PDL's
  ``{'minute': n}`` style and ``x-ratelimit-reset``; matches carry ``x-call-credits-spent``.
* One credit per match, counted in ``/_sandbox/stats`` (``enrichment_credits``); at 0 credits → 402.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sync_pipeline.sandbox.pdl.config import PdlConfig
from sync_pipeline.sandbox.pdl.people import SeededPeople
from sync_pipeline.sandbox.rate_headers import retry_after_headers
from sync_pipeline.sandbox.ratelimit import RateDecision, RateWindow
from sync_pipeline.sandbox.vendor import SandboxOptions, VendorSandbox

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "payment_required",
    404: "not_found",
    405: "invalid_request_error",
    429: "rate_limit_error",
}


def pdl_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """PDL's error body: ``{"status", "error": {"type", "message"}}``."""
    kind = ERROR_TYPES.get(status, "api_error")
    return JSONResponse(
        {"status": status, "error": {"type": kind, "message": message}}, status_code=status, headers=headers
    )


class PdlSandbox(VendorSandbox):
    """PDL v5 enrichment over the seeded people of :class:`~sync_pipeline.sandbox.pdl.people.SeededPeople`."""

    name = "pdl"
    config_type = PdlConfig
    config: PdlConfig

    def __init__(self, options: SandboxOptions) -> None:
        super().__init__(options)
        self._lock = threading.Lock()
        self.reset_data()

    @property
    def people(self) -> SeededPeople:
        return SeededPeople(self.options.seed, self.config.miss_rate, self.config.miss_prefix)

    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route("/v5/person/enrich", self._person, methods=["GET"]),
            Route("/v5/company/enrich", self._company, methods=["GET"]),
        ]

    def rate_windows(self) -> Sequence[RateWindow]:
        return self.config.rate_windows

    def rate_limit_key(self, connection: HTTPConnection) -> str:
        """DOC: limits apply per API key per endpoint."""
        return connection.url.path

    def rate_limit_headers(self, decision: RateDecision) -> Mapping[str, str]:
        state = decision.windows.get("minute")
        if state is None:
            return {}
        reset = state.reset_in_s
        if self.config.reset_header_style == "epoch":
            reset += self.clock.now()
        headers = {
            "x-ratelimit-limit": f"{{'minute': {state.window.limit}}}",
            "x-ratelimit-remaining": f"{{'minute': {max(0, state.remaining)}}}",
            "x-ratelimit-reset": str(math.ceil(reset)),
        }
        if self.credits_left is not None:
            headers["x-totallimit-remaining"] = str(self.credits_left)
        return headers

    def rate_limited_response(self, decision: RateDecision, retry_after_s: float | None) -> Response:
        """DOC 429 body; no Retry-After documented (injected bursts add one)."""
        return pdl_error(
            429, "An error occurred due to requests hitting the API too quick", retry_after_headers(retry_after_s)
        )

    def server_error_response(self, status: int) -> Response:
        return pdl_error(status, "An internal error occurred; please try again")

    def not_found_response(self, method: str, path: str) -> Response:
        return pdl_error(404, f"Endpoint {path} does not exist")

    def guard(self, connection: HTTPConnection) -> Response | None:
        key = connection.headers.get("x-api-key") or connection.query_params.get("api_key")
        if not key:
            return pdl_error(401, "You did not provide an API key")
        if key != self.config.api_key:
            return pdl_error(401, "Invalid API key")
        return None

    def credentials(self) -> dict[str, str]:
        return {"api_key": self.config.api_key}

    def environment(self, base_url: str) -> dict[str, str]:
        return {"PDL_BASE_URL": base_url, "PDL_API_KEY": self.config.api_key}

    def reset_data(self) -> None:
        with self._lock:
            self.credits_left = self.config.credits_available

    def configure(self, changes: Mapping[str, Any]) -> PdlConfig:
        config = super().configure(changes)
        if "credits_available" in changes:
            self.reset_data()
        return config

    # ---- handlers -----------------------------------------------------------------------------

    async def _person(self, request: Request) -> Response:
        email = request.query_params.get("email") or request.query_params.get("work_email")
        if not email:
            return pdl_error(400, "You must provide at least one of: email, profile, phone, name + company")
        person = self.people.person(email)
        if person is None:
            return pdl_error(404, "No records were found matching your request")
        return self._charged(_person_json(person), "person")

    async def _company(self, request: Request) -> Response:
        website = request.query_params.get("website")
        if not website:
            return pdl_error(400, "You must provide at least one of: website, profile, ticker, name")
        company = self.people.company(website)
        if company is None:
            return pdl_error(404, "No records were found matching your request")
        return self._charged(_company_json(company), "company")

    def _charged(self, body: dict[str, Any], kind: str) -> Response:
        with self._lock:
            if self.credits_left is not None:
                if self.credits_left <= 0:
                    return pdl_error(402, f"You have hit your account maximum for {kind} enrichment (all matches used)")
                self.credits_left -= 1
        self.stats.charge_credits(1)
        headers = {"x-call-credits-spent": "1", "x-call-credits-type": f"{kind}_enrichment"}
        return JSONResponse({"status": 200, "likelihood": 8, **body}, headers=headers)


def _person_json(person: Mapping[str, Any]) -> dict[str, Any]:
    """A subset of PDL's person schema (PDL lower-cases names and titles)."""
    company = person["company"]
    location = ", ".join(p.lower() for p in (person["city"], person["region"], person["country"]))
    return {
        "data": {
            "id": f"{person['email'].split('@')[0][:12]}_{company['domain'][:8]}".replace(".", "-"),
            "full_name": person["full_name"].lower(),
            "first_name": person["first_name"].lower(),
            "last_name": person["last_name"].lower(),
            "work_email": person["email"],
            "emails": [{"address": person["email"], "type": "professional"}],
            "linkedin_url": person["linkedin_url"].removeprefix("https://www."),
            "job_title": person["job_title"].lower(),
            "job_company_name": company["name"].lower(),
            "job_company_website": company["domain"],
            "job_company_size": company["size"],
            "job_company_industry": company["industry"],
            "mobile_phone": person["phone"],
            "location_name": location,
            "location_locality": person["city"].lower(),
            "location_region": person["region"].lower(),
            "location_country": person["country"].lower(),
        }
    }


def _company_json(company: Mapping[str, Any]) -> dict[str, Any]:
    """PDL's company response: the record's fields at the top level."""
    return {
        "id": company["domain"].replace(".", "-"),
        "name": company["name"].lower(),
        "display_name": company["name"],
        "website": company["domain"],
        "size": company["size"],
        "employee_count": company["employee_count"],
        "founded": company["founded"],
        "industry": company["industry"],
        "linkedin_url": company["linkedin_url"].removeprefix("https://www."),
        "location": {
            "name": f"{company['city']}, {company['region']}, {company['country']}".lower(),
            "locality": company["city"].lower(),
            "region": company["region"].lower(),
            "country": company["country"].lower(),
        },
    }
