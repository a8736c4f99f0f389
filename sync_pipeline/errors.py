"""Every error a vendor call or an inbound payload can end in, at the bottom of the layers.

The transport raises them, providers raise them, the outbox and agents catch them: living here, no
lower layer has to import the provider layer to name them.
"""

from __future__ import annotations


class VendorError(Exception):
    """A vendor call failed. ``provider`` and ``status`` say where; the message says what to do."""

    def __init__(self, provider: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.status = status


class RateLimited(VendorError):
    """The vendor answered 429 (or we would exceed its limit); retry after ``retry_after`` seconds."""

    def __init__(self, provider: str, message: str, *, retry_after: float | None, status: int | None = 429) -> None:
        super().__init__(provider, message, status=status)
        self.retry_after = retry_after


class TransientVendorError(VendorError):
    """5xx, timeout or dropped connection: the same call may succeed later."""


class PermanentVendorError(VendorError):
    """The vendor rejected the call (4xx other than 429): retrying the same call cannot help."""


class AuthError(PermanentVendorError):
    """401/403: the key is missing, wrong or lacks a scope. Never retried."""


class NotFound(PermanentVendorError):
    """The record does not exist at the vendor (any more)."""


class InvalidPayload(ValueError):
    """An inbound payload (webhook) cannot be accepted; the message is the quarantine reason."""


class OutcomeUnknown(VendorError):
    """The vendor cannot tell whether an earlier send went out; a human must review it."""
