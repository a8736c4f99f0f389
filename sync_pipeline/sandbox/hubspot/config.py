"""Settings of the HubSpot sandbox, with its answer to every point the vendor reference leaves open.

Fields marked UNCONFIRMED are choices (``vendor-apis/README.md`` section 5.1 found no source); a test
can flip them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync_pipeline.sandbox.ratelimit import RateWindow

# Names HubSpot gives its rate-limit policies in 429 bodies (OBS, Node SDK constants).
BURST_POLICY = "TEN_SECONDLY_ROLLING"
DAILY_POLICY = "DAILY"
SEARCH_POLICY = "SECONDLY"


@dataclass(frozen=True)
class HubSpotConfig:
    """HubSpot sandbox settings (``POST /_sandbox/config`` changes them at run time, except the
    token, the rate windows and the seed layout)."""

    token: str = "pat-na1-sandbox-hubspot-token"

    # 3P catalogs: Free/Starter 100 per 10 s rolling and 250,000 per day per portal. UNCONFIRMED
    # whether the day resets at midnight (default: fixed window, like the GHL sandbox).
    rate_windows: tuple[RateWindow, ...] = (
        RateWindow("burst", 100, 10.0, rolling=True),
        RateWindow("daily", 250_000, 86_400.0, rolling=False),
    )
    # DOC changelog: the search endpoints have their own limit, 4 per second per token; 3P notes
    # say 5 per account. UNCONFIRMED which; the sandbox allows 5 (the client paces at 4).
    search_per_second: int = 5
    # UNCONFIRMED: whether HubSpot sends Retry-After on 429 (default no; injected bursts always do).
    retry_after_on_429: bool = False

    # DOC: one search query returns at most 10,000 results; paging past that is a 400.
    search_result_cap: int = 10_000
    search_limit_max: int = 200
    list_limit_max: int = 100
    default_limit: int = 10
    # DOC: at most 5 filter groups of 6 filters, 18 filters in all.
    max_filter_groups: int = 5
    max_filters_per_group: int = 6
    max_filters_total: int = 18

    # HubSpot contacts have no tags; the sandbox portal has this multiple-checkbox property for them
    # (values separated by ";"), whose options start as the seed's tags. HubSpot rejects a value that
    # is not an option with 400 INVALID_OPTION (OBS); False accepts any value.
    tags_property: str = "sync_tags"
    reject_unknown_options: bool = True
    # Custom properties the sandbox portal defines besides HubSpot's defaults (writing any other
    # property is a 400 PROPERTY_DOESNT_EXIST, as in HubSpot).
    custom_properties: tuple[str, ...] = ("jobtitle", "website", "city", "state", "country", "lifecyclestage")

    # UNCONFIRMED: archiving an id that does not exist (or is already archived) answers 404 here.
    archive_missing_status: int = 404

    seed_until: str = "2025-06-01T00:00:00.000Z"
    seed_span_days: int = 730
