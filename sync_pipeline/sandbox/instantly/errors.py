"""Instantly's error envelope ``{"statusCode", "error", "message"}`` (SPEC, every operation) and the
helpers every Instantly route shares."""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sync_pipeline.sandbox.routing import Handler, answering

T = TypeVar("T")


class InstantlyRequestError(Exception):
    """Raised by a handler to answer Instantly's error envelope."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def instantly_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    body = {"statusCode": status, "error": HTTPStatus(status).phrase, "message": message}
    return JSONResponse(body, status_code=status, headers=headers)


def instantly_route(path: str, handler: Handler, methods: list[str]) -> Route:
    """A route whose handler may raise :class:`InstantlyRequestError`."""
    return Route(path, answering(handler, InstantlyRequestError, _respond), methods=methods)


def _respond(exc: InstantlyRequestError) -> JSONResponse:
    return instantly_error(exc.status, exc.message)


async def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or the 400 Fastify's body parser answers."""
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise InstantlyRequestError(400, "Body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InstantlyRequestError(400, "body must be object")
    return data


def found(record: T | None, what: str) -> T:
    """``record``, or Instantly's 404 "<what> not found" when there is none."""
    if record is None:
        raise InstantlyRequestError(404, f"{what} not found")
    return record


def require(body: Mapping[str, Any], *names: str) -> None:
    """400 in Fastify/ajv wording for the first missing required property."""
    for name in names:
        if body.get(name) in (None, ""):
            raise InstantlyRequestError(400, f"body must have required property '{name}'")


def limit_of(value: Any, default: int = 100) -> int:
    """``limit`` (1-100) from a body or query value."""
    if value is None or value == "":
        return default
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise InstantlyRequestError(400, "limit must be integer") from None
    if not 1 <= limit <= 100:
        raise InstantlyRequestError(400, "limit must be >= 1 and <= 100")
    return limit
