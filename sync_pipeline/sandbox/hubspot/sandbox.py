"""The HubSpot CRM v3 sandbox: one portal's contacts and its tags property's options, HubSpot's
auth, rate limits with their ``X-HubSpot-RateLimit-*`` headers, the search endpoint's own
per-second limit and 10,000-result cap, and HubSpot's error bodies.

Wire details follow ``vendor-apis/README.md`` section 5.1; every UNCONFIRMED point is a field of
:class:`~sync_pipeline.sandbox.hubspot.config.HubSpotConfig`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.routing import BaseRoute

from sync_pipeline.sandbox.config import RATE_WINDOWS_HINT, refuse_fixed
from sync_pipeline.sandbox.ghl.seed import TAGS, SeededContacts
from sync_pipeline.sandbox.ghl.timestamps import ms_from_iso
from sync_pipeline.sandbox.hubspot.config import BURST_POLICY, DAILY_POLICY, HubSpotConfig
from sync_pipeline.sandbox.hubspot.errors import hubspot_error
from sync_pipeline.sandbox.hubspot.properties import TagOptions, property_routes
from sync_pipeline.sandbox.hubspot.records import ContactStore
from sync_pipeline.sandbox.hubspot.routes import contact_routes
from sync_pipeline.sandbox.identifiers import digest
from sync_pipeline.sandbox.rate_headers import burst_daily_headers, retry_after_headers
from sync_pipeline.sandbox.ratelimit import RateDecision, RateLimiter, RateWindow
from sync_pipeline.sandbox.vendor import SandboxOptions, VendorSandbox


class HubSpotSandbox(VendorSandbox):
    """HubSpot CRM v3 contacts of one seeded portal; ``store`` holds the contacts."""

    name = "hubspot"
    config_type = HubSpotConfig
    config: HubSpotConfig

    def __init__(self, options: SandboxOptions) -> None:
        super().__init__(options)
        self.portal_id = str(
            10_000_000 + int.from_bytes(digest(options.seed, "hubspot-portal", size=4), "big") % 90_000_000
        )
        seeded = SeededContacts(
            count=options.contacts,
            seed=options.seed,
            location_id=self.portal_id,
            until_ms=ms_from_iso(self.config.seed_until),
            span_days=self.config.seed_span_days,
        )
        self.store = ContactStore(seeded, self.clock, self.config.tags_property)
        self.tag_options = TagOptions(TAGS)
        self.search_limiter = RateLimiter(self._search_windows(), self.clock)

    def routes(self) -> Sequence[BaseRoute]:
        return [*contact_routes(self), *property_routes(self)]

    def rate_windows(self) -> Sequence[RateWindow]:
        return self.config.rate_windows

    def rate_limit_headers(self, decision: RateDecision) -> Mapping[str, str]:
        """The headers HubSpot puts on every response (DOC changelog 2018-11-06)."""
        return burst_daily_headers(decision, "X-HubSpot-RateLimit-", daily_limit="Daily")

    def rate_limited_response(self, decision: RateDecision, retry_after_s: float | None) -> Response:
        """OBS body with ``policyName`` naming the exhausted window."""
        daily = decision.windows.get("daily")
        if daily is not None and daily.remaining <= 0 and not decision.allowed:
            return self.rate_limited(DAILY_POLICY, "You have reached your daily limit.", decision, retry_after_s)
        return self.rate_limited(
            BURST_POLICY, "You have reached your ten_secondly_rolling limit.", decision, retry_after_s
        )

    def rate_limited(
        self,
        policy: str,
        message: str,
        decision: RateDecision | None = None,
        retry_after_s: float | None = None,
    ) -> Response:
        headers = retry_after_headers(retry_after_s, decision if self.config.retry_after_on_429 else None)
        return hubspot_error(429, message, "RATE_LIMITS", headers=headers, errorType="RATE_LIMIT", policyName=policy)

    def server_error_response(self, status: int) -> Response:
        return hubspot_error(status, "internal error", "INTERNAL_ERROR")

    def not_found_response(self, method: str, path: str) -> Response:
        return hubspot_error(404, f"Unable to route {method} request with path {path}", "OBJECT_NOT_FOUND")

    def guard(self, connection: HTTPConnection) -> Response | None:
        """OBS body (hubspot-api-php #59) for a missing or wrong token."""
        if connection.headers.get("authorization", "") != f"Bearer {self.config.token}":
            return hubspot_error(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
                "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            )
        return None

    def credentials(self) -> dict[str, str]:
        return {"token": self.config.token, "portal_id": self.portal_id, "tags_property": self.config.tags_property}

    def environment(self, base_url: str) -> dict[str, str]:
        return {"HUBSPOT_BASE_URL": base_url, "HUBSPOT_TOKEN": self.config.token, "HUBSPOT_PORTAL_ID": self.portal_id}

    def reset_data(self) -> None:
        self.store.reset()
        self.tag_options.reset()
        self.search_limiter.configure(self._search_windows())

    def configure(self, changes: Mapping[str, Any]) -> HubSpotConfig:
        refuse_fixed(
            changes, {"token", "rate_windows", "tags_property", "seed_until", "seed_span_days"}, RATE_WINDOWS_HINT
        )
        config = super().configure(changes)
        self.search_limiter.configure(self._search_windows())
        return config

    def _search_windows(self) -> tuple[RateWindow, ...]:
        return (RateWindow("secondly", self.config.search_per_second, 1.0, rolling=True),)
