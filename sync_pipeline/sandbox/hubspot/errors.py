"""HubSpot's error bodies: ``{"status": "error", "message", "correlationId", "category"}`` (+ extras
such as ``errorType``/``policyName`` on 429s and ``context`` on validation errors)."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import JSONResponse


class HubSpotRequestError(Exception):
    """Raised by a handler to answer a HubSpot error body."""

    def __init__(self, status: int, message: str, category: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.extra = extra

    def response(self) -> JSONResponse:
        return hubspot_error(self.status, self.message, self.category, **self.extra)


def hubspot_error(
    status: int, message: str, category: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers)


def not_found(contact_id: str) -> HubSpotRequestError:
    """UNCONFIRMED body for an unknown or archived object id."""
    return HubSpotRequestError(404, f"Object not found. objectId {contact_id} does not exist.", "OBJECT_NOT_FOUND")


def invalid_property(name: str, error: str, message: str) -> HubSpotRequestError:
    """``Property values were not valid`` as HubSpot words it (the details are JSON inside the text)."""
    detail = f'[{{"isValid":false,"message":"{message}","error":"{error}","name":"{name}"}}]'
    return HubSpotRequestError(400, f"Property values were not valid: {detail}", "VALIDATION_ERROR")
