"""What the transport must know about each vendor, as data: limits, headers, auth, error bodies.

A provider module picks a profile and then holds only its vendor's paths and payload shapes.
Numbers come from the shared vendor reference (``vendor-apis/README.md``); override them per
client with ``VendorClient(windows=...)`` or ``dataclasses.replace(profile, ...)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .rate_headers import HeaderWindow

DAY_S = 86_400.0
# A window advertised by a vendor at runtime this long or longer is a budget, not a burst window.
BUDGET_PERIOD_S = 3_600.0

WindowKind = Literal["burst", "budget"]


@dataclass(frozen=True)
class Window:
    """At most ``limit`` requests per ``period_s`` seconds, per vendor account.

    A ``burst`` window (the vendor's short windows) keeps one request of headroom: no stretch of
    ``period_s`` ever holds more than ``limit - 1`` of our requests, so the vendor's ``remaining``
    reaching 0 means someone else shares the window. A ``budget`` window (a daily limit) is spent
    as fast as the burst windows allow until it runs out.
    """

    name: str
    limit: int
    period_s: float
    kind: WindowKind = "burst"

    def __post_init__(self) -> None:
        if self.limit < 1 or self.period_s <= 0:
            raise ValueError(f"rate-limit window {self.name!r} needs limit >= 1 and period_s > 0")


@dataclass(frozen=True)
class MissingRecord:
    """An answer that means "no such record" (raised as ``NotFound``, logged at INFO): ``status``,
    with a vendor message matching the regex ``message`` (any message when None)."""

    status: int
    message: str | None = None


@dataclass(frozen=True)
class VendorProfile:
    """One vendor's transport behaviour.

    ``credential_setting`` is the environment variable a 401/403 message tells the user to fix, and
    ``base_url_setting`` the one a 404 that is not a ``missing`` answer points to (an unknown route
    usually means a wrong base URL, which must not read as "no such record"). ``account_setting``
    holds the vendor account the limits apply to (their rate-limit bucket); None where the limits
    are per key. :meth:`VendorClient.for_profile` reads all three from the settings.
    ``auth_format`` renders the credential into ``auth_header``. ``error_fields`` are dotted paths
    tried in order to find the human message in an error body (lists are joined: GHL 422 sends a
    ``message`` array). ``idempotency_header`` carries ``idempotency_key`` where the vendor has one.
    """

    name: str
    display_name: str
    credential_setting: str
    base_url_setting: str
    windows: tuple[Window, ...]
    account_setting: str | None = None
    rate_headers: tuple[HeaderWindow, ...] = ()
    auth_header: str = "Authorization"
    auth_format: str = "Bearer {secret}"
    error_fields: tuple[str, ...] = ("message", "error.message", "error", "detail")
    idempotency_header: str | None = None
    missing: tuple[MissingRecord, ...] = (MissingRecord(404),)


# Sent by vendors that follow the common convention (Clay "when available", Clearbit, Smartlead).
GENERIC_RATE_HEADERS = (
    HeaderWindow("advertised", limit="X-RateLimit-Limit", remaining="X-RateLimit-Remaining", reset="X-RateLimit-Reset"),
)

GHL_PROFILE = VendorProfile(
    name="ghl",
    display_name="GoHighLevel",
    credential_setting="GHL_API_KEY",
    base_url_setting="GHL_BASE_URL",
    # Per app per location: 100 per 10 s burst, 200,000 per day (vendor reference 1.2).
    windows=(Window("burst", 100, 10.0), Window("daily", 200_000, DAY_S, kind="budget")),
    account_setting="GHL_LOCATION_ID",
    rate_headers=(
        HeaderWindow(
            "burst",
            limit="X-RateLimit-Max",
            remaining="X-RateLimit-Remaining",
            period_ms_header="X-RateLimit-Interval-Milliseconds",
        ),
        HeaderWindow("daily", limit="X-RateLimit-Limit-Daily", remaining="X-RateLimit-Daily-Remaining", period_s=DAY_S),
    ),
    # An unknown contact/conversation/message id is a 400 "<Thing> with id X not found" (reference
    # 1.1, 3P); the v3 spec's 404 DTO says the same with a 404. An unknown route is NestJS's 404
    # "Cannot GET /path" (GHL's error envelope is NestJS's), which is not a missing record.
    missing=(MissingRecord(404, r"^(?!Cannot [A-Z]+ /)"), MissingRecord(400, r"with id \S+ not found")),
)

INSTANTLY_PROFILE = VendorProfile(
    name="instantly",
    display_name="Instantly",
    credential_setting="INSTANTLY_API_KEY",
    base_url_setting="INSTANTLY_BASE_URL",
    # Workspace-wide, shared by every key and by API v1 and v2: 100/s and 6,000/min (reference 2.2).
    # Instantly documents no rate headers; the generic ones are read in case they appear.
    windows=(Window("second", 100, 1.0), Window("minute", 6_000, 60.0)),
    rate_headers=GENERIC_RATE_HEADERS,
)

HUBSPOT_PROFILE = VendorProfile(
    name="hubspot",
    display_name="HubSpot",
    credential_setting="HUBSPOT_TOKEN",
    base_url_setting="HUBSPOT_BASE_URL",
    # Free/Starter: 100 per 10 s rolling, 250,000 per day; Pro/Enterprise advertise 150 (reference 5.1).
    windows=(Window("burst", 100, 10.0), Window("daily", 250_000, DAY_S, kind="budget")),
    # Per portal: with HUBSPOT_PORTAL_ID set, two portals on one store keep separate buckets
    # (without it, every HubSpot client of the store shares one).
    account_setting="HUBSPOT_PORTAL_ID",
    rate_headers=(
        HeaderWindow(
            "burst",
            limit="X-HubSpot-RateLimit-Max",
            remaining="X-HubSpot-RateLimit-Remaining",
            period_ms_header="X-HubSpot-RateLimit-Interval-Milliseconds",
        ),
        HeaderWindow(
            "secondly",
            limit="X-HubSpot-RateLimit-Secondly",
            remaining="X-HubSpot-RateLimit-Secondly-Remaining",
            period_s=1.0,
        ),
        HeaderWindow(
            "daily",
            limit="X-HubSpot-RateLimit-Daily",
            remaining="X-HubSpot-RateLimit-Daily-Remaining",
            period_s=DAY_S,
        ),
    ),
)

PDL_PROFILE = VendorProfile(
    name="pdl",
    display_name="People Data Labs",
    credential_setting="PDL_API_KEY",
    base_url_setting="PDL_BASE_URL",
    # Paying plans: 1,000/min per key per endpoint, fixed 60 s window (reference 4.5).
    windows=(Window("minute", 1_000, 60.0),),
    rate_headers=(
        HeaderWindow(
            "minute",
            limit="x-ratelimit-limit",
            remaining="x-ratelimit-remaining",
            reset="x-ratelimit-reset",
            period_s=60.0,
            key="minute",
        ),
    ),
    auth_header="X-Api-Key",
    auth_format="{secret}",
    error_fields=("error.message", "message"),
    # "No records were found matching your request" is an answer (not charged); any other 404 is not.
    missing=(MissingRecord(404, r"no records were found"),),
)

CLAY_PROFILE = VendorProfile(
    name="clay",
    display_name="Clay",
    credential_setting="CLAY_API_KEY",
    base_url_setting="CLAY_BASE_URL",
    # Clay publishes no number for its Public API. 10/s is the only figure Clay staff have quoted
    # (inbound 10 records/s per workspace, burst 20); a 429 with Retry-After or advertised
    # X-RateLimit-* headers tighten it further at run time.
    windows=(Window("second", 10, 1.0),),
    rate_headers=GENERIC_RATE_HEADERS,
    auth_header="clay-api-key",
    auth_format="{secret}",
)
