"""Turning a failed call into the provider error classes, with the vendor's own words.

Every message names the endpoint template (never ids), carries the vendor's message read from
the error body per the profile's ``error_fields``, and passes through the redactor.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from ..errors import AuthError, NotFound, PermanentVendorError, RateLimited, TransientVendorError, VendorError
from .call import CallContext
from .profiles import VendorProfile
from .rate_headers import retry_after_s
from .redaction import Redactor

_MAX_MESSAGE = 500


def vendor_message(profile: VendorProfile, response: httpx.Response) -> str:
    """The human part of an error body (first matching ``error_fields`` path), else its text."""
    try:
        body: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    for path in profile.error_fields:
        value = _dig(body, path)
        if isinstance(value, list) and value:
            return "; ".join(str(v) for v in value)
        if isinstance(value, str | int | float) and str(value):
            return str(value)
    text = response.text.strip()
    return text[:_MAX_MESSAGE] if text else response.reason_phrase or "no message"


def error_for_response(
    profile: VendorProfile, call: CallContext, response: httpx.Response, redact: Redactor
) -> VendorError:
    """The exception for a final non-2xx response."""
    status = response.status_code
    said = redact(vendor_message(profile, response))[:_MAX_MESSAGE]
    where = f"{call.method} {call.endpoint} answered {status}"
    tries = f" after {call.attempts} attempt(s)" if call.attempts > 1 else ""
    if status in (401, 403):
        problem = "rejected the credentials" if status == 401 else "refused: the credentials lack a permission/scope"
        return AuthError(
            profile.name,
            f"{where}: {profile.display_name} {problem} ({said}). Check {profile.credential_setting}.",
            status=status,
        )
    if _says_missing(profile, status, said):
        return NotFound(profile.name, f"{where}: {said}", status=status)
    if status == 404:
        return PermanentVendorError(
            profile.name,
            f"{where}: {said}. This is not how {profile.display_name} says a record does not exist, so the "
            f"route itself is unknown: check {profile.base_url_setting}.",
            status=status,
        )
    if status == 429:
        retry_after = retry_after_s(response.headers)
        return RateLimited(profile.name, f"{where}{tries}: {said}", retry_after=retry_after, status=status)
    if status >= 500 or status in (408, 425):
        reason = f" ({call.not_retried_because})" if call.not_retried_because else ""
        return TransientVendorError(profile.name, f"{where}{tries}: {said}{reason}", status=status)
    return PermanentVendorError(profile.name, f"{where}: {said}", status=status)


def error_for_transport(
    profile: VendorProfile, call: CallContext, exc: httpx.TransportError, redact: Redactor
) -> TransientVendorError:
    """The exception for a timeout or a broken connection that was not (or no longer) retried."""
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "lost the connection"
    detail = redact(str(exc))[:_MAX_MESSAGE] or type(exc).__name__
    reason = f"; {call.not_retried_because}" if call.not_retried_because else ""
    return TransientVendorError(
        profile.name, f"{call.method} {call.endpoint} {kind} ({type(exc).__name__}: {detail}){reason}"
    )


def _says_missing(profile: VendorProfile, status: int, message: str) -> bool:
    return any(
        rule.status == status and (rule.message is None or re.search(rule.message, message, re.IGNORECASE))
        for rule in profile.missing
    )


def _dig(body: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(body, dict):
            return None
        body = body.get(part)
    return body
