"""Instantly's error envelope ``{"statusCode", "error", "message"}`` (SPEC, every operation) and the
helpers every Instantly route shares."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Handler = Callable[[Request], Awaitable[Response]]


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

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except InstantlyRequestError as exc:
            return instantly_error(exc.status, exc.message)

    return Route(path, endpoint, methods=methods)


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
