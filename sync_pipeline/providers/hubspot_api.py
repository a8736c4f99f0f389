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
    ``HUBSPOT_PORTAL_ID``'s rate-limit buckets."""

    def client(account: str | None, windows: tuple[Window, ...] | None) -> VendorClient:
        return VendorClient(
            profile=HUBSPOT_PROFILE,
            base_url=settings.hubspot_base_url,
            account=account,
            credentials=settings.hubspot_token,
            store=store,
            windows=windows,
        )

    # HubSpot's limits are per portal: with HUBSPOT_PORTAL_ID set, two portals on one store keep
    # separate buckets (without it, every HubSpot client of the store shares one).
    portal = settings.hubspot_portal_id or None
    search_account = f"{portal}:search" if portal else "search"
    return HubSpotClients(api=client(portal, None), search=client(search_account, SEARCH_WINDOWS))
