"""What every GoHighLevel call shares: the client for one location, the API versions, and GHL's way
of saying "no such record".

GHL's limits are per app *per location*, so the CRM and the email sender build their clients with
the location id as the transport ``account``: both draw on one shared rate-limit bucket.
"""

from __future__ import annotations

import re

from ..settings import Settings, SettingsError
from ..store import Store
from ..transport import GHL_PROFILE, VendorClient
from .base import NotFound, PermanentVendorError, VendorError

API_VERSION = "2021-07-28"
# SPEC: the conversations message operations enumerate this older date (vendor reference 1.1).
CONVERSATIONS_VERSION = "2021-04-15"

# GHL answers an unknown contact/conversation/message id with 400 "<Thing> with id X not found"
# (vendor reference 1.1, 3P; the v3 spec has a 404 DTO, which the transport maps to NotFound).
_MISSING = re.compile(r"with id \S+ not found", re.IGNORECASE)


def ghl_client(settings: Settings, store: Store) -> VendorClient:
    """The transport client for the configured location; raises when ``GHL_LOCATION_ID`` is unset."""
    if not settings.ghl_location_id:
        raise SettingsError("GHL_LOCATION_ID is not set; GoHighLevel calls are made for one location (sub-account) id")
    return VendorClient(
        profile=GHL_PROFILE,
        base_url=settings.ghl_base_url,
        account=settings.ghl_location_id,
        credentials=settings.ghl_api_key,
        store=store,
        default_headers={"Version": API_VERSION},
    )


def is_missing(error: VendorError) -> bool:
    """True when ``error`` is GHL saying the record does not exist (400 quirk or 404)."""
    if isinstance(error, NotFound):
        return True
    return isinstance(error, PermanentVendorError) and error.status == 400 and bool(_MISSING.search(str(error)))
