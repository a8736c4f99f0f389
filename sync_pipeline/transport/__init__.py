"""The one vendor HTTP transport: shared rate limiting, retries, the call ledger, redaction.

Provider modules build a :class:`VendorClient` with ``VendorClient.for_profile(profile, settings,
store)`` and call ``client.request(method, path_template, path_params=..., json=...)``.
"""

from .call import CallContext
from .client import VendorClient
from .ledger import CallLedger, CallRecord
from .limiter import SharedRateLimiter
from .profiles import (
    CLAY_PROFILE,
    GHL_PROFILE,
    HUBSPOT_PROFILE,
    INSTANTLY_PROFILE,
    PDL_PROFILE,
    VendorProfile,
    Window,
)
from .rate_headers import HeaderWindow, Observation
from .redaction import Redactor
from .retries import RetryPolicy
from .stats import TransportStats

__all__ = [
    "CLAY_PROFILE",
    "GHL_PROFILE",
    "HUBSPOT_PROFILE",
    "INSTANTLY_PROFILE",
    "PDL_PROFILE",
    "CallContext",
    "CallLedger",
    "CallRecord",
    "HeaderWindow",
    "Observation",
    "Redactor",
    "RetryPolicy",
    "SharedRateLimiter",
    "TransportStats",
    "VendorClient",
    "VendorProfile",
    "Window",
]
