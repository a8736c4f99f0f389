"""What every HubSpot call shares: the two clients (general and search) and the portal conventions.

HubSpot's search endpoints have their own limit (DOC changelog: 4 requests per second per token),
separate from the 100-per-10-s burst limit, so searches go through a second client whose rate
bucket paces them at that rate; everything else uses the profile's windows.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import Settings
from ..store import Store
from ..transport import HUBSPOT_PROFILE, VendorClient, Window

SEARCH_WINDOWS = (Window("search", 4, 1.0),)
# HubSpot contacts have no tags: they live in this multiple-checkbox contact property, which the
# portal must define (values separated by ";"; every tag must be one of the property's options).
TAGS_PROPERTY = "sync_tags"
# DOC: one search query returns at most 10,000 results; paging past that answers 400.
SEARCH_RESULT_CAP = 10_000


@dataclass(frozen=True)
class HubSpotClients:
    """The general client and the search client of one portal (one token)."""

    api: VendorClient
    search: VendorClient


def hubspot_clients(settings: Settings, store: Store) -> HubSpotClients:
    """Clients for ``HUBSPOT_BASE_URL`` with ``HUBSPOT_TOKEN`` (a private-app or OAuth token), in
    ``HUBSPOT_PORTAL_ID``'s rate-limit buckets (the search client in one of its own)."""
    return HubSpotClients(
        api=VendorClient.for_profile(HUBSPOT_PROFILE, settings, store),
        search=VendorClient.for_profile(HUBSPOT_PROFILE, settings, store, bucket="search", windows=SEARCH_WINDOWS),
    )
