"""GHL's error bodies (NestJS style): ``{"statusCode", "message", "error", "traceId"}``.

``message`` is a string, except on 422 where it is the list of validation messages (SPEC
``UnprocessableDTO``). Every body carries a ``traceId`` (DOC: "returned with every response").
"""

from __future__ import annotations

import uuid
from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse


class GhlRequestError(Exception):
    """Raised by a handler to answer a GHL error; ``extra`` adds body fields (e.g. ``meta``)."""

    def __init__(self, status: int, message: str | list[str], **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra

    def response(self) -> JSONResponse:
        return ghl_error(self.status, self.message, **self.extra)


def trace_id() -> str:
    return str(uuid.uuid4())


def ghl_error(
    status: int, message: str | list[str], *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """A GHL error response; ``extra`` adds fields such as ``meta`` on a duplicate contact."""
    body: dict[str, Any] = {"statusCode": status, "message": message, "error": HTTPStatus(status).phrase}
    body.update(extra)
    body["traceId"] = trace_id()
    return JSONResponse(body, status_code=status, headers=headers)
