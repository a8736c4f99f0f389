"""What every GoHighLevel call shares: the client for one location and the API versions. (GHL's way
of saying "no such record", a 400, is in its transport profile: callers catch ``NotFound``.)

GHL's limits are per app *per location*, so the CRM and the email sender build their clients with
the location id as the transport ``account``: both draw on one shared rate-limit bucket.
"""

from __future__ import annotations

from ..settings import Settings, SettingsError
from ..store import Store
from ..transport import GHL_PROFILE, VendorClient

API_VERSION = "2021-07-28"
# SPEC: the conversations message operations enumerate this older date (vendor reference 1.1).
CONVERSATIONS_VERSION = "2021-04-15"


def ghl_client(settings: Settings, store: Store) -> VendorClient:
    """The transport client for the configured location; raises when ``GHL_LOCATION_ID`` is unset."""
    if not settings.ghl_location_id:
        raise SettingsError("GHL_LOCATION_ID is not set; GoHighLevel calls are made for one location (sub-account) id")
    return VendorClient.for_profile(GHL_PROFILE, settings, store, default_headers={"Version": API_VERSION})
